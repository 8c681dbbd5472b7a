//! The control sockets `ypldapctl` talks to: opened as root before the
//! privilege drop, then served by the daemon's event loop without ever
//! blocking it.
//!
//! One connection carries one exchange (`ctl_proto`): a request datagram,
//! then the reply's datagrams, then the close. The daemon answers the
//! requests it gets from [`ControlServer::handle_event`]; everything that
//! is not a valid request allowed on its socket is answered here with an
//! error, and a connection that has not finished its exchange within
//! [`EXCHANGE_TIME`] (a client that never sends, or never reads) is
//! closed. At most [`MAX_CONNECTIONS`] are open at once; more are told so
//! and closed. Nothing a client sends reaches the YP server or the helpers.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ctl_proto::{Reply, Request};
use ipc_proto::{Link, LinkError};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, UnixAddr, accept4, bind, connect, listen, socket,
};
use nix::sys::stat::{Mode, SFlag, umask};

/// Open control connections at most; one more is told so and closed.
pub const MAX_CONNECTIONS: usize = 8;

/// How long one exchange may take, from the accept to the last datagram
/// of the reply.
pub const EXCHANGE_TIME: Duration = Duration::from_secs(10);

/// Connections accepted per event, so a flood of them cannot hold up the
/// YP answers.
const ACCEPTS_PER_EVENT: usize = 16;

/// Which socket a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The control socket (root only): every request.
    Control,
    /// The restricted socket: `show` requests only.
    Restricted,
}

/// Why a control socket could not be opened.
#[derive(Debug)]
pub struct OpenError {
    pub path: PathBuf,
    pub what: String,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "control socket {}: {}", self.path.display(), self.what)
    }
}

impl std::error::Error for OpenError {}

/// Who may connect to a control socket: its owner is root, its group
/// `group` (root's when `None`), its mode `mode`.
#[derive(Debug, Clone, Copy)]
pub struct Permissions {
    pub group: Option<u32>,
    pub mode: u32,
}

/// Opens a listening `SOCK_SEQPACKET` socket at `path` (non-blocking,
/// close-on-exec), as root. A socket file left by an earlier ypldapd is
/// replaced; one that a running program answers on is not, and neither is
/// anything that is not a socket. The file is created with mode 0600
/// (umask), then given its group and mode.
pub fn open_socket(path: &Path, perms: Permissions) -> Result<OwnedFd, OpenError> {
    let fail = |what: String| OpenError {
        path: path.to_path_buf(),
        what,
    };
    let addr = UnixAddr::new(path).map_err(|e| fail(format!("not a socket address: {e}")))?;
    match nix::sys::stat::lstat(path) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK => {
            if in_use(&addr) {
                return Err(fail(
                    "a running program answers on it (is ypldapd running already?)".into(),
                ));
            }
            nix::unistd::unlink(path)
                .map_err(|e| fail(format!("cannot remove the old one: {e}")))?;
        }
        Ok(_) => return Err(fail("exists and is not a socket".into())),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| fail(format!("socket: {e}")))?;
    // Created 0600 whatever the inherited umask; opened up below.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = bind(fd.as_raw_fd(), &addr);
    umask(old);
    bound.map_err(|e| fail(format!("bind: {e}")))?;
    std::os::unix::fs::chown(path, Some(0), perms.group)
        .map_err(|e| fail(format!("chown: {e}")))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(perms.mode))
        .map_err(|e| fail(format!("chmod: {e}")))?;
    listen(&fd, Backlog::new(16).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| fail(format!("listen: {e}")))?;
    Ok(fd)
}

/// The gid of the restricted socket's group: a number as it is, a name
/// looked up in `/etc/group` read directly. Never through NSS: with
/// `group: nis` in nsswitch.conf the lookup would ask NIS, i.e. this very
/// server, which is not serving yet.
pub fn resolve_group(group: &crate::config::GroupName) -> Result<u32, String> {
    use crate::config::GroupName;
    match group {
        GroupName::Id(n) => Ok(*n),
        GroupName::Name(name) => {
            let text = std::fs::read_to_string(ETC_GROUP)
                .map_err(|e| format!("cannot read {ETC_GROUP}: {e}"))?;
            crate::config::group_id(&text, name).ok_or_else(|| {
                format!(
                    "group {name:?} is not in {ETC_GROUP} (read directly, never through NSS; name it by number otherwise)"
                )
            })
        }
    }
}

/// Where group names are looked up.
pub const ETC_GROUP: &str = "/etc/group";

/// The sockets ypldapd opens as root: the control socket at `path`
/// (root, 0600) and the restricted one the configuration asks for
/// (root and its group 0660, or anyone 0666 without a group).
pub fn open_sockets(
    path: &Path,
    restricted: Option<&crate::config::RestrictedSocket>,
) -> Result<Vec<(OwnedFd, Access)>, OpenError> {
    let mut v = vec![(
        open_socket(
            path,
            Permissions {
                group: None,
                mode: 0o600,
            },
        )?,
        Access::Control,
    )];
    if let Some(r) = restricted {
        let perms = match &r.group {
            Some(g) => Permissions {
                group: Some(resolve_group(g).map_err(|what| OpenError {
                    path: r.path.clone(),
                    what,
                })?),
                mode: 0o660,
            },
            None => Permissions {
                group: None,
                mode: 0o666,
            },
        };
        v.push((open_socket(&r.path, perms)?, Access::Restricted));
    }
    Ok(v)
}

/// Whether a program accepts connections on the socket at `addr`.
fn in_use(addr: &UnixAddr) -> bool {
    let Ok(probe) = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return false;
    };
    connect(probe.as_raw_fd(), addr).is_ok()
}

/// A listening control socket.
struct Listener {
    fd: OwnedFd,
    access: Access,
    /// More connections may wait: accept again at the next turn.
    pending: bool,
}

/// Where an exchange is.
enum Stage {
    /// Waiting for the request.
    Reading,
    /// The daemon has the request; the reply comes with [`ControlServer::answer`].
    Answering,
    /// Sending the reply's datagrams; the connection closes after the last.
    Sending(VecDeque<Vec<u8>>),
}

struct Connection {
    link: Link,
    access: Access,
    stage: Stage,
    deadline: Instant,
}

/// A valid request the daemon must answer, on connection `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub slot: usize,
    pub request: Request,
}

/// The control sockets and their connections.
pub struct ControlServer {
    listeners: Vec<Listener>,
    conns: Vec<Option<Connection>>,
    first: usize,
    /// Exchanges refused: a bad request, not allowed, too many, too slow.
    refused: u64,
}

impl ControlServer {
    /// Takes the listening sockets opened by [`open_socket`].
    pub fn new(sockets: Vec<(OwnedFd, Access)>) -> ControlServer {
        let mut conns = Vec::new();
        conns.resize_with(MAX_CONNECTIONS, || None);
        ControlServer {
            listeners: sockets
                .into_iter()
                .map(|(fd, access)| Listener {
                    fd,
                    access,
                    pending: false,
                })
                .collect(),
            conns,
            first: 0,
            refused: 0,
        }
    }

    /// The tokens used from `first`: the listeners, then the connections.
    pub fn token_span(&self) -> usize {
        2 + MAX_CONNECTIONS
    }

    pub fn register(&mut self, registry: &Registry, first: usize) -> std::io::Result<()> {
        self.first = first;
        for (i, l) in self.listeners.iter().enumerate() {
            registry.register(
                &mut SourceFd(&l.fd.as_raw_fd()),
                Token(first + i),
                Interest::READABLE,
            )?;
        }
        Ok(())
    }

    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.first && token.0 - self.first < self.token_span()
    }

    /// The listening sockets, to limit their rights (Capsicum).
    pub fn sockets(&self) -> Vec<BorrowedFd<'_>> {
        self.listeners.iter().map(|l| l.fd.as_fd()).collect()
    }

    /// Exchanges refused or abandoned since the start.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// A readiness event: accepts new connections or reads a request or
    /// sends more of a reply. Returns the requests for the daemon.
    pub fn handle_event(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> Vec<Pending> {
        let Some(rel) = token.0.checked_sub(self.first) else {
            return Vec::new();
        };
        if rel < 2 {
            return self.accept(registry, rel, now);
        }
        let slot = rel - 2;
        self.pump(registry, slot, now).into_iter().collect()
    }

    /// When [`Self::on_timeout`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let accepts = self
            .listeners
            .iter()
            .any(|l| l.pending)
            .then_some(Instant::now());
        self.conns
            .iter()
            .flatten()
            .map(|c| c.deadline)
            .chain(accepts)
            .min()
    }

    /// Closes the connections past their deadline and accepts what waits.
    pub fn on_timeout(&mut self, registry: &Registry, now: Instant) -> Vec<Pending> {
        for slot in 0..self.conns.len() {
            if self.conns[slot].as_ref().is_some_and(|c| c.deadline <= now) {
                self.refused += 1;
                self.close(registry, slot);
            }
        }
        let mut got = Vec::new();
        for i in 0..self.listeners.len() {
            if self.listeners[i].pending {
                got.extend(self.accept(registry, i, now));
            }
        }
        got
    }

    fn accept(&mut self, registry: &Registry, listener: usize, now: Instant) -> Vec<Pending> {
        let mut got = Vec::new();
        let Some(l) = self.listeners.get_mut(listener) else {
            return got;
        };
        l.pending = false;
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some(l) = self.listeners.get(listener) else {
                return got;
            };
            let access = l.access;
            let fd = match accept4(&l.fd, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC) {
                Ok(fd) => fd,
                Err(Errno::EAGAIN) => return got,
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                // EMFILE and the like: try again at the next turn.
                Err(_) => {
                    self.listeners[listener].pending = true;
                    return got;
                }
            };
            let link = Link::from_owned_fd(fd);
            let Some(slot) = self.conns.iter().position(Option::is_none) else {
                self.refused += 1;
                send_error(
                    &link,
                    format!("too many control connections (at most {MAX_CONNECTIONS}); try again"),
                );
                continue;
            };
            let token = Token(self.first + 2 + slot);
            if registry
                .register(
                    &mut SourceFd(&link.as_raw_fd()),
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                continue;
            }
            self.conns[slot] = Some(Connection {
                link,
                access,
                stage: Stage::Reading,
                deadline: now + EXCHANGE_TIME,
            });
            // The request may be there already.
            got.extend(self.pump(registry, slot, now));
        }
        self.listeners[listener].pending = true;
        got
    }

    /// Reads the request or sends more of the reply.
    fn pump(&mut self, registry: &Registry, slot: usize, now: Instant) -> Option<Pending> {
        let c = self.conns.get_mut(slot)?.as_mut()?;
        let next = match &mut c.stage {
            Stage::Answering => return None,
            Stage::Reading => read_request(&c.link, c.access),
            Stage::Sending(queue) => {
                while let Some(d) = queue.front() {
                    match c.link.send_encoded(d, &[]) {
                        Ok(()) => {
                            queue.pop_front();
                        }
                        Err(LinkError::WouldBlock) => return None,
                        Err(_) => break,
                    }
                }
                // Sent, or the client went away: the close ends the reply.
                Next::Close
            }
        };
        match next {
            Next::Wait => None,
            Next::Close => {
                self.close(registry, slot);
                None
            }
            Next::Refuse(message) => {
                self.refuse(registry, slot, message, now);
                None
            }
            Next::Answer(request) => {
                c.stage = Stage::Answering;
                Some(Pending { slot, request })
            }
        }
    }

    /// The daemon's reply to the request it got on `slot`.
    pub fn answer(&mut self, registry: &Registry, slot: usize, reply: &Reply, now: Instant) {
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        if !matches!(c.stage, Stage::Answering) {
            return;
        }
        let bytes = ctl_proto::encode_reply(reply);
        c.stage = Stage::Sending(ctl_proto::split_reply(&bytes).into());
        self.pump(registry, slot, now);
    }

    /// Answers `slot` with an error and closes it once sent.
    fn refuse(&mut self, registry: &Registry, slot: usize, message: String, now: Instant) {
        self.refused += 1;
        if let Some(Some(c)) = self.conns.get_mut(slot) {
            c.stage = Stage::Answering;
        }
        self.answer(registry, slot, &Reply::Error { message }, now);
    }

    fn close(&mut self, registry: &Registry, slot: usize) {
        if let Some(Some(c)) = self.conns.get_mut(slot).map(Option::take) {
            let _ = registry.deregister(&mut SourceFd(&c.link.as_raw_fd()));
        }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.conns.iter().flatten().count()
    }
}

/// What to do with a connection after trying to read its request.
enum Next {
    Wait,
    Close,
    Refuse(String),
    Answer(Request),
}

/// Reads the request on `link`, if it is there, and checks it.
fn read_request(link: &Link, access: Access) -> Next {
    let refused = |why: &dyn fmt::Display| Next::Refuse(format!("request refused: {why}"));
    let bytes = match link.recv_raw() {
        Err(LinkError::WouldBlock) => return Next::Wait,
        Err(LinkError::Decode(ipc_proto::DecodeError::Oversize { .. })) => {
            return refused(&format!(
                "larger than the {} bytes read, at most {} allowed",
                ipc_proto::MAX_MESSAGE_BYTES,
                ctl_proto::MAX_REQUEST_BYTES
            ));
        }
        Err(LinkError::Decode(e)) => return refused(&e),
        Err(_) => return Next::Close,
        // The descriptors were closed as they were received.
        Ok((_, fds)) if !fds.is_empty() => return refused(&"it carries file descriptors"),
        Ok((bytes, _)) => bytes,
    };
    match ctl_proto::decode_request(&bytes) {
        Err(e) => refused(&e),
        Ok(r) if access == Access::Restricted && !r.is_show() => Next::Refuse(format!(
            "\"{}\" is not allowed on the restricted socket; use the control socket",
            r.command()
        )),
        Ok(request) => Next::Answer(request),
    }
}

/// Sends an error reply, if it fits at once, on a connection about to be
/// closed.
fn send_error(link: &Link, message: String) {
    let bytes = ctl_proto::encode_reply(&Reply::Error { message });
    for d in ctl_proto::split_reply(&bytes) {
        if link.send_encoded(&d, &[]).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctl_proto::{DecodeError, ReplyAssembler};
    use mio::Poll;

    /// A server on a socket in a scratch directory, and a client for it.
    fn server(access: Access) -> (tempfile::TempDir, PathBuf, ControlServer, Poll) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let fd = open_socket(
            &path,
            Permissions {
                group: None,
                mode: 0o600,
            },
        );
        // Not root: the chown to root fails; bind and listen by hand.
        let fd = fd.unwrap_or_else(|_| {
            let _ = std::fs::remove_file(&path);
            let fd = socket(
                AddressFamily::Unix,
                SockType::SeqPacket,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                None,
            )
            .unwrap();
            bind(fd.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
            listen(&fd, Backlog::new(16).unwrap()).unwrap();
            fd
        });
        let mut s = ControlServer::new(vec![(fd, access)]);
        let poll = Poll::new().unwrap();
        s.register(poll.registry(), 100).unwrap();
        (dir, path, s, poll)
    }

    fn client(path: &Path) -> Link {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        connect(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
        Link::from_owned_fd(fd)
    }

    fn read_reply(link: &Link) -> Result<Reply, DecodeError> {
        let mut a = ReplyAssembler::new();
        loop {
            match link.recv_raw() {
                Ok((d, _)) => a.push(&d)?,
                Err(LinkError::Closed) => return a.finish(),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn error_text(r: Result<Reply, DecodeError>) -> String {
        match r {
            Ok(Reply::Error { message }) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn request_answered_then_closed() {
        let (_d, path, mut s, poll) = server(Access::Control);
        let now = Instant::now();
        let c = client(&path);
        c.send_encoded(&ctl_proto::encode_request(Request::ShowMaps), &[])
            .unwrap();
        let got = s.handle_event(poll.registry(), Token(100), now);
        assert_eq!(
            got,
            vec![Pending {
                slot: 0,
                request: Request::ShowMaps
            }]
        );
        assert_eq!(s.connections(), 1);
        let reply = Reply::Done {
            message: "x".repeat(3 * ctl_proto::REPLY_CHUNK_BYTES),
        };
        s.answer(poll.registry(), 0, &reply, now);
        assert_eq!(s.connections(), 0, "closed after the reply");
        assert_eq!(read_reply(&c), Ok(reply));
        assert_eq!(s.refused(), 0);
    }

    #[test]
    fn bad_requests_get_errors() {
        let (_d, path, mut s, poll) = server(Access::Restricted);
        let now = Instant::now();
        let cases: [(&[u8], &str); 4] = [
            (
                b"{\"version\":1,\"request\":{\"type\":\"Shutdown\"}}",
                "unknown message type Shutdown",
            ),
            (b"garbage", "invalid message"),
            (&[b' '; 2000], "at most 1024"),
            (
                b"{\"version\":1,\"request\":{\"type\":\"Reload\"}}",
                "\"reload\" is not allowed on the restricted socket",
            ),
        ];
        for (bytes, want) in cases {
            let c = client(&path);
            c.send_encoded(bytes, &[]).unwrap();
            assert!(s.handle_event(poll.registry(), Token(100), now).is_empty());
            let text = error_text(read_reply(&c));
            assert!(text.contains(want), "{text:?} lacks {want:?}");
        }
        // Far beyond the datagram buffer.
        let c = client(&path);
        c.send_encoded(&vec![b'x'; 100_000], &[]).unwrap();
        assert!(s.handle_event(poll.registry(), Token(100), now).is_empty());
        assert!(error_text(read_reply(&c)).contains("larger than the 32768 bytes read"));
        assert_eq!(s.refused(), 5);
        assert_eq!(s.connections(), 0);
        // A show request is fine on the restricted socket.
        let c = client(&path);
        c.send_encoded(&ctl_proto::encode_request(Request::ShowDrops), &[])
            .unwrap();
        assert_eq!(s.handle_event(poll.registry(), Token(100), now).len(), 1);
    }

    #[test]
    fn silent_clients_time_out_and_extra_ones_are_told() {
        let (_d, path, mut s, poll) = server(Access::Control);
        let now = Instant::now();
        let silent: Vec<Link> = (0..MAX_CONNECTIONS).map(|_| client(&path)).collect();
        assert!(s.handle_event(poll.registry(), Token(100), now).is_empty());
        assert_eq!(s.connections(), MAX_CONNECTIONS);
        let extra = client(&path);
        assert!(s.handle_event(poll.registry(), Token(100), now).is_empty());
        assert!(error_text(read_reply(&extra)).contains("too many control connections"));
        assert_eq!(s.next_deadline(), Some(now + EXCHANGE_TIME));
        s.on_timeout(poll.registry(), now + EXCHANGE_TIME);
        assert_eq!(s.connections(), 0);
        for c in &silent {
            assert!(matches!(c.recv_raw(), Err(LinkError::Closed)));
        }
        assert_eq!(s.refused(), 1 + MAX_CONNECTIONS as u64);
    }
}
