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
//! JSON of the enum, tagged by `"type"`; unknown types and unknown fields are
//! rejected. The first message in each direction of every link is `Hello`.
//!
//! | enum | sender → receiver | messages |
//! |---|---|---|
//! | [`ParentToDns`] | ypldapd → ypldap-dns | `Hello`, `Configure`, `Connect` |
//! | [`DnsToParent`] | ypldap-dns → ypldapd | `Hello`, `Log`, `Connected` (+1 fd), `ConnectFailed` |
//! | [`ParentToClient`] | ypldapd → ypldap-client | `Hello`, `ConfigBegin`, `Directory`, `Pem`, `ConfigEnd`, `Update`, `Connected` (+1 fd), `ConnectFailed` |
//! | [`ClientToParent`] | ypldap-client → ypldapd | `Hello`, `Log`, `Connect`, `Users`, `Groups`, `UpdateDone`, `UpdateFailed` |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::settings::{Directory, Endpoint, PemKind};

/// The version of this schema. A peer speaking another version is refused
/// with an error naming both, since the binaries may be upgraded one by one.
pub const PROTOCOL_VERSION: u32 = 1;

/// Severity of a log record a helper sends for ypldapd to write out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Error,
    Warning,
    Info,
    Debug,
}

/// One user as the LDAP reader built it from a directory entry (DESIGN §8).
/// ypldapd checks it again and builds every map line from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    pub passwd: String,
    pub uid: u32,
    pub gid: u32,
    pub class: String,
    pub change: String,
    pub expire: String,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// One group as the LDAP reader built it from a directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    pub passwd: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// ypldapd → ypldap-dns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ParentToDns {
    /// First message: the protocol version ypldapd speaks.
    Hello { version: u32 },
    /// The directories, in configuration order. `Connect` names them by index.
    /// Sent again, whole, after a reload.
    Configure { directories: Vec<Endpoint> },
    /// Resolve directory `directory` and connect to its addresses in turn.
    /// `request` is echoed in the answer.
    Connect { request: u64, directory: u32 },
}

/// ypldap-dns → ypldapd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum DnsToParent {
    /// First message: the protocol version the broker speaks.
    Hello { version: u32 },
    /// A log record for ypldapd to write.
    Log { level: Level, text: String },
    /// A connected TCP socket to the directory, attached as the one fd.
    Connected {
        request: u64,
        directory: u32,
        address: String,
    },
    /// Every address failed; `error` names each one tried and why.
    ConnectFailed {
        request: u64,
        directory: u32,
        error: String,
    },
}

/// ypldapd → ypldap-client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ParentToClient {
    /// First message: the protocol version ypldapd speaks.
    Hello { version: u32 },
    /// A configuration follows: `directories` `Directory` messages, their
    /// `Pem` chunks, then `ConfigEnd`. Replaces any earlier configuration.
    ConfigBegin {
        directories: u32,
        /// Verbose logging (`-v` or `-d`).
        verbose: bool,
    },
    /// One directory block, in configuration order.
    Directory {
        index: u32,
        settings: Box<Directory>,
    },
    /// A chunk of a TLS file for directory `index`; `last` ends the file.
    Pem {
        index: u32,
        kind: PemKind,
        data: String,
        last: bool,
    },
    /// The configuration is complete.
    ConfigEnd,
    /// Fetch every directory now and stream the result as update `update`.
    Update { update: u64 },
    /// The broker's connected socket for a `Connect`, attached as the one fd.
    Connected {
        request: u64,
        directory: u32,
        address: String,
    },
    /// The broker could not connect.
    ConnectFailed {
        request: u64,
        directory: u32,
        error: String,
    },
}

/// ypldap-client → ypldapd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ClientToParent {
    /// First message: the protocol version the LDAP reader speaks.
    Hello { version: u32 },
    /// A log record for ypldapd to write.
    Log { level: Level, text: String },
    /// Ask for a connected socket to directory `directory` (relayed to the broker).
    Connect { request: u64, directory: u32 },
    /// A batch of users of update `update`, in directory then LDAP order.
    Users {
        update: u64,
        entries: Vec<UserEntry>,
    },
    /// A batch of groups of update `update`.
    Groups {
        update: u64,
        entries: Vec<GroupEntry>,
    },
    /// Every directory was read completely: ypldapd may build and swap the maps.
    UpdateDone {
        update: u64,
        /// Entries dropped, by reason (DESIGN §8).
        dropped: BTreeMap<String, u64>,
        /// Referrals and references skipped.
        referrals: u64,
    },
    /// A directory failed; ypldapd keeps the maps it has.
    UpdateFailed { update: u64, reason: String },
}

/// What the codec needs to know of each message enum.
pub trait Message: Serialize + serde::de::DeserializeOwned {
    /// The number of file descriptors that travel with this message.
    fn fd_count(&self) -> usize;
    /// The version carried by `Hello`, or `None` for any other message.
    fn hello_version(&self) -> Option<u32>;
    /// A `Hello` carrying [`PROTOCOL_VERSION`].
    fn hello() -> Self;
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
            fn hello_version(&self) -> Option<u32> {
                match self {
                    Self::Hello { version } => Some(*version),
                    _ => None,
                }
            }
            fn hello() -> Self {
                Self::Hello { version: PROTOCOL_VERSION }
            }
            fn kind(&self) -> &'static str {
                match self {
                    $(Self::$k { .. } => stringify!($k),)*
                }
            }
        }
    };
}

message_impl!(ParentToDns, fds: [], kinds: [Hello, Configure, Connect]);
message_impl!(DnsToParent, fds: [Connected], kinds: [Hello, Log, Connected, ConnectFailed]);
message_impl!(ParentToClient, fds: [Connected],
    kinds: [Hello, ConfigBegin, Directory, Pem, ConfigEnd, Update, Connected, ConnectFailed]);
message_impl!(ClientToParent, fds: [],
    kinds: [Hello, Log, Connect, Users, Groups, UpdateDone, UpdateFailed]);
