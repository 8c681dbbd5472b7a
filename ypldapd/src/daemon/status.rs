//! What ypldapd keeps for `ypldapctl`: the last updates, the entries they
//! left out, each directory's connection, and the answers built from
//! them and from the daemon's own state for each `show` request.

use ctl_proto::{
    Announcement, DirectoriesView, DirectoryStatus, DropEntry, DropsView, HelperState,
    HelperStatus, MapStatus, MapsView, Reply, Request, RunningUpdate, Status, Summary, Tls,
    UpdateMode, UpdateRecord, UpdateTotals,
};
use ipc_proto::TlsMode;

use super::*;

/// Seconds since the epoch now.
pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `t` as seconds since the epoch, given that `now` is `now_unix`.
pub(super) fn unix_at(t: Instant, now: Instant, now_unix: u64) -> u64 {
    if t <= now {
        now_unix.saturating_sub(now.duration_since(t).as_secs())
    } else {
        now_unix.saturating_add(t.duration_since(now).as_secs())
    }
}

/// One directory's connections, as ypldap-dns made them.
#[derive(Debug, Clone, Default)]
pub(super) struct DirectoryRecord {
    /// host:port, to tell whether a reload kept the directory.
    endpoint: String,
    address: Option<String>,
    connected: Option<u64>,
    connections: u64,
    failures: u64,
    last_error: Option<String>,
    /// When its content synchronization session last pushed a change.
    last_change: Option<u64>,
    /// Why its last content synchronization session polls (refreshOnly
    /// every interval) instead of persisting, as the reader said.
    polls: Option<String>,
}

/// Entries and bytes of each map counted so far.
type MapSizes = BTreeMap<yp_proto::MapName, (u64, u64)>;

/// What the daemon remembers for `ypldapctl`.
pub(super) struct Record {
    started_unix: u64,
    pub(super) last_update: Option<UpdateRecord>,
    pub(super) last_success: Option<UpdateRecord>,
    pub(super) totals: UpdateTotals,
    /// The entries the last installed update left out.
    pub(super) drops: DropsView,
    /// ypldapd's own part of them as the last build of the maps found
    /// them: an update that builds nothing (a compared full read) lists
    /// the reader's drops it made beside these.
    pub(super) own_drops: OwnDrops,
    pub(super) maps_loaded: Option<u64>,
    directories: Vec<DirectoryRecord>,
    /// Changes content synchronization sessions pushed.
    changes: u64,
    /// Entries and bytes per map of the snapshot at this address, counted
    /// once per snapshot, at the first `show maps` that needs them.
    map_sizes: Option<(usize, MapSizes)>,
}

impl Record {
    pub(super) fn new(config: &Config) -> Record {
        let mut r = Record {
            started_unix: unix_now(),
            last_update: None,
            last_success: None,
            totals: UpdateTotals::default(),
            drops: DropsView {
                update: None,
                finished: None,
                total: 0,
                by_reason: BTreeMap::new(),
                entries: Vec::new(),
            },
            own_drops: OwnDrops::default(),
            maps_loaded: None,
            directories: Vec::new(),
            changes: 0,
            map_sizes: None,
        };
        r.configure(config);
        r
    }

    /// After a reload: directories still at the same place keep what is
    /// known of them.
    pub(super) fn configure(&mut self, config: &Config) {
        let old = std::mem::take(&mut self.directories);
        self.directories = config
            .endpoints()
            .iter()
            .map(|e| {
                let endpoint = format!("{}:{}", e.host, e.port);
                old.iter()
                    .find(|d| d.endpoint == endpoint)
                    .cloned()
                    .unwrap_or(DirectoryRecord {
                        endpoint,
                        ..DirectoryRecord::default()
                    })
            })
            .collect();
    }

    /// ypldap-dns connected to directory `index` at `address`.
    pub(super) fn connected(&mut self, index: u32, address: &str) {
        if let Some(d) = self.directories.get_mut(index as usize) {
            d.address = Some(ctl_proto::truncate(address, 256).to_owned());
            d.connected = Some(unix_now());
            d.connections += 1;
            d.last_error = None;
        }
    }

    /// How directory `index`'s new content synchronization session keeps
    /// it current: `polls` says why it polls, `None` that it persists.
    /// The reader's text is cleaned and cut before it is kept.
    pub(super) fn sync_session(&mut self, index: u32, polls: Option<&str>) {
        if let Some(d) = self.directories.get_mut(index as usize) {
            d.polls = polls.map(|p| ctl_proto::truncate(&logging::sanitize(p), 256).to_owned());
        }
    }

    /// Why directory `d`'s session polls (refreshOnly every interval)
    /// rather than persists, as the reader said when it started.
    pub(super) fn poll_reason(&self, d: usize) -> Option<&str> {
        self.directories.get(d)?.polls.as_deref()
    }

    /// Directory `index`'s content synchronization session pushed `n`
    /// changes.
    pub(super) fn changes_received(&mut self, index: u32, n: u64) {
        self.changes += n;
        if let Some(d) = self.directories.get_mut(index as usize) {
            d.last_change = Some(unix_now());
        }
    }

    /// Maps built again from kept entries after changes were swapped in.
    pub(super) fn rebuilt(&mut self) {
        self.maps_loaded = Some(unix_now());
    }

    /// ypldap-dns could not connect to directory `index`.
    pub(super) fn connect_failed(&mut self, index: u32, error: &str) {
        if let Some(d) = self.directories.get_mut(index as usize) {
            d.failures += 1;
            d.last_error = Some(ctl_proto::truncate(error, ctl_proto::MAX_DETAIL_BYTES).to_owned());
        }
    }

    /// An update finished, its maps installed or not.
    pub(super) fn finished(&mut self, record: UpdateRecord) {
        if record.failure.is_none() {
            self.totals.succeeded += 1;
            self.maps_loaded = Some(record.finished);
            self.last_success = Some(record.clone());
        } else {
            self.totals.failed += 1;
        }
        self.last_update = Some(record);
    }

    /// Entries and bytes of `map` in `snap`, counted once per snapshot.
    fn map_size(&mut self, snap: &Arc<yp_proto::Snapshot>, map: yp_proto::MapName) -> (u64, u64) {
        let key = Arc::as_ptr(snap) as usize;
        if self.map_sizes.as_ref().is_none_or(|(k, _)| *k != key) {
            self.map_sizes = Some((key, BTreeMap::new()));
        }
        let Some((_, sizes)) = self.map_sizes.as_mut() else {
            return (0, 0);
        };
        *sizes.entry(map).or_insert_with(|| {
            let bytes: usize = snap.iter(map).map(|(k, v)| k.len() + v.len()).sum();
            (snap.len(map) as u64, bytes as u64)
        })
    }
}

impl Daemon {
    fn polls(&self, d: usize) -> bool {
        self.record.poll_reason(d).is_some()
    }

    /// The answer to a control request.
    pub(super) fn answer_control(&mut self, request: Request, now: Instant) -> Reply {
        match request {
            Request::ShowSummary => Reply::Summary(Box::new(self.summary(now))),
            Request::ShowMaps => Reply::Maps(self.maps_view()),
            Request::ShowDirectories => Reply::Directories(self.directories_view()),
            Request::ShowDrops => Reply::Drops(self.record.drops.clone()),
            Request::ShowClients => Reply::Clients(self.yp.clients_view(now)),
            Request::ShowMetrics => Reply::Metrics(Box::new(Status {
                summary: self.summary(now),
                maps: self.maps_view(),
                directories: self.directories_view(),
                clients: self.yp.clients_view(now),
            })),
            Request::Reload => match self.reload_config("ypldapctl reload") {
                Ok(message) => Reply::Done { message },
                Err(message) => Reply::Error { message },
            },
            Request::Update => self.update_now(now),
            Request::Log { verbose } => {
                logging::set_debug(verbose);
                let how = if verbose { "verbose" } else { "brief" };
                info!("logging {how} (ypldapctl)");
                Reply::Done {
                    message: format!("logging {how}"),
                }
            }
        }
    }

    /// `ypldapctl update`: a full read now, unless one runs.
    fn update_now(&mut self, now: Instant) -> Reply {
        if let Some(n) = self.update_running {
            return Reply::Error {
                message: format!("update {n} is running already"),
            };
        }
        info!("update asked for by ypldapctl");
        self.start_update(now);
        if let Some(n) = self.update_running {
            Reply::Done {
                message: format!("update {n} started"),
            }
        } else if self.update_awaits_client {
            Reply::Done {
                message: "ypldap-client is not ready: the update starts as soon as it is".into(),
            }
        } else {
            Reply::Error {
                message: "the update could not start; see the log".into(),
            }
        }
    }

    fn helper_status<I, O: ipc_proto::Message>(
        h: &crate::supervisor::Helper<I, O>,
        now: Instant,
        now_unix: u64,
    ) -> HelperStatus {
        let state = match (h.pid(), h.linked(), h.ready()) {
            (None, _, _) => HelperState::Restarting,
            (Some(_), false, _) => HelperState::Stopping,
            (Some(_), true, false) => HelperState::Starting,
            (Some(_), true, true) => HelperState::Running,
        };
        HelperStatus {
            name: h.name.to_owned(),
            state,
            pid: h.pid().and_then(|p| u32::try_from(p.as_raw()).ok()),
            since: h.pid().map(|_| unix_at(h.started(), now, now_unix)),
            restarts: h.restarts(),
            next_start: h.restart_at().map(|t| unix_at(t, now, now_unix)),
        }
    }

    fn announcement(&self) -> Announcement {
        let bind = match self.config.bind {
            BindMode::Portmap => ctl_proto::BindMode::Portmap,
            BindMode::Local => ctl_proto::BindMode::Local,
        };
        let detail = if let Some(p) = self.registered_with.filter(|_| self.announced) {
            format!("registered with {p}")
        } else if self.announced {
            format!(
                "binding file {}/{}.2 written",
                crate::yp::binding_file::BINDING_DIR,
                self.config.domain
            )
        } else if self.announce_retry.is_some() {
            "registration failed; retrying every 5 s".to_owned()
        } else {
            "waiting for the first maps".to_owned()
        };
        Announcement {
            bind,
            announced: self.announced,
            detail,
        }
    }

    pub(super) fn summary(&self, now: Instant) -> Summary {
        let now_unix = unix_now();
        let r = &self.record;
        let directories = self.config.directories.len() as u32;
        let kept_current = (0..self.config.directories.len())
            .filter(|&d| self.live.kept_current(d))
            .count() as u32;
        Summary {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            domain: self.config.domain.clone(),
            now: now_unix,
            started: r.started_unix,
            maps: self
                .config
                .served_maps()
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            maps_loaded: r.maps_loaded,
            announcement: self.announcement(),
            update_mode: if directories == 0 || kept_current < directories {
                UpdateMode::FullRead
            } else if (0..self.config.directories.len()).any(|d| self.polls(d)) {
                UpdateMode::RefreshOnly
            } else {
                UpdateMode::Persist
            },
            directories_kept_current: kept_current,
            directories,
            changes_received: r.changes,
            interval_seconds: self.config.interval.as_secs(),
            last_update: r.last_update.clone(),
            last_success: r.last_success.clone(),
            running_update: self.update_running.map(|number| RunningUpdate {
                number,
                mode: UpdateMode::FullRead,
                started: self
                    .incoming
                    .as_ref()
                    .map_or(now_unix, |i| unix_at(i.started, now, now_unix)),
                received: self
                    .incoming
                    .as_ref()
                    .map_or(0, |i| i.builder.received() as u64),
            }),
            next_update: self
                .next_update
                .filter(|_| self.update_running.is_none())
                .map(|t| unix_at(t, now, now_unix)),
            failures_in_a_row: self.failed_updates,
            updates: r.totals,
            helpers: vec![
                Self::helper_status(&self.client, now, now_unix),
                Self::helper_status(&self.dns, now, now_unix),
            ],
            log_verbose: logging::debug_enabled(),
        }
    }

    pub(super) fn maps_view(&mut self) -> MapsView {
        let served = self.config.served_maps();
        let snap = self.yp.snapshot().cloned();
        let loaded = self.record.maps_loaded;
        MapsView {
            maps: served
                .iter()
                .map(|&m| {
                    let (entries, bytes) = match &snap {
                        Some(s) => self.record.map_size(s, m),
                        None => (0, 0),
                    };
                    MapStatus {
                        name: m.as_str().to_owned(),
                        privileged: m.is_secret(),
                        entries,
                        bytes,
                        order: snap.as_ref().map(|s| s.map_order(m)),
                        last_change: loaded,
                    }
                })
                .collect(),
        }
    }

    pub(super) fn directories_view(&self) -> DirectoriesView {
        DirectoriesView {
            directories: self
                .config
                .directories
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let s = &d.settings;
                    let known = self.record.directories.get(i).cloned().unwrap_or_default();
                    DirectoryStatus {
                        index: i as u32,
                        host: s.host.clone(),
                        port: s.port,
                        tls: match s.tls {
                            TlsMode::None => Tls::None,
                            TlsMode::StartTls => Tls::StartTls,
                            TlsMode::Ldaps => Tls::Ldaps,
                        },
                        update_mode: if !self.live.kept_current(i) {
                            UpdateMode::FullRead
                        } else if self.polls(i) {
                            UpdateMode::RefreshOnly
                        } else {
                            UpdateMode::Persist
                        },
                        address: known.address,
                        connected: known.connected,
                        connections: known.connections,
                        connect_failures: known.failures,
                        last_error: known.last_error,
                        last_change_received: known.last_change,
                    }
                })
                .collect(),
        }
    }
}

/// The entries a build of the maps left out itself: the count by reason,
/// the first ones.
#[derive(Debug, Default, Clone)]
pub(super) struct OwnDrops {
    pub(super) by_reason: BTreeMap<entry_rules::DropReason, u64>,
    pub(super) entries: Vec<DropEntry>,
}

impl OwnDrops {
    /// These counts and the reader's, `reader`, in one count per reason.
    pub(super) fn with_reader(
        &self,
        reader: &BTreeMap<entry_rules::DropReason, u64>,
    ) -> BTreeMap<entry_rules::DropReason, u64> {
        let mut counts = reader.clone();
        for (&reason, &n) in &self.by_reason {
            *counts.entry(reason).or_default() += n;
        }
        counts
    }
}

impl Record {
    /// The entries update `update` left out: the reader's (`by_reason`
    /// counts, the first `listed`) and ypldapd's own of the last build.
    pub(super) fn set_drops(
        &mut self,
        update: u64,
        finished: u64,
        reader: &BTreeMap<entry_rules::DropReason, u64>,
        listed: Vec<DropEntry>,
    ) {
        let by_reason = self.own_drops.with_reader(reader);
        let mut entries = listed;
        entries.extend(self.own_drops.entries.iter().cloned());
        entries.truncate(ctl_proto::MAX_DROPS_KEPT);
        self.drops = DropsView {
            update: Some(update),
            finished: Some(finished),
            total: by_reason.values().sum(),
            by_reason,
            entries,
        };
    }
}

/// A dropped entry as the reader reported it.
pub(super) fn reader_drop(e: &ipc_proto::DroppedEntry<'_>) -> DropEntry {
    DropEntry {
        dn: ctl_proto::truncate(&e.dn, ctl_proto::MAX_DN_BYTES).to_owned(),
        kind: None,
        reason: e.reason,
        detail: ctl_proto::truncate(&e.detail, ctl_proto::MAX_DETAIL_BYTES).to_owned(),
        found_by: ctl_proto::DropOrigin::Reader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_as_epoch_seconds() {
        let now = Instant::now();
        let later = now + Duration::from_secs(30);
        assert_eq!(unix_at(now, now, 1000), 1000);
        assert_eq!(unix_at(later, now, 1000), 1030);
        assert_eq!(unix_at(now, later, 1000), 970);
        assert_eq!(unix_at(now, now + Duration::from_secs(5000), 1000), 0);
    }

    #[test]
    fn a_session_that_polls_is_kept_with_its_reason_cleaned_and_cut() {
        let fields: String = [
            "attribute name maps to \"uid\"",
            "fixed attribute passwd \"*\"",
            "attribute uid maps to \"uidNumber\"",
            "attribute gid maps to \"gidNumber\"",
            "fixed attribute class \"\"",
            "fixed attribute change \"0\"",
            "fixed attribute expire \"0\"",
            "attribute gecos maps to \"cn\"",
            "attribute home maps to \"homeDirectory\"",
            "attribute shell maps to \"loginShell\"",
            "attribute groupname maps to \"cn\"",
            "fixed attribute grouppasswd \"*\"",
            "attribute groupgid maps to \"gidNumber\"",
            "list groupmembers maps to \"memberUid\"",
        ]
        .map(|l| format!("\t{l}\n"))
        .concat();
        let text = format!(
            "domain \"d\"\ndirectory \"h\" {{\n\tbasedn \"dc=x\"\n\tpasswd filter \"(a=*)\"\n\tgroup filter \"(b=*)\"\n{fields}}}\n"
        );
        let loaded = crate::config::parse_str(
            "ypldap.conf",
            &text,
            &crate::config::LoadOptions::default(),
            &crate::config::MemSource::new(),
        )
        .expect("config");
        let mut r = Record::new(&loaded.config);
        assert_eq!(r.poll_reason(0), None);
        let why = format!("it does not persist\n\x1b[2J{}", "x".repeat(400));
        r.sync_session(0, Some(&why));
        let kept = r.poll_reason(0).expect("polls");
        assert!(kept.starts_with("it does not persist??[2J"), "{kept}");
        assert!(kept.len() <= 256, "{}", kept.len());
        // A later session that persists; a directory that does not exist.
        r.sync_session(0, None);
        r.sync_session(7, Some("x"));
        assert_eq!(r.poll_reason(0), None);
        assert_eq!(r.poll_reason(7), None);
    }
}
