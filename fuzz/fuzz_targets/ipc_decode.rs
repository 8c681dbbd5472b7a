//! The IPC decoder on arbitrary datagrams: never a panic, and whatever
//! decodes re-encodes to something that decodes to the same message.
#![no_main]

use ipc_proto::codec::{decode, decode_hello, encode};
use ipc_proto::{ClientToParent, DnsToParent, Message, ParentToClient, ParentToDns};
use libfuzzer_sys::fuzz_target;

fn check<M>(data: &[u8], fds: usize)
where
    M: Message + PartialEq + std::fmt::Debug + for<'a> serde::Deserialize<'a>,
{
    if let Ok(m) = decode::<M>(data, fds) {
        if let Ok(bytes) = encode(&m, fds) {
            assert_eq!(decode::<M>(&bytes, fds).ok(), Some(m));
        }
    }
}

/// The same for the message that borrows its text from the datagram.
fn check_borrowed(data: &[u8], fds: usize) {
    if let Ok(m) = decode::<ClientToParent<'_>>(data, fds) {
        if let Ok(bytes) = encode(&m, fds) {
            assert_eq!(decode::<ClientToParent<'_>>(&bytes, fds).ok(), Some(m));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (fds, data) = match data.split_first() {
        Some((&b, rest)) => (usize::from(b & 1), rest),
        None => (0, data),
    };
    check::<ParentToDns>(data, fds);
    check::<DnsToParent>(data, fds);
    check::<ParentToClient>(data, fds);
    check_borrowed(data, fds);
    let _ = decode_hello(data, fds);
});
