//! The reader's one link to ypldapd, shared by the tasks of its
//! single-threaded runtime: any task sends (a send waits while ypldapd's
//! queue is full, which is the flow control the reader wants: the LDAP
//! streams wait with it); only the main loop receives, and it hands each
//! broker answer to the task that asked for that socket.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::TcpStream;
use std::os::fd::OwnedFd;

use ipc_proto::{Channel, ClientToParent, Level, LinkError, ParentToClient, Received};
use tokio::sync::oneshot;

pub type Chan = Channel<ParentToClient, ClientToParent<'static>>;

/// What the broker answered to a connection request: a connected socket,
/// or why there is none.
pub type Connected = Result<TcpStream, String>;

/// The shared link; see the module documentation.
pub struct Hub {
    chan: RefCell<Chan>,
    pending: RefCell<HashMap<u64, oneshot::Sender<Connected>>>,
    next_request: Cell<u64>,
}

impl Hub {
    /// The hub over `chan`, whose link is made non-blocking (an event
    /// loop reads it; sends wait by polling, see
    /// [`ipc_proto::Link::send_encoded_waiting`]).
    pub fn new(chan: Chan) -> Result<Hub, LinkError> {
        chan.link().set_nonblocking(true).map_err(LinkError::Os)?;
        Ok(Hub {
            chan: RefCell::new(chan),
            pending: RefCell::new(HashMap::new()),
            next_request: Cell::new(0),
        })
    }

    /// Sends one message, waiting while ypldapd's queue is full.
    pub fn send(&self, msg: &ClientToParent<'_>) -> Result<(), LinkError> {
        let bytes = ipc_proto::codec::encode(msg, 0).map_err(LinkError::Encode)?;
        self.send_encoded(&bytes)
    }

    /// Sends a datagram already encoded (a batch), waiting while ypldapd's
    /// queue is full.
    pub fn send_encoded(&self, bytes: &[u8]) -> Result<(), LinkError> {
        self.chan.borrow().link().send_encoded_waiting(bytes)
    }

    /// A log record for ypldapd to write (cut as [`Chan::log`] cuts it).
    pub fn log(&self, level: Level, text: impl Into<String>) {
        let text = ipc_proto::channel::log_text(text.into());
        let _ = self.send(&ClientToParent::Log {
            level,
            text: text.into(),
        });
    }

    /// Asks ypldapd (which asks the broker) for a socket connected to
    /// directory `directory`, and waits for the answer.
    pub async fn connect(&self, directory: u32) -> Result<Connected, LinkError> {
        let request = self.next_request.get() + 1;
        self.next_request.set(request);
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(request, tx);
        if let Err(e) = self.send(&ClientToParent::Connect { request, directory }) {
            self.pending.borrow_mut().remove(&request);
            return Err(e);
        }
        // The sender goes only with the hub (the link is gone then).
        rx.await.map_err(|_| LinkError::Closed)
    }

    /// The next message, without waiting: `Ok(None)` when there is none
    /// (or only the peer's greeting was read). Broker answers go to the
    /// task that asked; an answer nobody waits for any more closes its
    /// socket here.
    pub fn try_recv(&self) -> Result<Option<ParentToClient>, LinkError> {
        loop {
            let received = match self.chan.borrow_mut().try_recv() {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(LinkError::WouldBlock) => return Ok(None),
                Err(e) => return Err(e),
            };
            let Received { message, fds } = received;
            match message {
                ParentToClient::Connected(c) => {
                    let fd: Option<OwnedFd> = fds.into_iter().next();
                    let answer = fd
                        .map(TcpStream::from)
                        .ok_or_else(|| "the broker's answer came without its socket".to_owned());
                    self.answer(c.request, answer);
                }
                ParentToClient::ConnectFailed(f) => self.answer(f.request, Err(f.error)),
                other => return Ok(Some(other)),
            }
        }
    }

    fn answer(&self, request: u64, answer: Connected) {
        if let Some(tx) = self.pending.borrow_mut().remove(&request) {
            // A task that stopped waiting drops the socket with the answer.
            let _ = tx.send(answer);
        }
    }

    /// A duplicate of the link's descriptor, for the event loop to wait
    /// on.
    pub fn link_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.chan.borrow().as_fd().try_clone_to_owned()
    }
}
