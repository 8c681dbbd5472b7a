//! The typed schema spoken between `ypldapd`, `ypldap-client` and
//! `ypldap-dns`, its framing and helper spawning.
//!
//! Read [`messages`] first: it lists every message, its sender and its
//! payload. [`codec`] turns one message into one datagram and back, with hard
//! size limits and typed errors; [`batch`] fills entry batches up to a size.
//! [`link`] moves datagrams over an `AF_UNIX SOCK_SEQPACKET` socket with file
//! descriptors beside them (`SCM_RIGHTS`). [`spawn`] starts a helper with
//! fork + exec and one link end as its fd 3, and adopts that fd on the
//! helper's side.
//!
//! Why not `ipc-channel`, the usual crate for this: it cannot adopt a
//! descriptor inherited across `exec` (its channels are bootstrapped through
//! a named socket), cannot carry an arbitrary descriptor such as a connected
//! TCP socket, exposes no descriptor to register in a mio loop, and opens
//! socketpairs lazily (on a first send, for a large message), i.e. after a
//! sandbox would forbid it. The framing here is a SEQPACKET socketpair made
//! before the sandbox, one `serde_json` datagram per message; it is written
//! by hand because no maintained crate does these four things.

pub mod batch;
pub mod channel;
pub mod codec;
pub mod helper;
pub mod link;
pub mod messages;
pub mod settings;
pub mod spawn;

pub use batch::BatchWriter;
pub use channel::{Channel, Datagram, LogMessage};
pub use codec::{DecodeError, EncodeError, MAX_FDS, MAX_MESSAGE_BYTES};
pub use entry_rules;
pub use link::{Link, LinkError, Received};
pub use messages::*;
pub use settings::*;
