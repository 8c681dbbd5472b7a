//! Every message, who sends it, and what it carries.
//!
//! The three programs form a star: ypldapd has one link to each helper and the
//! helpers never talk to each other. ypldapd relays what one helper needs from
//! the other (a connected socket from the broker to the LDAP reader), so each
//! helper's whole world is its fd 3.
//!
//! Each direction of each link has its own enum, so a program decodes only
//! what it may receive and an auditor sees each process's whole input in one
//! place. On the wire a message is one `SOCK_SEQPACKET` datagram holding the
//! JSON `{"type": NAME, "body": {FIELDS}}` (no `body` for a message without
//! fields); unknown types and unknown fields are rejected.
//!
//! The first datagram in each direction of every link is the handshake,
//! `{"type":"Hello","body":{"version":N}}` ([`PROTOCOL_VERSION`]); it is not
//! part of the enums below, so it can come only once and the message
//! handlers never see it (see [`crate::codec`]).
//!
//! | enum | sender → receiver | messages |
//! |---|---|---|
//! | [`ParentToDns`] | ypldapd → ypldap-dns | `Configure`, `Connect` |
//! | [`DnsToParent`] | ypldap-dns → ypldapd | `Log`, `Connected` (+1 fd), `ConnectFailed` |
//! | [`ParentToClient`] | ypldapd → ypldap-client | `ConfigBegin`, `Directory`, `Pem`, `ConfigEnd`, `Update`, `Cookie`, `Connected` (+1 fd), `ConnectFailed` |
//! | [`ClientToParent`] | ypldap-client → ypldapd | `Log`, `Connect`, `Users`, `Groups`, `Records`, `Dropped`, `UpdatePlan`, `ReadBegin`, `Changes`, `SyncSession`, `SyncLost`, `Cookie`, `UpdateDone`, `UpdateFailed` |
//!
//! Entries ([`User`], [`Group`], [`Record`]) are the mapped attributes of one directory
//! entry with its DN; ypldapd checks them again with the same rules
//! (`entry-rules`) and builds every map line itself. Their text borrows
//! from the received datagram, so ypldapd decodes a batch without copying
//! each string.

use std::borrow::Cow;
use std::collections::BTreeMap;

use entry_rules::records::Record;
use entry_rules::{DropReason, Group, Text, User};
use serde::{Deserialize, Serialize};

use crate::settings::{Directory, Endpoint, PemKind};

/// The version of this schema, exchanged in the handshake. A peer speaking
/// another version is refused with an error naming both, since the binaries
/// may be upgraded one by one.
///
/// Version 2: adjacently tagged messages, the handshake outside the enums,
/// entries with their DN, typed drop reasons, `Dropped` samples.
pub const PROTOCOL_VERSION: u32 = 2;

/// Severity of a log record a helper sends for ypldapd to write out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Error,
    Warning,
    Info,
    Debug,
}

/// A connected TCP socket to directory `directory` for request `request`,
/// attached as the one fd: the broker's answer, relayed by ypldapd to the
/// LDAP reader as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub request: u64,
    pub directory: u32,
    /// The address connected to, for logs.
    pub address: String,
}

/// Every address of directory `directory` failed; `error` names each one
/// tried and why. Relayed like [`Connection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectFailure {
    pub request: u64,
    pub directory: u32,
    pub error: String,
}

/// ypldapd → ypldap-dns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum ParentToDns {
    /// The directories, in configuration order. `Connect` names them by index.
    /// Sent again, whole, after a reload.
    Configure { directories: Vec<Endpoint> },
    /// Resolve directory `directory` and connect to its addresses in turn.
    /// `request` is echoed in the answer.
    Connect { request: u64, directory: u32 },
}

/// ypldap-dns → ypldapd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum DnsToParent {
    /// A log record for ypldapd to write.
    Log { level: Level, text: String },
    /// A connected TCP socket to the directory, attached as the one fd.
    Connected(Connection),
    /// Every address failed.
    ConnectFailed(ConnectFailure),
}

/// ypldapd → ypldap-client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum ParentToClient {
    /// A configuration follows: `directories` `Directory` messages, their
    /// `Pem` chunks, then `ConfigEnd`. Replaces any earlier configuration.
    ConfigBegin { directories: u32 },
    /// One directory block, in configuration order.
    Directory {
        index: u32,
        settings: Box<Directory>,
    },
    /// The next chunk of a TLS file for directory `index`; the chunks of a
    /// file are joined in order until `ConfigEnd`.
    Pem {
        index: u32,
        kind: PemKind,
        data: String,
    },
    /// The configuration is complete.
    ConfigEnd,
    /// Fetch every directory now and stream the result as update `update`.
    /// ypldapd still keeps the entries of directories `resumable` from a
    /// content synchronization session that ended: their session may
    /// resume from its cookie ([`ReadMode::Resume`]).
    Update { update: u64, resumable: Vec<u32> },
    /// The last cookie of search `search` of directory `directory` that
    /// ypldapd saved with its entries (state directory): the reader may
    /// resume from it when ypldapd names the directory resumable.
    Cookie {
        directory: u32,
        search: SearchRef,
        cookie: Vec<u8>,
    },
    /// The broker's connected socket for a `Connect`, attached as the one fd.
    Connected(Connection),
    /// The broker could not connect.
    ConnectFailed(ConnectFailure),
}

/// An entry the LDAP reader left out, for ypldapd's log and reports. The
/// detail never holds a secret value (see `entry_rules::Violation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroppedEntry<'a> {
    #[serde(borrow)]
    pub dn: Text<'a>,
    pub reason: DropReason,
    #[serde(borrow)]
    pub detail: Text<'a>,
}

/// ypldap-client → ypldapd. Borrows its text from the received datagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum ClientToParent<'a> {
    /// A log record for ypldapd to write.
    Log {
        level: Level,
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    /// Ask for a connected socket to directory `directory` (relayed to the broker).
    Connect { request: u64, directory: u32 },
    /// A batch of users of update `update`, in directory then LDAP order.
    /// `entries` is the last field (see [`crate::batch`]).
    Users {
        update: u64,
        #[serde(borrow)]
        entries: Vec<User<'a>>,
    },
    /// A batch of groups of update `update`.
    Groups {
        update: u64,
        #[serde(borrow)]
        entries: Vec<Group<'a>>,
    },
    /// A batch of entries of the directories' record searches (classic
    /// maps: hosts, netgroups, …) of update `update`.
    Records {
        update: u64,
        #[serde(borrow)]
        entries: Vec<Record<'a>>,
    },
    /// Entries of update `update` the reader left out: the first few of
    /// each update, by DN (the counts are in `UpdateDone`).
    Dropped {
        update: u64,
        #[serde(borrow)]
        entries: Vec<DroppedEntry<'a>>,
    },
    /// How update `update` reads each directory, in configuration order;
    /// sent before any entry. With a `Sync` or `Live` directory ypldapd
    /// keeps every entry of the update, to apply the changes sessions
    /// push to them.
    UpdatePlan { update: u64, modes: Vec<ReadMode> },
    /// The entries of directory `directory` (read `Full` or `Sync`), or
    /// its changes (`Resume`), come next, up to the next `ReadBegin` or
    /// the end of the update. `mode` is the plan's, or `Full` for a
    /// directory planned `Sync` whose server refused the sync search
    /// before any entry: it is read in full at once, in this update.
    ReadBegin {
        update: u64,
        directory: u32,
        mode: ReadMode,
    },
    /// Changes to directory `directory` that its content synchronization
    /// session received, in order. `changes` is the last field (batches).
    Changes {
        directory: u32,
        #[serde(borrow)]
        changes: Vec<Change<'a>>,
    },
    /// How the content synchronization session of directory `directory`
    /// that the update under way starts keeps it current; sent after the
    /// directory's entries or changes, before `UpdateDone`. `polls` says
    /// why it polls (a refreshOnly search from its cookies at each
    /// update, every `interval`) instead of persisting; `None`: it
    /// persists.
    SyncSession {
        directory: u32,
        #[serde(borrow)]
        polls: Option<Cow<'a, str>>,
    },
    /// The content synchronization session of directory `directory` ended
    /// (connection lost, server gone silent, search ended): ypldapd keeps
    /// its entries and reads the directory again soon.
    SyncLost {
        directory: u32,
        #[serde(borrow)]
        reason: Cow<'a, str>,
    },
    /// Search `search` of directory `directory` has a new cookie (at most
    /// [`MAX_COOKIE`] bytes): what
    /// ypldapd has received of it so far is the directory's state as of
    /// this cookie (saved with the entries in the state directory).
    Cookie {
        directory: u32,
        search: SearchRef,
        cookie: Vec<u8>,
    },
    /// Every directory was read completely: ypldapd may build and swap the maps.
    UpdateDone {
        update: u64,
        /// Entries the reader left out, by reason.
        dropped: BTreeMap<DropReason, u64>,
        /// Referrals and references skipped.
        referrals: u64,
    },
    /// A directory failed; ypldapd keeps the maps it has.
    UpdateFailed {
        update: u64,
        #[serde(borrow)]
        reason: Cow<'a, str>,
    },
}

/// How a directory is read in an update (see [`ClientToParent::UpdatePlan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Every entry, by ordinary searches.
    Full,
    /// Every entry, by the refresh of a content synchronization session
    /// that then stays open and pushes changes.
    Sync,
    /// None: the directory's session is live.
    Live,
    /// Only what changed since the session that ended: a refresh from its
    /// cookie, sent as `Changes` to the entries ypldapd kept, after which
    /// the session stays open and pushes changes again.
    Resume,
}

/// One change a content synchronization session pushes: an entry added or
/// modified (it replaces the entry with its entryUUID), or deleted (or
/// moved out of the search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "change",
    content = "entry",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Change<'a> {
    User(#[serde(borrow)] User<'a>),
    Group(#[serde(borrow)] Group<'a>),
    Record(#[serde(borrow)] Record<'a>),
    Delete {
        search: SearchRef,
        uuid: String,
    },
    /// A present phase of `search` begins (RFC 4533 §3.4: a session
    /// resumed from its cookie): the entries it names as present and those
    /// it sends stay; at its `PresentEnd`, every other kept entry of the
    /// search is gone.
    PresentBegin {
        search: SearchRef,
    },
    /// An entry of `search` unchanged since the cookie.
    Present {
        search: SearchRef,
        uuid: String,
    },
    /// The present phase of `search` ends.
    PresentEnd {
        search: SearchRef,
    },
}

/// The longest content synchronization cookie the reader takes from a
/// directory, and ypldapd from the reader or its state file: directories
/// send tens of bytes; the bound keeps a hostile one from making either
/// keep megabytes.
pub const MAX_COOKIE: usize = 4096;

/// Which search of a directory an entry came from: one entry may match
/// several (a user private group that is both `posixAccount` and
/// `posixGroup`), and each is its own entry of the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchRef {
    Users,
    Groups,
    /// A record search, by its id ([`crate::RecordSearch::id`]).
    Records(u16),
}

/// What the codec needs to know of each message enum.
pub trait Message: Serialize {
    /// The number of file descriptors that travel with this message.
    fn fd_count(&self) -> usize;
    /// The message's type name, for logs.
    fn kind(&self) -> &'static str;
}

macro_rules! message_impl {
    ($t:ty, fds: [$($fd:ident),*], kinds: [$($k:ident),*]) => {
        impl Message for $t {
            fn fd_count(&self) -> usize {
                match self {
                    $(Self::$fd { .. } => 1,)*
                    #[allow(unreachable_patterns)]
                    _ => 0,
                }
            }
            fn kind(&self) -> &'static str {
                match self {
                    $(Self::$k { .. } => stringify!($k),)*
                }
            }
        }
    };
}

message_impl!(ParentToDns, fds: [], kinds: [Configure, Connect]);
message_impl!(DnsToParent, fds: [Connected], kinds: [Log, Connected, ConnectFailed]);
message_impl!(ParentToClient, fds: [Connected],
    kinds: [ConfigBegin, Directory, Pem, ConfigEnd, Update, Cookie, Connected, ConnectFailed]);
message_impl!(ClientToParent<'_>, fds: [],
    kinds: [Log, Connect, Users, Groups, Records, Dropped, UpdatePlan, ReadBegin, Changes,
        SyncSession, SyncLost, Cookie, UpdateDone, UpdateFailed]);
