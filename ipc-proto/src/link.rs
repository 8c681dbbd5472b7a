//! One end of an `AF_UNIX SOCK_SEQPACKET` link: one datagram per message,
//! file descriptors beside it with `SCM_RIGHTS`.
//!
//! SEQPACKET keeps message boundaries, delivers the fds atomically with their
//! datagram, and reports truncation, so a message is never half-read.

use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::cmsg_space;
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

use crate::codec::{self, DecodeError, EncodeError, MAX_MESSAGE_BYTES};
use crate::messages::Message;

/// Linux's cap on fds in one `SCM_RIGHTS` message. The receive buffer has room
/// for all of them, so the kernel never truncates the control data and every
/// fd that arrives is owned (and closed) by us, even unexpected ones.
const CMSG_FD_ROOM: usize = 253;

/// A link end. Blocking or not, as its socket is.
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
}

/// One message and the fds that came with it.
#[derive(Debug)]
pub struct Received<M> {
    pub message: M,
    pub fds: Vec<OwnedFd>,
}

/// Why a send or receive failed.
#[derive(Debug)]
pub enum LinkError {
    /// The peer closed its end (or died).
    Closed,
    /// Non-blocking and nothing to read, or no room to write: try later.
    WouldBlock,
    /// The datagram was refused; the link must be dropped.
    Decode(DecodeError),
    /// The message could not be sent as it is.
    Encode(EncodeError),
    /// The system call failed.
    Os(Errno),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Closed => f.write_str("link closed by peer"),
            LinkError::WouldBlock => f.write_str("link would block"),
            LinkError::Decode(e) => write!(f, "{e}"),
            LinkError::Encode(e) => write!(f, "{e}"),
            LinkError::Os(e) => write!(f, "link: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<DecodeError> for LinkError {
    fn from(e: DecodeError) -> Self {
        LinkError::Decode(e)
    }
}

impl Link {
    /// A connected pair, both ends close-on-exec and blocking.
    pub fn pair() -> Result<(Link, Link), Errno> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Link { fd: a }, Link { fd: b }))
    }

    /// Wraps an fd already known to be a SEQPACKET socket.
    pub fn from_owned_fd(fd: OwnedFd) -> Self {
        Link { fd }
    }

    /// Switches the socket between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        let flags = OFlag::from_bits_truncate(fcntl(&self.fd, FcntlArg::F_GETFL)?);
        let flags = if on {
            flags | OFlag::O_NONBLOCK
        } else {
            flags & !OFlag::O_NONBLOCK
        };
        fcntl(&self.fd, FcntlArg::F_SETFL(flags))?;
        Ok(())
    }

    /// Sends one message with `fds` attached.
    pub fn send<M: Message>(&self, msg: &M, fds: &[BorrowedFd<'_>]) -> Result<(), LinkError> {
        let bytes = codec::encode(msg, fds.len()).map_err(LinkError::Encode)?;
        self.send_encoded(&bytes, fds)
    }

    /// Sends a datagram already checked by [`codec::encode`].
    pub fn send_encoded(&self, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), LinkError> {
        let raw: Vec<RawFd> = fds.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() {
            &[]
        } else {
            &[ControlMessage::ScmRights(&raw)]
        };
        let iov = [IoSlice::new(bytes)];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Err(LinkError::WouldBlock),
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(LinkError::Closed),
                Err(e) => return Err(LinkError::Os(e)),
            }
        }
    }

    /// Sends a datagram already checked by [`codec::encode`], waiting while
    /// the peer's queue is full even when the socket is non-blocking (as
    /// an event loop needs it for reading): the flow control of a blocking
    /// send, for a sender with nothing better to do meanwhile.
    pub fn send_encoded_waiting(&self, bytes: &[u8]) -> Result<(), LinkError> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            match self.send_encoded(bytes, &[]) {
                Err(LinkError::WouldBlock) => {
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) | Err(Errno::EINTR) => {}
                        Err(e) => return Err(LinkError::Os(e)),
                    }
                }
                other => return other,
            }
        }
    }

    /// Receives one message. Unexpected fds are closed before the error is
    /// returned; nothing a peer sends can leak a descriptor into us.
    pub fn recv<M: Message + serde::de::DeserializeOwned>(&self) -> Result<Received<M>, LinkError> {
        let (bytes, fds) = self.recv_raw()?;
        let message = codec::decode::<M>(&bytes, fds.len())?;
        Ok(Received { message, fds })
    }

    /// Receives one datagram and its fds, checking only the framing.
    pub fn recv_raw(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), LinkError> {
        self.recv_raw_with(MsgFlags::empty())
    }

    /// [`Self::recv_raw`] without waiting, whatever the socket's mode:
    /// [`LinkError::WouldBlock`] when nothing is there. Lets an event loop
    /// read a blocking link (whose sends wait, which is the flow control
    /// a helper wants) when the link is readable.
    pub fn try_recv_raw(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), LinkError> {
        self.recv_raw_with(MsgFlags::MSG_DONTWAIT)
    }

    fn recv_raw_with(&self, extra: MsgFlags) -> Result<(Vec<u8>, Vec<OwnedFd>), LinkError> {
        // One byte more than the limit, so an oversize datagram is told
        // apart from one of exactly the limit.
        let mut buf = vec![0u8; MAX_MESSAGE_BYTES + 1];
        let mut cmsg = cmsg_space!([RawFd; CMSG_FD_ROOM]);
        let (len, flags, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC | extra,
            ) {
                Ok(r) => {
                    let mut fds = Vec::new();
                    if let Ok(cmsgs) = r.cmsgs() {
                        for c in cmsgs {
                            if let ControlMessageOwned::ScmRights(raw) = c {
                                for fd in raw {
                                    // SAFETY: the kernel just installed this
                                    // descriptor for us; nothing else owns it.
                                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                                }
                            }
                        }
                    }
                    break (r.bytes, r.flags, fds);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Err(LinkError::WouldBlock),
                Err(Errno::ECONNRESET) => return Err(LinkError::Closed),
                Err(e) => return Err(LinkError::Os(e)),
            }
        };
        if flags.contains(MsgFlags::MSG_TRUNC) || len > MAX_MESSAGE_BYTES {
            return Err(DecodeError::Oversize { len }.into());
        }
        if flags.contains(MsgFlags::MSG_CTRUNC) {
            return Err(DecodeError::UnexpectedFds {
                expected: 0,
                received: CMSG_FD_ROOM + 1,
            }
            .into());
        }
        if len == 0 && fds.is_empty() {
            // SEQPACKET reports the peer's close as a zero-length read.
            return Err(LinkError::Closed);
        }
        buf.truncate(len);
        Ok((buf, fds))
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
