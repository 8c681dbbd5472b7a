//! Filling batch messages (`Users`, `Groups`, `Dropped`) up to a size,
//! serialising each entry exactly once.
//!
//! A batch datagram is the message's JSON with the entries spliced in:
//! the envelope (`{"type":"Users","body":{"update":N,"entries":[` … `]}}`)
//! is what serde makes of the message with no entries, and each entry's
//! JSON is appended to the datagram as it comes. The datagram's length is
//! the counter that decides when a batch is full; nothing is serialised
//! twice to measure it. `entries` is the last field of each batch message,
//! so the envelope ends with the empty list.

use serde::Serialize;

use crate::codec::{EncodeError, MAX_MESSAGE_BYTES};
use crate::messages::{ClientToParent, Message};

/// Builds one kind of batch datagram for one update.
#[derive(Debug)]
pub struct BatchWriter {
    /// The envelope up to and including `[`.
    prefix: Vec<u8>,
    /// The envelope from `]` on.
    suffix: Vec<u8>,
    /// The datagram being filled: the prefix, then entries with commas.
    buf: Vec<u8>,
    entries: usize,
    /// Send a batch once it would pass this many bytes.
    target: usize,
}

impl BatchWriter {
    /// A writer of batches shaped like `empty` (a batch message with no
    /// entries), each at most `target` bytes (and never above
    /// [`MAX_MESSAGE_BYTES`]).
    pub fn new(empty: &ClientToParent<'_>, target: usize) -> Self {
        debug_assert_eq!(empty.fd_count(), 0);
        // Serialising our own plain data cannot fail.
        let json = serde_json::to_vec(empty).unwrap_or_default();
        let at = json
            .windows(2)
            .rposition(|w| w == b"[]")
            .unwrap_or(json.len());
        let (prefix, suffix) = json.split_at((at + 1).min(json.len()));
        BatchWriter {
            prefix: prefix.to_vec(),
            suffix: suffix.to_vec(),
            buf: prefix.to_vec(),
            entries: 0,
            target: target.min(MAX_MESSAGE_BYTES),
        }
    }

    /// Appends `entry`. When the batch cannot take it, returns the full
    /// batch to send first (and `entry` starts the next one). An entry
    /// that would not fit a message even alone is refused and left out.
    pub fn push<T: Serialize>(&mut self, entry: &T) -> Result<Option<Vec<u8>>, EncodeError> {
        let mark = self.buf.len();
        if self.entries > 0 {
            self.buf.push(b',');
        }
        let at = self.buf.len();
        // Serialising our own plain data into a vector cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, entry);
        if self.buf.len() + self.suffix.len() <= self.target {
            self.entries += 1;
            return Ok(None);
        }
        let len = self.buf.len() - at;
        if self.prefix.len() + len + self.suffix.len() > MAX_MESSAGE_BYTES {
            self.buf.truncate(mark);
            return Err(EncodeError::Oversize {
                len: self.prefix.len() + len + self.suffix.len(),
            });
        }
        if self.entries == 0 {
            // Alone in its batch, above the target but within a message.
            self.entries = 1;
            return Ok(self.take());
        }
        let entry_json = self.buf[at..].to_vec();
        self.buf.truncate(mark);
        let full = self.take();
        self.buf.extend_from_slice(&entry_json);
        self.entries = 1;
        Ok(full)
    }

    /// The batch so far, if it holds any entry; the writer starts over.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if self.entries == 0 {
            return None;
        }
        self.entries = 0;
        let mut full = std::mem::replace(&mut self.buf, self.prefix.clone());
        full.extend_from_slice(&self.suffix);
        Some(full)
    }

    /// Whether no entry waits.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}
