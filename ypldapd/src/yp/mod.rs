//! The I/O around the YP protocol core ([`yp_proto`]): the mio transport,
//! binding the sockets, rpcbind registration and the `bind local` binding
//! file.
//!
//! How the daemon uses it: bind with [`bind::bind_yp_sockets`] as root,
//! build a [`YpServer`] from a [`yp_proto::ServerConfig`], register it in
//! the mio loop, and after each successful update
//! [`YpServer::set_snapshot`] the snapshot a [`yp_proto::SnapshotBuilder`]
//! made; after the first one, register with [`rpcbind::Rpcbind`] (or write
//! [`binding_file`]). [`server::run_until`] is a complete minimal loop.

pub mod bind;
pub mod binding_file;
pub mod counters;
pub mod rpcbind;
pub mod server;
mod udp_batch;

pub use server::{Limits, YpServer};
