//! A table's hash index: from a key's tag to its id, open addressing with
//! linear probing in one array of (id, tag) pairs. A MATCH then reads one
//! cache line of the index where a Swiss table (hashbrown) reads two, its
//! control bytes and its entries, each a likely cache miss in a table of
//! 100,000 keys: the lookup is most of the user-space cost of an answer
//! over UDP (docs/performance.md). The tags are the high half of a hash
//! seeded at random per process ([`super::tag_of`]), so no directory
//! content can be chosen to make the probe sequences long.

use super::widen;

/// One place of the index; `id == FREE` when it holds nothing.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u32,
    tag: u32,
}

const FREE: u32 = u32::MAX;
const FREE_SLOT: Slot = Slot { id: FREE, tag: 0 };

/// The index; see the module documentation.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyIndex {
    slots: Vec<Slot>,
    len: usize,
}

impl KeyIndex {
    /// An index of nothing.
    pub const EMPTY: KeyIndex = KeyIndex {
        slots: Vec::new(),
        len: 0,
    };

    /// Room for `n` more keys without growing.
    pub fn reserve(&mut self, n: usize) {
        let need = self.len.saturating_add(n);
        if need > max_load(self.slots.len()) {
            self.rebuild(places_for(need));
        }
    }

    /// Adds `id`, whose key has `tag` and is not in the index yet. An id
    /// of `u32::MAX` cannot be stored: the caller has run out of ids.
    pub fn insert_unique(&mut self, tag: u32, id: u32) {
        if id == FREE {
            return;
        }
        self.reserve(1);
        self.place(Slot { id, tag });
        self.len += 1;
    }

    /// The id whose tag is `tag` and for which `is_key` holds.
    pub fn find(&self, tag: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = start(tag, mask);
        loop {
            let s = self.slots.get(at)?;
            if s.id == FREE {
                return None;
            }
            if s.tag == tag && is_key(s.id) {
                return Some(s.id);
            }
            at = (at + 1) & mask;
        }
    }

    /// The id in the first place a key with `tag` would be looked for
    /// (often its own, not always: a hint for [`super::Snapshot::warm`]).
    pub fn first_at(&self, tag: u32) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let s = self.slots.get(start(tag, mask))?;
        (s.id != FREE).then_some(s.id)
    }

    /// The number of places (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The bytes of one place.
    pub const SLOT_BYTES: usize = size_of::<Slot>();

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut at = start(slot.tag, mask);
        while let Some(s) = self.slots.get_mut(at) {
            if s.id == FREE {
                *s = slot;
                return;
            }
            at = (at + 1) & mask;
        }
    }

    fn rebuild(&mut self, places: usize) {
        let old = std::mem::replace(&mut self.slots, vec![FREE_SLOT; places]);
        for s in old.into_iter().filter(|s| s.id != FREE) {
            self.place(s);
        }
    }
}

/// The first place to look for `tag`: the top bits of its widened hash.
fn start(tag: u32, mask: usize) -> usize {
    let bits = mask.count_ones();
    if bits == 0 {
        return 0;
    }
    (widen(tag) >> (64 - bits)) as usize & mask
}

/// At most 7 keys per 8 places keeps probe sequences short (an absent
/// key scans a few slots of one or two cache lines on average).
fn max_load(places: usize) -> usize {
    places / 8 * 7
}

/// The power of two of places that holds `n` keys.
fn places_for(n: usize) -> usize {
    let mut places = 8usize;
    while max_load(places) < n {
        places = places.saturating_mul(2);
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let mut ix = KeyIndex::default();
        assert_eq!(ix.find(7, |_| true), None);
        // Many equal tags: the comparison decides.
        for id in 0..1000u32 {
            ix.insert_unique(id % 10, id);
        }
        for id in 0..1000u32 {
            assert_eq!(ix.find(id % 10, |i| i == id), Some(id));
        }
        assert_eq!(ix.find(3, |i| i == 5000), None);
        assert_eq!(ix.find(11, |_| true), None);
        assert!(ix.capacity() >= 1000 * 8 / 7);
        ix.insert_unique(1, u32::MAX);
        assert_eq!(ix.find(1, |i| i == u32::MAX), None);
    }

    #[test]
    fn reserve_keeps_every_entry() {
        let mut ix = KeyIndex::default();
        ix.insert_unique(0xdead_beef, 4);
        ix.reserve(100_000);
        assert!(ix.capacity() >= 100_000);
        assert_eq!(ix.find(0xdead_beef, |i| i == 4), Some(4));
    }
}
