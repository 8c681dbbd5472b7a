//! TCP record reassembly fed in arbitrary chunks. Invariants: no panic,
//! and the records (and the error, if any) do not depend on how the
//! stream was cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yp_proto::record::Reassembler;

fn run(data: &[u8], cuts: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut r = Reassembler::new(256);
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if cuts.is_empty() {
            rest.len()
        } else {
            usize::from(cuts[i % cuts.len()]).max(1)
        };
        let n = n.min(rest.len());
        if r.feed(&rest[..n]).is_err() {
            while let Some(x) = r.pop() {
                out.push(x);
            }
            return (out, true);
        }
        while let Some(x) = r.pop() {
            out.push(x);
        }
        rest = &rest[n..];
        i += 1;
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, data)) = data.split_first() else {
        return;
    };
    let k = usize::from(k % 8).min(data.len());
    let (cuts, stream) = data.split_at(k);
    assert_eq!(run(stream, cuts), run(stream, &[]));
});
