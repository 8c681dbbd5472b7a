//! One directory's entries by the values the maps are keyed by: users by
//! name and uid, groups by name, gid and member name. A change then finds
//! the entries that share a key with it without a scan of the directory.
//! Names are kept as hashes (no copy of each name): a slot list may hold
//! an entry of another name with the same hash, which the caller skips.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use entry_rules::{Group, User};

/// Places (in the directory's vector) in increasing order; most lists
/// hold one.
#[derive(Debug, Clone)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

impl Slots {
    fn as_slice(&self) -> &[u32] {
        match self {
            Slots::One(p) => std::slice::from_ref(p),
            Slots::Many(v) => v,
        }
    }

    fn insert(&mut self, place: u32) {
        match self {
            Slots::One(p) if *p == place => {}
            Slots::One(p) => {
                let mut v = vec![*p, place];
                v.sort_unstable();
                *self = Slots::Many(v);
            }
            Slots::Many(v) => {
                if let Err(i) = v.binary_search(&place) {
                    v.insert(i, place);
                }
            }
        }
    }

    /// Removes `place`; true when nothing is left.
    fn remove(&mut self, place: u32) -> bool {
        match self {
            Slots::One(p) => *p == place,
            Slots::Many(v) => {
                if let Ok(i) = v.binary_search(&place) {
                    v.remove(i);
                }
                if let [only] = v[..] {
                    *self = Slots::One(only);
                }
                v_is_empty(self)
            }
        }
    }
}

fn v_is_empty(s: &Slots) -> bool {
    matches!(s, Slots::Many(v) if v.is_empty())
}

fn add<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Slots>, key: K, place: u32) {
    map.entry(key)
        .and_modify(|s| s.insert(place))
        .or_insert(Slots::One(place));
}

fn drop_place<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Slots>, key: &K, place: u32) {
    if map.get_mut(key).is_some_and(|s| s.remove(place)) {
        map.remove(key);
    }
}

fn places<'a, K: std::hash::Hash + Eq>(map: &'a HashMap<K, Slots>, key: &K) -> &'a [u32] {
    map.get(key).map_or(&[], Slots::as_slice)
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct Lookup {
    hasher: RandomState,
    user_names: HashMap<u64, Slots>,
    uids: HashMap<u32, Slots>,
    group_names: HashMap<u64, Slots>,
    gids: HashMap<u32, Slots>,
    members: HashMap<u64, Slots>,
    /// Groups with member DNs: their lines depend on other entries.
    groups_with_dns: usize,
}

impl Lookup {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    pub fn add_user(&mut self, u: &User<'_>, place: u32) {
        let h = self.hash(&u.name);
        add(&mut self.user_names, h, place);
        add(&mut self.uids, u.uid, place);
    }

    pub fn remove_user(&mut self, u: &User<'_>, place: u32) {
        let h = self.hash(&u.name);
        drop_place(&mut self.user_names, &h, place);
        drop_place(&mut self.uids, &u.uid, place);
    }

    pub fn add_group(&mut self, g: &Group<'_>, place: u32) {
        let h = self.hash(&g.name);
        add(&mut self.group_names, h, place);
        add(&mut self.gids, g.gid, place);
        for m in &g.members {
            let h = self.hash(m);
            add(&mut self.members, h, place);
        }
        if !g.member_dns.is_empty() {
            self.groups_with_dns += 1;
        }
    }

    pub fn remove_group(&mut self, g: &Group<'_>, place: u32) {
        let h = self.hash(&g.name);
        drop_place(&mut self.group_names, &h, place);
        drop_place(&mut self.gids, &g.gid, place);
        for m in &g.members {
            let h = self.hash(m);
            drop_place(&mut self.members, &h, place);
        }
        if !g.member_dns.is_empty() {
            self.groups_with_dns = self.groups_with_dns.saturating_sub(1);
        }
    }

    /// Places of the users that may be named `name`, in order.
    pub fn users_named(&self, name: &str) -> &[u32] {
        places(&self.user_names, &self.hash(name))
    }

    pub fn users_with_uid(&self, uid: u32) -> &[u32] {
        places(&self.uids, &uid)
    }

    pub fn groups_named(&self, name: &str) -> &[u32] {
        places(&self.group_names, &self.hash(name))
    }

    pub fn groups_with_gid(&self, gid: u32) -> &[u32] {
        places(&self.gids, &gid)
    }

    /// Places of the groups that may list member `name`.
    pub fn groups_listing(&self, name: &str) -> &[u32] {
        places(&self.members, &self.hash(name))
    }

    pub fn groups_with_dns(&self) -> usize {
        self.groups_with_dns
    }
}
