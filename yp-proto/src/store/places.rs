//! Sets of an entry's places in store order, by key: most keys have one
//! entry, so one place is held without a vector.

use std::collections::HashMap;
use std::hash::Hash;

/// Places in increasing order; most sets hold one.
#[derive(Debug, Clone)]
pub(super) enum Places<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Ord + Copy> Places<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            Places::One(p) => std::slice::from_ref(p),
            Places::Many(v) => v,
        }
    }

    fn insert(&mut self, place: T) {
        match self {
            Places::One(p) if *p == place => {}
            Places::One(p) => {
                let mut v = vec![*p, place];
                v.sort_unstable();
                *self = Places::Many(v);
            }
            Places::Many(v) => {
                if let Err(i) = v.binary_search(&place) {
                    v.insert(i, place);
                }
            }
        }
    }

    /// Removes `place`; true when nothing is left.
    fn remove(&mut self, place: T) -> bool {
        match self {
            Places::One(p) => *p == place,
            Places::Many(v) => {
                if let Ok(i) = v.binary_search(&place) {
                    v.remove(i);
                }
                if let [only] = v[..] {
                    *self = Places::One(only);
                }
                matches!(self, Places::Many(v) if v.is_empty())
            }
        }
    }
}

/// Adds `place` to `key`'s set.
pub(super) fn add<K: Hash + Eq, T: Ord + Copy>(map: &mut HashMap<K, Places<T>>, key: K, place: T) {
    map.entry(key)
        .and_modify(|s| s.insert(place))
        .or_insert(Places::One(place));
}

/// Removes `place` from `key`'s set, and the set once empty.
pub(super) fn drop_place<K: Hash + Eq, T: Ord + Copy>(
    map: &mut HashMap<K, Places<T>>,
    key: &K,
    place: T,
) {
    if map.get_mut(key).is_some_and(|s| s.remove(place)) {
        map.remove(key);
    }
}

/// [`add`] `place` to `key`'s set when `present`, else [`drop_place`] it.
pub(super) fn mark<K: Hash + Eq, T: Ord + Copy>(
    map: &mut HashMap<K, Places<T>>,
    key: K,
    place: T,
    present: bool,
) {
    if present {
        add(map, key, place);
    } else {
        drop_place(map, &key, place);
    }
}

/// `key`'s places (none when it has no set).
pub(super) fn places<'a, K: Hash + Eq, T: Ord + Copy>(
    map: &'a HashMap<K, Places<T>>,
    key: &K,
) -> &'a [T] {
    map.get(key).map_or(&[], Places::as_slice)
}
