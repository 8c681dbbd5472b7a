//! ONC RPC version 2 (RFC 5531): call header decoding and reply encoding.
//!
//! Pure and allocation-light: [`parse_call`] borrows from the message and
//! tells the caller either "this is a call to dispatch", "answer with this
//! ready-made rejection", or "send nothing".

use crate::xdr::{XdrReader, XdrWriter};

pub const RPC_VERSION: u32 = 2;

pub const MSG_CALL: u32 = 0;
pub const MSG_REPLY: u32 = 1;

pub const MSG_ACCEPTED: u32 = 0;
pub const MSG_DENIED: u32 = 1;

pub const SUCCESS: u32 = 0;
pub const PROG_UNAVAIL: u32 = 1;
pub const PROG_MISMATCH: u32 = 2;
pub const PROC_UNAVAIL: u32 = 3;
pub const GARBAGE_ARGS: u32 = 4;
pub const SYSTEM_ERR: u32 = 5;

pub const RPC_MISMATCH: u32 = 0;
pub const AUTH_ERROR: u32 = 1;

pub const AUTH_BADCRED: u32 = 1;
pub const AUTH_REJECTEDCRED: u32 = 2;

pub const AUTH_NONE: u32 = 0;
pub const AUTH_UNIX: u32 = 1;

/// RFC 5531: the body of an `opaque_auth` is at most 400 bytes.
pub const MAX_AUTH_BYTES: usize = 400;

/// A decoded call header. `args` is the undecoded procedure argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call<'a> {
    pub xid: u32,
    pub prog: u32,
    pub vers: u32,
    pub proc_: u32,
    /// The AUTH_UNIX uid, when given. Informational only: AUTH_UNIX is a
    /// claim, never a proof, so nothing is decided on it.
    pub unix_uid: Option<u32>,
    pub args: &'a [u8],
}

/// What to do with an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A well-formed RPC v2 call with acceptable credentials.
    Call(Call<'a>),
    /// Answer with these bytes (an RPC-level rejection).
    Reject(Vec<u8>),
    /// Send nothing: the message is too short to carry an xid, is a REPLY
    /// (answering replies could make two servers bounce datagrams forever),
    /// or its header is truncated.
    Drop,
}

/// Parses the RPC call header of one message (one UDP datagram or one TCP
/// record).
pub fn parse_call(msg: &[u8]) -> Parsed<'_> {
    let mut r = XdrReader::new(msg);
    let Ok(xid) = r.u32() else {
        return Parsed::Drop;
    };
    let Ok(mtype) = r.u32() else {
        return Parsed::Drop;
    };
    if mtype == MSG_REPLY {
        return Parsed::Drop;
    }
    if mtype != MSG_CALL {
        return Parsed::Reject(rpc_mismatch(xid));
    }
    let Ok(rpcvers) = r.u32() else {
        return Parsed::Drop;
    };
    if rpcvers != RPC_VERSION {
        return Parsed::Reject(rpc_mismatch(xid));
    }
    let (Ok(prog), Ok(vers), Ok(proc_)) = (r.u32(), r.u32(), r.u32()) else {
        return Parsed::Drop;
    };
    let Ok(cred_flavor) = r.u32() else {
        return Parsed::Drop;
    };
    let Ok(cred) = r.opaque(MAX_AUTH_BYTES) else {
        return Parsed::Reject(auth_error(xid, AUTH_BADCRED));
    };
    let unix_uid = match cred_flavor {
        AUTH_NONE => None,
        AUTH_UNIX => match parse_auth_unix(cred) {
            Some(uid) => Some(uid),
            None => return Parsed::Reject(auth_error(xid, AUTH_BADCRED)),
        },
        _ => return Parsed::Reject(auth_error(xid, AUTH_REJECTEDCRED)),
    };
    let Ok(_verf_flavor) = r.u32() else {
        return Parsed::Drop;
    };
    if r.opaque(MAX_AUTH_BYTES).is_err() {
        return Parsed::Reject(auth_error(xid, AUTH_BADCRED));
    }
    Parsed::Call(Call {
        xid,
        prog,
        vers,
        proc_,
        unix_uid,
        args: r.rest(),
    })
}

/// `authsys_parms`: stamp, machinename<255>, uid, gid, gids<16>. Returns the
/// uid when the body is well formed and fully consumed.
fn parse_auth_unix(body: &[u8]) -> Option<u32> {
    let mut r = XdrReader::new(body);
    r.u32().ok()?;
    r.opaque(255).ok()?;
    let uid = r.u32().ok()?;
    r.u32().ok()?;
    let n = r.u32().ok()?;
    if n > 16 {
        return None;
    }
    for _ in 0..n {
        r.u32().ok()?;
    }
    (r.remaining() == 0).then_some(uid)
}

/// Header of an accepted reply with a null verifier and the given status.
pub fn accepted_header(w: &mut XdrWriter, xid: u32, stat: u32) {
    w.u32(xid).u32(MSG_REPLY).u32(MSG_ACCEPTED);
    w.u32(AUTH_NONE).u32(0);
    w.u32(stat);
}

/// SUCCESS header; the caller appends the procedure's result.
pub fn success(xid: u32) -> XdrWriter {
    let mut w = XdrWriter::with_capacity(64);
    accepted_header(&mut w, xid, SUCCESS);
    w
}

fn accepted(xid: u32, stat: u32) -> Vec<u8> {
    let mut w = XdrWriter::with_capacity(32);
    accepted_header(&mut w, xid, stat);
    w.into_inner()
}

pub fn prog_unavail(xid: u32) -> Vec<u8> {
    accepted(xid, PROG_UNAVAIL)
}

/// PROG_MISMATCH with the supported range (2..2 for YP).
pub fn prog_mismatch(xid: u32, low: u32, high: u32) -> Vec<u8> {
    let mut w = XdrWriter::with_capacity(32);
    accepted_header(&mut w, xid, PROG_MISMATCH);
    w.u32(low).u32(high);
    w.into_inner()
}

pub fn proc_unavail(xid: u32) -> Vec<u8> {
    accepted(xid, PROC_UNAVAIL)
}

pub fn garbage_args(xid: u32) -> Vec<u8> {
    accepted(xid, GARBAGE_ARGS)
}

pub fn system_err(xid: u32) -> Vec<u8> {
    accepted(xid, SYSTEM_ERR)
}

/// MSG_DENIED / RPC_MISMATCH, supported RPC versions 2..2.
pub fn rpc_mismatch(xid: u32) -> Vec<u8> {
    let mut w = XdrWriter::with_capacity(24);
    w.u32(xid).u32(MSG_REPLY).u32(MSG_DENIED).u32(RPC_MISMATCH);
    w.u32(RPC_VERSION).u32(RPC_VERSION);
    w.into_inner()
}

/// MSG_DENIED / AUTH_ERROR with the given `auth_stat`.
pub fn auth_error(xid: u32, why: u32) -> Vec<u8> {
    let mut w = XdrWriter::with_capacity(20);
    w.u32(xid)
        .u32(MSG_REPLY)
        .u32(MSG_DENIED)
        .u32(AUTH_ERROR)
        .u32(why);
    w.into_inner()
}

/// Builds a call message; used by the rpcbind client and by tests.
pub fn encode_call(xid: u32, prog: u32, vers: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    let mut w = XdrWriter::with_capacity(40 + args.len());
    w.u32(xid).u32(MSG_CALL).u32(RPC_VERSION);
    w.u32(prog).u32(vers).u32(proc_);
    w.u32(AUTH_NONE).u32(0).u32(AUTH_NONE).u32(0);
    w.buf.extend_from_slice(args);
    w.into_inner()
}

/// The part of a reply a client needs: its xid and, for an accepted SUCCESS
/// reply, the result bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus<'a> {
    Success(&'a [u8]),
    /// Accepted with another `accept_stat`.
    Accepted(u32),
    /// MSG_DENIED with its `reject_stat`.
    Denied(u32),
}

/// Decodes a reply (client side: rpcbind registration and tests).
pub fn parse_reply(msg: &[u8]) -> Option<(u32, ReplyStatus<'_>)> {
    let mut r = XdrReader::new(msg);
    let xid = r.u32().ok()?;
    if r.u32().ok()? != MSG_REPLY {
        return None;
    }
    match r.u32().ok()? {
        MSG_ACCEPTED => {
            r.u32().ok()?;
            r.opaque(MAX_AUTH_BYTES).ok()?;
            match r.u32().ok()? {
                SUCCESS => Some((xid, ReplyStatus::Success(r.rest()))),
                s => Some((xid, ReplyStatus::Accepted(s))),
            }
        }
        MSG_DENIED => Some((xid, ReplyStatus::Denied(r.u32().ok()?))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_bytes(mtype: u32, rpcvers: u32, cred: (u32, &[u8])) -> Vec<u8> {
        let mut w = XdrWriter::new();
        w.u32(7).u32(mtype).u32(rpcvers).u32(100004).u32(2).u32(3);
        w.u32(cred.0).opaque(cred.1).u32(0).u32(0);
        w.u32(0xdead);
        w.into_inner()
    }

    #[test]
    fn good_call() {
        let m = call_bytes(MSG_CALL, 2, (AUTH_NONE, &[]));
        let Parsed::Call(c) = parse_call(&m) else {
            panic!()
        };
        assert_eq!((c.xid, c.prog, c.vers, c.proc_), (7, 100004, 2, 3));
        assert_eq!(c.args, &[0, 0, 0xde, 0xad]);
    }

    #[test]
    fn auth_unix_accepted_and_checked() {
        let mut b = XdrWriter::new();
        b.u32(1)
            .opaque(b"host")
            .u32(1000)
            .u32(100)
            .u32(2)
            .u32(1)
            .u32(2);
        let m = call_bytes(MSG_CALL, 2, (AUTH_UNIX, &b.buf));
        let Parsed::Call(c) = parse_call(&m) else {
            panic!()
        };
        assert_eq!(c.unix_uid, Some(1000));
        let m = call_bytes(MSG_CALL, 2, (AUTH_UNIX, &b.buf[..8]));
        assert_eq!(parse_call(&m), Parsed::Reject(auth_error(7, AUTH_BADCRED)));
        let m = call_bytes(MSG_CALL, 2, (3, &[]));
        assert_eq!(
            parse_call(&m),
            Parsed::Reject(auth_error(7, AUTH_REJECTEDCRED))
        );
        let big = vec![0u8; 404];
        let m = call_bytes(MSG_CALL, 2, (AUTH_NONE, &big));
        assert_eq!(parse_call(&m), Parsed::Reject(auth_error(7, AUTH_BADCRED)));
    }

    #[test]
    fn rejections() {
        let m = call_bytes(MSG_CALL, 3, (AUTH_NONE, &[]));
        let Parsed::Reject(r) = parse_call(&m) else {
            panic!()
        };
        assert_eq!(
            parse_reply(&r),
            Some((7, ReplyStatus::Denied(RPC_MISMATCH)))
        );
        assert_eq!(&r[16..], &[0, 0, 0, 2, 0, 0, 0, 2]);
        let m = call_bytes(5, 2, (AUTH_NONE, &[]));
        assert_eq!(parse_call(&m), Parsed::Reject(rpc_mismatch(7)));
        let m = call_bytes(MSG_REPLY, 2, (AUTH_NONE, &[]));
        assert_eq!(parse_call(&m), Parsed::Drop);
        assert_eq!(parse_call(&[1, 2, 3]), Parsed::Drop);
        assert_eq!(parse_call(&m[..20]), Parsed::Drop);
    }

    #[test]
    fn reply_encodings() {
        let r = prog_mismatch(9, 2, 2);
        assert_eq!(
            parse_reply(&r),
            Some((9, ReplyStatus::Accepted(PROG_MISMATCH)))
        );
        assert_eq!(&r[r.len() - 8..], &[0, 0, 0, 2, 0, 0, 0, 2]);
        assert_eq!(
            parse_reply(&proc_unavail(1)),
            Some((1, ReplyStatus::Accepted(PROC_UNAVAIL)))
        );
        assert_eq!(
            parse_reply(&garbage_args(1)),
            Some((1, ReplyStatus::Accepted(GARBAGE_ARGS)))
        );
        assert_eq!(
            parse_reply(&prog_unavail(1)),
            Some((1, ReplyStatus::Accepted(PROG_UNAVAIL)))
        );
        assert_eq!(
            parse_reply(&system_err(1)),
            Some((1, ReplyStatus::Accepted(SYSTEM_ERR)))
        );
        let s = success(4).into_inner();
        assert_eq!(parse_reply(&s), Some((4, ReplyStatus::Success(&[][..]))));
    }
}
