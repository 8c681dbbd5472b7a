//! Directories read in full while ypldapd keeps their entries (with a
//! state directory, or while another directory is kept current by its
//! session; DESIGN §14): each read is compared with the kept entries as
//! it arrives, and only what differs (an entry changed or new, a kept one
//! the read no longer returns) is applied, as a content synchronization
//! session's changes are: served at once as edits of the maps in service,
//! each map a change alters getting a higher ORDER number. A directory
//! that did not change costs its reading and the comparison: nothing is
//! built, and every map keeps its ORDER, so slaves polling it with
//! `yppoll` or `ypxfr` transfer nothing.
//!
//! Only an update whose directories are all read in full from kept
//! entries of an earlier full read, or kept current by their sessions, is
//! compared, and only while the maps in service show the kept entries;
//! any other builds the maps from what it reads, as before.

use entry_rules::records::Record;
use entry_rules::{Group, User};
use ipc_proto::ReadMode;
use yp_proto::store::{DirectoryEntries, EntryChange, Reread};

use super::*;

/// An update whose full reads are compared with the kept entries.
#[derive(Debug)]
pub(super) struct Rereading {
    update: u64,
    /// The directory whose entries are arriving, and which of its kept
    /// entries they returned so far.
    current: Option<(usize, Reread)>,
    /// Directories read, entries returned as they were kept, entries
    /// changed or new, kept entries no longer returned.
    directories: u64,
    same: u64,
    changed: u64,
    gone: u64,
    /// The first entries the reader left out, for `ypldapctl show drops`.
    reader_drops: Vec<ctl_proto::DropEntry>,
}

impl Daemon {
    /// Whether update `update`, which reads the directories as `modes`
    /// says, needs no build: each directory is kept current by its session
    /// or read in full from kept entries of an earlier full read, and the
    /// maps in service show the kept entries. Its full reads, if any, are
    /// then compared with the kept entries, and what they find changed
    /// edits the maps in service.
    pub(super) fn plan_unbuilt(&mut self, update: u64, modes: &[ReadMode]) -> bool {
        let kept_full_reads = modes.iter().enumerate().all(|(d, m)| match m {
            ReadMode::Full => !self.live.synced.get(d).copied().unwrap_or(false),
            ReadMode::Live => true,
            ReadMode::Sync | ReadMode::Resume => false,
        });
        let from_kept = kept_full_reads
            && !self.live.dirty
            && self.yp.snapshot().is_some()
            && self
                .live
                .store
                .as_ref()
                .is_some_and(|s| s.directories() == modes.len());
        if !from_kept {
            return false;
        }
        let Some(started) = self.incoming.take().map(|i| i.started) else {
            return false;
        };
        self.live.unbuilt = Some((update, started));
        if modes.contains(&ReadMode::Full) {
            self.live.rereading = Some(Rereading {
                update,
                current: None,
                directories: 0,
                same: 0,
                changed: 0,
                gone: 0,
                reader_drops: Vec::new(),
            });
        }
        true
    }

    /// Whether update `update` compares its full reads.
    pub(super) fn rereads(&self, update: u64) -> bool {
        self.live
            .rereading
            .as_ref()
            .is_some_and(|r| r.update == update)
    }

    /// Directory `d`'s entries come next in update `update`; the one
    /// before is finished. True if the update compares its full reads.
    pub(super) fn reread_begin(
        &mut self,
        update: u64,
        d: usize,
        mode: ReadMode,
        now: Instant,
    ) -> bool {
        if !self.rereads(update) {
            return false;
        }
        self.reread_directory_done(now);
        let kept = self.live.store.as_ref().and_then(|s| s.get(d));
        if let (Some(r), Some(kept), ReadMode::Full) = (self.live.rereading.as_mut(), kept, mode) {
            r.current = Some((d, kept.reread()));
            r.directories += 1;
        }
        true
    }

    pub(super) fn reread_users(&mut self, users: &[User<'_>], now: Instant) {
        self.reread_entries(
            users,
            DirectoryEntries::reread_user,
            |u| EntryChange::User(u.clone().into_owned()),
            now,
        );
    }

    pub(super) fn reread_groups(&mut self, groups: &[Group<'_>], now: Instant) {
        self.reread_entries(
            groups,
            DirectoryEntries::reread_group,
            |g| EntryChange::Group(g.clone().into_owned()),
            now,
        );
    }

    pub(super) fn reread_records(&mut self, records: &[Record<'_>], now: Instant) {
        self.reread_entries(
            records,
            DirectoryEntries::reread_record,
            |r| EntryChange::Record(r.clone().into_owned()),
            now,
        );
    }

    /// Entries of the directory being read: those not kept exactly so are
    /// changes.
    fn reread_entries<T>(
        &mut self,
        entries: &[T],
        kept_so: impl Fn(&DirectoryEntries, &mut Reread, &T) -> bool,
        change: impl Fn(&T) -> EntryChange,
        now: Instant,
    ) {
        let Some(r) = self.live.rereading.as_mut() else {
            return;
        };
        let Some((d, seen)) = r.current.as_mut() else {
            return;
        };
        let Some(kept) = self.live.store.as_ref().and_then(|s| s.get(*d)) else {
            return;
        };
        let changes: Vec<EntryChange> = entries
            .iter()
            .filter(|e| !kept_so(kept, seen, e))
            .map(change)
            .collect();
        r.same += (entries.len() - changes.len()) as u64;
        r.changed += changes.len() as u64;
        let d = *d;
        self.apply_reread(d, changes, now);
    }

    /// The directory being read has sent everything: the kept entries it
    /// did not return are gone.
    fn reread_directory_done(&mut self, now: Instant) {
        let Some(r) = self.live.rereading.as_mut() else {
            return;
        };
        let Some((d, seen)) = r.current.take() else {
            return;
        };
        let gone = self
            .live
            .store
            .as_ref()
            .and_then(|s| s.get(d))
            .map(|kept| kept.not_reread(&seen))
            .unwrap_or_default();
        r.gone += gone.len() as u64;
        self.apply_reread(d, gone, now);
    }

    fn apply_reread(&mut self, d: usize, changes: Vec<EntryChange>, now: Instant) {
        if changes.is_empty() {
            return;
        }
        let kept = self
            .live
            .store
            .as_ref()
            .map_or(0, yp_proto::store::EntryStore::len);
        if !self.changes_fit(kept, changes.len(), now) {
            return;
        }
        let mut serving = self.serving();
        let Some(store) = self.live.store.as_mut() else {
            return;
        };
        for change in changes {
            self.live.changes += 1;
            serving.apply(store, d, change);
        }
        self.served(serving, now);
    }

    /// What the maps hold after a compared update, for `ypldapctl`: the
    /// users and groups served, the reader's drops.
    pub(super) fn compared_counts(
        &self,
        dropped: &BTreeMap<entry_rules::DropReason, u64>,
        referrals: u64,
    ) -> ctl_proto::UpdateCounts {
        let served = |map| self.yp.snapshot().map_or(0, |s| s.len(map) as u64);
        ctl_proto::UpdateCounts {
            directories: self.config.directories.len() as u32,
            users: served(yp_proto::MapName::MasterPasswdByName),
            groups: served(yp_proto::MapName::GroupByName),
            records: BTreeMap::new(),
            duplicate_keys: 0,
            dropped: dropped.clone(),
            dropped_total: dropped.values().sum(),
            member_dns: ctl_proto::MemberDns::default(),
            referrals,
            locked_passwords: BTreeMap::new(),
        }
    }

    /// Entries the reader left out in update `update`, if it compares
    /// its full reads.
    pub(super) fn reread_drops(&mut self, update: u64, entries: &[ipc_proto::DroppedEntry<'_>]) {
        let Some(r) = self.live.rereading.as_mut().filter(|r| r.update == update) else {
            return;
        };
        let room = ctl_proto::MAX_DROPS_KEPT.saturating_sub(r.reader_drops.len());
        r.reader_drops
            .extend(entries.iter().take(room).map(super::status::reader_drop));
    }

    /// The reader has sent everything of a compared update: what it
    /// found, for the log (`None` if it compared nothing). The entries
    /// left out are the reader's of this update and ypldapd's own of the
    /// last build.
    pub(super) fn reread_done(
        &mut self,
        dropped: &BTreeMap<entry_rules::DropReason, u64>,
        now: Instant,
    ) -> Option<String> {
        self.reread_directory_done(now);
        let r = self.live.rereading.take()?;
        self.record
            .set_drops(r.update, super::status::unix_now(), dropped, r.reader_drops);
        let outcome = if r.changed + r.gone == 0 {
            "the maps need no build"
        } else if self.live.dirty {
            "the maps are built again from the kept entries"
        } else {
            "the changes are served as edits of the maps"
        };
        Some(format!(
            "{} directories read in full and compared with the entries kept: {} as kept, {} changed or new, {} gone; {outcome}",
            r.directories, r.same, r.changed, r.gone
        ))
    }
}
