//! A link end with its handshake done and message types fixed: `I` is what
//! this side receives, `O` what it sends.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, DecodeError};
use crate::link::{Link, LinkError, Received};
use crate::messages::{Level, Message};

/// One received datagram and the fds that came with it, not yet decoded:
/// a message that borrows its text decodes from it with [`Datagram::decode`].
#[derive(Debug)]
pub struct Datagram {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

impl Datagram {
    /// Decodes the message, borrowing its text from this datagram. The
    /// number of fds is checked against what the message carries.
    pub fn decode<'a, M: Message + Deserialize<'a>>(&'a self) -> Result<M, DecodeError> {
        codec::decode(&self.bytes, self.fds.len())
    }
}

/// A typed, handshaking link end.
#[derive(Debug)]
pub struct Channel<I, O> {
    link: Link,
    greeted: bool,
    _types: PhantomData<fn(O) -> I>,
}

impl<I, O: Message> Channel<I, O> {
    /// Wraps `link` and sends our `Hello`, which is always the first message.
    pub fn open(link: Link) -> Result<Self, LinkError> {
        link.send_encoded(&codec::encode_hello(), &[])?;
        Ok(Channel {
            link,
            greeted: false,
            _types: PhantomData,
        })
    }

    /// Sends one message with `fds` attached.
    pub fn send(&self, msg: &O, fds: &[BorrowedFd<'_>]) -> Result<(), LinkError> {
        self.link.send(msg, fds)
    }

    /// Receives one datagram. `Ok(None)` means the peer's `Hello` arrived
    /// and was accepted; a first datagram that is not our version's `Hello`
    /// is an error.
    pub fn recv_datagram(&mut self) -> Result<Option<Datagram>, LinkError> {
        let received = self.link.recv_raw()?;
        self.accept(received)
    }

    /// [`Self::recv_datagram`] without waiting: [`LinkError::WouldBlock`]
    /// when nothing is there (see [`Link::try_recv_raw`]).
    pub fn try_recv_datagram(&mut self) -> Result<Option<Datagram>, LinkError> {
        let received = self.link.try_recv_raw()?;
        self.accept(received)
    }

    fn accept(
        &mut self,
        (bytes, fds): (Vec<u8>, Vec<OwnedFd>),
    ) -> Result<Option<Datagram>, LinkError> {
        if !self.greeted {
            codec::decode_hello(&bytes, fds.len())?;
            self.greeted = true;
            return Ok(None);
        }
        Ok(Some(Datagram { bytes, fds }))
    }

    /// Whether the peer's `Hello` has been accepted.
    pub fn greeted(&self) -> bool {
        self.greeted
    }

    /// The underlying link.
    pub fn link(&self) -> &Link {
        &self.link
    }
}

impl<I: Message + DeserializeOwned, O: Message> Channel<I, O> {
    /// Receives one message that owns its data. `Ok(None)`: see
    /// [`Channel::recv_datagram`].
    pub fn recv(&mut self) -> Result<Option<Received<I>>, LinkError> {
        let d = self.recv_datagram()?;
        Self::decoded(d)
    }

    /// [`Self::recv`] without waiting: [`LinkError::WouldBlock`] when
    /// nothing is there.
    pub fn try_recv(&mut self) -> Result<Option<Received<I>>, LinkError> {
        let d = self.try_recv_datagram()?;
        Self::decoded(d)
    }

    fn decoded(d: Option<Datagram>) -> Result<Option<Received<I>>, LinkError> {
        let Some(d) = d else {
            return Ok(None);
        };
        let message = d.decode::<I>()?;
        Ok(Some(Received {
            message,
            fds: d.fds,
        }))
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

impl LogMessage for crate::messages::ClientToParent<'_> {
    fn log(level: Level, text: String) -> Self {
        Self::Log {
            level,
            text: text.into(),
        }
    }
}

/// The longest log record a helper sends; longer text is cut (with `…`)
/// so that a record always fits one message, whatever it quotes.
pub const MAX_LOG_TEXT: usize = 4096;

/// `text` cut to [`MAX_LOG_TEXT`] bytes (with `…`), as every log record
/// a helper sends is.
pub fn log_text(mut text: String) -> String {
    if text.len() > MAX_LOG_TEXT {
        let mut cut = MAX_LOG_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

impl<I, O: LogMessage> Channel<I, O> {
    /// Sends a log record for ypldapd to write. A failure to send is
    /// ignored: the link is then gone and the next receive reports it.
    pub fn log(&self, level: Level, text: impl Into<String>) {
        let _ = self.link.send(&O::log(level, log_text(text.into())), &[]);
    }
}
