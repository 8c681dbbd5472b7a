//! Turning requests and replies into bytes and back, with hard bounds.

use std::fmt;

use serde::Deserialize;

use crate::{
    MAX_REPLY_BYTES, MAX_REQUEST_BYTES, REPLY_CHUNK_BYTES, Reply, ReplyEnvelope, Request,
    RequestEnvelope, VERSION,
};

/// Why bytes were refused as a request or a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Larger than the bound for its kind.
    Oversize { len: usize, max: usize },
    /// The JSON ends early (a reply cut short).
    Truncated,
    /// Not JSON, or JSON of the wrong shape.
    InvalidJson(String),
    /// A `"type"` this side does not know.
    UnknownType(String),
    /// A field this message does not have.
    UnknownField(String),
    /// The peer speaks another version of the protocol.
    VersionMismatch { ours: u32, theirs: u32 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Oversize { len, max } => {
                write!(f, "message of {len} bytes, at most {max} allowed")
            }
            DecodeError::Truncated => f.write_str("message cut short"),
            DecodeError::InvalidJson(e) => write!(f, "invalid message: {e}"),
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::UnknownField(n) => write!(f, "unknown field {n}"),
            DecodeError::VersionMismatch { ours, theirs } => write!(
                f,
                "control protocol version mismatch: this program speaks version {ours}, its peer version {theirs}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The request datagram for `request`.
pub fn encode_request(request: Request) -> Vec<u8> {
    // Serialising our own plain data types cannot fail.
    serde_json::to_vec(&RequestEnvelope {
        version: VERSION,
        request,
    })
    .unwrap_or_default()
}

/// The whole reply for `reply`, before [`split_reply`]. A reply larger
/// than [`MAX_REPLY_BYTES`] is replaced by an error saying so (the lists
/// in replies are capped, so this is a bug, not a client's doing).
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let bytes = serde_json::to_vec(&ReplyEnvelope {
        version: VERSION,
        reply: reply.clone(),
    })
    .unwrap_or_default();
    if bytes.len() <= MAX_REPLY_BYTES {
        return bytes;
    }
    let error = Reply::Error {
        message: format!(
            "the reply would be {} bytes, more than the {MAX_REPLY_BYTES} allowed",
            bytes.len()
        ),
    };
    serde_json::to_vec(&ReplyEnvelope {
        version: VERSION,
        reply: error,
    })
    .unwrap_or_default()
}

/// `reply` (from [`encode_reply`]) cut into datagrams of at most
/// [`REPLY_CHUNK_BYTES`].
pub fn split_reply(reply: &[u8]) -> Vec<Vec<u8>> {
    reply
        .chunks(REPLY_CHUNK_BYTES)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The version of a message, read before its shape is checked, so that a
/// peer of another version is told apart from one that sends garbage.
#[derive(Deserialize)]
struct AnyVersion {
    version: Option<u32>,
}

fn check_version(bytes: &[u8]) -> Result<(), DecodeError> {
    let v: AnyVersion = serde_json::from_slice(bytes).map_err(classify)?;
    match v.version {
        Some(VERSION) => Ok(()),
        Some(theirs) => Err(DecodeError::VersionMismatch {
            ours: VERSION,
            theirs,
        }),
        None => Err(DecodeError::InvalidJson("no version".into())),
    }
}

/// Decodes one request datagram.
pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(DecodeError::Oversize {
            len: bytes.len(),
            max: MAX_REQUEST_BYTES,
        });
    }
    check_version(bytes)?;
    let e: RequestEnvelope = serde_json::from_slice(bytes).map_err(classify)?;
    Ok(e.request)
}

/// Decodes a whole reply (its datagrams joined).
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, DecodeError> {
    if bytes.len() > MAX_REPLY_BYTES {
        return Err(DecodeError::Oversize {
            len: bytes.len(),
            max: MAX_REPLY_BYTES,
        });
    }
    check_version(bytes)?;
    let e: ReplyEnvelope = serde_json::from_slice(bytes).map_err(classify)?;
    Ok(e.reply)
}

/// Joins a reply's datagrams, refusing more than [`MAX_REPLY_BYTES`] as
/// they come rather than at the end.
#[derive(Debug, Default)]
pub struct ReplyAssembler {
    bytes: Vec<u8>,
}

impl ReplyAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next datagram.
    pub fn push(&mut self, datagram: &[u8]) -> Result<(), DecodeError> {
        let len = self.bytes.len() + datagram.len();
        if datagram.len() > REPLY_CHUNK_BYTES || len > MAX_REPLY_BYTES {
            return Err(DecodeError::Oversize {
                len,
                max: MAX_REPLY_BYTES,
            });
        }
        self.bytes.extend_from_slice(datagram);
        Ok(())
    }

    /// The end of the stream: the reply.
    pub fn finish(self) -> Result<Reply, DecodeError> {
        if self.bytes.is_empty() {
            return Err(DecodeError::Truncated);
        }
        decode_reply(&self.bytes)
    }
}

/// Sorts serde_json's errors into what a reader of a message cares about.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapsView;

    #[test]
    fn request_round_trip() {
        for r in [
            Request::ShowSummary,
            Request::ShowMaps,
            Request::ShowDirectories,
            Request::ShowDrops,
            Request::ShowClients,
            Request::ShowMetrics,
            Request::Reload,
            Request::Update,
            Request::Log { verbose: true },
            Request::Log { verbose: false },
        ] {
            let bytes = encode_request(r);
            assert!(bytes.len() <= MAX_REQUEST_BYTES);
            assert_eq!(decode_request(&bytes), Ok(r));
            assert_eq!(r.is_show(), r.command().starts_with("show "));
        }
        assert_eq!(
            String::from_utf8(encode_request(Request::ShowSummary)).unwrap(),
            r#"{"version":1,"request":{"type":"ShowSummary"}}"#
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let d = |s: &str| decode_request(s.as_bytes());
        assert_eq!(
            d(r#"{"version":1,"request":{"type":"Shutdown"}}"#),
            Err(DecodeError::UnknownType("Shutdown".into()))
        );
        assert!(matches!(
            d(r#"{"version":1,"request":{"type":"ShowMaps"},"x":1}"#),
            Err(DecodeError::UnknownField(_))
        ));
        assert_eq!(
            d(r#"{"version":7,"request":{"type":"ShowMaps"}}"#),
            Err(DecodeError::VersionMismatch { ours: 1, theirs: 7 })
        );
        assert_eq!(
            d(r#"{"version":1,"request":{"type":"ShowMa"#),
            Err(DecodeError::Truncated)
        );
        assert!(matches!(
            d("show summary"),
            Err(DecodeError::InvalidJson(_))
        ));
        assert!(matches!(
            d(r#"{"request":1}"#),
            Err(DecodeError::InvalidJson(_))
        ));
        let big = format!(
            r#"{{"version":1,"request":{{"type":"ShowMaps"}},"pad":"{}"}}"#,
            "x".repeat(MAX_REQUEST_BYTES)
        );
        assert!(matches!(d(&big), Err(DecodeError::Oversize { .. })));
    }

    #[test]
    fn replies_split_and_join() {
        let message = "é".repeat(REPLY_CHUNK_BYTES);
        let reply = Reply::Error { message };
        let bytes = encode_reply(&reply);
        let parts = split_reply(&bytes);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.len() <= REPLY_CHUNK_BYTES));
        let mut a = ReplyAssembler::new();
        for p in &parts {
            a.push(p).unwrap();
        }
        assert_eq!(a.finish(), Ok(reply));
        // One datagram short: the JSON ends early.
        let mut a = ReplyAssembler::new();
        for p in &parts[..parts.len() - 1] {
            a.push(p).unwrap();
        }
        assert_eq!(a.finish(), Err(DecodeError::Truncated));
        assert_eq!(ReplyAssembler::new().finish(), Err(DecodeError::Truncated));
    }

    #[test]
    fn assembler_refuses_too_much() {
        let mut a = ReplyAssembler::new();
        let chunk = vec![b' '; REPLY_CHUNK_BYTES];
        let mut refused = false;
        for _ in 0..=MAX_REPLY_BYTES / REPLY_CHUNK_BYTES {
            if a.push(&chunk).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
        assert!(
            ReplyAssembler::new()
                .push(&[b' '; REPLY_CHUNK_BYTES + 1])
                .is_err()
        );
    }

    #[test]
    fn oversize_reply_becomes_an_error() {
        let reply = Reply::Error {
            message: "x".repeat(MAX_REPLY_BYTES),
        };
        let bytes = encode_reply(&reply);
        assert!(bytes.len() < 1024);
        match decode_reply(&bytes) {
            Ok(Reply::Error { message }) => assert!(message.contains("more than"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_view_round_trips() {
        use crate::sample;
        for r in [
            Reply::Maps(MapsView { maps: Vec::new() }),
            Reply::Summary(Box::new(sample::summary())),
            Reply::Maps(sample::maps()),
            Reply::Directories(sample::directories()),
            Reply::Drops(sample::drops()),
            Reply::Clients(sample::clients()),
            Reply::Metrics(Box::new(sample::status())),
            Reply::Done {
                message: "ok".into(),
            },
        ] {
            let bytes = encode_reply(&r);
            let mut a = ReplyAssembler::new();
            for p in split_reply(&bytes) {
                a.push(&p).unwrap();
            }
            assert_eq!(a.finish(), Ok(r));
        }
    }
}
