//! The YP procedures, pure: a decoded call, the current snapshot, the
//! server's settings and what the transport knows about the caller go in;
//! reply bytes (or "no reply", or a resumable ALL stream) come out.
//!
//! Order of checks for a map request: allow-list (YP_NODOM), domain
//! (YP_NODOM), map known and served (YP_NOMAP), snapshot loaded (else no
//! reply, as upstream; the daemon is not registered then anyway),
//! privileged port for `master.passwd.*` (YP_YPERR), then the key.

use std::borrow::Cow;
use std::sync::Arc;

use crate::maps::MapName;
use crate::proto::{self, YpStat};
use crate::record::push_fragment;
use crate::rpc::{self, Call, Parsed};
use crate::snapshot::{Position, Snapshot};
use crate::xdr::XdrWriter;

/// Settings that change only on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The one domain served. An empty domain serves nothing.
    pub domain: String,
    served: [bool; MapName::ALL.len()],
    /// The other maps served, in configuration order.
    others: Vec<MapName>,
    /// Answer to MASTER (at most 64 bytes; longer names are cut, since the
    /// wire type `peername` cannot carry more).
    master: String,
}

impl ServerConfig {
    pub fn new(domain: &str, maps: &[MapName], master_host: &str) -> Self {
        let mut served = [false; MapName::ALL.len()];
        let mut others = Vec::new();
        for &m in maps {
            match crate::snapshot::map_index(m) {
                Some(i) => served[i] = true,
                None if !others.contains(&m) => others.push(m),
                None => {}
            }
        }
        let mut master = master_host.to_owned();
        if master.len() > proto::YPMAXPEER {
            let mut end = proto::YPMAXPEER;
            while !master.is_char_boundary(end) {
                end -= 1;
            }
            master.truncate(end);
        }
        ServerConfig {
            domain: domain.to_owned(),
            served,
            others,
            master,
        }
    }

    pub fn serves(&self, m: MapName) -> bool {
        match crate::snapshot::map_index(m) {
            Some(i) => self.served[i],
            None => self.others.contains(&m),
        }
    }

    /// The served maps (MAPLIST's answer): the users' and groups' in
    /// table order, then the others in configuration order.
    pub fn served_maps(&self) -> impl Iterator<Item = MapName> + '_ {
        MapName::ALL
            .into_iter()
            .filter(|&m| self.serves(m))
            .chain(self.others.iter().copied())
    }

    pub fn master(&self) -> &str {
        &self.master
    }

    fn domain_ok(&self, d: &[u8]) -> bool {
        !self.domain.is_empty() && d == self.domain.as_bytes()
    }
}

/// What the transport knows about the caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The allow-list admits the source address.
    pub allowed: bool,
    /// The source port is below 1024.
    pub privileged: bool,
    /// The request came over TCP (ALL is streamed only there).
    pub tcp: bool,
}

/// The result of one request.
#[derive(Debug)]
pub enum Outcome {
    /// Send these bytes (for TCP: as one record).
    Reply(Vec<u8>),
    /// Send nothing.
    NoReply,
    /// A YPPROC_ALL answer, to be pulled fragment by fragment.
    Stream(AllStream),
}

impl Outcome {
    /// The reply bytes, if a plain reply (tests and UDP).
    pub fn reply(&self) -> Option<&[u8]> {
        match self {
            Outcome::Reply(b) => Some(b),
            _ => None,
        }
    }
}

/// What the server counts of one request: its procedure (for calls to
/// program 100004 version 2 only) and whether a secret map was refused to
/// an unprivileged source port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Noted {
    pub procedure: Option<u32>,
    pub unprivileged_refused: bool,
}

/// Parses and answers one message.
pub fn handle_message(
    msg: &[u8],
    cfg: &ServerConfig,
    snap: Option<&Arc<Snapshot>>,
    caller: Caller,
) -> Outcome {
    handle_message_noted(msg, cfg, snap, caller).0
}

/// [`handle_message`], also saying what the request was.
pub fn handle_message_noted(
    msg: &[u8],
    cfg: &ServerConfig,
    snap: Option<&Arc<Snapshot>>,
    caller: Caller,
) -> (Outcome, Noted) {
    let mut noted = Noted::default();
    let outcome = match rpc::parse_call(msg) {
        Parsed::Drop => Outcome::NoReply,
        Parsed::Reject(r) => Outcome::Reply(r),
        Parsed::Call(c) => {
            if c.prog == proto::YPPROG && c.vers == proto::YPVERS {
                noted.procedure = Some(c.proc_);
            }
            dispatch_noted(&c, cfg, snap, caller, &mut noted)
        }
    };
    (outcome, noted)
}

/// Answers a call whose RPC header was accepted.
pub fn dispatch(
    call: &Call<'_>,
    cfg: &ServerConfig,
    snap: Option<&Arc<Snapshot>>,
    caller: Caller,
) -> Outcome {
    dispatch_noted(call, cfg, snap, caller, &mut Noted::default())
}

fn dispatch_noted(
    call: &Call<'_>,
    cfg: &ServerConfig,
    snap: Option<&Arc<Snapshot>>,
    caller: Caller,
    noted: &mut Noted,
) -> Outcome {
    let xid = call.xid;
    if call.prog != proto::YPPROG {
        return Outcome::Reply(rpc::prog_unavail(xid));
    }
    if call.vers != proto::YPVERS {
        return Outcome::Reply(rpc::prog_mismatch(xid, proto::YPVERS, proto::YPVERS));
    }
    let garbage = || Outcome::Reply(rpc::garbage_args(xid));
    match call.proc_ {
        proto::YPPROC_NULL => Outcome::Reply(rpc::success(xid).into_inner()),
        proto::YPPROC_DOMAIN | proto::YPPROC_DOMAIN_NONACK => {
            let Ok(d) = proto::decode_domain(call.args) else {
                return garbage();
            };
            let ok = caller.allowed && cfg.domain_ok(d);
            if !ok && call.proc_ == proto::YPPROC_DOMAIN_NONACK {
                return Outcome::NoReply;
            }
            let mut w = rpc::success(xid);
            w.bool(ok);
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_MATCH => {
            let Ok(req) = proto::decode_key(call.args) else {
                return garbage();
            };
            let mut w = rpc::success(xid);
            match gate(req.domain, req.map, cfg, snap, caller, Some(noted)) {
                Gate::NoReply => return Outcome::NoReply,
                Gate::Stat(s) => proto::put_resp_val(&mut w, s, b""),
                Gate::Open(map, snap) => match lookup(snap, map, req.domain, req.key) {
                    Ok(v) => proto::put_resp_val(&mut w, YpStat::True, v),
                    Err(s) => proto::put_resp_val(&mut w, s, b""),
                },
            }
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_FIRST | proto::YPPROC_NEXT => {
            // FIRST takes ypreq_nokey, as every server decodes it (libnsl's
            // yp.x says ypreq_key; its clients send nokey).
            let (domain, map, key) = if call.proc_ == proto::YPPROC_FIRST {
                match proto::decode_nokey(call.args) {
                    Ok(r) => (r.domain, r.map, None),
                    Err(_) => return garbage(),
                }
            } else {
                match proto::decode_key(call.args) {
                    Ok(r) => (r.domain, r.map, Some(cut_nul(r.key))),
                    Err(_) => return garbage(),
                }
            };
            let mut w = rpc::success(xid);
            match gate(domain, map, cfg, snap, caller, Some(noted)) {
                Gate::NoReply => return Outcome::NoReply,
                Gate::Stat(s) => proto::put_resp_key_val(&mut w, s, b"", b""),
                Gate::Open(map, snap) => {
                    let e = match key {
                        None => snap.first(map),
                        Some(k) => snap.next_after(map, k),
                    };
                    match e {
                        Some((k, v)) => proto::put_resp_key_val(&mut w, YpStat::True, k, v),
                        None => proto::put_resp_key_val(&mut w, YpStat::NoMore, b"", b""),
                    }
                }
            }
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_ALL => {
            let Ok(req) = proto::decode_nokey(call.args) else {
                return garbage();
            };
            let stat = match gate(req.domain, req.map, cfg, snap, caller, Some(noted)) {
                Gate::NoReply => return Outcome::NoReply,
                Gate::Stat(s) => s,
                Gate::Open(map, snap) if caller.tcp => {
                    return Outcome::Stream(AllStream::new(xid, Arc::clone(snap), map));
                }
                // A whole map does not fit a datagram; clients use TCP.
                Gate::Open(..) => YpStat::YpErr,
            };
            let mut w = rpc::success(xid);
            proto::put_all_more(&mut w, stat, b"", b"");
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_MASTER => {
            let Ok(req) = proto::decode_nokey(call.args) else {
                return garbage();
            };
            let mut w = rpc::success(xid);
            match gate(req.domain, req.map, cfg, snap, caller, None) {
                Gate::Stat(s) => proto::put_resp_master(&mut w, s, b""),
                _ => proto::put_resp_master(&mut w, YpStat::True, cfg.master.as_bytes()),
            }
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_ORDER => {
            let Ok(req) = proto::decode_nokey(call.args) else {
                return garbage();
            };
            let mut w = rpc::success(xid);
            // The order number reveals nothing: no privileged-port check.
            match gate(req.domain, req.map, cfg, snap, caller, None) {
                Gate::NoReply => return Outcome::NoReply,
                Gate::Stat(s) => proto::put_resp_order(&mut w, s, 0),
                Gate::Open(map, snap) => {
                    proto::put_resp_order(&mut w, YpStat::True, snap.map_order(map));
                }
            }
            Outcome::Reply(w.into_inner())
        }
        proto::YPPROC_MAPLIST => {
            let Ok(d) = proto::decode_domain(call.args) else {
                return garbage();
            };
            let mut w = rpc::success(xid);
            if caller.allowed && cfg.domain_ok(d) {
                proto::put_resp_maplist(
                    &mut w,
                    YpStat::True,
                    cfg.served_maps().map(MapName::as_str),
                );
            } else {
                proto::put_resp_maplist(&mut w, YpStat::NoDom, std::iter::empty());
            }
            Outcome::Reply(w.into_inner())
        }
        // XFR and CLEAR (and anything unknown): transfers are not offered.
        _ => Outcome::Reply(rpc::proc_unavail(xid)),
    }
}

enum Gate<'s> {
    Stat(YpStat),
    NoReply,
    Open(MapName, &'s Arc<Snapshot>),
}

/// The checks every map request goes through, in order. With `secret`,
/// a secret map is refused to an unprivileged port, and noted there.
fn gate<'s>(
    domain: &[u8],
    map: &[u8],
    cfg: &ServerConfig,
    snap: Option<&'s Arc<Snapshot>>,
    caller: Caller,
    secret: Option<&mut Noted>,
) -> Gate<'s> {
    if !caller.allowed || !cfg.domain_ok(domain) {
        return Gate::Stat(YpStat::NoDom);
    }
    let Some(m) = std::str::from_utf8(map)
        .ok()
        .and_then(|s| s.parse::<MapName>().ok())
        .filter(|&m| cfg.serves(m))
    else {
        return Gate::Stat(YpStat::NoMap);
    };
    let Some(snap) = snap else {
        return Gate::NoReply;
    };
    if let Some(noted) = secret {
        if m.is_secret() && !caller.privileged {
            noted.unprivileged_refused = true;
            return Gate::Stat(YpStat::YpErr);
        }
    }
    Gate::Open(m, snap)
}

/// Keys end at the first NUL: some clients send a trailing one.
fn cut_nul(key: &[u8]) -> &[u8] {
    match key.iter().position(|&b| b == 0) {
        Some(i) => &key[..i],
        None => key,
    }
}

/// A decimal id 0..=u32::MAX, digits only.
fn parse_id(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn lookup<'s>(
    snap: &'s Snapshot,
    map: MapName,
    domain: &[u8],
    key: &[u8],
) -> Result<&'s [u8], YpStat> {
    let key = lookup_key(map, domain, key)?;
    snap.get(map, &key).ok_or(YpStat::NoKey)
}

/// The key a MATCH of `key` looks up in `map`: without its trailing NUL,
/// ids (of the by-id maps and netid's `unix.<uid>@<domain>`) in canonical
/// decimal form.
fn lookup_key<'k>(map: MapName, domain: &[u8], key: &'k [u8]) -> Result<Cow<'k, [u8]>, YpStat> {
    let key = cut_nul(key);
    match map {
        MapName::PasswdByUid | MapName::MasterPasswdByUid | MapName::GroupByGid => {
            let id = parse_id(key).ok_or(YpStat::BadArgs)?;
            Ok(Cow::Owned(id.to_string().into_bytes()))
        }
        MapName::NetidByName => {
            let rest = key.strip_prefix(b"unix.").ok_or(YpStat::BadArgs)?;
            let at = rest
                .iter()
                .position(|&b| b == b'@')
                .ok_or(YpStat::BadArgs)?;
            let (uid, dom) = (&rest[..at], &rest[at + 1..]);
            if dom != domain {
                return Err(YpStat::BadArgs);
            }
            let uid = parse_id(uid).ok_or(YpStat::BadArgs)?;
            let mut canon = format!("unix.{uid}@").into_bytes();
            canon.extend_from_slice(domain);
            Ok(Cow::Owned(canon))
        }
        _ => Ok(Cow::Borrowed(key)),
    }
}

/// Reads ahead what the MATCH requests among `msgs` (a batch received at
/// once) will look up ([`Snapshot::warm`]), so that answering them waits
/// for memory once per batch rather than once per request. Other requests,
/// and those that will be refused, are passed over; nothing is answered.
pub fn warm_matches<'m>(msgs: impl Iterator<Item = &'m [u8]>, snap: &Snapshot) {
    let calls: Vec<(MapName, Cow<'m, [u8]>)> = msgs
        .filter_map(|msg| {
            let Parsed::Call(c) = rpc::parse_call(msg) else {
                return None;
            };
            if c.proc_ != proto::YPPROC_MATCH || c.prog != proto::YPPROG {
                return None;
            }
            let req = proto::decode_key(c.args).ok()?;
            let map = std::str::from_utf8(req.map).ok()?.parse::<MapName>().ok()?;
            Some((map, lookup_key(map, req.domain, req.key).ok()?))
        })
        .collect();
    let lookups: Vec<(MapName, &[u8])> = calls.iter().map(|(m, k)| (*m, &k[..])).collect();
    snap.warm(&lookups);
}

/// Default payload size of one ALL fragment.
pub const ALL_FRAGMENT: usize = 16 * 1024;

/// A YPPROC_ALL reply in progress: one RPC record sent as a sequence of
/// fragments, each produced on demand, so the transport can stop when the
/// client reads slowly. It holds the snapshot it started with, whatever
/// is swapped in meanwhile.
#[derive(Debug)]
pub struct AllStream {
    xid: u32,
    snap: Arc<Snapshot>,
    map: MapName,
    /// Where in the map: the snapshot's merge of its build and changes.
    pos: Position,
    started: bool,
    done: bool,
}

impl AllStream {
    pub fn new(xid: u32, snap: Arc<Snapshot>, map: MapName) -> Self {
        AllStream {
            xid,
            snap,
            map,
            pos: Position::START,
            started: false,
            done: false,
        }
    }

    /// Every fragment has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Appends the next fragment (header included) of about `target`
    /// payload bytes to `out`. Does nothing once done.
    pub fn write_fragment(&mut self, out: &mut Vec<u8>, target: usize) {
        if self.done {
            return;
        }
        let mut w = XdrWriter::with_capacity(target + 2 * proto::YPMAXRECORD + 64);
        if !self.started {
            rpc::accepted_header(&mut w, self.xid, rpc::SUCCESS);
            self.started = true;
        }
        while w.buf.len() < target {
            match self.snap.entry_at(self.map, self.pos) {
                Some((k, v, next)) => {
                    proto::put_all_more(&mut w, YpStat::True, k, v);
                    self.pos = next;
                }
                None => {
                    proto::put_all_end(&mut w);
                    self.done = true;
                    break;
                }
            }
        }
        push_fragment(out, &w.buf, self.done);
    }

    /// The whole reply as one record-marked byte string (tests).
    pub fn collect(mut self, target: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !self.done {
            self.write_fragment(&mut out, target);
        }
        out
    }
}

#[cfg(test)]
mod tests;
