//! The YP version 2 protocol (`yp.x`): program number, procedures, status
//! codes, limits, and the argument and result types ypldapd speaks.

use crate::xdr::{XdrError, XdrReader, XdrWriter};

pub const YPPROG: u32 = 100004;
pub const YPVERS: u32 = 2;

pub const YPPROC_NULL: u32 = 0;
pub const YPPROC_DOMAIN: u32 = 1;
pub const YPPROC_DOMAIN_NONACK: u32 = 2;
pub const YPPROC_MATCH: u32 = 3;
pub const YPPROC_FIRST: u32 = 4;
pub const YPPROC_NEXT: u32 = 5;
pub const YPPROC_XFR: u32 = 6;
pub const YPPROC_CLEAR: u32 = 7;
pub const YPPROC_ALL: u32 = 8;
pub const YPPROC_MASTER: u32 = 9;
pub const YPPROC_ORDER: u32 = 10;
pub const YPPROC_MAPLIST: u32 = 11;

pub const YPMAXRECORD: usize = 1024;
pub const YPMAXDOMAIN: usize = 64;
pub const YPMAXMAP: usize = 64;
pub const YPMAXPEER: usize = 64;

/// `ypstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum YpStat {
    True = 1,
    NoMore = 2,
    False = 0,
    NoMap = -1,
    NoDom = -2,
    NoKey = -3,
    BadOp = -4,
    BadDb = -5,
    YpErr = -6,
    BadArgs = -7,
    Vers = -8,
}

impl YpStat {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(c: i32) -> Option<YpStat> {
        use YpStat::*;
        [
            True, NoMore, False, NoMap, NoDom, NoKey, BadOp, BadDb, YpErr, BadArgs, Vers,
        ]
        .into_iter()
        .find(|s| s.code() == c)
    }
}

/// `ypreq_nokey`: domain and map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqNokey<'a> {
    pub domain: &'a [u8],
    pub map: &'a [u8],
}

/// `ypreq_key`: domain, map and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqKey<'a> {
    pub domain: &'a [u8],
    pub map: &'a [u8],
    pub key: &'a [u8],
}

/// `domainname` (string<64>). Trailing bytes after the argument are
/// ignored, as every RPC server library does.
pub fn decode_domain(args: &[u8]) -> Result<&[u8], XdrError> {
    XdrReader::new(args).opaque(YPMAXDOMAIN)
}

pub fn decode_nokey(args: &[u8]) -> Result<ReqNokey<'_>, XdrError> {
    let mut r = XdrReader::new(args);
    let domain = r.opaque(YPMAXDOMAIN)?;
    let map = r.opaque(YPMAXMAP)?;
    Ok(ReqNokey { domain, map })
}

pub fn decode_key(args: &[u8]) -> Result<ReqKey<'_>, XdrError> {
    let mut r = XdrReader::new(args);
    let domain = r.opaque(YPMAXDOMAIN)?;
    let map = r.opaque(YPMAXMAP)?;
    let key = r.opaque(YPMAXRECORD)?;
    Ok(ReqKey { domain, map, key })
}

/// `ypresp_val`: {stat, val}.
pub fn put_resp_val(w: &mut XdrWriter, stat: YpStat, val: &[u8]) {
    w.i32(stat.code()).opaque(val);
}

/// `ypresp_key_val`: {stat, **val, key**} — the order every real server
/// and client uses (libnsl's yp.x, not Sun's original text).
pub fn put_resp_key_val(w: &mut XdrWriter, stat: YpStat, key: &[u8], val: &[u8]) {
    w.i32(stat.code()).opaque(val).opaque(key);
}

/// `ypresp_master`: {stat, peer}.
pub fn put_resp_master(w: &mut XdrWriter, stat: YpStat, peer: &[u8]) {
    w.i32(stat.code()).opaque(peer);
}

/// `ypresp_order`: {stat, ordernum}.
pub fn put_resp_order(w: &mut XdrWriter, stat: YpStat, order: u32) {
    w.i32(stat.code()).u32(order);
}

/// `ypresp_maplist`: {stat, optional linked list of map names}.
pub fn put_resp_maplist<'a>(w: &mut XdrWriter, stat: YpStat, maps: impl Iterator<Item = &'a str>) {
    w.i32(stat.code());
    for m in maps {
        w.bool(true).opaque(m.as_bytes());
    }
    w.bool(false);
}

/// One `ypresp_all` element with `more = TRUE`.
pub fn put_all_more(w: &mut XdrWriter, stat: YpStat, key: &[u8], val: &[u8]) {
    w.bool(true);
    put_resp_key_val(w, stat, key, val);
}

/// The final `ypresp_all` element, `more = FALSE`.
pub fn put_all_end(w: &mut XdrWriter) {
    w.bool(false);
}

/// Argument encoders, for tests, the fuzz targets and the example client.
pub fn encode_nokey(domain: &[u8], map: &[u8]) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.opaque(domain).opaque(map);
    w.into_inner()
}

pub fn encode_key(domain: &[u8], map: &[u8], key: &[u8]) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.opaque(domain).opaque(map).opaque(key);
    w.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_bounds() {
        let long = vec![b'a'; 65];
        assert_eq!(
            decode_domain(&encode_nokey(&long, b"m")),
            Err(XdrError::TooLong)
        );
        assert_eq!(
            decode_nokey(&encode_nokey(b"d", &long)),
            Err(XdrError::TooLong)
        );
        let key = vec![b'k'; 1025];
        assert_eq!(
            decode_key(&encode_key(b"d", b"m", &key)),
            Err(XdrError::TooLong)
        );
        let key = vec![b'k'; 1024];
        assert_eq!(
            decode_key(&encode_key(b"d", b"m", &key)).map(|r| r.key.len()),
            Ok(1024)
        );
        assert_eq!(decode_key(&encode_nokey(b"d", b"m")), Err(XdrError::Short));
    }

    #[test]
    fn stat_codes() {
        for c in -8..=2 {
            assert_eq!(YpStat::from_code(c).map(super::YpStat::code), Some(c));
        }
        assert_eq!(YpStat::from_code(3), None);
    }
}
