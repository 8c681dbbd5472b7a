//! The control protocol's decoders on arbitrary bytes: a request as
//! ypldapd reads it from a local user, a reply as ypldapctl joins it from
//! datagrams. Never a panic, the bounds hold, and whatever decodes
//! re-encodes to something that decodes to the same message.
#![no_main]

use ctl_proto::{
    MAX_REQUEST_BYTES, REPLY_CHUNK_BYTES, ReplyAssembler, decode_reply, decode_request,
    encode_reply, encode_request,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_request(data) {
        Ok(r) => {
            assert!(data.len() <= MAX_REQUEST_BYTES);
            assert_eq!(decode_request(&encode_request(r)), Ok(r));
        }
        Err(_) => {}
    }
    if let Ok(reply) = decode_reply(data) {
        let bytes = encode_reply(&reply);
        assert_eq!(decode_reply(&bytes).as_ref(), Ok(&reply));
    }
    // The same bytes as datagrams of a reply, cut where the first byte says.
    let cut = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut a = ReplyAssembler::new();
    let mut refused = false;
    for part in data.chunks(cut.min(REPLY_CHUNK_BYTES)) {
        if a.push(part).is_err() {
            refused = true;
            break;
        }
    }
    if !refused {
        let _ = a.finish();
    }
});
