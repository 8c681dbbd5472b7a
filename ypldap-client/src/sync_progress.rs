//! What a content synchronization session remembers so that it can
//! resume after its connection is lost (the cookie, and which entries
//! ypldapd holds from it), and the rules of a refresh's present and delete
//! phases (RFC 4533 §3.4). Pure bookkeeping, kept apart from the I/O in
//! [`crate::sync`] so that it can be tested alone.
//!
//! A refresh from a cookie tells the reader what changed in one of two
//! ways. In a delete phase the server names the entries deleted. In a
//! present phase it names every entry that is still there (each as a bare
//! `present` entry, or in `syncIdSet`s), sends the changed ones in full,
//! and leaves the deletions implicit: every entry neither present nor
//! changed is gone. The reader can only tell which entries those are if it
//! knows which entries ypldapd holds, hence [`Progress::known`].

use std::collections::HashSet;

use crate::content_sync::{Info, MAX_COOKIE, State, StateControl};

/// An entryUUID, as the sync controls carry it.
pub type Uuid = [u8; 16];

/// One search's position in its directory's history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last cookie the server sent: a refresh from it sends only
    /// what changed since.
    pub cookie: Option<Vec<u8>>,
    /// The entries of this search sent to ypldapd, not deleted since. It
    /// may name more than ypldapd holds (an entry the rules dropped is
    /// still known): a deletion of an entry ypldapd lacks does nothing.
    known: HashSet<Uuid>,
}

impl Progress {
    /// How many entries the search has sent.
    pub fn known(&self) -> usize {
        self.known.len()
    }

    fn note_cookie(&mut self, cookie: Option<&Vec<u8>>) {
        if let Some(c) = cookie.filter(|c| c.len() <= MAX_COOKIE) {
            self.cookie = Some(c.clone());
        }
    }
}

/// What the reader does with one entry message of a sync search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Convert the entry and send it (added or modified).
    Send(Uuid),
    /// Tell ypldapd the entry is gone.
    Delete(Uuid),
    /// Nothing to send.
    Nothing,
}

/// The state of one search's refresh stage (or of its persist stage,
/// where no phases remain): which entries the server said are present or
/// changed, until the present phase ends.
#[derive(Debug, Default)]
pub struct Refresh {
    /// The refresh started from a cookie: `present` entries carry no
    /// attributes and only mark an entry as unchanged.
    from_cookie: bool,
    present: HashSet<Uuid>,
    changed: HashSet<Uuid>,
}

impl Refresh {
    /// A refresh from `progress`'s cookie, or from nothing (every entry
    /// is sent) when it has none.
    pub fn new(progress: &Progress) -> Refresh {
        Refresh {
            from_cookie: progress.cookie.is_some(),
            ..Refresh::default()
        }
    }

    /// The persist stage: each message is a change.
    pub fn persist() -> Refresh {
        Refresh::default()
    }

    /// An entry with its Sync State Control.
    pub fn entry(&mut self, progress: &mut Progress, state: &StateControl) -> Action {
        progress.note_cookie(state.cookie.as_ref());
        let uuid = state.uuid;
        match state.state {
            State::Present if self.from_cookie => {
                self.present.insert(uuid);
                Action::Nothing
            }
            State::Add | State::Modify | State::Present => {
                if self.from_cookie {
                    self.changed.insert(uuid);
                }
                progress.known.insert(uuid);
                Action::Send(uuid)
            }
            State::Delete => {
                progress.known.remove(&uuid);
                self.changed.remove(&uuid);
                Action::Delete(uuid)
            }
        }
    }

    /// A Sync Info Message: the entries it deletes go to `deletes`;
    /// returns whether the refresh stage is done.
    pub fn info(&mut self, progress: &mut Progress, info: &Info, deletes: &mut Vec<Uuid>) -> bool {
        match info {
            Info::NewCookie(c) => {
                progress.note_cookie(Some(c));
                false
            }
            Info::IdSet {
                cookie,
                refresh_deletes,
                uuids,
            } => {
                progress.note_cookie(cookie.as_ref());
                if *refresh_deletes {
                    for u in uuids {
                        if progress.known.remove(u) {
                            deletes.push(*u);
                        }
                    }
                } else if self.from_cookie {
                    self.present.extend(uuids.iter().copied());
                }
                false
            }
            Info::RefreshDelete { cookie, done } => {
                progress.note_cookie(cookie.as_ref());
                *done
            }
            Info::RefreshPresent { cookie, done } => {
                progress.note_cookie(cookie.as_ref());
                // The present phase is over: what was neither present nor
                // changed is gone.
                if self.from_cookie {
                    let present = std::mem::take(&mut self.present);
                    let changed = std::mem::take(&mut self.changed);
                    let gone: Vec<Uuid> = progress
                        .known
                        .iter()
                        .filter(|u| !present.contains(*u) && !changed.contains(*u))
                        .copied()
                        .collect();
                    for u in gone {
                        progress.known.remove(&u);
                        deletes.push(u);
                    }
                }
                *done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u8) -> Uuid {
        [n; 16]
    }

    fn state(state: State, n: u8, cookie: Option<&[u8]>) -> StateControl {
        StateControl {
            state,
            uuid: u(n),
            cookie: cookie.map(<[u8]>::to_vec),
        }
    }

    /// A first refresh: entries 1, 2, 3 added, cookie "a".
    fn first() -> Progress {
        let mut p = Progress::default();
        let mut r = Refresh::new(&p);
        for n in 1..=3 {
            assert_eq!(
                r.entry(&mut p, &state(State::Add, n, None)),
                Action::Send(u(n))
            );
        }
        let mut deletes = Vec::new();
        let done = r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: Some(b"a".to_vec()),
                done: true,
            },
            &mut deletes,
        );
        assert!(done);
        assert!(deletes.is_empty(), "a first refresh deletes nothing");
        assert_eq!(p.cookie.as_deref(), Some(&b"a"[..]));
        assert_eq!(p.known(), 3);
        p
    }

    #[test]
    fn a_present_phase_deletes_what_it_does_not_name() {
        let mut p = first();
        let mut r = Refresh::new(&p);
        // 1 unchanged (present), 2 changed, 4 new; 3 not named: deleted.
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 1, None)),
            Action::Nothing
        );
        assert_eq!(
            r.entry(&mut p, &state(State::Add, 2, None)),
            Action::Send(u(2))
        );
        assert_eq!(
            r.entry(&mut p, &state(State::Add, 4, None)),
            Action::Send(u(4))
        );
        let mut deletes = Vec::new();
        let done = r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: Some(b"b".to_vec()),
                done: true,
            },
            &mut deletes,
        );
        assert!(done);
        assert_eq!(deletes, vec![u(3)]);
        assert_eq!(p.known(), 3);
        assert_eq!(p.cookie.as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn present_id_sets_count_as_present() {
        let mut p = first();
        let mut r = Refresh::new(&p);
        let mut deletes = Vec::new();
        r.info(
            &mut p,
            &Info::IdSet {
                cookie: None,
                refresh_deletes: false,
                uuids: vec![u(1), u(3)],
            },
            &mut deletes,
        );
        r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: None,
                done: false,
            },
            &mut deletes,
        );
        assert_eq!(deletes, vec![u(2)]);
        // A delete phase may follow: its deletions are explicit.
        let done = r.info(
            &mut p,
            &Info::RefreshDelete {
                cookie: Some(b"c".to_vec()),
                done: true,
            },
            &mut deletes,
        );
        assert!(done);
        assert_eq!(deletes, vec![u(2)]);
        assert_eq!(p.cookie.as_deref(), Some(&b"c"[..]));
    }

    #[test]
    fn a_delete_phase_deletes_only_what_it_names() {
        let mut p = first();
        let mut r = Refresh::new(&p);
        assert_eq!(
            r.entry(&mut p, &state(State::Delete, 2, None)),
            Action::Delete(u(2))
        );
        let mut deletes = Vec::new();
        r.info(
            &mut p,
            &Info::IdSet {
                cookie: None,
                refresh_deletes: true,
                uuids: vec![u(3), u(9)],
            },
            &mut deletes,
        );
        // 9 was never sent: nothing to delete.
        assert_eq!(deletes, vec![u(3)]);
        let done = r.info(
            &mut p,
            &Info::RefreshDelete {
                cookie: None,
                done: true,
            },
            &mut deletes,
        );
        assert!(done);
        assert_eq!(p.known(), 1);
    }

    #[test]
    fn cookies_come_from_entries_and_messages() {
        let mut p = first();
        let mut r = Refresh::persist();
        r.entry(&mut p, &state(State::Modify, 1, Some(b"d")));
        assert_eq!(p.cookie.as_deref(), Some(&b"d"[..]));
        let mut deletes = Vec::new();
        r.info(&mut p, &Info::NewCookie(b"e".to_vec()), &mut deletes);
        assert_eq!(p.cookie.as_deref(), Some(&b"e"[..]));
        // A missing cookie keeps the last one.
        r.entry(&mut p, &state(State::Add, 5, None));
        assert_eq!(p.cookie.as_deref(), Some(&b"e"[..]));
        assert_eq!(p.known(), 4);
    }

    #[test]
    fn persist_present_entries_are_sent() {
        // Outside a refresh from a cookie, a present entry carries its
        // attributes: it is sent like an add.
        let mut p = Progress::default();
        let mut r = Refresh::persist();
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 7, None)),
            Action::Send(u(7))
        );
    }
}
