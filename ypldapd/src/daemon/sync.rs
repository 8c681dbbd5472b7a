//! Directories kept current by content synchronization (RFC 4533): the
//! entries ypldapd keeps for them, the changes their sessions push, and
//! the builds of the maps from the kept entries after each batch of
//! changes (DESIGN §14).
//!
//! When an update reads some directory with a sync session (the reader's
//! [`ClientToParent::UpdatePlan`] says so), ypldapd keeps a copy of every
//! entry of that update, by directory ([`EntryStore`]); later updates skip
//! the directories whose session is live, and their kept entries go into
//! the build in their place. A session's changes replace, add and remove
//! kept entries and are served at once as edits of the maps in service
//! (`EntryStore::apply_quick`: users, groups and records, netgroups and
//! groups with member DNs included), each map a change alters getting a
//! higher ORDER number; an entry sent again as it is kept alters nothing.
//! Only what the edits cannot show (a build under way, too many keys
//! changed since the last build) builds the maps again from the store in slices,
//! as an update's are, then swaps them in. A session that ends is read
//! again by the next update, soon.

use std::collections::{HashMap, HashSet};

use ipc_proto::{Change, MAX_COOKIE, ReadMode, SearchRef};
use yp_proto::store::{Applied, Cursor, DirectoryEntries, EntryChange, EntryStore, Search};

use super::*;

/// How soon after a session ended its directory is read again; doubled
/// for each session lost in a row, up to the interval.
const RESYNC_FIRST: Duration = Duration::from_secs(1);

/// How many keys may differ from the last build before they are folded
/// into the maps' tables (a few megabytes; each change copies about this
/// many pointers over 64, see `yp_proto::snapshot`).
const CHANGED_VALUES_LIMIT: usize = 16_384;

/// Entries given to a build from the store per turn of the event loop.
const FEED_PER_TURN: usize = 256;

/// What ypldapd keeps for content synchronization.
#[derive(Debug, Default)]
pub(super) struct Live {
    /// Every directory's entries, while some directory has a session.
    pub(super) store: Option<EntryStore>,
    /// Per directory: its session is live.
    sessions: Vec<bool>,
    /// Per directory: its kept entries came from a session, live or
    /// ended; one that ended may resume from its cookie.
    pub(super) synced: Vec<bool>,
    /// Changes arrived that the maps do not show yet.
    pub(super) dirty: bool,
    /// Sessions lost in a row (for the resync back-off).
    lost: u32,
    /// Present phases under way, by directory and search: the kept
    /// entries named present or sent since the phase began.
    present: HashMap<(usize, Search), HashSet<String>>,
    /// The last cookie of each search of the directories kept current,
    /// matching the kept entries (saved with them, given to a restarted
    /// reader).
    cookies: BTreeMap<(usize, SearchRef), Vec<u8>>,
    /// Changes applied since start, for the log.
    pub(super) changes: u64,
    /// The update under way (number, start) whose directories are all
    /// kept current by their sessions: nothing is read in full, so nothing
    /// is built; its changes (a refreshOnly poll's) are served as they
    /// come, as a persistent session's are.
    pub(super) unbuilt: Option<(u64, Instant)>,
    /// The update under way compares its full reads with the kept
    /// entries (see `super::reread`).
    pub(super) rereading: Option<super::reread::Rereading>,
    /// The keys changed since the build being folded into the tables, a
    /// step a turn of the event loop.
    pub(super) folding: Option<Folding>,
}

/// A fold under way (`yp_proto::snapshot::Fold`): when it began, the
/// keys it folds, its steps so far.
#[derive(Debug)]
pub(super) struct Folding {
    fold: yp_proto::snapshot::Fold,
    started: Instant,
    keys: usize,
    steps: u32,
}

impl Live {
    fn session(&self, d: usize) -> bool {
        self.sessions.get(d).copied().unwrap_or(false)
    }

    /// Whether directory `d` is kept current by a live session (for
    /// `ypldapctl`).
    pub(super) fn kept_current(&self, d: usize) -> bool {
        self.session(d)
    }

    /// Forgets every session (the reader is gone): the entries and
    /// cookies stay, for the next reader to resume from.
    pub(super) fn sessions_gone(&mut self) {
        self.sessions.clear();
        self.present.clear();
    }

    /// The entries and cookies saved at the last run (state directory):
    /// the directories with cookies may resume.
    pub(super) fn restore(
        &mut self,
        store: EntryStore,
        cookies: Vec<((usize, SearchRef), Vec<u8>)>,
        directories: usize,
    ) {
        self.synced = vec![false; directories];
        for ((d, _), _) in &cookies {
            if let Some(s) = self.synced.get_mut(*d) {
                *s = true;
            }
        }
        self.cookies = cookies.into_iter().collect();
        self.store = Some(store);
    }

    /// The entries kept, if any.
    pub(super) fn store(&self) -> Option<&EntryStore> {
        self.store.as_ref()
    }

    /// The kept entries are to be built into maps (saved ones, at start).
    pub(super) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// No directory is kept current any more: nothing is kept.
    fn nothing_kept(&mut self) {
        self.store = None;
        self.rereading = None;
        self.sessions.clear();
        self.synced.clear();
        self.present.clear();
        self.cookies.clear();
    }

    /// The cookies kept, by directory and search.
    pub(super) fn cookies(&self) -> Vec<((usize, SearchRef), Vec<u8>)> {
        self.cookies.iter().map(|(k, c)| (*k, c.clone())).collect()
    }

    /// The directories whose session ended while ypldapd keeps their
    /// entries: the reader may resume them from their cookies.
    pub(super) fn resumable(&self) -> Vec<u32> {
        if self.store.is_none() {
            return Vec::new();
        }
        (0..self.synced.len())
            .filter(|&d| self.synced[d] && !self.session(d))
            .map(|d| d as u32)
            .collect()
    }

    /// Forgets everything (a new configuration): directories may mean
    /// other entries now.
    pub(super) fn reset(&mut self) {
        *self = Live::default();
    }
}

/// The part of an update that content synchronization needs: how each
/// directory is read, and a copy of the entries of those read.
#[derive(Debug)]
pub(super) struct Keep {
    modes: Vec<ReadMode>,
    /// The cookies the refreshes of this update ended with, kept once
    /// its maps are installed.
    cookies: BTreeMap<(usize, SearchRef), Vec<u8>>,
    /// The directory whose entries are arriving.
    current: Option<usize>,
    /// Copies of the directories read, by directory.
    read: BTreeMap<usize, DirectoryEntries>,
    /// Live directories before this one have been given to the build.
    fed: usize,
}

impl Keep {
    fn current(&mut self) -> Option<&mut DirectoryEntries> {
        let d = self.current?;
        Some(self.read.entry(d).or_default())
    }

    pub(super) fn add_users(&mut self, users: &[entry_rules::User<'_>]) {
        if let Some(d) = self.current() {
            d.add_users(users);
        }
    }

    pub(super) fn add_groups(&mut self, groups: &[entry_rules::Group<'_>]) {
        if let Some(d) = self.current() {
            d.add_groups(groups);
        }
    }

    pub(super) fn add_records(&mut self, records: &[entry_rules::records::Record<'_>]) {
        if let Some(d) = self.current() {
            d.add_records(records);
        }
    }
}

/// Changes to the kept entries on their way to the maps in service
/// ([`Daemon::serving`], then [`Daemon::served`]).
pub(super) struct Serving {
    /// The maps with the changes so far, while edits can show them.
    served: Option<Arc<yp_proto::Snapshot>>,
    editing: bool,
    options: yp_proto::BuildOptions,
    plan: Arc<yp_proto::build::RecordPlan>,
    /// Changes applied as edits, and those of them that altered a map.
    quick: u64,
    altered: u64,
    /// Some change needs the maps built again.
    dirty: bool,
    /// The edits made, while a fold is under way: it makes them again.
    noted: Option<Vec<(Vec<yp_proto::snapshot::Edit>, u32)>>,
}

impl Serving {
    /// Applies `change` to directory `d`'s kept entries, and to the maps
    /// as an edit while edits can show the changes.
    pub(super) fn apply(&mut self, store: &mut EntryStore, d: usize, change: EntryChange) {
        let Some(snap) = self.served.as_deref().filter(|_| self.editing) else {
            let applied = store.directory(d).apply(change);
            if !matches!(applied, Applied::Unchanged | Applied::Unknown) {
                self.dirty = true;
            }
            return;
        };
        let edits = match store.apply_quick(d, change, &self.options, &self.plan, snap.domain()) {
            Ok(edits) => edits,
            Err(change) => {
                // Not one the store can edit: the maps are built again.
                store.directory(d).apply(*change);
                self.dirty = true;
                self.editing = false;
                return;
            }
        };
        self.quick += 1;
        let order = next_order_after(snap.order());
        match snap.with_edits(&edits, order) {
            Ok(Some(next)) => {
                self.served = Some(Arc::new(next));
                self.altered += 1;
                if let Some(noted) = self.noted.as_mut() {
                    noted.push((edits, order));
                }
            }
            // Sent again as it was, or a change no map shows.
            Ok(None) => {}
            Err(e) => {
                // The store has the change: the build shows it.
                debug!("a change could not be served at once ({e:?}); building the maps again");
                self.dirty = true;
                self.editing = false;
            }
        }
    }
}

/// Applies `changes` to directory `d`'s kept entries, in order, with the
/// present phases under way (`present`); returns how many there were.
fn apply_each<'a>(
    entries: &mut DirectoryEntries,
    d: usize,
    present: &mut HashMap<(usize, Search), HashSet<String>>,
    changes: impl IntoIterator<Item = Change<'a>>,
) -> u64 {
    let mut n = 0;
    for c in changes {
        for change in entry_changes(Some(entries), d, present, c) {
            entries.apply(change);
        }
        n += 1;
    }
    n
}

/// The changes to directory `d`'s kept entries (`entries`) one pushed
/// change makes, with the present phases under way (`present`) kept: an
/// entry put in place or removed, or, at the end of a present phase, the
/// removal of each kept entry it neither named nor sent.
fn entry_changes(
    entries: Option<&DirectoryEntries>,
    d: usize,
    present: &mut HashMap<(usize, Search), HashSet<String>>,
    change: Change<'_>,
) -> Vec<EntryChange> {
    match change {
        Change::User(u) => {
            note_present(present, d, Search::Users, u.origin.uuid.as_deref());
            vec![EntryChange::User(u.into_owned())]
        }
        Change::Group(g) => {
            note_present(present, d, Search::Groups, g.origin.uuid.as_deref());
            vec![EntryChange::Group(g.into_owned())]
        }
        Change::Record(r) => {
            let search = Search::Records(r.search);
            note_present(present, d, search, r.origin.uuid.as_deref());
            vec![EntryChange::Record(r.into_owned())]
        }
        Change::Delete { search, uuid } => vec![EntryChange::Remove(search_of(search), uuid)],
        Change::PresentBegin { search } => {
            present.insert((d, search_of(search)), HashSet::new());
            Vec::new()
        }
        Change::Present { search, uuid } => {
            let search = search_of(search);
            // Only kept entries: what a phase holds is bounded by them.
            if entries.is_some_and(|e| e.contains(search, &uuid)) {
                note_present(present, d, search, Some(&uuid));
            }
            Vec::new()
        }
        Change::PresentEnd { search } => {
            let search = search_of(search);
            let (Some(seen), Some(entries)) = (present.remove(&(d, search)), entries) else {
                return Vec::new();
            };
            entries
                .uuids(search)
                .into_iter()
                .filter(|u| !seen.contains(u))
                .map(|u| EntryChange::Remove(search, u))
                .collect()
        }
    }
}

/// An entry sent during a present phase of its search is present.
fn note_present(
    present: &mut HashMap<(usize, Search), HashSet<String>>,
    d: usize,
    search: Search,
    uuid: Option<&str>,
) {
    if let (Some(seen), Some(u)) = (present.get_mut(&(d, search)), uuid) {
        seen.insert(u.to_owned());
    }
}

fn search_of(s: SearchRef) -> Search {
    match s {
        SearchRef::Users => Search::Users,
        SearchRef::Groups => Search::Groups,
        SearchRef::Records(id) => Search::Records(id),
    }
}

impl Daemon {
    /// The reader's plan for update `update`: with a session among the
    /// directories, every entry of the update is kept.
    pub(super) fn update_plan(&mut self, update: u64, modes: Vec<ReadMode>) {
        if self.update_running != Some(update) {
            return;
        }
        if self.incoming.is_none() {
            return;
        }
        // A phase a failed update left open ends with it.
        self.live.present.clear();
        // With a state directory every directory's entries are kept (and
        // saved), for a start with the directories out of reach.
        let syncs = modes.iter().any(|m| *m != ReadMode::Full);
        if !syncs && self.state.is_none() {
            self.live.nothing_kept();
            return;
        }
        let live: Vec<String> = modes
            .iter()
            .enumerate()
            .filter(|(_, m)| **m == ReadMode::Live || **m == ReadMode::Resume)
            .map(|(d, _)| d.to_string())
            .collect();
        if !live.is_empty() {
            debug!(
                "update {update}: directories {} are kept current by their sessions",
                live.join(", ")
            );
        }
        // The maps in service are the kept entries' already: building them
        // again would only cost CPU and move every map's ORDER.
        if self.plan_unbuilt(update, &modes) {
            return;
        }
        let Some(i) = self.incoming.as_mut() else {
            return;
        };
        i.keep = Some(Keep {
            modes,
            cookies: BTreeMap::new(),
            current: None,
            read: BTreeMap::new(),
            fed: 0,
        });
    }

    /// The end of an update that built nothing (see [`Live::unbuilt`]).
    pub(super) fn finish_unbuilt(
        &mut self,
        update: u64,
        dropped: &BTreeMap<entry_rules::DropReason, u64>,
        referrals: u64,
        now: Instant,
    ) -> bool {
        let Some((number, started)) = self.live.unbuilt else {
            return false;
        };
        if number != update {
            return false;
        }
        let compared = self.reread_done(dropped, now);
        self.live.unbuilt = None;
        match &compared {
            Some(found) => info!(
                "update {update}: {found}, dropped by the reader: {}, referrals skipped: {referrals}, {:.2} s",
                super::update::drop_summary(dropped),
                now.saturating_duration_since(started).as_secs_f64()
            ),
            None => info!(
                "update {update}: every directory is kept current by its content synchronization session; the maps need no build"
            ),
        }
        let counts = compared.map(|_| self.compared_counts(dropped, referrals));
        self.record_unbuilt(update, started, counts, now);
        self.start_rebuild(now);
        true
    }

    /// Directory `directory`'s entries come next: the kept entries of the
    /// live directories before it go into the build first, so the build
    /// sees every directory in configuration order.
    pub(super) fn read_begin(&mut self, update: u64, directory: u32, mode: ReadMode, now: Instant) {
        if self.update_running != Some(update) {
            return;
        }
        let d = directory as usize;
        if self.reread_begin(update, d, mode, now) {
            return;
        }
        self.feed_live_before(d);
        if let Some(k) = self.incoming.as_mut().and_then(|i| i.keep.as_mut()) {
            // A server that refused the sync search: read in full after
            // all (the only change of plan the reader may make).
            if let Some(planned) = k.modes.get_mut(d) {
                if *planned == ReadMode::Sync && mode == ReadMode::Full {
                    *planned = ReadMode::Full;
                }
            }
            // A resumed directory's changes go to its kept entries.
            if k.modes.get(d) == Some(&ReadMode::Resume) {
                k.current = None;
            } else {
                k.current = Some(d);
                k.read.insert(d, DirectoryEntries::default());
            }
        }
    }

    /// Gives the build the kept entries of the live directories before
    /// directory `upto` (all of them with `usize::MAX`).
    pub(super) fn feed_live_before(&mut self, upto: usize) {
        let Some(i) = self.incoming.as_mut() else {
            return;
        };
        let Some(k) = i.keep.as_mut() else {
            return;
        };
        let Some(store) = self.live.store.as_ref() else {
            k.fed = k.fed.max(upto.min(k.modes.len()));
            return;
        };
        while k.fed < upto && k.fed < k.modes.len() {
            if matches!(k.modes.get(k.fed), Some(ReadMode::Live | ReadMode::Resume)) {
                if let Some(entries) = store.get(k.fed) {
                    entries.feed(&mut i.builder);
                }
            }
            k.fed += 1;
        }
    }

    /// After an update is installed: the directories it read replace
    /// their kept entries, and its plan says which sessions are live.
    pub(super) fn keep_installed(&mut self, keep: Option<Keep>) {
        let Some(keep) = keep else {
            return;
        };
        if keep.modes.iter().all(|m| *m == ReadMode::Full) && self.state.is_none() {
            // Every server refused.
            self.live.nothing_kept();
            return;
        }
        let plan = Arc::new(self.config.record_plan());
        let store = self.live.store.get_or_insert_with(EntryStore::default);
        store.truncate(keep.modes.len());
        for (d, entries) in keep.read {
            store.replace(d, entries);
        }
        // The records by map and key, made now rather than by the first
        // change to a record (with a session to push changes).
        if keep.modes.iter().any(|m| *m != ReadMode::Full) {
            store.prepare_records(&plan, &self.config.domain);
        }
        for (d, mode) in keep.modes.iter().enumerate() {
            let host = self
                .config
                .directories
                .get(d)
                .map_or("?", |d| d.settings.host.as_str());
            match (mode, self.record.poll_reason(d)) {
                (ReadMode::Sync, Some(why)) => info!(
                    "directory {host}: kept current by content synchronization (RFC 4533), polled with refreshOnly every {} s ({why}): its changes are served after each poll",
                    self.config.interval.as_secs()
                ),
                (ReadMode::Sync, None) => info!(
                    "directory {host}: kept current by content synchronization (RFC 4533): its changes are served as they come"
                ),
                (ReadMode::Resume, _) => info!(
                    "directory {host}: content synchronization resumed from its cookie: only the changes since the session ended were read"
                ),
                (ReadMode::Full | ReadMode::Live, _) => {}
            }
        }
        self.live.sessions = keep.modes.iter().map(|m| *m != ReadMode::Full).collect();
        self.live.synced.clone_from(&self.live.sessions);
        // A directory read in full has no cookie any more; one refreshed
        // or resumed has the cookies its refresh ended with.
        let synced = &self.live.synced;
        self.live
            .cookies
            .retain(|(d, _), _| synced.get(*d).copied().unwrap_or(false));
        self.live.cookies.extend(keep.cookies);
        self.live.lost = 0;
        let n = self.live.sessions.iter().filter(|s| **s).count();
        debug!(
            "{n} of {} directories kept current by content synchronization; {} entries kept",
            keep.modes.len(),
            store.len()
        );
    }

    /// The reader is not trusted: changes that would grow the kept
    /// entries past what one update may bring end it (it is restarted).
    pub(super) fn changes_fit(&mut self, kept: usize, changes: usize, now: Instant) -> bool {
        if kept.saturating_add(changes) <= super::MAX_UPDATE_ENTRIES {
            return true;
        }
        warning!(
            "ypldap-client pushed changes beyond {} kept entries; killing it",
            super::MAX_UPDATE_ENTRIES
        );
        self.client.drop_link(now, true);
        self.live.sessions_gone();
        false
    }

    /// Changes for a directory without a live session: those of the
    /// update under way, which reads it by content synchronization.
    /// A resumed directory's refresh changes its kept entries before the
    /// build is given them; changes a new session pushes between the end
    /// of its refresh and the installation of the maps join the copy the
    /// update keeps. Either way the maps are built again afterwards when
    /// the update's build could not see them.
    fn apply_to_update(&mut self, d: usize, changes: Vec<Change<'_>>, now: Instant) {
        let Some(k) = self.incoming.as_ref().and_then(|i| i.keep.as_ref()) else {
            debug!(
                "changes for directory {d}, which has no live session: ignored (the next update reads it)"
            );
            return;
        };
        let (mode, fed) = (k.modes.get(d).copied(), k.fed);
        let kept = match mode {
            Some(ReadMode::Resume) => self.live.store.as_ref().map_or(0, EntryStore::len),
            Some(ReadMode::Sync) => k.read.values().map(DirectoryEntries::len).sum(),
            _ => {
                debug!("changes for directory {d}, which this update reads in full: ignored");
                return;
            }
        };
        if !self.changes_fit(kept, changes.len(), now) {
            return;
        }
        self.record.changes_received(d as u32, changes.len() as u64);
        let entries = match mode {
            Some(ReadMode::Resume) => self.live.store.as_mut().map(|s| s.directory(d)),
            _ => self
                .incoming
                .as_mut()
                .and_then(|i| i.keep.as_mut())
                .map(|k| k.read.entry(d).or_default()),
        };
        let Some(entries) = entries else {
            return;
        };
        self.live.changes += apply_each(entries, d, &mut self.live.present, changes);
        if mode == Some(ReadMode::Sync) || fed > d {
            self.live.dirty = true;
        }
    }

    /// A batch of changes from directory `directory`'s session.
    pub(super) fn apply_changes(&mut self, directory: u32, changes: Vec<Change<'_>>, now: Instant) {
        let d = directory as usize;
        if !self.live.session(d) {
            self.apply_to_update(d, changes, now);
            return;
        }
        let kept = self.live.store.as_ref().map_or(0, EntryStore::len);
        if !self.changes_fit(kept, changes.len(), now) {
            return;
        }
        self.record
            .changes_received(directory, changes.len() as u64);
        let mut serving = self.serving();
        let Some(store) = self.live.store.as_mut() else {
            return;
        };
        let present = &mut self.live.present;
        for c in changes {
            self.live.changes += 1;
            for change in entry_changes(store.get(d), d, present, c) {
                serving.apply(store, d, change);
            }
        }
        self.served(serving, now);
    }

    /// Changes to the kept entries are about to be applied: how they
    /// will be served.
    pub(super) fn serving(&self) -> Serving {
        // Changes are served at once, as edits of the maps in service,
        // unless a build is under way or due (it will show them) or the
        // store cannot edit them: from then on the store takes them and
        // the maps are built again.
        let building_update = self.update_running.is_some()
            && self.live.unbuilt.map(|(n, _)| n) != self.update_running;
        let quiet = !self.live.dirty && self.incoming.is_none() && !building_update;
        let served = self.yp.snapshot().cloned().filter(|_| quiet);
        Serving {
            editing: served.is_some(),
            served,
            options: self.build_options(),
            plan: Arc::new(self.config.record_plan()),
            quick: 0,
            altered: 0,
            dirty: false,
            noted: self.live.folding.as_ref().map(|_| Vec::new()),
        }
    }

    /// Changes to the kept entries were applied: the maps they altered
    /// are served, or built again.
    pub(super) fn served(&mut self, serving: Serving, now: Instant) {
        let Serving {
            served,
            quick,
            altered,
            dirty,
            noted,
            ..
        } = serving;
        self.live.dirty |= dirty;
        if let Some(f) = self.live.folding.as_mut() {
            for (edits, order) in noted.into_iter().flatten() {
                f.fold.note(edits, order);
            }
        }
        if altered > 0 {
            if let Some(snap) = served {
                let changed = snap.changed_values();
                debug!(
                    "{quick} changes served at once, {altered} of them altering the maps ({changed} keys changed since the maps were built)"
                );
                // Keys changed since the build cost memory and a look-up
                // each: past a bound they are folded into the tables.
                if changed > CHANGED_VALUES_LIMIT && self.live.folding.is_none() {
                    self.live.folding = Some(Folding {
                        fold: snap.fold(),
                        started: now,
                        keys: changed,
                        steps: 0,
                    });
                }
                self.yp.set_snapshot(snap);
                self.record.rebuilt();
                if let Some(s) = self.state.as_mut() {
                    s.changed(now);
                }
            }
        } else if quick > 0 {
            debug!("{quick} changes altered no map");
        }
        self.start_rebuild(now);
    }

    /// Whether the index of member DNs the kept entries' changes need is
    /// being made ([`Self::members_step`]).
    pub(super) fn members_unprepared(&self) -> bool {
        let options = self.build_options();
        self.live
            .store
            .as_ref()
            .is_some_and(|s| s.members_unprepared(&options))
    }

    /// A step of making the index of member DNs, when groups name their
    /// members by DN and the kept entries changed in a way the index
    /// could not follow (a directory read in full and replaced, holes
    /// closed): made between answers, not at once by the next change.
    pub(super) fn members_step(&mut self) {
        let options = self.build_options();
        if let Some(store) = self.live.store.as_mut() {
            if store.members_unprepared(&options) {
                let started = Instant::now();
                if store.prepare_members_some(&options, 1) {
                    debug!(
                        "index of member DNs made again for the kept entries (last step {:.1} ms)",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
            }
        }
    }

    /// A step of the fold under way, if any (a turn of the event loop's
    /// background work). Once done, its result replaces the maps in
    /// service, unless a build replaced them meanwhile; when the keys
    /// cannot be folded, or the arena would hold more bytes no value uses
    /// than used ones, the maps are built again instead.
    pub(super) fn fold_step(&mut self, now: Instant) {
        let Some(f) = self.live.folding.as_mut() else {
            return;
        };
        f.steps += 1;
        if !f.fold.step() {
            return;
        }
        let Some(Folding {
            fold,
            started,
            keys,
            steps,
        }) = self.live.folding.take()
        else {
            return;
        };
        let noted = fold.noted();
        if !self.yp.snapshot().is_some_and(|s| fold.is_of(s)) {
            debug!("{keys} changed keys not folded: the maps were built again meanwhile");
            return;
        }
        let why_not = match fold.finish() {
            Some(f) if !f.mostly_stale() => Ok(f),
            Some(f) => Err(format!(
                "{} of their {} bytes would be unused",
                f.stale_bytes(),
                f.arena_bytes()
            )),
            None => Err("they cannot hold them".to_owned()),
        };
        match why_not {
            Ok(folded) => {
                debug!(
                    "changed keys folded into the maps' tables: {keys} keys in {steps} steps, {:.3} s, {noted} changes made meanwhile made again; {} of {} arena bytes no longer used",
                    now.saturating_duration_since(started).as_secs_f64(),
                    folded.stale_bytes(),
                    folded.arena_bytes()
                );
                self.yp.set_snapshot(Arc::new(folded));
            }
            Err(why) => {
                debug!(
                    "{keys} changed keys not folded into the maps' tables ({why}): building them again"
                );
                self.live.dirty = true;
                self.start_rebuild(now);
            }
        }
    }

    /// A new cookie of a search: kept with the entries it describes, for
    /// a live session at once, for one this update refreshes when its
    /// maps are installed. A cookie is at most [`MAX_COOKIE`] bytes and
    /// names a search of the configuration, so what is kept stays
    /// bounded by it.
    pub(super) fn cookie(&mut self, directory: u32, search: SearchRef, cookie: Vec<u8>) {
        let d = directory as usize;
        let known = match (search, self.config.directories.get(d)) {
            (_, None) => false,
            (SearchRef::Records(id), Some(dir)) => dir.settings.records.iter().any(|r| r.id == id),
            (SearchRef::Users | SearchRef::Groups, Some(_)) => true,
        };
        if !known || cookie.len() > MAX_COOKIE {
            debug!("a cookie for directory {d} that names no search of it, or too long: ignored");
            return;
        }
        if self.live.session(d) {
            self.live.cookies.insert((d, search), cookie);
            // A change that altered no map still moved the cookie: what is
            // saved must pair the entries with it.
            self.state_changed(Instant::now());
            return;
        }
        let keep = self.incoming.as_mut().and_then(|i| i.keep.as_mut());
        if let Some(k) =
            keep.filter(|k| matches!(k.modes.get(d), Some(ReadMode::Sync | ReadMode::Resume)))
        {
            k.cookies.insert((d, search), cookie);
        }
    }

    /// Directory `directory`'s session ended: its entries stay as they
    /// were, and an update reads it again soon.
    pub(super) fn sync_lost(&mut self, directory: u32, reason: &str, now: Instant) {
        warning!(
            "directory {}: content synchronization ended ({}); serving its last entries, reading it again",
            self.config
                .directories
                .get(directory as usize)
                .map_or("?", |d| d.settings.host.as_str()),
            logging::sanitize(reason)
        );
        if let Some(s) = self.live.sessions.get_mut(directory as usize) {
            *s = false;
        }
        let wait = self.resync_delay().unwrap_or(RESYNC_FIRST);
        let at = now + wait;
        if self.next_update.is_none_or(|t| t > at) {
            self.next_update = Some(at);
        }
    }

    /// The reader died: its sessions went with it. The next one resumes
    /// them from the kept cookies, soon.
    pub(super) fn reader_gone(&mut self, now: Instant) {
        self.live.sessions_gone();
        if let Some(wait) = self.resync_delay() {
            let at = now + wait;
            if self.next_update.is_none_or(|t| t > at) {
                self.next_update = Some(at);
            }
        }
    }

    /// With a session to resume: how soon to try, 1 second after the
    /// first loss, doubling with each try that fails, up to the interval.
    pub(super) fn resync_delay(&mut self) -> Option<Duration> {
        if self.live.resumable().is_empty() {
            return None;
        }
        let wait = RESYNC_FIRST
            .saturating_mul(1 << self.live.lost.min(10))
            .min(self.config.interval);
        self.live.lost = self.live.lost.saturating_add(1);
        Some(wait)
    }

    /// Builds the maps again from the kept entries, when changes are
    /// waiting and no build is under way (a build under way may not have
    /// seen them: the next one starts when it is installed).
    pub(super) fn start_rebuild(&mut self, now: Instant) {
        if !self.live.dirty || self.incoming.is_some() || self.update_running.is_some() {
            return;
        }
        let Some(store) = self.live.store.as_ref() else {
            return;
        };
        self.live.dirty = false;
        let like = self.yp.snapshot().map(std::convert::AsRef::as_ref);
        let builder = SnapshotBuilder::new(&self.config.domain, self.build_options(), like)
            .with_records(Arc::new(self.config.record_plan()));
        debug!("building the maps again from {} kept entries", store.len());
        self.incoming = Some(Incoming::rebuild(builder, Cursor::default(), now));
        self.build_busy = true;
    }

    /// Swaps in the maps a rebuild made, and starts the next one if
    /// changes came meanwhile.
    pub(super) fn install_rebuild(&mut self, incoming: Incoming, now: Instant) {
        let started = incoming.started;
        let (snap, report) = incoming.builder.finish();
        debug!(
            "maps built again after changes ({} applied since start): {} users, {} groups, {} dropped, order {}, {:.3} s",
            self.live.changes,
            report.users_kept,
            report.groups_kept,
            report.dropped(),
            snap.order(),
            now.saturating_duration_since(started).as_secs_f64()
        );
        self.swap_in(snap);
        self.record.rebuilt();
        self.state_changed(now);
        if let Some(store) = self.live.store.as_mut() {
            store.prepare_records(&Arc::new(self.config.record_plan()), &self.config.domain);
        }
        if !self.announced {
            // The saved maps, served while the directories are away.
            self.announce(now);
        }
        self.start_rebuild(now);
    }

    /// Feeds the rebuild under way some more kept entries; true once all
    /// are in (or there is no rebuild).
    pub(super) fn feed_rebuild(&mut self) -> bool {
        let Some(i) = self.incoming.as_mut() else {
            return true;
        };
        let Some(at) = i.feeding else {
            return true;
        };
        let next = match self.live.store.as_ref() {
            Some(store) => store.feed_some(at, &mut i.builder, FEED_PER_TURN),
            None => None,
        };
        i.feeding = next;
        next.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yp_proto::testdata;

    fn with_uuid(name: &str, uid: u32, uuid: &str) -> entry_rules::User<'static> {
        let mut u = testdata::user(name, uid, 100);
        u.origin.uuid = Some(uuid.to_owned());
        u
    }

    #[test]
    fn a_present_phase_removes_what_it_neither_names_nor_sends() {
        let mut entries = DirectoryEntries::default();
        for (name, uid, uuid) in [("ann", 1, "u1"), ("ben", 2, "u2"), ("cy", 3, "u3")] {
            entries.upsert_user(with_uuid(name, uid, uuid));
        }
        let mut present = HashMap::new();
        let users = SearchRef::Users;
        let changes = vec![
            Change::PresentBegin { search: users },
            Change::Present {
                search: users,
                uuid: "u1".into(),
            },
            // Changed: present too.
            Change::User(with_uuid("ben", 20, "u2")),
            // New.
            Change::User(with_uuid("dee", 4, "u4")),
            // Not kept: ignored.
            Change::Present {
                search: users,
                uuid: "u9".into(),
            },
            Change::PresentEnd { search: users },
        ];
        assert_eq!(apply_each(&mut entries, 0, &mut present, changes), 6);
        assert!(present.is_empty(), "the phase ended");
        let mut left = entries.uuids(Search::Users);
        left.sort();
        assert_eq!(left, ["u1", "u2", "u4"]);
    }

    #[test]
    fn without_a_present_phase_nothing_is_removed_implicitly() {
        let mut entries = DirectoryEntries::default();
        entries.upsert_user(with_uuid("ann", 1, "u1"));
        let mut present = HashMap::new();
        let changes = vec![
            Change::Present {
                search: SearchRef::Users,
                uuid: "u1".into(),
            },
            Change::PresentEnd {
                search: SearchRef::Users,
            },
        ];
        apply_each(&mut entries, 0, &mut present, changes);
        assert_eq!(entries.uuids(Search::Users), ["u1"]);
    }
}
