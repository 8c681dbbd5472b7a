//! The YP (NIS version 2) protocol core of ypldapd, without I/O: XDR, ONC
//! RPC, the YP procedures and their dispatch, the served map snapshot and
//! its incremental builder, TCP record marking, the caller access rules
//! and the portmapper messages.
//!
//! Nothing here touches a socket, a file or a clock source other than the
//! [`std::time::Instant`] values its callers pass in, and nothing panics on
//! any input: ypldapd is the thin shell that moves bytes between the
//! network and these functions (the shape of ntpd-rs's `ntp-proto`).
//!
//! How ypldapd uses it: build a [`ServerConfig`], hand every datagram or
//! TCP record to [`handle_message`] with the current [`Snapshot`], and
//! after each update put together the next snapshot with a
//! [`SnapshotBuilder`] (fed batch by batch as the entries arrive, finished
//! in slices between requests).
//!
//! The `test-support` feature adds [`client`] (decoding of replies, for
//! probes, benchmarks and fuzzing) and [`testdata`] (synthetic entries).

pub mod access;
pub mod build;
#[cfg(any(test, feature = "test-support"))]
pub mod client;
pub mod dispatch;
pub mod maps;
pub mod members;
pub mod portmap;
pub mod proto;
pub mod record;
pub mod rpc;
pub mod rpcb;
mod runs;
pub mod snapshot;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testdata;
pub mod xdr;

pub use access::{AllowList, Net, RefusalLog};
pub use build::{BuildOptions, BuildReport, SnapshotBuilder, Step};
pub use dispatch::{
    AllStream, Caller, Noted, Outcome, ServerConfig, handle_message, handle_message_noted,
};
pub use entry_rules::DropReason;
pub use maps::MapName;
pub use snapshot::Snapshot;
