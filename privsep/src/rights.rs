//! Capsicum rights per descriptor (FreeBSD `rights(4)`), described in a
//! form every OS can compile, so that each program's policy is written once
//! in its `sandbox.rs`, applied on FreeBSD by [`limit`], and printed into
//! `docs/audit.md` and the manual pages on any host.
//!
//! A descriptor limited here keeps only the listed rights in this process
//! and in every process it is passed to (`SCM_RIGHTS`, `dup`, `fork`): a
//! socket accepted from a limited listener inherits the listener's rights.
//! Rights can only shrink.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::SandboxError;

/// One right of `rights(4)`, named as FreeBSD names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Right {
    /// `read`, `recv`, `recvfrom`, `recvmsg` (and receiving descriptors).
    Read,
    /// `write`, `send`, `sendmsg` on a connected socket (and sending descriptors).
    Write,
    /// `lseek`.
    Seek,
    /// `flock` (also unlocking before `close`).
    Flock,
    /// `fstat`.
    Fstat,
    /// `fcntl` for the commands in [`DescriptorRights::fcntls`] only.
    Fcntl,
    /// `ioctl` for the commands in [`DescriptorRights::ioctls`] only.
    Ioctl,
    /// Watch the descriptor with `kevent`/`poll`/`select`.
    Event,
    /// `accept`; the accepted socket inherits the listener's rights.
    Accept,
    /// `connect`; also what `sendto` with a destination address needs.
    Connect,
    /// `getsockname`.
    Getsockname,
    /// `getpeername`.
    Getpeername,
    /// `getsockopt`.
    Getsockopt,
    /// `setsockopt`.
    Setsockopt,
    /// `shutdown`.
    Shutdown,
    /// `kevent` with a change list (register descriptors) on a kqueue.
    KqueueChange,
    /// `kevent` with an event list (wait) on a kqueue.
    KqueueEvent,
}

impl Right {
    /// The right's name in `rights(4)`.
    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "CAP_READ",
            Right::Write => "CAP_WRITE",
            Right::Seek => "CAP_SEEK",
            Right::Flock => "CAP_FLOCK",
            Right::Fstat => "CAP_FSTAT",
            Right::Fcntl => "CAP_FCNTL",
            Right::Ioctl => "CAP_IOCTL",
            Right::Event => "CAP_EVENT",
            Right::Accept => "CAP_ACCEPT",
            Right::Connect => "CAP_CONNECT",
            Right::Getsockname => "CAP_GETSOCKNAME",
            Right::Getpeername => "CAP_GETPEERNAME",
            Right::Getsockopt => "CAP_GETSOCKOPT",
            Right::Setsockopt => "CAP_SETSOCKOPT",
            Right::Shutdown => "CAP_SHUTDOWN",
            Right::KqueueChange => "CAP_KQUEUE_CHANGE",
            Right::KqueueEvent => "CAP_KQUEUE_EVENT",
        }
    }
}

/// An `fcntl(2)` command that `cap_fcntls_limit` can allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fcntl {
    GetFl,
    SetFl,
}

impl Fcntl {
    pub fn name(self) -> &'static str {
        match self {
            Fcntl::GetFl => "F_GETFL",
            Fcntl::SetFl => "F_SETFL",
        }
    }
}

/// An `ioctl(2)` command that `cap_ioctls_limit` can allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ioctl {
    /// Set or clear non-blocking mode (what Rust's `set_nonblocking` uses
    /// on sockets).
    Fionbio,
}

impl Ioctl {
    pub fn name(self) -> &'static str {
        match self {
            Ioctl::Fionbio => "FIONBIO",
        }
    }
}

/// What one descriptor (or one kind of descriptor) may still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorRights {
    /// What the descriptor is, for the audit and the manual pages.
    pub descriptor: &'static str,
    /// `cap_rights_limit`. Empty: nothing but `close` (and `dup`).
    pub rights: &'static [Right],
    /// `cap_fcntls_limit`, when `rights` holds [`Right::Fcntl`].
    pub fcntls: &'static [Fcntl],
    /// `cap_ioctls_limit`, when `rights` holds [`Right::Ioctl`].
    pub ioctls: &'static [Ioctl],
}

impl DescriptorRights {
    /// The rights as `rights(4)` names them, with the allowed `fcntl` and
    /// `ioctl` commands in brackets: "CAP_READ, CAP_IOCTL (FIONBIO)".
    pub fn describe(&self) -> String {
        if self.rights.is_empty() {
            return "none (only `close`)".to_owned();
        }
        self.rights
            .iter()
            .map(|r| match r {
                Right::Fcntl => format!(
                    "{} ({})",
                    r.name(),
                    self.fcntls
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Right::Ioctl => format!(
                    "{} ({})",
                    r.name(),
                    self.ioctls
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => r.name().to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the lists are consistent: `fcntls` only with
    /// [`Right::Fcntl`], `ioctls` only with [`Right::Ioctl`], no right twice.
    pub fn is_consistent(&self) -> bool {
        let mut sorted = self.rights.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() == self.rights.len()
            && (self.fcntls.is_empty() || self.rights.contains(&Right::Fcntl))
            && (self.ioctls.is_empty() || self.rights.contains(&Right::Ioctl))
    }
}

/// Limits `fd` to `r` on FreeBSD (`cap_rights_limit`, then
/// `cap_fcntls_limit` and `cap_ioctls_limit` when those rights are kept).
/// Elsewhere it does nothing: Linux and OpenBSD confine by other means.
pub fn limit<F: AsFd>(fd: &F, r: &DescriptorRights) -> Result<(), SandboxError> {
    #[cfg(target_os = "freebsd")]
    {
        freebsd::limit(fd, r)
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = (fd.as_fd(), r);
        Ok(())
    }
}

/// [`limit`] for an object that owns its descriptor but exposes only its
/// number (mio's `Poll`, for one).
pub fn limit_raw<F: AsRawFd>(owner: &F, r: &DescriptorRights) -> Result<(), SandboxError> {
    // SAFETY: `owner` holds this descriptor open for as long as it is
    // borrowed, which covers this call; the borrow does not outlive it.
    let fd = unsafe { BorrowedFd::borrow_raw(owner.as_raw_fd()) };
    limit(&fd, r)
}

/// The standard descriptors, which every program limits the same way:
/// nothing reads fd 0, fds 1 and 2 are written (a log line, a panic).
pub const STDIO: [DescriptorRights; 2] = [
    DescriptorRights {
        descriptor: "fd 0 (standard input)",
        rights: &[],
        fcntls: &[],
        ioctls: &[],
    },
    DescriptorRights {
        descriptor: "fds 1 and 2 (standard output and error)",
        rights: &[Right::Write],
        fcntls: &[],
        ioctls: &[],
    },
];

/// Limits fds 0, 1 and 2 as [`STDIO`] says.
pub fn limit_stdio() -> Result<(), SandboxError> {
    limit(&std::io::stdin(), &STDIO[0])?;
    limit(&std::io::stdout(), &STDIO[1])?;
    limit(&std::io::stderr(), &STDIO[1])
}

#[cfg(target_os = "freebsd")]
mod freebsd {
    use std::os::fd::AsFd;

    use capsicum::{CapRights, FcntlRights, FileRights, IoctlsBuilder};

    use super::{DescriptorRights, Fcntl, Ioctl, Right};
    use crate::SandboxError;

    fn right(r: Right) -> capsicum::Right {
        match r {
            Right::Read => capsicum::Right::Read,
            Right::Write => capsicum::Right::Write,
            Right::Seek => capsicum::Right::Seek,
            Right::Flock => capsicum::Right::Flock,
            Right::Fstat => capsicum::Right::Fstat,
            Right::Fcntl => capsicum::Right::Fcntl,
            Right::Ioctl => capsicum::Right::Ioctl,
            Right::Event => capsicum::Right::Event,
            Right::Accept => capsicum::Right::Accept,
            Right::Connect => capsicum::Right::Connect,
            Right::Getsockname => capsicum::Right::Getsockname,
            Right::Getpeername => capsicum::Right::Getpeername,
            Right::Getsockopt => capsicum::Right::Getsockopt,
            Right::Setsockopt => capsicum::Right::Setsockopt,
            Right::Shutdown => capsicum::Right::Shutdown,
            Right::KqueueChange => capsicum::Right::KqueueChange,
            Right::KqueueEvent => capsicum::Right::KqueueEvent,
        }
    }

    pub(super) fn limit<F: AsFd>(fd: &F, r: &DescriptorRights) -> Result<(), SandboxError> {
        let fail = |what: &str, e: std::io::Error| {
            SandboxError::Platform(format!("{what} on {}: {e}", r.descriptor))
        };
        let mut rights = FileRights::new();
        for &x in r.rights {
            rights.allow(right(x));
        }
        rights.limit(fd).map_err(|e| fail("cap_rights_limit", e))?;
        if r.rights.contains(&Right::Fcntl) {
            let mut fcntls = FcntlRights::new();
            for &c in r.fcntls {
                fcntls.allow(match c {
                    Fcntl::GetFl => capsicum::Fcntl::GetFL,
                    Fcntl::SetFl => capsicum::Fcntl::SetFL,
                });
            }
            fcntls.limit(fd).map_err(|e| fail("cap_fcntls_limit", e))?;
        }
        if r.rights.contains(&Right::Ioctl) {
            let mut ioctls = IoctlsBuilder::new();
            for &c in r.ioctls {
                ioctls = ioctls.allow(match c {
                    Ioctl::Fionbio => libc::FIONBIO,
                });
            }
            ioctls
                .finalize()
                .limit(fd)
                .map_err(|e| fail("cap_ioctls_limit", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_commands_with_their_right() {
        let r = DescriptorRights {
            descriptor: "x",
            rights: &[Right::Read, Right::Ioctl, Right::Fcntl],
            fcntls: &[Fcntl::GetFl, Fcntl::SetFl],
            ioctls: &[Ioctl::Fionbio],
        };
        assert_eq!(
            r.describe(),
            "CAP_READ, CAP_IOCTL (FIONBIO), CAP_FCNTL (F_GETFL, F_SETFL)"
        );
        assert!(r.is_consistent());
        let empty = DescriptorRights {
            descriptor: "y",
            rights: &[],
            fcntls: &[],
            ioctls: &[],
        };
        assert_eq!(empty.describe(), "none (only `close`)");
        let stray = DescriptorRights {
            ioctls: &[Ioctl::Fionbio],
            ..empty
        };
        assert!(!stray.is_consistent());
    }

    #[test]
    fn limit_is_a_no_op_off_freebsd() {
        if cfg!(not(target_os = "freebsd")) {
            let f = std::fs::File::open("/dev/null").unwrap();
            let r = DescriptorRights {
                descriptor: "null",
                rights: &[],
                fcntls: &[],
                ioctls: &[],
            };
            limit(&f, &r).unwrap();
        }
    }
}
