//! A worker process: one job done on a copy of the caller's memory, off
//! its event loop, in the caller's sandbox.
//!
//! ypldapd writes its state (tens of megabytes of JSON for 100,000 users)
//! this way, as OpenBSD's daemons write what takes long: `fork()` gives
//! the child a copy-on-write image of the entries as they are at that
//! moment, so nothing is copied or locked on the serving side, and the
//! child inherits the whole sandbox (seccomp filter, Landlock domain,
//! pledge, unveil, the unprivileged user). No new system call and no
//! thread is needed: ypldapd's filter already allows `clone` with
//! `fork()`'s flags (to restart a helper) and nothing else.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::unistd::{ForkResult, Pid, fork};

/// Exit status of a worker whose job panicked (with `panic = "abort"` a
/// panic ends it by `SIGABRT` instead).
pub const WORKER_PANICKED: u8 = 101;

/// Starts a worker process that runs `job` and exits with the status it
/// returns; the parent gets the worker's pid, to reap it (`waitpid`) like
/// any child.
///
/// Only for a process with a single thread, as ypldapd is (it creates
/// none, and once sandboxed its seccomp filter refuses any `clone` that
/// would make one): the worker may then allocate and take locks, since
/// no other thread can have held them at the fork. Every signal is
/// blocked in the worker: a terminal's `SIGINT` to the process group, or
/// a `SIGTERM`, is the parent's to act on, and the parent waits for its
/// worker before it exits.
pub fn fork_worker(job: impl FnOnce() -> u8) -> Result<Pid, Errno> {
    // SAFETY: the caller has one thread (see above), so the child's copy
    // of the allocator's and every other lock is in a consistent state and
    // the child may run ordinary Rust code; it never returns from this
    // function (it ends in `_exit`, running no destructor or exit handler
    // of the parent's objects, and flushing no buffer the parent also
    // holds).
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), None);
            let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or(WORKER_PANICKED);
            // SAFETY: `_exit` ends this process at once; nothing of the
            // parent's is flushed or destroyed twice.
            unsafe { libc::_exit(i32::from(status)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};

    #[test]
    fn a_worker_exits_with_its_jobs_status_and_sees_a_copy_of_memory() {
        let mut value = 7u8;
        let pid = fork_worker(|| {
            value += 1;
            value
        })
        .expect("fork");
        assert_eq!(
            waitpid(pid, None).expect("waitpid"),
            WaitStatus::Exited(pid, 8)
        );
        // The worker changed its own copy only.
        assert_eq!(value, 7);
    }
}
