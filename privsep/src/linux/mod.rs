//! Linux mechanisms: Landlock for files and TCP, seccomp for system calls.

pub mod landlock;
pub mod seccomp;
