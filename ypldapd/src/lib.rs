//! ypldapd: the privileged parent. It reads the configuration, serves the
//! maps over ONC RPC, and supervises the two helpers.
//!
//! The library holds everything testable on its own; `main.rs` is the
//! process's life from start to exit.

pub mod config;
pub mod maps;
