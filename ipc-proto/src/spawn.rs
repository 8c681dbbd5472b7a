//! Starting a helper with fork + exec, its link end as fd 3 and nothing else,
//! and adopting that fd on the helper's side.
//!
//! Fork + exec, not fork alone: each helper starts from a fresh address space
//! holding nothing of ypldapd's memory, and can be audited as its own binary.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::socket::{SockType, getsockopt, sockopt};
use nix::sys::stat::{SFlag, fstat};
use nix::unistd::{ForkResult, Pid, fork};

use crate::link::Link;

/// The fd number at which a helper finds its link.
pub const LINK_FD: RawFd = 3;

/// Where a spawned helper's fds 0–2 point.
#[derive(Debug, Clone, Copy)]
pub struct Stdio<'a> {
    /// An open `/dev/null`, made fds 0 and 1 (and 2 unless `keep_stderr`).
    pub null: BorrowedFd<'a>,
    /// Leave fd 2 as ours (the terminal with `-d`), so a helper's panic
    /// message is seen; otherwise it is `/dev/null` too.
    pub keep_stderr: bool,
}

/// A running helper and ypldapd's end of its link.
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    pub link: Link,
}

/// Why a helper could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// The path holds a NUL byte.
    BadPath,
    /// A system call failed before the fork.
    Os(&'static str, Errno),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::BadPath => f.write_str("helper path contains a NUL byte"),
            SpawnError::Os(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Starts `program` with the argument vector `argv` (including argv[0]), an
/// empty environment, fds 0–2 as `stdio` says, one end of a new link as fd 3,
/// and no other descriptor. Returns the child's pid and our end of the link.
///
/// If exec fails the child exits with status 127, which the caller sees as an
/// ordinary helper death.
pub fn spawn_helper(
    program: &Path,
    argv: &[&OsStr],
    stdio: Stdio<'_>,
) -> Result<Spawned, SpawnError> {
    let path = CString::new(program.as_os_str().as_bytes()).map_err(|_| SpawnError::BadPath)?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| SpawnError::BadPath))
        .collect::<Result<_, _>>()?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let env_ptrs: [*const libc::c_char; 1] = [std::ptr::null()];

    let (ours, theirs) = Link::pair().map_err(|e| SpawnError::Os("socketpair", e))?;
    // Move the child's end and /dev/null above the fds the child will fill
    // (0–3), so no dup2 below can overwrite a source before it is used.
    let theirs = dup_above(theirs.as_fd_raw(), 10)?;
    let null = dup_above(stdio.null.as_raw_fd(), 10)?;

    // SAFETY: the child calls only async-signal-safe functions (dup2, fcntl,
    // close_range, sigprocmask, execve, _exit) on memory prepared above, and
    // never returns into Rust code; this matters because a forked child of a
    // process with other threads may not allocate.
    match unsafe { fork() }.map_err(|e| SpawnError::Os("fork", e))? {
        // SAFETY: as above: in the child, only `child_exec`, which execs or
        // exits and never returns.
        ForkResult::Child => unsafe {
            child_exec(
                &path,
                &arg_ptrs,
                &env_ptrs,
                null.as_raw_fd(),
                theirs.as_raw_fd(),
                stdio.keep_stderr,
            )
        },
        ForkResult::Parent { child } => Ok(Spawned {
            pid: child,
            link: ours,
        }),
    }
}

impl Link {
    fn as_fd_raw(&self) -> RawFd {
        AsRawFd::as_raw_fd(self)
    }
}

fn dup_above(fd: RawFd, min: RawFd) -> Result<OwnedFd, SpawnError> {
    // SAFETY: `fd` is open for the duration of this call (borrowed from a
    // live owner by the caller).
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let new = fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(min))
        .map_err(|e| SpawnError::Os("fcntl(F_DUPFD_CLOEXEC)", e))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The forked child's whole life: arrange fds 0–3, close the rest, exec.
///
/// # Safety
/// Must run in a freshly forked child; the pointers must be valid
/// NUL-terminated arrays of C strings.
unsafe fn child_exec(
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    null: RawFd,
    link: RawFd,
    keep_stderr: bool,
) -> ! {
    // SAFETY: plain system calls on descriptors we know are open; see the
    // function's contract. Any failure ends the child with 127.
    unsafe {
        let ok = libc::dup2(null, 0) == 0
            && libc::dup2(null, 1) == 1
            && (keep_stderr || libc::dup2(null, 2) == 2)
            && if link == LINK_FD {
                // dup2 onto itself is a no-op and would leave CLOEXEC set.
                libc::fcntl(LINK_FD, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(link, LINK_FD) == LINK_FD
            };
        if !ok {
            libc::_exit(127);
        }
        close_from(LINK_FD + 1);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::_exit(127);
    }
}

/// Closes every descriptor from `first` up.
///
/// # Safety
/// Only for a child between fork and exec, where nothing else uses the fds.
unsafe fn close_from(first: RawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range only closes descriptors; see the caller's contract.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        );
    }
    #[cfg(target_os = "freebsd")]
    // SAFETY: as above.
    unsafe {
        libc::close_range(first as libc::c_uint, libc::c_uint::MAX, 0);
    }
    #[cfg(target_os = "openbsd")]
    // SAFETY: as above.
    unsafe {
        libc::closefrom(first);
    }
}

/// Why a helper refused the fd it was started with.
#[derive(Debug)]
pub enum AdoptError {
    /// fd 3 is not open: the program was run by hand.
    NotOpen,
    /// fd 3 is open but not an `AF_UNIX SOCK_SEQPACKET` socket.
    NotSeqpacket,
    Os(Errno),
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdoptError::NotOpen => f.write_str(
                "fd 3 is not open: this program is started by ypldapd, not by hand",
            ),
            AdoptError::NotSeqpacket => f.write_str(
                "fd 3 is not a SOCK_SEQPACKET socket: this program is started by ypldapd, not by hand",
            ),
            AdoptError::Os(e) => write!(f, "checking fd 3: {e}"),
        }
    }
}

impl std::error::Error for AdoptError {}

/// On the helper's side: takes ownership of fd 3 after checking it is a
/// SEQPACKET socket, marks it close-on-exec, and closes any other descriptor
/// above it that a careless parent might have leaked.
pub fn adopt_link() -> Result<Link, AdoptError> {
    // SAFETY: fd 3 is only borrowed for the checks; ownership is taken below
    // once it is known to be the link.
    let borrowed = unsafe { BorrowedFd::borrow_raw(LINK_FD) };
    let st = match fstat(borrowed) {
        Ok(st) => st,
        Err(Errno::EBADF) => return Err(AdoptError::NotOpen),
        Err(e) => return Err(AdoptError::Os(e)),
    };
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(AdoptError::NotSeqpacket);
    }
    match getsockopt(&borrowed, sockopt::SockType) {
        Ok(SockType::SeqPacket) => {}
        Ok(_) => return Err(AdoptError::NotSeqpacket),
        Err(e) => return Err(AdoptError::Os(e)),
    }
    fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(AdoptError::Os)?;
    // SAFETY: nothing else in this process owns fd 3, and it is now checked.
    let fd = unsafe { OwnedFd::from_raw_fd(LINK_FD) };
    // SAFETY: called at start-up, before any thread or other fd user exists.
    unsafe { close_from(LINK_FD + 1) };
    Ok(Link::from_owned_fd(fd))
}
