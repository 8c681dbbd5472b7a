//! One directory's entries by the values the maps are keyed by: users by
//! name and uid, groups by name, gid and member name. A change then finds
//! the entries that share a key with it without a scan of the directory.
//! Names are kept as hashes (no copy of each name): a slot list may hold
//! an entry of another name with the same hash, which the caller skips.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use entry_rules::{Group, User};

use super::places::{Places, add, drop_place, places};

/// Places in the directory's vector.
type Slots = Places<u32>;

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
