//! LDAP Content Synchronization (RFC 4533): the request control ypldapd's
//! reader sends, and the controls and intermediate message a directory
//! answers with. Pure encoding and decoding, no I/O.
//!
//! Written here rather than taken from ldap3, whose `content_sync` parsers
//! panic on malformed BER: in a helper built with `panic = "abort"` that is
//! a crash any directory could cause. Every decoder here returns an error
//! for any input instead, and has a fuzz target (`sync_messages`).
//!
//! The ASN.1 module of RFC 4533 uses IMPLICIT tags; the few BER forms it
//! needs (definite lengths, SEQUENCE, SET, OCTET STRING, ENUMERATED,
//! BOOLEAN, context tags) are read by the small [`Ber`] reader below.

use std::fmt;

/// OID of the Sync Request Control.
pub const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";
/// OID of the Sync State Control (on each entry).
pub const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
/// OID of the Sync Done Control (on SearchResultDone).
pub const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
/// OID of the Sync Info Message (an IntermediateResponse).
pub const SYNC_INFO_OID: &str = "1.3.6.1.4.1.4203.1.9.1.4";
/// resultCode e-syncRefreshRequired: the cookie is too old, start over.
pub const E_SYNC_REFRESH_REQUIRED: u32 = 4096;

pub use ipc_proto::MAX_COOKIE;

/// Why a sync message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncError {
    /// The BER ends before what it announces.
    Truncated,
    /// A tag other than the one the grammar has here.
    UnexpectedTag { expected: u8, found: u8 },
    /// A length in a form this reader does not take (indefinite, or more
    /// than four bytes).
    BadLength,
    /// Bytes after the value.
    TrailingBytes,
    /// An ENUMERATED or BOOLEAN of the wrong size or value.
    BadValue,
    /// An entryUUID that is not 16 bytes.
    BadUuid,
    /// A cookie longer than [`MAX_COOKIE`].
    CookieTooLong,
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Truncated => f.write_str("truncated sync message"),
            SyncError::UnexpectedTag { expected, found } => write!(
                f,
                "sync message: tag {found:#04x} where {expected:#04x} belongs"
            ),
            SyncError::BadLength => f.write_str("sync message: unsupported BER length"),
            SyncError::TrailingBytes => f.write_str("sync message: bytes after the value"),
            SyncError::BadValue => f.write_str("sync message: invalid value"),
            SyncError::BadUuid => f.write_str("sync message: entryUUID is not 16 bytes"),
            SyncError::CookieTooLong => {
                write!(f, "sync message: cookie longer than {MAX_COOKIE} bytes")
            }
        }
    }
}

impl std::error::Error for SyncError {}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OCTET_STRING: u8 = 0x04;
const ENUMERATED: u8 = 0x0a;
const BOOLEAN: u8 = 0x01;

/// A BER reader over one value's bytes.
#[derive(Debug, Clone, Copy)]
struct Ber<'a> {
    b: &'a [u8],
}

impl<'a> Ber<'a> {
    fn new(b: &'a [u8]) -> Self {
        Ber { b }
    }

    fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.b.first().copied()
    }

    /// The next TLV: its tag and contents.
    fn next(&mut self) -> Result<(u8, &'a [u8]), SyncError> {
        let (&tag, rest) = self.b.split_first().ok_or(SyncError::Truncated)?;
        let (&first, mut rest) = rest.split_first().ok_or(SyncError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(SyncError::BadLength);
            }
            let (bytes, r) = rest.split_at_checked(n).ok_or(SyncError::Truncated)?;
            rest = r;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (value, rest) = rest.split_at_checked(len).ok_or(SyncError::Truncated)?;
        self.b = rest;
        Ok((tag, value))
    }

    /// The next TLV, which must have tag `want`.
    fn expect(&mut self, want: u8) -> Result<&'a [u8], SyncError> {
        let (tag, v) = self.next()?;
        if tag != want {
            return Err(SyncError::UnexpectedTag {
                expected: want,
                found: tag,
            });
        }
        Ok(v)
    }

    /// An optional TLV with tag `want`.
    fn optional(&mut self, want: u8) -> Result<Option<&'a [u8]>, SyncError> {
        if self.peek_tag() == Some(want) {
            self.expect(want).map(Some)
        } else {
            Ok(None)
        }
    }

    fn finish(&self) -> Result<(), SyncError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(SyncError::TrailingBytes)
        }
    }
}

fn small_uint(v: &[u8]) -> Result<u8, SyncError> {
    match v {
        [n] if *n < 0x80 => Ok(*n),
        _ => Err(SyncError::BadValue),
    }
}

fn boolean(v: &[u8]) -> Result<bool, SyncError> {
    match v {
        [0] => Ok(false),
        [_] => Ok(true),
        _ => Err(SyncError::BadValue),
    }
}

fn cookie(v: &[u8]) -> Result<Vec<u8>, SyncError> {
    if v.len() > MAX_COOKIE {
        return Err(SyncError::CookieTooLong);
    }
    Ok(v.to_vec())
}

fn uuid(v: &[u8]) -> Result<[u8; 16], SyncError> {
    v.try_into().map_err(|_| SyncError::BadUuid)
}

/// Writes a BER length.
fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn put_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    put_len(out, value.len());
    out.extend_from_slice(value);
}

/// The mode of a sync search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The changes since the cookie, then the search ends.
    RefreshOnly,
    /// The changes since the cookie, then every change as it happens.
    RefreshAndPersist,
}

/// The value of the Sync Request Control.
pub fn encode_request(mode: Mode, cookie: Option<&[u8]>, reload_hint: bool) -> Vec<u8> {
    let mut inner = Vec::new();
    let m = match mode {
        Mode::RefreshOnly => 1,
        Mode::RefreshAndPersist => 3,
    };
    put_tlv(&mut inner, ENUMERATED, &[m]);
    if let Some(c) = cookie {
        put_tlv(&mut inner, OCTET_STRING, c);
    }
    if reload_hint {
        put_tlv(&mut inner, BOOLEAN, &[0xff]);
    }
    let mut out = Vec::new();
    put_tlv(&mut out, SEQUENCE, &inner);
    out
}

/// What the Sync State Control says of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Unchanged, still in the result (present phase).
    Present,
    Add,
    Modify,
    /// Deleted, or no longer matching the search.
    Delete,
}

/// The Sync State Control of one SearchResultEntry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateControl {
    pub state: State,
    pub uuid: [u8; 16],
    pub cookie: Option<Vec<u8>>,
}

/// Reads the value of a Sync State Control.
pub fn decode_state(value: &[u8]) -> Result<StateControl, SyncError> {
    let mut outer = Ber::new(value);
    let mut seq = Ber::new(outer.expect(SEQUENCE)?);
    outer.finish()?;
    let state = match small_uint(seq.expect(ENUMERATED)?)? {
        0 => State::Present,
        1 => State::Add,
        2 => State::Modify,
        3 => State::Delete,
        _ => return Err(SyncError::BadValue),
    };
    let uuid = uuid(seq.expect(OCTET_STRING)?)?;
    let cookie = seq.optional(OCTET_STRING)?.map(cookie).transpose()?;
    seq.finish()?;
    Ok(StateControl {
        state,
        uuid,
        cookie,
    })
}

/// The Sync Done Control, on the SearchResultDone of a refreshOnly search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneControl {
    pub cookie: Option<Vec<u8>>,
    /// True: entries not returned were deleted (else: a present phase
    /// listed those still there).
    pub refresh_deletes: bool,
}

/// Reads the value of a Sync Done Control.
pub fn decode_done(value: &[u8]) -> Result<DoneControl, SyncError> {
    let mut outer = Ber::new(value);
    let mut seq = Ber::new(outer.expect(SEQUENCE)?);
    outer.finish()?;
    let cookie = seq.optional(OCTET_STRING)?.map(cookie).transpose()?;
    let refresh_deletes = seq
        .optional(BOOLEAN)?
        .map(boolean)
        .transpose()?
        .unwrap_or(false);
    seq.finish()?;
    Ok(DoneControl {
        cookie,
        refresh_deletes,
    })
}

/// A Sync Info Message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Info {
    /// A new cookie, nothing else.
    NewCookie(Vec<u8>),
    /// The end of the delete phase (`done`: the refresh is over).
    RefreshDelete { cookie: Option<Vec<u8>>, done: bool },
    /// The end of the present phase (`done`: the refresh is over).
    RefreshPresent { cookie: Option<Vec<u8>>, done: bool },
    /// Many entries at once by UUID: deleted (`refresh_deletes`) or
    /// present.
    IdSet {
        cookie: Option<Vec<u8>>,
        refresh_deletes: bool,
        uuids: Vec<[u8; 16]>,
    },
}

/// The most UUIDs one `syncIdSet` may carry (a present phase of a large
/// directory comes as many sets of some hundreds).
pub const MAX_ID_SET: usize = 1 << 20;

/// Reads the value of a Sync Info Message.
pub fn decode_info(value: &[u8]) -> Result<Info, SyncError> {
    let mut outer = Ber::new(value);
    let (tag, v) = outer.next()?;
    outer.finish()?;
    let phase = |v: &[u8]| -> Result<(Option<Vec<u8>>, bool), SyncError> {
        let mut seq = Ber::new(v);
        let cookie = seq.optional(OCTET_STRING)?.map(cookie).transpose()?;
        let done = seq
            .optional(BOOLEAN)?
            .map(boolean)
            .transpose()?
            .unwrap_or(true);
        seq.finish()?;
        Ok((cookie, done))
    };
    match tag {
        0x80 => Ok(Info::NewCookie(cookie(v)?)),
        0xa1 => phase(v).map(|(cookie, done)| Info::RefreshDelete { cookie, done }),
        0xa2 => phase(v).map(|(cookie, done)| Info::RefreshPresent { cookie, done }),
        0xa3 => {
            let mut seq = Ber::new(v);
            let cookie = seq.optional(OCTET_STRING)?.map(cookie).transpose()?;
            let refresh_deletes = seq
                .optional(BOOLEAN)?
                .map(boolean)
                .transpose()?
                .unwrap_or(false);
            let mut set = Ber::new(seq.expect(SET)?);
            seq.finish()?;
            let mut uuids = Vec::new();
            while !set.is_empty() {
                if uuids.len() == MAX_ID_SET {
                    return Err(SyncError::BadValue);
                }
                uuids.push(uuid(set.expect(OCTET_STRING)?)?);
            }
            Ok(Info::IdSet {
                cookie,
                refresh_deletes,
                uuids,
            })
        }
        found => Err(SyncError::UnexpectedTag {
            expected: 0x80,
            found,
        }),
    }
}

/// An entryUUID in its text form (RFC 4122), as directories print it.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

#[cfg(test)]
mod tests;
