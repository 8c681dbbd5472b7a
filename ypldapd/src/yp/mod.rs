//! The YP (NIS version 2) server: XDR, ONC RPC, the procedures, the map
//! snapshot, TCP record marking, the mio transport, rpcbind registration
//! and the `bind local` binding file.
//!
//! Everything except `server`, `bind`, `rpcbind` and `binding_file` is
//! pure (no I/O) and never panics on any input; those four do the I/O
//! around it. `client` and `testdata` serve tests, examples and fuzzing.
//!
//! How the daemon uses it: bind with [`bind::bind_yp_sockets`] as root,
//! build a [`YpServer`] from a [`ServerConfig`], register it in the mio
//! loop, and after each successful update [`YpServer::set_snapshot`] the
//! snapshot a [`SnapshotBuilder`] made of it (fed batch by batch as the
//! entries arrive, finished in slices between requests); after the first
//! one, register with
//! [`rpcbind::Rpcbind`] (or write [`binding_file`]). [`server::run_until`]
//! is a complete minimal loop.

pub mod access;
pub mod bind;
pub mod binding_file;
pub mod build;
pub mod client;
pub mod dispatch;
pub mod proto;
pub mod record;
pub mod rpc;
pub mod rpcb;
pub mod rpcbind;
mod runs;
pub mod server;
pub mod snapshot;
pub mod testdata;
pub mod xdr;

pub use access::{AllowList, Net, RefusalLog};
pub use build::{BuildReport, DropReason, SnapshotBuilder, Step};
pub use dispatch::{AllStream, Caller, Outcome, ServerConfig, handle_message};
pub use server::{Limits, YpServer};
pub use snapshot::Snapshot;
