//! Encoding and decoding of one datagram, without I/O.
//!
//! Kept apart from the socket code so it can be fuzzed and tested alone.

use std::fmt;

use serde::Deserialize;

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
    /// The first message was not `Hello`.
    OutOfOrder,
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
            DecodeError::OutOfOrder => f.write_str("the first message is not Hello"),
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

/// Decodes one datagram that arrived with `fds` file descriptors. The
/// message may borrow text from `bytes`.
pub fn decode<'a, M: Message + Deserialize<'a>>(
    bytes: &'a [u8],
    fds: usize,
) -> Result<M, DecodeError> {
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
        // An unknown key beside "type" and "body" (adjacently tagged).
        Category::Data
            if text.starts_with("invalid value: string")
                && text.contains(r#"expected "type" or "body""#) =>
        {
            DecodeError::UnknownField(text.split('"').nth(1).unwrap_or(&text).to_owned())
        }
        _ => DecodeError::InvalidJson(text),
    }
}

/// The first back-quoted word of a serde message: the offending name.
fn quoted(text: &str) -> String {
    text.split('`').nth(1).unwrap_or(text).to_owned()
}

/// The handshake datagram: `{"type":"Hello","body":{"version":N}}`.
pub fn encode_hello() -> Vec<u8> {
    format!(r#"{{"type":"Hello","body":{{"version":{PROTOCOL_VERSION}}}}}"#).into_bytes()
}

/// The shapes of `Hello` every protocol version used, so that a peer of
/// another version is told apart from one that breaks the protocol.
#[derive(Deserialize)]
struct AnyHello {
    #[serde(rename = "type")]
    kind: String,
    /// Version 1: `{"type":"Hello","version":N}`.
    version: Option<u32>,
    /// Version 2 on: `{"type":"Hello","body":{"version":N}}`.
    body: Option<HelloBody>,
}

#[derive(Deserialize)]
struct HelloBody {
    version: Option<u32>,
}

/// Checks the first datagram of a link: a `Hello` with our version.
pub fn decode_hello(bytes: &[u8], fds: usize) -> Result<(), DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::Oversize { len: bytes.len() });
    }
    let hello: AnyHello = serde_json::from_slice(bytes).map_err(classify)?;
    if hello.kind != "Hello" {
        return Err(DecodeError::OutOfOrder);
    }
    if fds != 0 {
        return Err(DecodeError::UnexpectedFds {
            expected: 0,
            received: fds,
        });
    }
    match hello.body.and_then(|b| b.version).or(hello.version) {
        Some(PROTOCOL_VERSION) => Ok(()),
        Some(theirs) => Err(DecodeError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        }),
        None => Err(DecodeError::InvalidJson("Hello without a version".into())),
    }
}
