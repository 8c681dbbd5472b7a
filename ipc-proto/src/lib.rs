//! The typed schema spoken between `ypldapd`, `ypldap-client` and
//! `ypldap-dns`, its framing and helper spawning.
//!
//! Read [`messages`] first: it lists every message, its sender and its
//! payload. [`codec`] turns one message into one datagram and back, with hard
//! size limits and typed errors. [`link`] moves datagrams over an `AF_UNIX
//! SOCK_SEQPACKET` socket with file descriptors beside them (`SCM_RIGHTS`).
//! [`spawn`] starts a helper with fork + exec and one link end as its fd 3,
//! and adopts that fd on the helper's side.
//!
//! The framing is written by hand: no maintained crate adopts an inherited fd,
//! passes arbitrary fds and sits in a mio loop (see the project's DESIGN).

pub mod channel;
pub mod codec;
pub mod helper;
pub mod link;
pub mod messages;
pub mod settings;
pub mod spawn;

pub use channel::{Channel, LogMessage};
pub use codec::{DecodeError, EncodeError, Handshake, MAX_FDS, MAX_MESSAGE_BYTES};
pub use link::{Link, LinkError, Received};
pub use messages::*;
pub use settings::*;
