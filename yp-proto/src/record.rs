//! TCP record marking (RFC 5531 §11): a record is one or more fragments,
//! each behind a 4-byte big-endian header whose top bit marks the last
//! fragment and whose low 31 bits give its length.
//!
//! [`Reassembler`] is fed whatever `read` returned and queues complete
//! records; a record larger than its cap is an error (the connection is
//! closed) and is detected from the header alone, so a 2 GiB length costs
//! nothing.

use std::collections::VecDeque;

/// Default cap on a request record: YP requests are under 1.2 KiB.
pub const DEFAULT_MAX_RECORD: usize = 8 * 1024;

const LAST: u32 = 0x8000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The record would exceed the cap.
    TooLarge,
}

/// Reassembles records from a byte stream.
#[derive(Debug)]
pub struct Reassembler {
    max: usize,
    hdr: [u8; 4],
    hdr_len: usize,
    /// Bytes still expected for the current fragment (0: read a header).
    frag_left: usize,
    frag_last: bool,
    in_fragment: bool,
    cur: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
}

impl Reassembler {
    pub fn new(max: usize) -> Self {
        Reassembler {
            max,
            hdr: [0; 4],
            hdr_len: 0,
            frag_left: 0,
            frag_last: false,
            in_fragment: false,
            cur: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Consumes `data`. Complete records are queued for [`Self::pop`]. After
    /// an error the reassembler must not be used again.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), RecordError> {
        loop {
            if !self.in_fragment {
                while self.hdr_len < 4 {
                    let Some((&b, rest)) = data.split_first() else {
                        return Ok(());
                    };
                    self.hdr[self.hdr_len] = b;
                    self.hdr_len += 1;
                    data = rest;
                }
                self.hdr_len = 0;
                let h = u32::from_be_bytes(self.hdr);
                let len = (h & !LAST) as usize;
                if self.cur.len().saturating_add(len) > self.max {
                    return Err(RecordError::TooLarge);
                }
                self.frag_left = len;
                self.frag_last = h & LAST != 0;
                self.in_fragment = true;
            }
            let n = self.frag_left.min(data.len());
            let (now, rest) = data.split_at(n);
            self.cur.extend_from_slice(now);
            self.frag_left -= n;
            data = rest;
            if self.frag_left > 0 {
                return Ok(());
            }
            self.in_fragment = false;
            if self.frag_last {
                self.ready.push_back(std::mem::take(&mut self.cur));
            }
        }
    }

    /// The next complete record.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Complete records waiting.
    pub fn pending(&self) -> usize {
        self.ready.len()
    }

    /// Whether a record is partly received (an EOF now loses it).
    pub fn mid_record(&self) -> bool {
        self.hdr_len > 0 || self.in_fragment || !self.cur.is_empty()
    }
}

/// A fragment header.
pub fn fragment_header(len: usize, last: bool) -> [u8; 4] {
    let len = u32::try_from(len).unwrap_or(!LAST) & !LAST;
    (len | if last { LAST } else { 0 }).to_be_bytes()
}

/// Appends `payload` as one fragment to `out`.
pub fn push_fragment(out: &mut Vec<u8>, payload: &[u8], last: bool) {
    out.extend_from_slice(&fragment_header(payload.len(), last));
    out.extend_from_slice(payload);
}

/// Encodes a complete record as one fragment.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 4);
    push_fragment(&mut v, payload, true);
    v
}

/// Encodes a record as fragments of at most `max_frag` bytes (at least one,
/// even for an empty payload).
pub fn encode_fragments(payload: &[u8], max_frag: usize) -> Vec<u8> {
    let max_frag = max_frag.max(1);
    let mut out = Vec::with_capacity(payload.len() + 4 * (payload.len() / max_frag + 1));
    let mut chunks = payload.chunks(max_frag).peekable();
    if chunks.peek().is_none() {
        push_fragment(&mut out, &[], true);
    }
    while let Some(c) = chunks.next() {
        push_fragment(&mut out, c, chunks.peek().is_none());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn many_records_in_one_read() {
        let mut data = encode_record(b"one");
        data.extend(encode_record(b""));
        data.extend(encode_fragments(b"three parts!", 4));
        let mut r = Reassembler::new(64);
        r.feed(&data).unwrap();
        assert_eq!(r.pending(), 3);
        assert_eq!(r.pop().unwrap(), b"one");
        assert_eq!(r.pop().unwrap(), b"");
        assert_eq!(r.pop().unwrap(), b"three parts!");
        assert!(!r.mid_record());
    }

    #[test]
    fn zero_length_fragments() {
        let mut data = Vec::new();
        push_fragment(&mut data, b"", false);
        push_fragment(&mut data, b"ab", false);
        push_fragment(&mut data, b"", false);
        push_fragment(&mut data, b"", true);
        let mut r = Reassembler::new(64);
        r.feed(&data).unwrap();
        assert_eq!(r.pop().unwrap(), b"ab");
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn huge_lengths_rejected_from_header() {
        for h in [
            [0x7f, 0xff, 0xff, 0xff],
            [0xff, 0xff, 0xff, 0xff],
            [0x80, 0, 0x20, 1],
        ] {
            let mut r = Reassembler::new(DEFAULT_MAX_RECORD);
            assert_eq!(r.feed(&h), Err(RecordError::TooLarge));
        }
        // cap applies to the sum of fragments
        let mut r = Reassembler::new(10);
        let mut d = Vec::new();
        push_fragment(&mut d, &[0; 6], false);
        r.feed(&d).unwrap();
        assert_eq!(
            r.feed(&fragment_header(5, true)),
            Err(RecordError::TooLarge)
        );
        let mut r = Reassembler::new(10);
        assert!(r.feed(&encode_record(&[1; 10])).is_ok());
        assert_eq!(r.pop().unwrap().len(), 10);
    }

    #[test]
    fn split_across_reads() {
        let data = encode_fragments(b"hello world", 3);
        let mut r = Reassembler::new(64);
        for b in &data[..data.len() - 1] {
            r.feed(std::slice::from_ref(b)).unwrap();
            assert_eq!(r.pending(), 0);
        }
        assert!(r.mid_record());
        r.feed(&data[data.len() - 1..]).unwrap();
        assert_eq!(r.pop().unwrap(), b"hello world");
    }

    proptest! {
        #[test]
        fn any_split_any_fragmenting(
            recs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..8),
            frag in 1usize..40,
            cut in proptest::collection::vec(1usize..50, 1..20),
        ) {
            let mut data = Vec::new();
            for rec in &recs { data.extend(encode_fragments(rec, frag)); }
            let mut r = Reassembler::new(100);
            let mut rest = &data[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cut[i % cut.len()].min(rest.len());
                r.feed(&rest[..n]).unwrap();
                rest = &rest[n..];
                i += 1;
            }
            let mut got = Vec::new();
            while let Some(x) = r.pop() { got.push(x); }
            prop_assert_eq!(got, recs);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Reassembler::new(64);
            let _ = r.feed(&data);
            while r.pop().is_some() {}
        }
    }
}
