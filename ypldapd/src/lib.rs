//! ypldapd: the privileged parent. It reads the configuration, serves the
//! maps over ONC RPC, and supervises the two helpers.
//!
//! The library holds everything testable on its own; `main.rs` and
//! [`daemon`] are the process's life from start to exit.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod logging;
pub mod rate;
pub mod sandbox;
pub mod state;
pub mod supervisor;
pub mod yp;
