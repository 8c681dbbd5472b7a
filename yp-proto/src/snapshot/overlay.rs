//! The keys and values changed since a build, for one map: a sorted
//! list of rows, each a key with its new value or none (the key is gone).
//!
//! A snapshot is immutable and every change makes a new one, so the rows
//! are shared between the versions of a map: they sit in chunks of at most
//! [`CHUNK`] rows behind `Arc`s, and a change copies only the chunk it
//! touches and the list of chunk pointers, never every row. An ALL stream
//! that holds an older version keeps its rows alive and unchanged.

use std::cmp::Ordering;
use std::sync::Arc;

/// Rows per chunk at most; a chunk that grows past it is split in two.
const CHUNK: usize = 64;

/// One changed key: its new value, or `None` when it is not served any
/// more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    pub key: Box<[u8]>,
    pub value: Option<Box<[u8]>>,
}

/// One map's rows in key byte order; see the module documentation. Each
/// row is behind its own `Arc` too, so copying a chunk copies pointers.
#[derive(Debug, Clone, Default)]
pub(super) struct Rows {
    chunks: Vec<Arc<Vec<Arc<Row>>>>,
    rows: usize,
    /// Keys served minus keys the build served.
    pub len_delta: isize,
}

/// Where in the rows: chunk and place in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RowAt {
    pub chunk: usize,
    pub row: usize,
}

impl Rows {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// The chunk that holds `key` or would: the last whose first key is
    /// not greater than `key` (the first chunk for smaller keys).
    fn chunk_for(&self, key: &[u8]) -> usize {
        self.chunks
            .partition_point(|c| c.first().is_some_and(|r| &*r.key <= key))
            .saturating_sub(1)
    }

    /// The row of `key`, if there is one.
    pub fn get(&self, key: &[u8]) -> Option<&Row> {
        let chunk = self.chunks.get(self.chunk_for(key))?;
        let i = chunk.binary_search_by(|r| (*r.key).cmp(key)).ok()?;
        chunk.get(i).map(|r| &**r)
    }

    /// Sets `key`'s row, copying only the chunk it falls in.
    pub fn set(&mut self, key: &[u8], value: Option<&[u8]>) {
        let row = Arc::new(Row {
            key: key.into(),
            value: value.map(Into::into),
        });
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![row]));
            self.rows = 1;
            return;
        }
        let c = self.chunk_for(key);
        let Some(chunk) = self.chunks.get_mut(c) else {
            return;
        };
        let rows = Arc::make_mut(chunk);
        match rows.binary_search_by(|r| (*r.key).cmp(key)) {
            Ok(i) => {
                if let Some(r) = rows.get_mut(i) {
                    *r = row;
                }
            }
            Err(i) => {
                rows.insert(i, row);
                self.rows += 1;
                if rows.len() > CHUNK {
                    let tail = rows.split_off(rows.len() / 2);
                    self.chunks.insert(c + 1, Arc::new(tail));
                }
            }
        }
    }

    /// The row at `at`, if any.
    pub fn at(&self, at: RowAt) -> Option<&Row> {
        self.chunks.get(at.chunk)?.get(at.row).map(|r| &**r)
    }

    /// Every row, in key order: its key and its value (`None`: removed).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        let mut at = RowAt::default();
        std::iter::from_fn(move || {
            let row = self.at(at)?;
            at = self.next(at);
            Some((&*row.key, row.value.as_deref()))
        })
    }

    /// The place after `at`.
    pub fn next(&self, at: RowAt) -> RowAt {
        let len = self.chunks.get(at.chunk).map_or(0, |c| c.len());
        if at.row + 1 < len {
            RowAt {
                chunk: at.chunk,
                row: at.row + 1,
            }
        } else {
            RowAt {
                chunk: at.chunk + 1,
                row: 0,
            }
        }
    }

    /// The place of the first row whose key is greater than `key` (or
    /// greater or equal, with `inclusive`).
    pub fn seek(&self, key: &[u8], inclusive: bool) -> RowAt {
        let after = |r: &Arc<Row>| match (*r.key).cmp(key) {
            Ordering::Less => false,
            Ordering::Equal => inclusive,
            Ordering::Greater => true,
        };
        let c = self.chunk_for(key);
        let Some(chunk) = self.chunks.get(c) else {
            return RowAt::default();
        };
        let row = chunk.partition_point(|r| !after(r));
        if row < chunk.len() {
            RowAt { chunk: c, row }
        } else {
            RowAt {
                chunk: c + 1,
                row: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn all(rows: &Rows) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        rows.iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect()
    }

    proptest! {
        /// The rows are a sorted map: what a `BTreeMap` holds after the
        /// same sets, in order; an older copy is unchanged by later sets.
        #[test]
        fn rows_are_a_sorted_map(sets in proptest::collection::vec((0u16..400, proptest::option::of(any::<u8>())), 0..600)) {
            let mut rows = Rows::default();
            let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            let mut half = None;
            for (i, (k, v)) in sets.iter().enumerate() {
                let key = format!("{k:03}").into_bytes();
                let value = v.map(|v| vec![v]);
                rows.set(&key, value.as_deref());
                model.insert(key, value);
                if i == sets.len() / 2 {
                    half = Some((rows.clone(), model.clone()));
                }
            }
            let want: Vec<_> = model.clone().into_iter().collect();
            prop_assert_eq!(all(&rows), want);
            prop_assert_eq!(rows.len(), model.len());
            for k in 0u16..401 {
                let key = format!("{k:03}").into_bytes();
                prop_assert_eq!(rows.get(&key).map(|r| r.value.as_ref().map(|v| v.to_vec())), model.get(&key).cloned());
                let first_after = model.range(key.clone()..).find(|(m, _)| **m > key).map(|(m, _)| m.clone());
                prop_assert_eq!(rows.at(rows.seek(&key, false)).map(|r| r.key.to_vec()), first_after);
                let first_from = model.range(key.clone()..).next().map(|(m, _)| m.clone());
                prop_assert_eq!(rows.at(rows.seek(&key, true)).map(|r| r.key.to_vec()), first_from);
            }
            if let Some((old, old_model)) = half {
                prop_assert_eq!(all(&old), old_model.into_iter().collect::<Vec<_>>());
            }
        }
    }
}
