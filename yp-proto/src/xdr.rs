//! XDR (RFC 4506) reading and writing, by hand, with strict bounds.
//!
//! Every length on the wire is checked against both the declared maximum of
//! the type (yp.x limits) and the bytes actually present before anything is
//! sliced, so a hostile datagram can at worst produce an [`XdrError`].

/// Why a decode failed. The caller turns any of these into GARBAGE_ARGS (or
/// drops the message when even the RPC header is unreadable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdrError {
    /// The input ended before the item did.
    Short,
    /// A length exceeds the maximum the type allows.
    TooLong,
    /// A boolean or discriminant had a value outside its set.
    BadValue,
}

/// A cursor over a borrowed buffer. Items are returned as sub-slices of the
/// input, so decoding allocates nothing.
#[derive(Debug, Clone)]
pub struct XdrReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> XdrReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        XdrReader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The unread rest of the buffer (the procedure arguments after a call
    /// header).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let end = self.pos.checked_add(n).ok_or(XdrError::Short)?;
        let s = self.buf.get(self.pos..end).ok_or(XdrError::Short)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u32(&mut self) -> Result<u32, XdrError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub fn i32(&mut self) -> Result<i32, XdrError> {
        self.u32().map(|v| v as i32)
    }

    /// An XDR bool: only 0 and 1 are valid.
    pub fn bool(&mut self) -> Result<bool, XdrError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(XdrError::BadValue),
        }
    }

    /// Variable-length opaque `opaque<max>` (also `string<max>`): a length,
    /// the bytes, and padding to a multiple of four. Padding bytes are not
    /// required to be zero, as in every common implementation.
    pub fn opaque(&mut self, max: usize) -> Result<&'a [u8], XdrError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(XdrError::TooLong);
        }
        let data = self.take(len)?;
        self.take(pad_len(len))?;
        Ok(data)
    }

    /// Fixed-length opaque of `n` bytes plus padding.
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let data = self.take(n)?;
        self.take(pad_len(n))?;
        Ok(data)
    }
}

/// Padding after `len` bytes of opaque data.
pub fn pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Appends XDR items to a `Vec<u8>`. Writing cannot fail; the callers only
/// write data that already respects the type's bounds (snapshot lines are
/// capped at build time).
#[derive(Debug, Default, Clone)]
pub struct XdrWriter {
    pub buf: Vec<u8>,
}

impl XdrWriter {
    pub fn new() -> Self {
        XdrWriter { buf: Vec::new() }
    }

    pub fn with_capacity(n: usize) -> Self {
        XdrWriter {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.u32(v as u32)
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u32(u32::from(v))
    }

    /// Variable-length opaque or string. Lengths beyond `u32` cannot occur
    /// (callers pass at most a few KiB); they would be clamped, never wrap.
    pub fn opaque(&mut self, data: &[u8]) -> &mut Self {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.u32(len);
        self.buf.extend_from_slice(data);
        self.buf
            .extend(std::iter::repeat_n(0u8, pad_len(data.len())));
        self
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Encoded size of an opaque of `len` bytes.
pub fn opaque_size(len: usize) -> usize {
    4 + len + pad_len(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_and_long() {
        let mut r = XdrReader::new(&[0, 0, 0]);
        assert_eq!(r.u32(), Err(XdrError::Short));
        let mut r = XdrReader::new(&[0, 0, 0, 5, b'a']);
        assert_eq!(r.opaque(64), Err(XdrError::Short));
        let mut r = XdrReader::new(&[0, 0, 0, 65]);
        assert_eq!(r.opaque(64), Err(XdrError::TooLong));
        let mut r = XdrReader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.opaque(usize::MAX), Err(XdrError::Short));
        let mut r = XdrReader::new(&[0, 0, 0, 2]);
        assert_eq!(r.bool(), Err(XdrError::BadValue));
        // data present but padding missing
        let mut r = XdrReader::new(&[0, 0, 0, 1, b'x']);
        assert_eq!(r.opaque(64), Err(XdrError::Short));
    }

    proptest! {
        #[test]
        fn opaque_round_trip(data in proptest::collection::vec(any::<u8>(), 0..200), v in any::<u32>()) {
            let mut w = XdrWriter::new();
            w.opaque(&data).u32(v);
            prop_assert_eq!(w.buf.len(), opaque_size(data.len()) + 4);
            prop_assert_eq!(w.buf.len() % 4, 0);
            let mut r = XdrReader::new(&w.buf);
            prop_assert_eq!(r.opaque(200).unwrap(), &data[..]);
            prop_assert_eq!(r.u32().unwrap(), v);
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = XdrReader::new(&data);
            let _ = r.opaque(1024);
            let _ = r.bool();
            let _ = r.fixed(7);
            let _ = r.i32();
        }
    }
}
