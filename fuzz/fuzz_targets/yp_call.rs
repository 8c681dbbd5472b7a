//! One message (UDP datagram or TCP record) through RPC decoding and YP
//! dispatch, with every caller flavour, with and without a snapshot.
//! Invariants: no panic; any reply carries the request's xid and decodes as
//! an RPC reply; an ALL stream ends and unframes into one record.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use yp_proto::maps::MapName;
use yp_proto::{Caller, Outcome, ServerConfig, Snapshot, client, handle_message, rpc, testdata};

fn fixtures() -> &'static (ServerConfig, Arc<Snapshot>) {
    static F: OnceLock<(ServerConfig, Arc<Snapshot>)> = OnceLock::new();
    F.get_or_init(|| {
        let (u, g) = testdata::generate(20, 4);
        let snap = Snapshot::build("fuzzdom", &u, &g, 1).0;
        (
            ServerConfig::new("fuzzdom", &MapName::ALL, "host"),
            Arc::new(snap),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, msg)) = data.split_first() else {
        return;
    };
    let (cfg, snap) = fixtures();
    let caller = Caller {
        allowed: flags & 1 != 0,
        privileged: flags & 2 != 0,
        tcp: flags & 4 != 0,
    };
    let snap = (flags & 8 != 0).then_some(snap);
    match handle_message(msg, cfg, snap, caller) {
        Outcome::NoReply => {}
        Outcome::Reply(r) => {
            assert_eq!(r.get(..4), msg.get(..4));
            assert!(rpc::parse_reply(&r).is_some());
        }
        Outcome::Stream(st) => {
            assert!(caller.tcp);
            let bytes = st.collect(1 + usize::from(flags >> 4) * 64);
            let rec = client::unframe(&bytes).expect("one record");
            assert_eq!(rec.get(..4), msg.get(..4));
        }
    }
});
