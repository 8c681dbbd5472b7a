//! Benchmark programs for ypldapd (issue 8): a YP load generator and the
//! orchestration that runs ypldapd, Debian's ypserv and ldapsearch on the
//! same data, each in its own namespaces (the `tests` harness), and prints
//! every figure and ratio. See `docs/performance.md`.

pub mod classic;
pub mod load;
pub mod member_dns;
pub mod process;
pub mod stats;
