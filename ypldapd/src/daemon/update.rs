//! Updates: asking the LDAP reader for one, collecting what it streams,
//! and building and swapping the maps when every directory was read.

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

/// What has arrived of an update.
#[derive(Default)]
pub(super) struct Incoming {
    pub(super) update: u64,
    pub(super) users: Vec<UserEntry>,
    pub(super) groups: Vec<GroupEntry>,
    pub(super) started: Option<Instant>,
}

impl Daemon {
    pub(super) fn start_update(&mut self, now: Instant) {
        if !self.client.ready() {
            // Try again once the reader is up.
            self.next_update = Some(now + Duration::from_secs(1));
            return;
        }
        self.update_seq += 1;
        let update = self.update_seq;
        match self.client.send(&ParentToClient::Update { update }, None) {
            Ok(()) => {
                self.update_running = Some(update);
                self.incoming = Incoming {
                    update,
                    started: Some(now),
                    ..Incoming::default()
                };
                self.next_update = None;
                debug!("update {update} started");
            }
            Err(e) => self.update_failed(&format!("cannot ask ypldap-client: {e}"), now),
        }
    }

    /// Whether `more` entries fit in the update; if not, the reader is
    /// dropped and the update fails.
    pub(super) fn room_for(&mut self, more: usize, now: Instant) -> bool {
        let have = self.incoming.users.len() + self.incoming.groups.len();
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

    /// Builds the maps of a completed update and swaps them in.
    pub(super) fn install(
        &mut self,
        update: u64,
        client_drops: &BTreeMap<String, u64>,
        referrals: u64,
        now: Instant,
    ) {
        let incoming = std::mem::take(&mut self.incoming);
        debug_assert_eq!(incoming.update, update);
        let previous_users = self
            .yp
            .snapshot()
            .map_or(0, |s| s.len(crate::maps::MapName::MasterPasswdByName));
        let (snap, report) =
            Snapshot::build_now(&self.config.domain, &incoming.users, &incoming.groups);
        let mut drops: Vec<String> = client_drops
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        drops.extend(
            report
                .drops
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str())),
        );
        for d in &report.samples {
            warning!("dropped {:?} {}: {}", d.kind, d.name, d.reason.as_str());
        }
        info!(
            "update {update}: {} directories, {} users, {} groups, dropped: {}, referrals skipped: {referrals}, {:.2} s",
            self.config.directories.len(),
            report.users_kept,
            report.groups_kept,
            if drops.is_empty() {
                "none".to_owned()
            } else {
                drops.join(", ")
            },
            incoming
                .started
                .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
        );
        if report.users_kept == 0 && previous_users > 0 {
            warning!(
                "update {update} returned no users at all, where the maps had {previous_users}: serving the empty result as the directory said"
            );
        }
        self.yp.set_snapshot(Arc::new(snap));
        if !self.announced {
            self.announce(now);
        }
    }

    pub(super) fn update_failed(&mut self, reason: &str, now: Instant) {
        self.incoming = Incoming::default();
        self.failed_updates = self.failed_updates.saturating_add(1);
        // Retry sooner than the interval: 10 s, doubling, never beyond it.
        let retry = Duration::from_secs(10)
            .saturating_mul(1 << self.failed_updates.min(10).saturating_sub(1))
            .min(self.config.interval);
        warning!(
            "update failed: {reason}; keeping the current maps, retrying in {} s",
            retry.as_secs()
        );
        self.next_update = Some(now + retry);
    }
}
