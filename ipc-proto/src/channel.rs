//! A link end with its handshake and message types fixed: `I` is what this
//! side receives, `O` what it sends.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::codec::Handshake;
use crate::link::{Link, LinkError, Received};
use crate::messages::{Level, Message};

/// A typed, handshaking link end.
#[derive(Debug)]
pub struct Channel<I, O> {
    link: Link,
    handshake: Handshake,
    _types: PhantomData<fn(O) -> I>,
}

impl<I: Message, O: Message> Channel<I, O> {
    /// Wraps `link` and sends our `Hello`, which is always the first message.
    pub fn open(link: Link) -> Result<Self, LinkError> {
        link.send(&O::hello(), &[])?;
        Ok(Channel {
            link,
            handshake: Handshake::new(),
            _types: PhantomData,
        })
    }

    /// Sends one message with `fds` attached.
    pub fn send(&self, msg: &O, fds: &[BorrowedFd<'_>]) -> Result<(), LinkError> {
        self.link.send(msg, fds)
    }

    /// Receives one message. `Ok(None)` means the peer's `Hello` arrived and
    /// was accepted; any violation of the handshake is an error.
    pub fn recv(&mut self) -> Result<Option<Received<I>>, LinkError> {
        let r = self.link.recv::<I>()?;
        if self.handshake.check(&r.message)? {
            return Ok(None);
        }
        Ok(Some(r))
    }

    /// Whether the peer's `Hello` has been accepted.
    pub fn greeted(&self) -> bool {
        self.handshake.done()
    }

    /// The underlying link.
    pub fn link(&self) -> &Link {
        &self.link
    }
}

impl<I, O> AsFd for Channel<I, O> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.link.as_fd()
    }
}

impl<I, O> AsRawFd for Channel<I, O> {
    fn as_raw_fd(&self) -> RawFd {
        self.link.as_raw_fd()
    }
}

/// Messages that can carry a log record, so a helper has one way to log.
pub trait LogMessage: Message {
    fn log(level: Level, text: String) -> Self;
}

impl LogMessage for crate::messages::DnsToParent {
    fn log(level: Level, text: String) -> Self {
        Self::Log { level, text }
    }
}

impl LogMessage for crate::messages::ClientToParent {
    fn log(level: Level, text: String) -> Self {
        Self::Log { level, text }
    }
}

impl<I: Message, O: LogMessage> Channel<I, O> {
    /// Sends a log record for ypldapd to write. A failure to send is
    /// ignored: the link is then gone and the next receive reports it.
    pub fn log(&self, level: Level, text: impl Into<String>) {
        let mut text: String = text.into();
        // Keep a record within one message, whatever it quotes.
        if text.len() > 4096 {
            let mut cut = 4096;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let _ = self.link.send(&O::log(level, text), &[]);
    }
}
