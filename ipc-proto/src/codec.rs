//! Encoding and decoding of one datagram, without I/O.
//!
//! Kept apart from the socket code so it can be fuzzed and tested alone.

use std::fmt;

use crate::messages::{Message, PROTOCOL_VERSION};

/// The largest datagram either side sends or accepts. Large updates are
/// streams of batches, each below this.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// The most fds one message may carry (one connected socket).
pub const MAX_FDS: usize = 1;

/// Why a datagram was refused. Any of these ends the link: the peer is
/// restarted rather than trusted further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The datagram was cut short (by the kernel, or its JSON ends early).
    Truncated,
    /// Larger than [`MAX_MESSAGE_BYTES`].
    Oversize { len: usize },
    /// Not JSON, or JSON of the wrong shape.
    InvalidJson(String),
    /// A `"type"` this receiver does not accept.
    UnknownType(String),
    /// A field this message does not have.
    UnknownField(String),
    /// The number of attached fds differs from what the message carries.
    UnexpectedFds { expected: usize, received: usize },
    /// The peer's `Hello` names another protocol version.
    VersionMismatch { ours: u32, theirs: u32 },
    /// The first message was not `Hello`, or `Hello` came twice.
    OutOfOrder { kind: &'static str },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated message"),
            DecodeError::Oversize { len } => write!(
                f,
                "oversize message: {len} bytes, at most {MAX_MESSAGE_BYTES} allowed"
            ),
            DecodeError::InvalidJson(e) => write!(f, "invalid message: {e}"),
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::UnknownField(n) => write!(f, "unknown field {n}"),
            DecodeError::UnexpectedFds { expected, received } => write!(
                f,
                "message carries {received} file descriptors, expected {expected}"
            ),
            DecodeError::VersionMismatch { ours, theirs } => write!(
                f,
                "protocol version mismatch: this program speaks version {ours}, its peer version {theirs}"
            ),
            DecodeError::OutOfOrder { kind } => write!(f, "unexpected {kind} message"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded message would exceed [`MAX_MESSAGE_BYTES`]; the sender
    /// must split it (entries travel in batches).
    Oversize { len: usize },
    /// The message holds fds but none, or the wrong number, were attached.
    FdCount { expected: usize, attached: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Oversize { len } => write!(
                f,
                "message of {len} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"
            ),
            EncodeError::FdCount { expected, attached } => write!(
                f,
                "message needs {expected} file descriptors, {attached} attached"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Serialises `msg`, checking its size and that `fds` matches what it carries.
pub fn encode<M: Message>(msg: &M, fds: usize) -> Result<Vec<u8>, EncodeError> {
    let expected = msg.fd_count();
    if expected != fds {
        return Err(EncodeError::FdCount {
            expected,
            attached: fds,
        });
    }
    // Serialising our own plain data types cannot fail.
    let bytes = serde_json::to_vec(msg).unwrap_or_default();
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(EncodeError::Oversize { len: bytes.len() });
    }
    Ok(bytes)
}

/// The encoded size of `msg`, for senders that fill batches up to the limit.
pub fn encoded_len<M: Message>(msg: &M) -> usize {
    serde_json::to_vec(msg)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// Decodes one datagram that arrived with `fds` file descriptors.
pub fn decode<M: Message>(bytes: &[u8], fds: usize) -> Result<M, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::Oversize { len: bytes.len() });
    }
    let msg: M = serde_json::from_slice(bytes).map_err(classify)?;
    let expected = msg.fd_count();
    if expected != fds {
        return Err(DecodeError::UnexpectedFds {
            expected,
            received: fds,
        });
    }
    Ok(msg)
}

/// Sorts serde_json's errors into the cases a reader of the log cares about.
fn classify(e: serde_json::Error) -> DecodeError {
    use serde_json::error::Category;
    let text = e.to_string();
    match e.classify() {
        Category::Eof => DecodeError::Truncated,
        Category::Data if text.starts_with("unknown variant") => {
            DecodeError::UnknownType(quoted(&text))
        }
        Category::Data if text.starts_with("unknown field") => {
            DecodeError::UnknownField(quoted(&text))
        }
        _ => DecodeError::InvalidJson(text),
    }
}

/// The first back-quoted word of a serde message: the offending name.
fn quoted(text: &str) -> String {
    text.split('`').nth(1).unwrap_or(text).to_owned()
}

/// Tracks the handshake of one direction of a link: the first message must be
/// `Hello` with our version, and it must not come again.
#[derive(Debug, Default)]
pub struct Handshake {
    greeted: bool,
}

impl Handshake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the peer's `Hello` has been accepted.
    pub fn done(&self) -> bool {
        self.greeted
    }

    /// Checks `msg` against the handshake state. Returns `Ok(true)` for the
    /// accepted `Hello` (which carries nothing else), `Ok(false)` for any
    /// later message, which the caller then handles.
    pub fn check<M: Message>(&mut self, msg: &M) -> Result<bool, DecodeError> {
        match (self.greeted, msg.hello_version()) {
            (false, Some(v)) if v == PROTOCOL_VERSION => {
                self.greeted = true;
                Ok(true)
            }
            (false, Some(theirs)) => Err(DecodeError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs,
            }),
            (false, None) | (true, Some(_)) => Err(DecodeError::OutOfOrder { kind: msg.kind() }),
            (true, None) => Ok(false),
        }
    }
}
