//! A small LDAP responder for failure injection: it answers a group's
//! `member` in ranges as Active Directory documents it (and as Samba never
//! does by itself), or breaks that protocol on purpose. Real directories
//! are used everywhere else.
//!
//! It speaks just enough LDAPv3 (BER by hand): any bind succeeds; a
//! subtree search returns the entries under its base; a base search for
//! `ATTR;range=LO-*` on an entry returns the next range. Filters and
//! controls are ignored (no paged-results control is sent back, so a
//! paging client sees one page), but for one: a content synchronization
//! request (RFC 4533) is answered as a server that does not persist
//! answers it, whatever its mode, as refreshOnly (see [`sync_answer`]).
//! A directory offers it when one of its entries is a root DSE (DN "")
//! listing the Sync Request Control in `supportedControl`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// OIDs of RFC 4533's Sync Request, Sync State and Sync Done controls.
pub const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";
const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";

/// How many values one answer carries at most by default (AD's
/// `MaxValRange`, a policy an administrator may change).
pub const MAX_VAL_RANGE: usize = 1500;

/// One entry: its DN and (attribute, values) pairs.
#[derive(Debug, Clone)]
pub struct MockEntry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<String>)>,
}

impl MockEntry {
    /// A posixAccount-like user: `uid`, `uidNumber`, `gidNumber` 100,
    /// `gecos`, `homeDirectory` `/home/<name>`, `loginShell` `/bin/sh`.
    pub fn user(dn: String, name: &str, uid: u32) -> MockEntry {
        MockEntry {
            dn,
            attributes: [
                ("uid", name.to_owned()),
                ("uidNumber", uid.to_string()),
                ("gidNumber", "100".to_owned()),
                ("gecos", name.to_owned()),
                ("homeDirectory", format!("/home/{name}")),
                ("loginShell", "/bin/sh".to_owned()),
            ]
            .into_iter()
            .map(|(a, v)| (a.to_owned(), vec![v]))
            .collect(),
        }
    }
}

/// How the responder answers the searches for a range's rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranges {
    /// As AD: `member;range=1500-2999`, …, the last `member;range=N-*`.
    Complete,
    /// The entry, without the attribute at all.
    Missing,
    /// No entry: the search just ends.
    NoEntry,
    /// The first range again, forever.
    Stuck,
}

/// The directory the responder serves.
#[derive(Debug)]
pub struct MockDirectory {
    pub entries: Vec<MockEntry>,
    /// Attributes (lower case) returned in ranges when they have more
    /// than `range_size` values.
    pub ranged: Vec<String>,
    /// Values per range ([`MAX_VAL_RANGE`] on a default AD).
    pub range_size: usize,
    /// How range searches are answered; a test may change it.
    pub ranges: Mutex<Ranges>,
}

impl MockDirectory {
    /// Answers range searches as `r` says from now on.
    pub fn set_ranges(&self, r: Ranges) {
        *self.ranges.lock().unwrap_or_else(PoisonError::into_inner) = r;
    }

    fn ranges(&self) -> Ranges {
        *self.ranges.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves `dir` on 127.0.0.1:389 in namespace `ns` (see [`serve`]).
pub fn serve_in(ns: &crate::Namespace, dir: MockDirectory) -> Arc<MockDirectory> {
    let listener = ns
        .spawn_in_net(|| TcpListener::bind("127.0.0.1:389"))
        .join()
        .expect("thread")
        .expect("bind 127.0.0.1:389 in the namespace");
    serve(listener, dir)
}

/// Serves `dir` on `listener` (bound in the test's namespace), one thread
/// per connection, until the process ends.
pub fn serve(listener: TcpListener, dir: MockDirectory) -> Arc<MockDirectory> {
    let dir = Arc::new(dir);
    let served = dir.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let dir = dir.clone();
            std::thread::spawn(move || {
                let _ = connection(stream, &dir);
            });
        }
    });
    served
}

fn connection(mut s: TcpStream, dir: &MockDirectory) -> std::io::Result<()> {
    loop {
        let Some(message) = read_message(&mut s)? else {
            return Ok(());
        };
        let Some((id, op, body)) = parse_message(&message) else {
            return Ok(());
        };
        match op {
            // BindRequest: success.
            0x60 => s.write_all(&message_of(id, &result(0x61, 0)))?,
            // SearchRequest.
            0x63 => {
                let Some(search) = parse_search(body) else {
                    return Ok(());
                };
                let sync = message
                    .windows(SYNC_REQUEST_OID.len())
                    .any(|w| w == SYNC_REQUEST_OID.as_bytes());
                let entries = answer(dir, &search);
                let out = if sync {
                    sync_answer(id, &entries)
                } else {
                    let mut out = Vec::new();
                    for e in &entries {
                        out.extend(message_of(id, &entry(e)));
                    }
                    out.extend(message_of(id, &result(0x65, 0)));
                    out
                };
                s.write_all(&out)?;
            }
            // UnbindRequest, or anything else: close.
            _ => return Ok(()),
        }
    }
}

struct Search {
    base: String,
    /// 0 base, 1 one level, 2 subtree.
    scope: u8,
    attributes: Vec<String>,
}

/// The entries answering `q`, each with the values it may carry.
fn answer(dir: &MockDirectory, q: &Search) -> Vec<MockEntry> {
    if q.scope == 0 {
        let Some(e) = dir
            .entries
            .iter()
            .find(|e| e.dn.eq_ignore_ascii_case(&q.base))
        else {
            return Vec::new();
        };
        // A base search asking for a range's rest.
        let asked = q.attributes.iter().find_map(|a| {
            let (name, lo) = a.split_once(";range=")?;
            let lo: usize = lo.strip_suffix("-*")?.parse().ok()?;
            Some((name.to_owned(), lo))
        });
        let Some((name, lo)) = asked else {
            return vec![first_answer(dir, e)];
        };
        let values = e
            .attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[]);
        return match dir.ranges() {
            Ranges::Complete => vec![MockEntry {
                dn: e.dn.clone(),
                attributes: vec![range_of(&name, values, lo, dir.range_size)],
            }],
            Ranges::Missing => vec![MockEntry {
                dn: e.dn.clone(),
                attributes: Vec::new(),
            }],
            Ranges::NoEntry => Vec::new(),
            Ranges::Stuck => vec![MockEntry {
                dn: e.dn.clone(),
                attributes: vec![range_of(&name, values, 0, dir.range_size)],
            }],
        };
    }
    let base = q.base.to_ascii_lowercase();
    dir.entries
        .iter()
        .filter(|e| e.dn.to_ascii_lowercase().ends_with(&base))
        .map(|e| first_answer(dir, e))
        .collect()
}

/// An entry as a plain search returns it: a ranged attribute with too many
/// values as `ATTR;range=0-1499` (and an empty `ATTR`).
fn first_answer(dir: &MockDirectory, e: &MockEntry) -> MockEntry {
    let mut attributes = Vec::new();
    for (n, v) in &e.attributes {
        if dir.ranged.contains(&n.to_ascii_lowercase()) && v.len() > dir.range_size {
            attributes.push((n.clone(), Vec::new()));
            attributes.push(range_of(n, v, 0, dir.range_size));
        } else {
            attributes.push((n.clone(), v.clone()));
        }
    }
    MockEntry {
        dn: e.dn.clone(),
        attributes,
    }
}

/// `name;range=lo-hi` with values lo..=hi, or `name;range=lo-*` with the
/// rest when they fit in `size`.
fn range_of(name: &str, values: &[String], lo: usize, size: usize) -> (String, Vec<String>) {
    let lo = lo.min(values.len());
    let end = (lo + size.max(1)).min(values.len());
    let label = if end == values.len() {
        format!("{name};range={lo}-*")
    } else {
        format!("{name};range={lo}-{}", end - 1)
    };
    (label, values[lo..end].to_vec())
}

/// Cookies handed out, so that each refresh gets a new one.
static COOKIES: AtomicU64 = AtomicU64::new(0);

/// A sync search answered as refreshOnly, whatever mode it asked for:
/// every entry, each with a Sync State Control (`add`, an entryUUID made
/// from its DN), then the SearchResultDone with a Sync Done Control
/// carrying a new cookie and refreshDeletes FALSE (a present phase: what
/// was not sent is gone). The search ends with its refresh: this server
/// never persists.
fn sync_answer(id: i64, entries: &[MockEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut state = encode(0x0a, &[1]);
        state.extend(encode(0x04, &uuid_of(&e.dn)));
        let control = control(SYNC_STATE_OID, &encode(0x30, &state));
        out.extend(message_with(id, &entry(e), &control));
    }
    let n = COOKIES.fetch_add(1, Ordering::Relaxed) + 1;
    let done = encode(0x30, &octets(&format!("mock-{n}")));
    out.extend(message_with(
        id,
        &result(0x65, 0),
        &control(SYNC_DONE_OID, &done),
    ));
    out
}

/// A stable entryUUID for `dn`: its FNV-1a hash, twice.
fn uuid_of(dn: &str) -> [u8; 16] {
    let h = dn
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .to_be_bytes();
    let mut u = [0u8; 16];
    u[..8].copy_from_slice(&h);
    u[8..].copy_from_slice(&h);
    u
}

/// One Control: its OID and value.
fn control(oid: &str, value: &[u8]) -> Vec<u8> {
    let mut c = octets(oid);
    c.extend(encode(0x04, value));
    encode(0x30, &c)
}

/// An LDAPMessage with `controls` (`[0] Controls`).
fn message_with(id: i64, op: &[u8], controls: &[u8]) -> Vec<u8> {
    let mut content = encode(0x02, &ber_integer(id));
    content.extend_from_slice(op);
    content.extend(encode(0xa0, controls));
    encode(0x30, &content)
}

// ---- BER, as far as LDAP needs it ----

/// Reads one LDAPMessage (a SEQUENCE) whole; `None` at end of stream.
fn read_message(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 2];
    if s.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let mut msg = head.to_vec();
    let len = if head[1] & 0x80 == 0 {
        usize::from(head[1])
    } else {
        let n = usize::from(head[1] & 0x7f);
        if n == 0 || n > 4 {
            return Ok(None);
        }
        let mut b = vec![0u8; n];
        s.read_exact(&mut b)?;
        msg.extend_from_slice(&b);
        b.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x))
    };
    if len > 1 << 20 {
        return Ok(None);
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    msg.extend(body);
    Ok(Some(msg))
}

/// One TLV at the start of `b`: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l, mut b) = b.split_first()?;
    let len = if l & 0x80 == 0 {
        usize::from(l)
    } else {
        let n = usize::from(l & 0x7f);
        let (bytes, rest) = b.split_at_checked(n)?;
        b = rest;
        bytes.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x))
    };
    let (content, rest) = b.split_at_checked(len)?;
    Some((tag, content, rest))
}

fn integer(content: &[u8]) -> i64 {
    content.iter().fold(0i64, |a, &x| (a << 8) | i64::from(x))
}

/// (message id, protocol op tag, op content).
fn parse_message(m: &[u8]) -> Option<(i64, u8, &[u8])> {
    let (_, seq, _) = tlv(m)?;
    let (_, id, rest) = tlv(seq)?;
    let (op, body, _) = tlv(rest)?;
    Some((integer(id), op, body))
}

fn parse_search(b: &[u8]) -> Option<Search> {
    let (_, base, b) = tlv(b)?;
    let (_, scope, b) = tlv(b)?;
    let (_, _deref, b) = tlv(b)?;
    let (_, _size, b) = tlv(b)?;
    let (_, _time, b) = tlv(b)?;
    let (_, _types_only, b) = tlv(b)?;
    let (_, _filter, b) = tlv(b)?;
    let (_, mut list, _) = tlv(b)?;
    let mut attributes = Vec::new();
    while !list.is_empty() {
        let (_, a, rest) = tlv(list)?;
        attributes.push(String::from_utf8_lossy(a).into_owned());
        list = rest;
    }
    Some(Search {
        base: String::from_utf8_lossy(base).into_owned(),
        scope: *scope.first()?,
        attributes,
    })
}

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn octets(s: &str) -> Vec<u8> {
    encode(0x04, s.as_bytes())
}

/// The shortest two's-complement bytes of `n` (a BER INTEGER's content).
fn ber_integer(n: i64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    b[i..].to_vec()
}

fn message_of(id: i64, op: &[u8]) -> Vec<u8> {
    let mut content = encode(0x02, &ber_integer(id));
    content.extend_from_slice(op);
    encode(0x30, &content)
}

/// An LDAPResult under `tag` (BindResponse, SearchResultDone).
fn result(tag: u8, code: u8) -> Vec<u8> {
    let mut c = encode(0x0a, &[code]);
    c.extend(octets(""));
    c.extend(octets(""));
    encode(tag, &c)
}

fn entry(e: &MockEntry) -> Vec<u8> {
    let mut attrs = Vec::new();
    for (n, vs) in &e.attributes {
        let mut set = Vec::new();
        for v in vs {
            set.extend(octets(v));
        }
        let mut pa = octets(n);
        pa.extend(encode(0x31, &set));
        attrs.extend(encode(0x30, &pa));
    }
    let mut c = octets(&e.dn);
    c.extend(encode(0x30, &attrs));
    encode(0x64, &c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_ad_labels_them() {
        let v: Vec<String> = (0..4000).map(|i| i.to_string()).collect();
        let (l, vs) = range_of("member", &v, 0, MAX_VAL_RANGE);
        assert_eq!((l.as_str(), vs.len()), ("member;range=0-1499", 1500));
        let (l, vs) = range_of("member", &v, 3000, MAX_VAL_RANGE);
        assert_eq!((l.as_str(), vs.len()), ("member;range=3000-*", 1000));
    }

    #[test]
    fn message_ids_encode_as_ber_integers() {
        for (id, want) in [
            (1i64, vec![1u8]),
            (127, vec![127]),
            (128, vec![0, 128]),
            (300, vec![1, 44]),
        ] {
            let m = message_of(id, &[]);
            let (_, seq, _) = tlv(&m).expect("sequence");
            let (tag, content, _) = tlv(seq).expect("integer");
            assert_eq!((tag, content.to_vec()), (0x02, want), "{id}");
            assert_eq!(integer(content), id);
        }
    }
}
