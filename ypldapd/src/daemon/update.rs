//! Updates: asking the LDAP reader for one, collecting what it streams,
//! and building and swapping the maps when every directory was read.

use ctl_proto::{DropEntry, DropOrigin, MemberDns, UpdateCounts, UpdateRecord};
use entry_rules::DropReason;
use ipc_proto::DroppedEntry;
use yp_proto::build::{BuildOptions, EntryKind};

use super::status::{OwnDrops, reader_drop, unix_at, unix_now};
use super::*;

/// The interval plus up to 5 % (at most 30 s), so several servers reading
/// one directory drift apart instead of hitting it at the same moment.
pub(super) fn jittered(interval: Duration) -> Duration {
    let max = (interval / 20).min(Duration::from_secs(30));
    let mut b = [0u8; 4];
    // A weak source is fine for spreading load.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    b.copy_from_slice(&nanos.to_le_bytes());
    let frac = f64::from(u32::from_le_bytes(b)) / 1e9;
    interval + max.mul_f64(frac.min(1.0))
}

/// The ORDER number of maps that follow maps of ORDER `served`: the
/// time, or one more.
pub(super) fn next_order_after(served: u32) -> u32 {
    now_order().max(served.saturating_add(1))
}

/// A duration in whole milliseconds.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Entries left out, by reason, for an update's log line: "none", or
/// "2 missing attribute, 1 duplicate name".
pub(super) fn drop_summary(counts: &BTreeMap<DropReason, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    let each: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    each.join(", ")
}

/// How many dropped entries are logged one by one per update; the rest are
/// only counted in the summary.
const DROP_WARNINGS: usize = 20;

/// An update whose maps are being built, or a build from the entries
/// kept for content synchronization (a "rebuild", `update` 0).
pub(super) struct Incoming {
    pub(super) update: u64,
    pub(super) builder: SnapshotBuilder,
    pub(super) started: Instant,
    /// The entries the reader reported as dropped (the first few, by DN),
    /// for the log and `ypldapctl show drops`.
    client_drops: Vec<DropEntry>,
    /// Set once the reader has sent everything: what it reported.
    pub(super) complete: Option<Complete>,
    /// With content synchronization: how the update reads each directory
    /// and a copy of what it read.
    pub(super) keep: Option<super::sync::Keep>,
    /// A rebuild: where it is in the kept entries.
    pub(super) feeding: Option<yp_proto::store::Cursor>,
}

impl Incoming {
    /// A build of the maps from the kept entries, from `at` on.
    pub(super) fn rebuild(
        builder: SnapshotBuilder,
        at: yp_proto::store::Cursor,
        now: Instant,
    ) -> Incoming {
        Incoming {
            update: 0,
            builder,
            started: now,
            client_drops: Vec::new(),
            complete: Some(Complete {
                dropped: BTreeMap::new(),
                referrals: 0,
            }),
            keep: None,
            feeding: Some(at),
        }
    }
}

impl Incoming {
    /// Keeps the reader's reports of dropped entries, at most
    /// [`ctl_proto::MAX_DROPS_KEPT`] of the update; its counts come at the
    /// end. The first [`DROP_WARNINGS`] are logged.
    pub(super) fn note_client_drops(&mut self, entries: &[DroppedEntry<'_>]) {
        for e in entries {
            if self.client_drops.len() >= ctl_proto::MAX_DROPS_KEPT {
                return;
            }
            self.client_drops.push(reader_drop(e));
        }
    }
}

/// The reader's end-of-update report.
pub(super) struct Complete {
    dropped: BTreeMap<DropReason, u64>,
    referrals: u64,
}

impl Daemon {
    /// How the maps are built, from the configuration.
    pub(super) fn build_options(&self) -> BuildOptions {
        BuildOptions {
            expose_hashes: self.config.expose_hashes,
            nesting: self.config.group_nesting,
            omit_disabled: self.config.omit_disabled,
        }
    }

    /// The ORDER number of maps built now: the time, or one more than the
    /// maps served carry (or, before any, than those of the saved state),
    /// so that it always increases (several builds can come in one second
    /// under content synchronization).
    pub(super) fn next_order(&self) -> u32 {
        let served = self.yp.snapshot().map_or(0, |s| s.order());
        next_order_after(served.max(self.order_floor))
    }

    pub(super) fn start_update(&mut self, now: Instant) {
        if !self.client.ready() {
            // Started as soon as the reader greets (see `client_ready`);
            // this retry is only the fallback.
            self.update_awaits_client = true;
            self.next_update = Some(now + Duration::from_secs(1));
            return;
        }
        self.update_awaits_client = false;
        if self.incoming.as_ref().is_some_and(|i| i.complete.is_some()) {
            // The previous update's maps (or a rebuild) are still being
            // finished: finish them now, nothing lost.
            while self.incoming.is_some() {
                self.build_step(usize::MAX / 2, now);
            }
        }
        self.update_seq += 1;
        let update = self.update_seq;
        let resumable = self.live.resumable();
        match self
            .client
            .send(&ParentToClient::Update { update, resumable }, None)
        {
            Ok(()) => {
                self.update_running = Some(update);
                let like = self.yp.snapshot().map(std::convert::AsRef::as_ref);
                let builder = SnapshotBuilder::new(&self.config.domain, self.build_options(), like)
                    .with_records(Arc::new(self.config.record_plan()));
                self.incoming = Some(Incoming {
                    update,
                    builder,
                    started: now,
                    client_drops: Vec::new(),
                    complete: None,
                    keep: None,
                    feeding: None,
                });
                self.next_update = None;
                debug!("update {update} started");
            }
            Err(e) => self.update_failed(&format!("cannot ask ypldap-client: {e}"), now),
        }
    }

    /// Whether `more` entries fit in the update; if not, the reader is
    /// dropped and the update fails.
    pub(super) fn room_for(&mut self, more: usize, now: Instant) -> bool {
        let have = self.incoming.as_ref().map_or(0, |i| i.builder.received());
        if have + more <= MAX_UPDATE_ENTRIES {
            return true;
        }
        warning!(
            "ypldap-client sent more than {MAX_UPDATE_ENTRIES} entries in one update; killing it"
        );
        self.client.drop_link(now, true);
        self.update_running = None;
        self.update_failed(
            &format!("more than {MAX_UPDATE_ENTRIES} users and groups"),
            now,
        );
        false
    }

    /// Every directory has been read: the maps are finished in slices by
    /// [`Self::build_step`] and swapped in when ready.
    pub(super) fn entries_complete(
        &mut self,
        dropped: BTreeMap<DropReason, u64>,
        referrals: u64,
        now: Instant,
    ) {
        self.feed_live_before(usize::MAX);
        let order = self.next_order();
        let Some(i) = self.incoming.as_mut() else {
            return;
        };
        i.builder.end_of_entries(order);
        i.complete = Some(Complete { dropped, referrals });
        self.build_step(BUILD_STEPS_PER_TURN, now);
    }

    /// One slice of snapshot building; installs the snapshot when done.
    pub(super) fn build_step(&mut self, budget: usize, now: Instant) {
        if self.incoming.as_ref().is_some_and(|i| i.feeding.is_some()) {
            // A rebuild takes the kept entries in slices first.
            if self.feed_rebuild() {
                let order = self.next_order();
                if let Some(i) = self.incoming.as_mut() {
                    i.builder.end_of_entries(order);
                }
            }
            self.build_busy = true;
            return;
        }
        let step = match self.incoming.as_mut() {
            Some(i) => i.builder.step(budget),
            None => Step::Idle,
        };
        self.build_busy = step == Step::Busy;
        if step == Step::Ready {
            if let Some(incoming) = self.incoming.take() {
                self.install(incoming, now);
            }
        }
    }

    /// Swaps in the maps of a completed update.
    fn install(&mut self, incoming: Incoming, now: Instant) {
        if incoming.update == 0 {
            return self.install_rebuild(incoming, now);
        }
        let Incoming {
            update,
            builder,
            started,
            client_drops,
            complete,
            keep,
            feeding: _,
        } = incoming;
        let Complete { dropped, referrals } = complete.unwrap_or(Complete {
            dropped: BTreeMap::new(),
            referrals: 0,
        });
        let previous_users = self
            .yp
            .snapshot()
            .map_or(0, |s| s.len(yp_proto::maps::MapName::MasterPasswdByName));
        let (snap, report) = builder.finish();
        let own_entries = report.samples.iter().map(|d| DropEntry {
            dn: d.entry.clone(),
            kind: Some(match d.kind {
                EntryKind::User => ctl_proto::EntryKind::User,
                EntryKind::Group => ctl_proto::EntryKind::Group,
                EntryKind::Record(k) => ctl_proto::EntryKind::Record(k),
            }),
            reason: d.reason,
            detail: ctl_proto::truncate(&d.detail, ctl_proto::MAX_DETAIL_BYTES).to_owned(),
            found_by: DropOrigin::Server,
        });
        self.record.own_drops = OwnDrops {
            by_reason: report.drops.iter().map(|(&r, &n)| (r, n as u64)).collect(),
            entries: own_entries.collect(),
        };
        let counts = self.record.own_drops.with_reader(&dropped);
        let logged_client_drops = client_drops.iter().take(DROP_WARNINGS).map(|d| {
            format!(
                "dropped {}: {}",
                logging::sanitize(&format!("{:?}", d.dn)),
                logging::sanitize(&d.detail)
            )
        });
        let own = report.samples.iter().map(|d| {
            let kind = match d.kind {
                EntryKind::User => "user".to_owned(),
                EntryKind::Group => "group".to_owned(),
                EntryKind::Record(k) => format!("{k} entry"),
            };
            let detail = if d.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", logging::sanitize(&d.detail))
            };
            format!("dropped {kind} {:?}: {}{detail}", d.entry, d.reason)
        });
        for (logged, line) in logged_client_drops.chain(own).enumerate() {
            if logged == DROP_WARNINGS {
                warning!("more dropped entries were not logged one by one; see the summary");
                break;
            }
            warning!("{line}");
        }
        for u in &report.unresolved {
            warning!(
                "group {}: member {} names no user or group read; left out",
                logging::sanitize(&format!("{:?}", u.group_dn)),
                logging::sanitize(&format!("{:?}", u.member_dn))
            );
        }
        let m = report.members;
        let members = if m == yp_proto::members::MemberCounts::default() {
            String::new()
        } else {
            format!(
                ", member DNs: {} resolved, {} nested groups, {} unresolved, {} nestings cut",
                m.resolved, m.nested, m.unresolved, m.cut
            )
        };
        let mut records: Vec<String> = report
            .records
            .iter()
            .map(|(k, c)| format!("{} {k}", c.kept))
            .collect();
        if report.duplicate_keys > 0 {
            records.push(format!(
                "{} keys given twice (the first entry kept)",
                report.duplicate_keys
            ));
        }
        let records = if records.is_empty() {
            String::new()
        } else {
            format!(", {}", records.join(", "))
        };
        // Kept users whose password could not be served: named by count
        // and reason only, never by value.
        let locked: Vec<String> = report
            .locked
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        info!(
            "update {update}: {} directories, {} users, {} groups{records}, dropped: {}{}{members}, referrals skipped: {referrals}, {:.2} s",
            self.config.directories.len(),
            report.users_kept,
            report.groups_kept,
            drop_summary(&counts),
            if locked.is_empty() {
                String::new()
            } else {
                format!(", passwords served locked: {}", locked.join(", "))
            },
            now.saturating_duration_since(started).as_secs_f64()
        );
        if report.users_kept == 0 && previous_users > 0 {
            warning!(
                "update {update} returned no users at all, where the maps had {previous_users}: serving the empty result as the directory said"
            );
        }
        let now_unix = unix_now();
        let dropped_total: u64 = counts.values().sum();
        self.record
            .set_drops(update, now_unix, &dropped, client_drops);
        self.record.finished(UpdateRecord {
            number: update,
            mode: ctl_proto::UpdateMode::FullRead,
            started: unix_at(started, now, now_unix),
            finished: now_unix,
            duration_ms: millis(now.saturating_duration_since(started)),
            failure: None,
            counts: Some(UpdateCounts {
                directories: self.config.directories.len() as u32,
                users: report.users_kept as u64,
                groups: report.groups_kept as u64,
                records: report
                    .records
                    .iter()
                    .map(|(&k, c)| (k, c.kept as u64))
                    .collect(),
                duplicate_keys: report.duplicate_keys as u64,
                dropped: counts,
                dropped_total,
                member_dns: MemberDns {
                    resolved: m.resolved as u64,
                    nested: m.nested as u64,
                    unresolved: m.unresolved as u64,
                    cut: m.cut as u64,
                },
                referrals,
                locked_passwords: report.locked.iter().map(|(&r, &n)| (r, n as u64)).collect(),
            }),
        });
        self.swap_in(snap);
        self.keep_installed(keep);
        // The saved maps are not needed any more.
        self.saved_at = None;
        self.state_changed(now);
        if !self.announced {
            self.announce(now);
        }
        // Changes that came while this update ran.
        self.start_rebuild(now);
    }

    /// Serves `snap` from now on.
    pub(super) fn swap_in(&mut self, snap: yp_proto::Snapshot) {
        self.yp.set_snapshot(Arc::new(snap));
        // A fold of the maps replaced is of no use any more.
        self.live.folding = None;
        // The old snapshot is gone unless an ALL stream still reads it:
        // give its memory back to the system rather than keep it.
        privsep::memory::release_free_memory();
    }

    /// When the update in progress must have finished (`limit
    /// update-time`), while ypldap-client is still sending it.
    pub(super) fn update_deadline(&self) -> Option<Instant> {
        self.update_running?;
        let started = self.incoming.as_ref()?.started;
        Some(started + self.config.limits.update_time)
    }

    /// The update in progress ran past its deadline: it is abandoned, the
    /// reader killed (and restarted), the current maps kept.
    pub(super) fn update_overdue(&mut self, now: Instant) {
        let Some(update) = self.update_running.take() else {
            return;
        };
        let limit = self.config.limits.update_time.as_secs();
        warning!(
            "update {update} did not finish within {limit} s (limit update-time): abandoning it and killing ypldap-client"
        );
        self.client.drop_link(now, true);
        self.update_failed(&format!("it took longer than {limit} s"), now);
    }

    /// Records an update that needed no build: every directory was kept
    /// current by its session ([`Self::finish_unbuilt`]).
    /// `compared`: directories were read in full and compared with the
    /// kept entries, and what the maps hold after it.
    pub(super) fn record_unbuilt(
        &mut self,
        update: u64,
        started: Instant,
        compared: Option<UpdateCounts>,
        now: Instant,
    ) {
        let now_unix = unix_now();
        let polls =
            (0..self.config.directories.len()).any(|d| self.record.poll_reason(d).is_some());
        self.record.finished(UpdateRecord {
            number: update,
            mode: if compared.is_some() {
                ctl_proto::UpdateMode::FullRead
            } else if polls {
                ctl_proto::UpdateMode::RefreshOnly
            } else {
                ctl_proto::UpdateMode::Persist
            },
            started: unix_at(started, now, now_unix),
            finished: now_unix,
            duration_ms: millis(now.saturating_duration_since(started)),
            failure: None,
            counts: compared,
        });
    }

    pub(super) fn update_failed(&mut self, reason: &str, now: Instant) {
        self.live.unbuilt = None;
        self.live.rereading = None;
        let now_unix = unix_now();
        let (number, started) = self
            .incoming
            .as_ref()
            .map_or((self.update_seq, now), |i| (i.update, i.started));
        self.record.finished(UpdateRecord {
            number,
            mode: ctl_proto::UpdateMode::FullRead,
            started: unix_at(started, now, now_unix),
            finished: now_unix,
            duration_ms: millis(now.saturating_duration_since(started)),
            failure: Some(ctl_proto::truncate(reason, ctl_proto::MAX_DETAIL_BYTES).to_owned()),
            counts: None,
        });
        self.incoming = None;
        self.build_busy = false;
        self.failed_updates = self.failed_updates.saturating_add(1);
        // Retry sooner than the interval: 10 s, doubling, never beyond it.
        let retry = Duration::from_secs(10)
            .saturating_mul(1 << self.failed_updates.min(10).saturating_sub(1))
            .min(self.config.interval);
        // A session to resume is tried on its own, shorter back-off.
        let retry = self.resync_delay().map_or(retry, |r| r.min(retry));
        // Nothing served yet: the saved maps, if young enough.
        if !self.announced {
            self.serve_saved(now);
        }
        warning!(
            "update failed: {reason}; keeping the current maps, retrying in {} s",
            retry.as_secs()
        );
        self.next_update = Some(now + retry);
    }
}
