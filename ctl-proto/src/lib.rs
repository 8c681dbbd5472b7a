//! The control protocol between `ypldapctl` and `ypldapd`.
//!
//! ypldapd opens its control socket (`/var/run/ypldapd.sock`, root, mode
//! 0600) as root before it drops privileges, and optionally a restricted
//! one that answers the `Show*` requests only. Both are `AF_UNIX
//! SOCK_SEQPACKET` sockets served by ypldapd's event loop. One connection
//! carries one exchange:
//!
//! 1. the client sends one datagram, a [`RequestEnvelope`]
//!    (`{"version":1,"request":{"type":"ShowSummary"}}`), at most
//!    [`MAX_REQUEST_BYTES`], no file descriptors;
//! 2. ypldapd answers with a [`ReplyEnvelope`] (`{"version":1,"reply":
//!    {"type":"Summary","body":{…}}}`), its JSON cut into datagrams of at
//!    most [`REPLY_CHUNK_BYTES`] ([`split_reply`]), at most
//!    [`MAX_REPLY_BYTES`] in all, and closes the connection: the end of the
//!    stream ends the reply ([`ReplyAssembler`]).
//!
//! | request | socket | reply |
//! |---|---|---|
//! | `ShowSummary` | both | `Summary` ([`Summary`]) |
//! | `ShowMaps` | both | `Maps` ([`MapsView`]) |
//! | `ShowDirectories` | both | `Directories` ([`DirectoriesView`]) |
//! | `ShowDrops` | both | `Drops` ([`DropsView`]) |
//! | `ShowClients` | both | `Clients` ([`ClientsView`]) |
//! | `ShowMetrics` | both | `Metrics` ([`Status`]: all of the above but the dropped entries' list) |
//! | `Reload` | control only | `Done` or `Error` with the configuration's errors |
//! | `Update` | control only | `Done` (the update started) or `Error` |
//! | `Log { verbose }` | control only | `Done` |
//!
//! Any request may be answered `Error` instead, with a message for the
//! administrator: a request that is not JSON of this shape, too large,
//! of another version, carries descriptors, or is not allowed on the
//! restricted socket. Unknown types and unknown fields are refused, as on
//! the links between the three programs. The status types keep every
//! time as seconds since the epoch and every amount as an integer, so a
//! reply decodes to exactly what was sent.
//!
//! Pure: no I/O. ypldapd encodes replies and decodes requests with
//! [`decode_request`]; ypldapctl does the reverse. Both decoders have a
//! fuzz target (`fuzz/fuzz_targets/ctl_decode.rs`).

mod codec;
#[cfg(any(test, feature = "test-support"))]
pub mod sample;
mod status;

pub use codec::{
    DecodeError, ReplyAssembler, decode_reply, decode_request, encode_reply, encode_request,
    split_reply,
};
pub use status::*;

use serde::{Deserialize, Serialize};

/// The version of this protocol. ypldapctl and ypldapd of different
/// versions refuse each other's messages with an error naming both.
pub const VERSION: u32 = 1;

/// Where ypldapd opens its control socket unless told otherwise (`-s`).
pub const DEFAULT_SOCKET: &str = "/var/run/ypldapd.sock";

/// The largest request datagram (a request is a few dozen bytes).
pub const MAX_REQUEST_BYTES: usize = 1024;

/// The largest datagram of a reply.
pub const REPLY_CHUNK_BYTES: usize = 16 * 1024;

/// The largest reply, all datagrams together. The lists in a reply are
/// capped well below it (the dropped entries at [`MAX_DROPS_KEPT`], each
/// DN at [`MAX_DN_BYTES`]).
pub const MAX_REPLY_BYTES: usize = 4 << 20;

/// What the administrator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum Request {
    ShowSummary,
    ShowMaps,
    ShowDirectories,
    ShowDrops,
    ShowClients,
    ShowMetrics,
    /// Read the configuration again, as SIGHUP does.
    Reload,
    /// Start reading every directory now.
    Update,
    /// `verbose`: write debug records to the log; else only the others.
    Log {
        verbose: bool,
    },
}

impl Request {
    /// Whether the request only reads status, and so is answered on the
    /// restricted socket too.
    pub fn is_show(self) -> bool {
        matches!(
            self,
            Request::ShowSummary
                | Request::ShowMaps
                | Request::ShowDirectories
                | Request::ShowDrops
                | Request::ShowClients
                | Request::ShowMetrics
        )
    }

    /// The command's words, for messages.
    pub fn command(self) -> &'static str {
        match self {
            Request::ShowSummary => "show summary",
            Request::ShowMaps => "show maps",
            Request::ShowDirectories => "show directories",
            Request::ShowDrops => "show drops",
            Request::ShowClients => "show clients",
            Request::ShowMetrics => "show metrics",
            Request::Reload => "reload",
            Request::Update => "update",
            Request::Log { verbose: true } => "log verbose",
            Request::Log { verbose: false } => "log brief",
        }
    }
}

/// The request datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestEnvelope {
    pub version: u32,
    pub request: Request,
}

/// ypldapd's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", deny_unknown_fields)]
pub enum Reply {
    Summary(Box<Summary>),
    Maps(MapsView),
    Directories(DirectoriesView),
    Drops(DropsView),
    Clients(ClientsView),
    Metrics(Box<Status>),
    /// A command was carried out; `message` says what happened.
    Done {
        message: String,
    },
    /// The request was refused or failed; `message` says why.
    Error {
        message: String,
    },
}

/// The whole reply, as the datagrams carry it once joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyEnvelope {
    pub version: u32,
    pub reply: Reply,
}
