//! What a content synchronization session remembers so that it can
//! resume after its connection is lost (the cookie), and the rules of a
//! refresh's present and delete phases (RFC 4533 §3.4). Pure bookkeeping,
//! kept apart from the I/O in [`crate::sync`] so that it can be tested
//! alone.
//!
//! A refresh from a cookie tells the reader what changed in one of two
//! ways. In a delete phase the server names the entries deleted. In a
//! present phase it names every entry that is still there (each as a bare
//! `present` entry, or in `syncIdSet`s), sends the changed ones in full,
//! and leaves the deletions implicit: every entry neither present nor
//! changed is gone. Only ypldapd, which keeps the entries, can tell which
//! those are: the reader passes the phase on as it comes
//! ([`Action::Present`], [`Action::PresentEnd`]).

use crate::content_sync::{DoneControl, Info, MAX_COOKIE, State, StateControl};

/// An entryUUID, as the sync controls carry it.
pub type Uuid = [u8; 16];

/// One search's position in its directory's history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last cookie the server sent: a refresh from it sends only
    /// what changed since.
    pub cookie: Option<Vec<u8>>,
}

impl Progress {
    fn note_cookie(&mut self, cookie: Option<&Vec<u8>>) {
        if let Some(c) = cookie.filter(|c| c.len() <= MAX_COOKIE) {
            self.cookie = Some(c.clone());
        }
    }
}

/// What the reader does with a message of a sync search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Convert the entry and send it (added or modified).
    Send(Uuid),
    /// Tell ypldapd the entry is gone.
    Delete(Uuid),
    /// Tell ypldapd the entry is unchanged (present phase).
    Present(Uuid),
    /// The present phase ended: the entries neither present nor sent
    /// since the search's refresh began are gone.
    PresentEnd,
    /// Nothing to send.
    Nothing,
}

/// The state of one search's refresh stage (or of its persist stage,
/// where no phases remain).
#[derive(Debug, Default)]
pub struct Refresh {
    /// The refresh started from a cookie: `present` entries carry no
    /// attributes and only mark an entry as unchanged.
    from_cookie: bool,
    /// Its present phase was ended by a Sync Info Message (a delete
    /// phase may follow).
    present_ended: bool,
}

impl Refresh {
    /// A refresh from `progress`'s cookie, or from nothing (every entry
    /// is sent) when it has none.
    pub fn new(progress: &Progress) -> Refresh {
        Refresh {
            from_cookie: progress.cookie.is_some(),
            present_ended: false,
        }
    }

    /// The persist stage: each message is a change.
    pub fn persist() -> Refresh {
        Refresh::default()
    }

    /// An entry with its Sync State Control.
    pub fn entry(&mut self, progress: &mut Progress, state: &StateControl) -> Action {
        progress.note_cookie(state.cookie.as_ref());
        match state.state {
            State::Present if self.from_cookie => Action::Present(state.uuid),
            State::Add | State::Modify | State::Present => Action::Send(state.uuid),
            State::Delete => Action::Delete(state.uuid),
        }
    }

    /// A Sync Info Message: what it asks goes to `out`; returns whether
    /// the refresh stage is done.
    pub fn info(&mut self, progress: &mut Progress, info: &Info, out: &mut Vec<Action>) -> bool {
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
                    out.extend(uuids.iter().map(|u| Action::Delete(*u)));
                } else if self.from_cookie {
                    out.extend(uuids.iter().map(|u| Action::Present(*u)));
                }
                false
            }
            Info::RefreshDelete { cookie, done } => {
                progress.note_cookie(cookie.as_ref());
                *done
            }
            Info::RefreshPresent { cookie, done } => {
                progress.note_cookie(cookie.as_ref());
                if self.from_cookie {
                    self.present_ended = true;
                    out.push(Action::PresentEnd);
                }
                *done
            }
        }
    }

    /// The end of a refreshOnly search, its Sync Done Control: the
    /// refresh is over. Without refreshDeletes its last phase was a
    /// present phase, which ends here (RFC 4533, refreshOnly mode): what
    /// it neither named present nor sent is gone.
    pub fn done(&mut self, progress: &mut Progress, done: &DoneControl, out: &mut Vec<Action>) {
        progress.note_cookie(done.cookie.as_ref());
        if self.from_cookie && !done.refresh_deletes && !self.present_ended {
            self.present_ended = true;
            out.push(Action::PresentEnd);
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

    fn cookie(c: &[u8]) -> Progress {
        Progress {
            cookie: Some(c.to_vec()),
        }
    }

    #[test]
    fn a_first_refresh_sends_everything_and_ends_no_phase() {
        let mut p = Progress::default();
        let mut r = Refresh::new(&p);
        assert_eq!(
            r.entry(&mut p, &state(State::Add, 1, None)),
            Action::Send(u(1))
        );
        // Without a cookie a present entry carries its attributes.
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 2, None)),
            Action::Send(u(2))
        );
        let mut out = Vec::new();
        let done = r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: Some(b"a".to_vec()),
                done: true,
            },
            &mut out,
        );
        assert!(done);
        assert!(out.is_empty(), "a first refresh deletes nothing");
        assert_eq!(p.cookie.as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn a_present_phase_is_passed_on() {
        let mut p = cookie(b"a");
        let mut r = Refresh::new(&p);
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 1, None)),
            Action::Present(u(1))
        );
        assert_eq!(
            r.entry(&mut p, &state(State::Add, 2, None)),
            Action::Send(u(2))
        );
        let mut out = Vec::new();
        r.info(
            &mut p,
            &Info::IdSet {
                cookie: None,
                refresh_deletes: false,
                uuids: vec![u(3), u(4)],
            },
            &mut out,
        );
        let done = r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: Some(b"b".to_vec()),
                done: false,
            },
            &mut out,
        );
        assert!(!done);
        assert_eq!(
            out,
            vec![
                Action::Present(u(3)),
                Action::Present(u(4)),
                Action::PresentEnd
            ]
        );
        // A delete phase may follow: its deletions are explicit.
        out.clear();
        r.info(
            &mut p,
            &Info::IdSet {
                cookie: None,
                refresh_deletes: true,
                uuids: vec![u(5)],
            },
            &mut out,
        );
        let done = r.info(
            &mut p,
            &Info::RefreshDelete {
                cookie: Some(b"c".to_vec()),
                done: true,
            },
            &mut out,
        );
        assert!(done);
        assert_eq!(out, vec![Action::Delete(u(5))]);
        assert_eq!(p.cookie.as_deref(), Some(&b"c"[..]));
    }

    fn done(cookie: Option<&[u8]>, refresh_deletes: bool) -> DoneControl {
        DoneControl {
            cookie: cookie.map(<[u8]>::to_vec),
            refresh_deletes,
        }
    }

    #[test]
    fn a_refresh_only_present_phase_ends_with_the_search() {
        let mut p = cookie(b"a");
        let mut r = Refresh::new(&p);
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 1, None)),
            Action::Present(u(1))
        );
        let mut out = Vec::new();
        r.done(&mut p, &done(Some(b"b"), false), &mut out);
        assert_eq!(out, vec![Action::PresentEnd]);
        assert_eq!(p.cookie.as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn a_refresh_only_delete_phase_or_no_change_deletes_nothing_implicitly() {
        // slapd answers a cookie with nothing new by a bare Sync Done
        // Control, refreshDeletes TRUE and no cookie.
        let mut p = cookie(b"a");
        let mut r = Refresh::new(&p);
        let mut out = Vec::new();
        r.done(&mut p, &done(None, true), &mut out);
        assert!(out.is_empty());
        assert_eq!(p.cookie.as_deref(), Some(&b"a"[..]));
        // A present phase ended by a message, then a delete phase: the
        // phase is not ended twice.
        let mut r = Refresh::new(&p);
        r.info(
            &mut p,
            &Info::RefreshPresent {
                cookie: None,
                done: false,
            },
            &mut out,
        );
        r.done(&mut p, &done(Some(b"c"), false), &mut out);
        assert_eq!(out, vec![Action::PresentEnd]);
        // From nothing there is nothing to delete.
        let mut fresh = Progress::default();
        let mut r = Refresh::new(&fresh);
        out.clear();
        r.done(&mut fresh, &done(Some(b"d"), false), &mut out);
        assert!(out.is_empty());
        assert_eq!(fresh.cookie.as_deref(), Some(&b"d"[..]));
    }

    #[test]
    fn a_delete_phase_names_its_deletions() {
        let mut p = cookie(b"a");
        let mut r = Refresh::new(&p);
        assert_eq!(
            r.entry(&mut p, &state(State::Delete, 2, None)),
            Action::Delete(u(2))
        );
        let mut out = Vec::new();
        let done = r.info(
            &mut p,
            &Info::RefreshDelete {
                cookie: None,
                done: true,
            },
            &mut out,
        );
        assert!(done);
        assert!(out.is_empty());
    }

    #[test]
    fn cookies_come_from_entries_and_messages() {
        let mut p = cookie(b"a");
        let mut r = Refresh::persist();
        r.entry(&mut p, &state(State::Modify, 1, Some(b"d")));
        assert_eq!(p.cookie.as_deref(), Some(&b"d"[..]));
        let mut out = Vec::new();
        r.info(&mut p, &Info::NewCookie(b"e".to_vec()), &mut out);
        assert_eq!(p.cookie.as_deref(), Some(&b"e"[..]));
        // A missing cookie keeps the last one; one too long is not kept.
        r.entry(&mut p, &state(State::Add, 5, None));
        r.info(
            &mut p,
            &Info::NewCookie(vec![b'x'; MAX_COOKIE + 1]),
            &mut out,
        );
        assert_eq!(p.cookie.as_deref(), Some(&b"e"[..]));
    }

    #[test]
    fn persist_present_entries_are_sent() {
        // Outside a refresh from a cookie, a present entry carries its
        // attributes: it is sent like an add.
        let mut p = cookie(b"a");
        let mut r = Refresh::persist();
        assert_eq!(
            r.entry(&mut p, &state(State::Present, 7, None)),
            Action::Send(u(7))
        );
    }
}
