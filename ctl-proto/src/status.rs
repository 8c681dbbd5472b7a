//! What ypldapd reports: the bodies of the `Show*` replies.
//!
//! Times are seconds since the epoch (UTC), durations milliseconds or
//! seconds as the field names say, amounts integers. Text that came from
//! a directory (DNs, a reason a directory gave) is carried as it came:
//! ypldapctl escapes control characters before it prints anything.

use std::collections::BTreeMap;

use entry_rules::records::RecordKind;
use entry_rules::{DropReason, LockReason};
use serde::{Deserialize, Serialize};

/// The most dropped entries ypldapd keeps from one update, by DN: the
/// reader reports its first 256, ypldapd its own first 64.
pub const MAX_DROPS_KEPT: usize = 320;

/// The longest DN kept for a dropped entry, in bytes (cut at a character
/// boundary).
pub const MAX_DN_BYTES: usize = 1024;

/// The longest detail kept for a dropped entry, in bytes.
pub const MAX_DETAIL_BYTES: usize = 512;

/// How long the window is over which `show clients` counts requests.
pub const RATE_WINDOW_SECONDS: u32 = 60;

/// How a directory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    /// Every entry read again every `interval`.
    FullRead,
    /// Kept current by a content synchronization session (RFC 4533
    /// refreshAndPersist): each change is served as it comes.
    Persist,
    /// Kept current by content synchronization without a persistent
    /// search (RFC 4533 refreshOnly from the cookie every `interval`):
    /// the changes are served after each poll.
    RefreshOnly,
}

impl UpdateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMode::FullRead => "full read",
            UpdateMode::Persist => "content synchronization (persist)",
            UpdateMode::RefreshOnly => "content synchronization (refreshOnly)",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UpdateMode::FullRead => "full_read",
            UpdateMode::Persist => "persist",
            UpdateMode::RefreshOnly => "refresh_only",
        }
    }
}

/// How clients find the server (`bind portmap` or `bind local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    Portmap,
    Local,
}

/// Whether clients can find the server, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    pub bind: BindMode,
    /// Registered with rpcbind, or the binding file written.
    pub announced: bool,
    /// In words: "registered with rpcbind version 4", "waiting for the
    /// first maps", "retrying: …".
    pub detail: String,
}

/// Group members given as DNs in one update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDns {
    pub resolved: u64,
    pub nested: u64,
    pub unresolved: u64,
    /// Nestings deeper than `group nesting`, cut there.
    pub cut: u64,
}

/// What a successful update put in the maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCounts {
    pub directories: u32,
    pub users: u64,
    pub groups: u64,
    /// Entries of the classic maps (hosts, netgroups, …) kept, by kind.
    pub records: BTreeMap<RecordKind, u64>,
    /// Keys of classic maps an earlier entry had given (the first kept).
    pub duplicate_keys: u64,
    /// Entries left out, by reason (the reader's and ypldapd's together).
    pub dropped: BTreeMap<DropReason, u64>,
    pub dropped_total: u64,
    pub member_dns: MemberDns,
    /// LDAP referrals and references skipped.
    pub referrals: u64,
    /// Users kept whose password is served locked, by reason.
    pub locked_passwords: BTreeMap<LockReason, u64>,
}

/// One finished update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    pub number: u64,
    pub mode: UpdateMode,
    pub started: u64,
    pub finished: u64,
    pub duration_ms: u64,
    /// Why it failed; `None` when its maps were installed.
    pub failure: Option<String>,
    /// What it brought, when it succeeded.
    pub counts: Option<UpdateCounts>,
}

/// The update in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunningUpdate {
    pub number: u64,
    pub mode: UpdateMode,
    pub started: u64,
    /// Users and groups received so far.
    pub received: u64,
}

/// Updates since ypldapd started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTotals {
    pub succeeded: u64,
    pub failed: u64,
}

/// Where a helper process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperState {
    /// Started, not yet greeted.
    Starting,
    /// Up and speaking the protocol.
    Running,
    /// Its link is closed; it is being waited for.
    Stopping,
    /// Gone; it will be started again at `next_start`.
    Restarting,
}

impl HelperState {
    pub fn as_str(self) -> &'static str {
        match self {
            HelperState::Starting => "starting",
            HelperState::Running => "running",
            HelperState::Stopping => "stopping",
            HelperState::Restarting => "restarting",
        }
    }
}

/// One helper process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelperStatus {
    pub name: String,
    pub state: HelperState,
    pub pid: Option<u32>,
    /// When the current process was started.
    pub since: Option<u64>,
    /// Starts after the first one.
    pub restarts: u64,
    /// When it is started again ([`HelperState::Restarting`]).
    pub next_start: Option<u64>,
}

/// `show summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// ypldapd's version.
    pub version: String,
    pub pid: u32,
    pub domain: String,
    /// ypldapd's clock when it answered.
    pub now: u64,
    pub started: u64,
    /// The maps served, in table order.
    pub maps: Vec<String>,
    /// When the maps in service were installed; `None` before the first.
    pub maps_loaded: Option<u64>,
    pub announcement: Announcement,
    /// `persist` when every directory is kept current by content
    /// synchronization, `refresh_only` when every one is and some poll,
    /// else `full_read` (each directory's own mode is in `show
    /// directories`).
    pub update_mode: UpdateMode,
    /// Directories kept current by content synchronization.
    pub directories_kept_current: u32,
    pub directories: u32,
    /// Changes content synchronization sessions pushed since the start.
    pub changes_received: u64,
    pub interval_seconds: u64,
    /// The update that finished last, whatever its result.
    pub last_update: Option<UpdateRecord>,
    /// The last update whose maps were installed.
    pub last_success: Option<UpdateRecord>,
    pub running_update: Option<RunningUpdate>,
    /// When the next update starts, when none runs.
    pub next_update: Option<u64>,
    pub failures_in_a_row: u32,
    pub updates: UpdateTotals,
    pub helpers: Vec<HelperStatus>,
    /// Debug records are logged (`log verbose`).
    pub log_verbose: bool,
}

/// One map of `show maps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapStatus {
    pub name: String,
    /// Answered to privileged source ports only.
    pub privileged: bool,
    pub entries: u64,
    /// Keys and values, as a client reading the whole map receives them.
    pub bytes: u64,
    /// The YP order number; `None` before the first maps.
    pub order: Option<u32>,
    /// When the map's content last changed. A full read replaces every
    /// map, so this is the last successful update.
    pub last_change: Option<u64>,
}

/// `show maps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapsView {
    pub maps: Vec<MapStatus>,
}

/// How a directory is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// Plain LDAP.
    None,
    /// StartTLS.
    StartTls,
    /// TLS from the first byte (`ldaps`).
    Ldaps,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::None => "none",
            Tls::StartTls => "starttls",
            Tls::Ldaps => "ldaps",
        }
    }
}

/// One directory of `show directories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryStatus {
    /// Its place in the configuration, from 0.
    pub index: u32,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub update_mode: UpdateMode,
    /// The address of the last connection ypldap-dns made to it.
    pub address: Option<String>,
    /// When that connection was made.
    pub connected: Option<u64>,
    pub connections: u64,
    pub connect_failures: u64,
    /// Why the last connect failed, when it did after the last success.
    pub last_error: Option<String>,
    /// Under content synchronization: when the directory's session last
    /// pushed a change (since ypldapd started).
    pub last_change_received: Option<u64>,
}

/// `show directories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoriesView {
    pub directories: Vec<DirectoryStatus>,
}

/// A user, a group, or an entry of a classic map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    User,
    Group,
    /// `{"record": "hosts"}`.
    Record(RecordKind),
}

/// Which program left an entry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropOrigin {
    /// ypldap-client, while reading it.
    #[serde(rename = "ypldap-client")]
    Reader,
    /// ypldapd, while building the maps.
    #[serde(rename = "ypldapd")]
    Server,
}

impl DropOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            DropOrigin::Reader => "ypldap-client",
            DropOrigin::Server => "ypldapd",
        }
    }
}

/// One entry left out of the maps. Never a secret value: `detail` names
/// the attribute and the rule, not what the attribute held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropEntry {
    /// The entry's DN (its name, for a `netid.byname` entry), at most
    /// [`MAX_DN_BYTES`].
    pub dn: String,
    /// `None` when the reader did not say.
    pub kind: Option<EntryKind>,
    pub reason: DropReason,
    /// At most [`MAX_DETAIL_BYTES`]; empty when there is nothing more to say.
    pub detail: String,
    pub found_by: DropOrigin,
}

/// `show drops`: the entries the last installed update left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropsView {
    /// The update; `None` before the first maps.
    pub update: Option<u64>,
    pub finished: Option<u64>,
    /// Every entry left out, the ones not listed included.
    pub total: u64,
    pub by_reason: BTreeMap<DropReason, u64>,
    /// The first ones, by DN, at most [`MAX_DROPS_KEPT`].
    pub entries: Vec<DropEntry>,
}

/// A YP procedure (RFC 1831's numbering of program 100004 version 2),
/// `other` for anything else (another program or version, an unknown
/// procedure, a call that does not decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    Null,
    Domain,
    DomainNonack,
    Match,
    First,
    Next,
    Xfr,
    Clear,
    All,
    Master,
    Order,
    Maplist,
    Other,
}

impl Procedure {
    /// Every procedure, in number order, `Other` last.
    pub const ALL: [Procedure; 13] = [
        Procedure::Null,
        Procedure::Domain,
        Procedure::DomainNonack,
        Procedure::Match,
        Procedure::First,
        Procedure::Next,
        Procedure::Xfr,
        Procedure::Clear,
        Procedure::All,
        Procedure::Master,
        Procedure::Order,
        Procedure::Maplist,
        Procedure::Other,
    ];

    /// The procedure of number `n` (program 100004, version 2).
    pub fn of_number(n: u32) -> Procedure {
        Procedure::ALL
            .get(n as usize)
            .copied()
            .unwrap_or(Procedure::Other)
    }

    /// Its place in [`Procedure::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in metrics and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Procedure::Null => "null",
            Procedure::Domain => "domain",
            Procedure::DomainNonack => "domain_nonack",
            Procedure::Match => "match",
            Procedure::First => "first",
            Procedure::Next => "next",
            Procedure::Xfr => "xfr",
            Procedure::Clear => "clear",
            Procedure::All => "all",
            Procedure::Master => "master",
            Procedure::Order => "order",
            Procedure::Maplist => "maplist",
            Procedure::Other => "other",
        }
    }

    /// The name in the protocol's specification (`YPPROC_MATCH`).
    pub fn as_str(self) -> &'static str {
        match self {
            Procedure::Null => "NULL",
            Procedure::Domain => "DOMAIN",
            Procedure::DomainNonack => "DOMAIN_NONACK",
            Procedure::Match => "MATCH",
            Procedure::First => "FIRST",
            Procedure::Next => "NEXT",
            Procedure::Xfr => "XFR",
            Procedure::Clear => "CLEAR",
            Procedure::All => "ALL",
            Procedure::Master => "MASTER",
            Procedure::Order => "ORDER",
            Procedure::Maplist => "MAPLIST",
            Procedure::Other => "other",
        }
    }
}

/// Requests of one procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureCount {
    pub procedure: Procedure,
    /// Since ypldapd started.
    pub udp: u64,
    pub tcp: u64,
    /// Over the last [`RATE_WINDOW_SECONDS`] (fewer just after the start).
    pub last_window: u64,
}

/// Why a YP request or connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The source is not in the `allow` list (answered YP_NODOM).
    AllowList,
    /// `master.passwd.*` or `shadow.byname` asked from an unprivileged
    /// source port (answered YP_YPERR).
    UnprivilegedPort,
    /// A UDP request left unanswered: its source was over `limit udp-rate`.
    UdpRate,
    /// A TCP connection closed at once: `limit tcp-connections` reached.
    TcpConnections,
    /// A TCP connection closed at once: its host held `limit tcp-per-host`.
    TcpPerHost,
}

impl Refusal {
    pub const ALL: [Refusal; 5] = [
        Refusal::AllowList,
        Refusal::UnprivilegedPort,
        Refusal::UdpRate,
        Refusal::TcpConnections,
        Refusal::TcpPerHost,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Refusal::AllowList => "allow_list",
            Refusal::UnprivilegedPort => "unprivileged_port",
            Refusal::UdpRate => "udp_rate",
            Refusal::TcpConnections => "tcp_connections",
            Refusal::TcpPerHost => "tcp_per_host",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AllowList => "not in the allow list",
            Refusal::UnprivilegedPort => "secret map from an unprivileged port",
            Refusal::UdpRate => "over limit udp-rate",
            Refusal::TcpConnections => "over limit tcp-connections",
            Refusal::TcpPerHost => "over limit tcp-per-host",
        }
    }
}

/// Why ypldapd closed a YP TCP connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// No progress for 30 s.
    Idle,
    /// A record that does not decode or is too large.
    BadRecord,
    /// An ALL stream read slower than `limit all-min-rate`.
    AllTooSlow,
    /// An ALL stream older than `limit all-lifetime`.
    AllTooOld,
}

impl Closure {
    pub const ALL: [Closure; 4] = [
        Closure::Idle,
        Closure::BadRecord,
        Closure::AllTooSlow,
        Closure::AllTooOld,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Closure::Idle => "idle",
            Closure::BadRecord => "bad_record",
            Closure::AllTooSlow => "all_too_slow",
            Closure::AllTooOld => "all_too_old",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Closure::Idle => "idle",
            Closure::BadRecord => "bad record",
            Closure::AllTooSlow => "ALL read too slowly",
            Closure::AllTooOld => "ALL lasted too long",
        }
    }
}

/// One open YP TCP connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionStatus {
    /// The client's address and port.
    pub peer: String,
    pub age_seconds: u64,
    pub idle_seconds: u64,
    /// An ALL answer is being sent.
    pub streaming_all: bool,
}

/// `show clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsView {
    pub connections: Vec<ConnectionStatus>,
    /// `limit tcp-connections` and `limit tcp-per-host`.
    pub connections_max: u64,
    pub connections_per_host_max: u64,
    pub connections_accepted: u64,
    /// Every procedure, in number order.
    pub requests: Vec<ProcedureCount>,
    pub rate_window_seconds: u32,
    /// Since ypldapd started; every reason is listed.
    pub refused: BTreeMap<Refusal, u64>,
    pub closed: BTreeMap<Closure, u64>,
}

/// `show metrics`: everything but the list of dropped entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub summary: Summary,
    pub maps: MapsView,
    pub directories: DirectoriesView,
    pub clients: ClientsView,
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedures_by_number() {
        assert_eq!(Procedure::of_number(0), Procedure::Null);
        assert_eq!(Procedure::of_number(3), Procedure::Match);
        assert_eq!(Procedure::of_number(8), Procedure::All);
        assert_eq!(Procedure::of_number(11), Procedure::Maplist);
        assert_eq!(Procedure::of_number(12), Procedure::Other);
        assert_eq!(Procedure::of_number(u32::MAX), Procedure::Other);
        for (i, p) in Procedure::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            // The JSON name is the metrics label.
            assert_eq!(
                serde_json::to_string(p).unwrap(),
                format!("\"{}\"", p.label())
            );
        }
    }

    #[test]
    fn labels_are_the_json_names() {
        for r in Refusal::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.label())
            );
        }
        for c in Closure::ALL {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.label())
            );
        }
        for m in [
            UpdateMode::FullRead,
            UpdateMode::Persist,
            UpdateMode::RefreshOnly,
        ] {
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.label())
            );
        }
    }

    #[test]
    fn truncate_at_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("", 0), "");
    }
}
