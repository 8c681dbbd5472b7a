//! Receiving and answering UDP requests in batches: one `recvmmsg` takes
//! up to [`BATCH`] datagrams and one `sendmmsg` sends their answers, where
//! the system has the calls (Linux, FreeBSD); elsewhere one datagram per
//! call. Under load this divides the system calls per request by up to
//! [`BATCH`]; when idle a batch is a single datagram, answered at once.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

/// Datagrams per batch (the largest number of requests answered together).
pub const BATCH: usize = 32;

/// The room for one request. A YP request is at most a few hundred bytes
/// of RPC header and credentials plus a key of at most 1024 bytes; a
/// longer datagram arrives truncated and is dropped unanswered.
pub const SLOT: usize = 4096;

/// One received datagram's place in the batch.
#[derive(Debug, Clone, Copy)]
struct Received {
    len: usize,
    peer: SocketAddr,
}

/// Buffers for one batch, reused from batch to batch.
pub struct UdpBatch {
    bufs: Vec<Vec<u8>>,
    got: Vec<Received>,
}

impl std::fmt::Debug for UdpBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpBatch")
            .field("received", &self.got.len())
            .finish_non_exhaustive()
    }
}

impl Default for UdpBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpBatch {
    pub fn new() -> UdpBatch {
        UdpBatch {
            bufs: (0..BATCH).map(|_| vec![0u8; SLOT]).collect(),
            got: Vec::with_capacity(BATCH),
        }
    }

    /// The datagrams of the last [`Self::recv`], with their senders.
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.got
            .iter()
            .zip(&self.bufs)
            .map(|(r, b)| (b.get(..r.len).unwrap_or(&[]), r.peer))
    }

    /// Receives what is waiting, up to [`BATCH`] datagrams, without
    /// blocking, and returns how many arrived: `Ok(0)` when nothing was
    /// waiting (`WouldBlock` is not an error here). [`Self::datagrams`]
    /// then gives those that can be answered.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

        self.got.clear();
        let mut kept = Vec::with_capacity(BATCH);
        let mut arrived = 0;
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
                self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            // The headers hold raw pointers (not `Send`): made per batch, a
            // small allocation beside the system calls it saves.
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
            let results = match recvmmsg(
                sock.as_raw_fd(),
                &mut headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            ) {
                Ok(r) => r,
                Err(nix::errno::Errno::EAGAIN) => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            for (slot, m) in results.enumerate() {
                arrived += 1;
                // Longer than any request: dropped unanswered.
                if m.flags.contains(MsgFlags::MSG_TRUNC) {
                    continue;
                }
                if let Some(peer) = m.address.as_ref().and_then(socket_addr) {
                    kept.push((slot, Received { len: m.bytes, peer }));
                }
            }
        }
        // Keep `got[i]` in step with `bufs[i]`: move kept slots forward.
        for (i, (slot, r)) in kept.into_iter().enumerate() {
            if slot != i {
                self.bufs.swap(slot, i);
            }
            self.got.push(r);
        }
        Ok(arrived)
    }

    /// One datagram per call where the system has no `recvmmsg`.
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        self.got.clear();
        let Some(buf) = self.bufs.first_mut() else {
            return Ok(0);
        };
        match sock.recv_from(buf) {
            Ok((len, peer)) => {
                self.got.push(Received { len, peer });
                Ok(1)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Sends `replies` (at most [`BATCH`]) in one system call where it can.
    /// A reply that cannot be sent now is lost, as UDP allows: the client
    /// retransmits.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub fn send(&mut self, sock: &UdpSocket, replies: &[(Vec<u8>, SocketAddr)]) {
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut rest = replies;
        while !rest.is_empty() {
            let now = &rest[..rest.len().min(BATCH)];
            let iovs: Vec<[IoSlice<'_>; 1]> = now.iter().map(|(r, _)| [IoSlice::new(r)]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = now
                .iter()
                .map(|(_, peer)| Some(SockaddrStorage::from(*peer)))
                .collect();
            let sent = sendmmsg(
                sock.as_raw_fd(),
                &mut headers,
                iovs.iter(),
                &addrs,
                [] as [ControlMessage<'_>; 0],
                MsgFlags::MSG_DONTWAIT,
            )
            .map_or(0, Iterator::count);
            // A datagram the kernel refused (full buffer, unreachable
            // peer) is skipped: the next ones may still go.
            rest = &rest[sent.max(1).min(rest.len())..];
        }
    }

    /// One datagram per call where the system has no `sendmmsg`.
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    pub fn send(&mut self, sock: &UdpSocket, replies: &[(Vec<u8>, SocketAddr)]) {
        for (reply, peer) in replies {
            let _ = sock.send_to(reply, *peer);
        }
    }
}

/// The sender of a datagram, IPv4 or IPv6.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn socket_addr(s: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    s.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
