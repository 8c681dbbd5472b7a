//! Client-side decoding of YP replies: for the rpcbind-free tests, the
//! example server's self-check and the fuzz targets. Never used to serve.

use crate::proto::{self, YpStat};
use crate::rpc::{self, ReplyStatus};
use crate::xdr::XdrReader;

/// A decoded SUCCESS reply body, or why there is none.
pub fn success_body(reply: &[u8], xid: u32) -> Result<&[u8], String> {
    match rpc::parse_reply(reply) {
        Some((x, _)) if x != xid => Err(format!("xid {x} != {xid}")),
        Some((_, ReplyStatus::Success(b))) => Ok(b),
        Some((_, s)) => Err(format!("{s:?}")),
        None => Err("undecodable reply".into()),
    }
}

fn stat(r: &mut XdrReader<'_>) -> Option<YpStat> {
    YpStat::from_code(r.i32().ok()?)
}

/// `ypresp_val`.
pub fn resp_val(body: &[u8]) -> Option<(YpStat, Vec<u8>)> {
    let mut r = XdrReader::new(body);
    let s = stat(&mut r)?;
    Some((s, r.opaque(proto::YPMAXRECORD).ok()?.to_vec()))
}

/// `ypresp_key_val` as (stat, key, val).
pub fn resp_key_val(body: &[u8]) -> Option<(YpStat, Vec<u8>, Vec<u8>)> {
    let mut r = XdrReader::new(body);
    key_val(&mut r)
}

fn key_val(r: &mut XdrReader<'_>) -> Option<(YpStat, Vec<u8>, Vec<u8>)> {
    let s = stat(r)?;
    let v = r.opaque(proto::YPMAXRECORD).ok()?.to_vec();
    let k = r.opaque(proto::YPMAXRECORD).ok()?.to_vec();
    Some((s, k, v))
}

/// Key and value pairs, as received.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A whole `ypresp_all` sequence (the body after the RPC header): the
/// entries and the final status (`NoMore` after `more = FALSE`).
pub fn resp_all(body: &[u8]) -> Option<(Entries, YpStat)> {
    let mut r = XdrReader::new(body);
    let mut out = Vec::new();
    loop {
        if !r.bool().ok()? {
            return Some((out, YpStat::NoMore));
        }
        let (s, k, v) = key_val(&mut r)?;
        if s != YpStat::True {
            return Some((out, s));
        }
        out.push((k, v));
    }
}

/// `ypresp_maplist`.
pub fn resp_maplist(body: &[u8]) -> Option<(YpStat, Vec<String>)> {
    let mut r = XdrReader::new(body);
    let s = stat(&mut r)?;
    let mut maps = Vec::new();
    while r.bool().ok()? {
        maps.push(String::from_utf8_lossy(r.opaque(proto::YPMAXMAP).ok()?).into_owned());
    }
    Some((s, maps))
}

/// `ypresp_order`.
pub fn resp_order(body: &[u8]) -> Option<(YpStat, u32)> {
    let mut r = XdrReader::new(body);
    Some((stat(&mut r)?, r.u32().ok()?))
}

/// `ypresp_master`.
pub fn resp_master(body: &[u8]) -> Option<(YpStat, Vec<u8>)> {
    let mut r = XdrReader::new(body);
    Some((stat(&mut r)?, r.opaque(proto::YPMAXPEER).ok()?.to_vec()))
}

/// Joins the fragments of one record-marked reply.
pub fn unframe(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let (h, rest) = data.split_first_chunk::<4>()?;
        let h = u32::from_be_bytes(*h);
        let len = (h & 0x7fff_ffff) as usize;
        out.extend_from_slice(rest.get(..len)?);
        data = &rest[len..];
        if h & 0x8000_0000 != 0 {
            return Some(out);
        }
    }
}
