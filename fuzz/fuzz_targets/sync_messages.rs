//! ypldap-client's RFC 4533 decoders on arbitrary bytes: whatever a
//! directory sends as a sync control or intermediate message, the reader
//! gets an answer (a value or an error), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ypldap_client::content_sync::{decode_done, decode_info, decode_state, MAX_COOKIE};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = decode_state(data) {
        assert!(s.cookie.is_none_or(|c| c.len() <= MAX_COOKIE));
    }
    if let Ok(d) = decode_done(data) {
        assert!(d.cookie.is_none_or(|c| c.len() <= MAX_COOKIE));
    }
    let _ = decode_info(data);
});
