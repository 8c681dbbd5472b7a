//! The YP (NIS version 2) server: XDR, ONC RPC, the procedures, the map
//! snapshot, TCP record marking, the mio transport, rpcbind registration
//! and the `bind local` binding file.
//!
//! Everything except `server`, `rpcbind` and `binding_file` is pure (no
//! I/O) and never panics on any input; those three do the I/O around it.

pub mod access;
pub mod bind;
pub mod client;
pub mod dispatch;
pub mod proto;
pub mod record;
pub mod rpc;
pub mod server;
pub mod snapshot;
pub mod testdata;
pub mod xdr;

pub use access::{AllowList, Net, RefusalLog};
pub use dispatch::{AllStream, Caller, Outcome, ServerConfig, handle_message};
pub use server::{Limits, YpServer};
pub use snapshot::{BuildReport, DropReason, Snapshot};
