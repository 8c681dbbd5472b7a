//! Content synchronization (RFC 4533) with a directory that offers it:
//! each of the directory's searches runs as a refreshAndPersist search.
//! The refresh (every entry) is read within an update, like a full read;
//! afterwards the searches stay open and the directory pushes every add,
//! modify, delete and rename, which a session task forwards to ypldapd as
//! they come ([`ClientToParent::Changes`]). A session that fails (the
//! connection lost, the server silent to a liveness probe, a search
//! ended) tells ypldapd ([`ClientToParent::SyncLost`]), which starts an
//! update soon. That update resumes the session from its cookies
//! ([`resume`]): only the changes since are read, sent as changes to the
//! entries ypldapd kept; a server that cannot resume (a stale cookie,
//! e-syncRefreshRequired) gets a new session, refreshed in full.
//!
//! Where persist is not possible the session polls instead: a directory
//! whose block says `sync refreshonly`, or whose server ends the
//! refreshAndPersist search with its refresh (a SearchResultDone, as to a
//! refreshOnly search), is refreshed with refreshOnly searches, and then
//! searched again by refreshOnly from its cookies at each update ypldapd
//! asks for (every `interval`, [`Sessions::poll`]); what each poll brings
//! goes to ypldapd as the same [`ClientToParent::Changes`] a persistent
//! search's changes do.
//!
//! The controls and the intermediate message are read by
//! [`crate::content_sync`], never by ldap3's own parsers (see there).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use ipc_proto::entry_rules::Origin;
use ipc_proto::{Change, ClientToParent, Directory, EncodeError, LinkError, SearchRef};
use ldap3::asn1::{PL, StructureTag, TagClass};
use ldap3::controls::RawControl;
use ldap3::{Ldap, ResultEntry, Scope, SearchStream};

use ipc_proto::{BatchWriter, SyncSetting};
use tokio::sync::Notify;

use crate::content_sync::{
    self, E_SYNC_REFRESH_REQUIRED, Info, Mode, SYNC_DONE_OID, SYNC_INFO_OID, SYNC_REQUEST_OID,
    SYNC_STATE_OID, StateControl,
};
use crate::fetch::{self, Item, OPERATION_TIMEOUT, Search, Target};
use crate::hub::Hub;
use crate::sync_progress::{Action, Progress, Refresh, Uuid};

/// How often a live session checks that its server still answers (a
/// persistent search is silent while nothing changes, so silence alone
/// says nothing).
pub const LIVENESS_INTERVAL: Duration = Duration::from_secs(60);

/// A persistent search of a session, past its refresh.
type Stream = SearchStream<'static, String, Vec<String>>;

/// Why a directory cannot be kept current by content synchronization.
#[derive(Debug)]
pub enum SyncError {
    /// The server refused the sync search for this account (result code
    /// and text): the directory is read in full from now on.
    Refused {
        search: &'static str,
        rc: u32,
        text: String,
    },
    /// An LDAP or transport failure: the update fails, as a full read's.
    Failed { search: &'static str, cause: String },
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Refused { search, rc, text } => write!(
                f,
                "the server refused content synchronization for the {search} search (result {rc}{}{text})",
                if text.is_empty() { "" } else { ": " }
            ),
            SyncError::Failed { search, cause } => {
                write!(f, "{search} search (content synchronization): {cause}")
            }
        }
    }
}

impl std::error::Error for SyncError {}

/// Whether the server offers RFC 4533 (its root DSE lists the Sync
/// Request Control).
pub async fn offered(ldap: &mut Ldap) -> bool {
    let answer = ldap
        .with_timeout(OPERATION_TIMEOUT)
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
        .and_then(ldap3::SearchResult::success);
    let Ok((entries, _)) = answer else {
        return false;
    };
    entries.into_iter().any(|re| {
        fetch::parse_entry(re).is_some_and(|(_, attrs, _)| {
            attrs
                .values("supportedControl")
                .is_some_and(|v| v.iter().any(|c| c == SYNC_REQUEST_OID))
        })
    })
}

/// The searches of a directory whose refresh is done, each with its
/// progress, and open when the session persists.
pub struct Refreshed {
    streams: Vec<(SearchRef, Option<Stream>, Progress)>,
    ldap: Ldap,
    /// Why the session polls with refreshOnly instead of persisting
    /// (`None`: it persists, every search has its stream).
    polls: Option<String>,
}

impl Refreshed {
    /// The refreshed searches of one session; with `polls`, why the
    /// session polls (its open persistent searches are given up).
    async fn new(
        streams: Vec<(SearchRef, Option<Stream>, Progress)>,
        ldap: Ldap,
        polls: Option<String>,
    ) -> Refreshed {
        let mut refreshed = Refreshed {
            streams,
            ldap,
            polls: None,
        };
        if let Some(why) = polls {
            refreshed.polls_because(why).await;
        }
        refreshed
    }

    /// Each search's cookie, to give ypldapd after the entries or changes
    /// of the refresh.
    pub fn cookies(&self) -> Vec<(SearchRef, Vec<u8>)> {
        self.streams
            .iter()
            .filter_map(|(s, _, p)| p.cookie.clone().map(|c| (*s, c)))
            .collect()
    }

    /// Why the session polls instead of persisting (`None`: it persists).
    pub fn polls(&self) -> Option<&str> {
        self.polls.as_deref()
    }

    /// A search read to its end: the session polls from now on. The
    /// persistent searches already open end (abandoned), a poll reads
    /// their changes too.
    async fn polls_because(&mut self, why: String) {
        if self.polls.is_some() {
            return;
        }
        for (_, stream, _) in &mut self.streams {
            if let Some(mut open) = stream.take() {
                let id = open.ldap_handle().last_id();
                let _ = open.finish().await;
                let _ = self.ldap.abandon(id).await;
            }
        }
        self.polls = Some(why);
    }
}

/// The mode of a directory's sync searches: refreshAndPersist unless its
/// block says `sync refreshonly` (or its server turned out not to persist).
fn mode_of(dir: &Directory) -> Mode {
    if dir.sync == SyncSetting::RefreshOnly {
        Mode::RefreshOnly
    } else {
        Mode::RefreshAndPersist
    }
}

/// Why a directory polls when its block says so.
const CONFIGURED_TO_POLL: &str = "its block says \"sync refreshonly\"";

/// A directory resumed from its cookies: the changes since its session
/// ended, to send within the update, and its open searches.
pub struct Resumed {
    pub changes: Vec<Change<'static>>,
    pub refreshed: Refreshed,
}

/// Result codes with which a server says it will not run a sync search
/// for this account: the directory is then read in full.
fn refusal(rc: u32) -> bool {
    // sizeLimitExceeded, adminLimitExceeded, unavailableCriticalExtension,
    // inappropriateAuthentication, insufficientAccessRights,
    // unwillingToPerform.
    matches!(rc, 4 | 11 | 12 | 48 | 50 | 53)
}

/// More changes than a resume takes: past this, reading the whole
/// directory costs about the same, and the changes need not wait in
/// memory.
pub const RESUME_MAX_CHANGES: usize = 20_000;

/// The most entries a resume's present phase may name (a directory
/// larger than this is refreshed in full when its session log cannot
/// serve the cookie).
pub const RESUME_MAX_PRESENT: usize = 1_000_000;

/// One message of a refresh stage that the reader acts on: an entry to
/// send, or what else [`Refresh`] asks (a deletion, a present phase).
enum Refreshing<'a> {
    Entry {
        dn: &'a str,
        attrs: &'a crate::entry::Attributes,
        state: &'a StateControl,
    },
    Other(Action),
}

/// How a refresh stage ended before its end.
enum Cut {
    /// The server ended the search (result code and text).
    Ended {
        rc: u32,
        text: String,
    },
    Failed(String),
}

/// Opens search `s` in `mode` from `progress`'s cookie (from nothing
/// without one) and reads its refresh stage, handing each entry and
/// deletion to `emit`; returns the open search, or `None` when the
/// search ended with its refresh (refreshOnly, or a server that does not
/// persist).
async fn refresh_search(
    ldap: &mut Ldap,
    s: &Search<'_>,
    progress: &mut Progress,
    mode: Mode,
    emit: &mut dyn FnMut(Refreshing<'_>),
) -> Result<Option<Stream>, Cut> {
    let request = RawControl {
        ctype: SYNC_REQUEST_OID.to_owned(),
        crit: true,
        val: Some(content_sync::encode_request(
            mode,
            progress.cookie.as_deref(),
            false,
        )),
    };
    let mut stream: Stream = ldap
        .with_controls(request)
        .streaming_search(&s.base, Scope::Subtree, &s.filter, s.attributes.clone())
        .await
        .map_err(|e| Cut::Failed(e.to_string()))?;
    let mut refresh = Refresh::new(progress);
    let mut asked = Vec::new();
    loop {
        let next = tokio::time::timeout(OPERATION_TIMEOUT, stream.next())
            .await
            .map_err(|_| {
                Cut::Failed(format!(
                    "no answer within {} s",
                    OPERATION_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| Cut::Failed(e.to_string()))?;
        let Some(re) = next else {
            // The search ended: with its refresh when it succeeded with
            // a Sync Done Control (which ends the last phase), else
            // before it.
            let result = stream.finish().await;
            let done = result.ctrls.iter().find(|c| c.1.ctype == SYNC_DONE_OID);
            let done = match (result.rc, done) {
                (0, Some(c)) => content_sync::decode_done(c.1.val.as_deref().unwrap_or(&[]))
                    .map_err(|e| Cut::Failed(e.to_string()))?,
                // A server that ignored the control: its entries carried
                // no state, none was taken.
                (0, None) => {
                    return Err(Cut::Ended {
                        rc: 0,
                        text: "the search ended without a Sync Done Control".into(),
                    });
                }
                (rc, _) => {
                    return Err(Cut::Ended {
                        rc,
                        text: result.text,
                    });
                }
            };
            refresh.done(progress, &done, &mut asked);
            for a in asked.drain(..) {
                emit(Refreshing::Other(a));
            }
            return Ok(None);
        };
        match event(re) {
            Event::Entry {
                state: Some(state),
                dn,
                attrs,
            } => match refresh.entry(progress, &state) {
                Action::Send(_) => emit(Refreshing::Entry {
                    dn: &dn,
                    attrs: &attrs,
                    state: &state,
                }),
                Action::Nothing => {}
                other => emit(Refreshing::Other(other)),
            },
            Event::Info(info) => {
                let done = refresh.info(progress, &info, &mut asked);
                for a in asked.drain(..) {
                    emit(Refreshing::Other(a));
                }
                if done {
                    return Ok(Some(stream));
                }
            }
            Event::Entry { state: None, .. } | Event::Other => {}
            Event::Malformed(why) => return Err(Cut::Failed(why)),
        }
    }
}

/// Runs every search of `dir` as refreshAndPersist (refreshOnly when it
/// polls) over `ldap` and reads each refresh (every entry, to `sink`,
/// with its entryUUID), one search after the other. The searches stay
/// open for [`start`].
pub async fn refresh(
    mut ldap: Ldap,
    dir: &Directory,
    sink: &mut dyn FnMut(Item<'_>),
    done: &mut fetch::Fetched,
) -> Result<Refreshed, SyncError> {
    let mut streams = Vec::new();
    let mut mode = mode_of(dir);
    let mut polls = (mode == Mode::RefreshOnly).then(|| CONFIGURED_TO_POLL.to_owned());
    for s in fetch::searches(dir) {
        let mut progress = Progress::default();
        let read = refresh_search(&mut ldap, &s, &mut progress, mode, &mut |m| {
            // A refresh from nothing has nothing to delete.
            if let Refreshing::Entry { dn, attrs, state } = m {
                entry(dir, &s, dn, attrs, state, &mut |item| {
                    done.count(&item);
                    sink(item);
                });
            }
        })
        .await;
        let search = s.name();
        let stream = match read {
            Ok(Some(stream)) => Some(stream),
            Ok(None) => {
                if mode == Mode::RefreshAndPersist {
                    mode = Mode::RefreshOnly;
                    polls = Some(not_persisted(search));
                }
                None
            }
            // Refused, or ended before the first refresh did.
            Err(Cut::Ended { rc, text }) if refusal(rc) || streams.is_empty() => {
                return Err(SyncError::Refused { search, rc, text });
            }
            Err(Cut::Ended { rc, text }) => {
                return Err(SyncError::Failed {
                    search,
                    cause: format!("the server ended the search (result {rc}: {text})"),
                });
            }
            Err(Cut::Failed(cause)) => return Err(SyncError::Failed { search, cause }),
        };
        streams.push((search_ref(&s), stream, progress));
    }
    Ok(Refreshed::new(streams, ldap, polls).await)
}

/// Why a directory polls whose server ended the refreshAndPersist search
/// `search` with its refresh.
fn not_persisted(search: &str) -> String {
    format!(
        "the server ended the refreshAndPersist {search} search with its refresh (it does not persist)"
    )
}

/// What a catch-up from cookies gathered (a resume, a poll), within
/// [`RESUME_MAX_CHANGES`] and [`RESUME_MAX_PRESENT`].
#[derive(Default)]
struct Gathered {
    changes: Vec<Change<'static>>,
    altered: usize,
    present: usize,
    too_many: bool,
}

/// Runs search `s` of `dir` in `mode` from `progress`'s cookie and
/// gathers the changes since into `g`; returns the open search when it
/// persists.
async fn catch_up(
    hub: &Hub,
    ldap: &mut Ldap,
    dir: &Directory,
    s: &Search<'_>,
    progress: &mut Progress,
    mode: Mode,
    g: &mut Gathered,
) -> Result<Option<Stream>, Cut> {
    let search = search_ref(s);
    let began = g.changes.len();
    refresh_search(ldap, s, progress, mode, &mut |m| {
        if g.altered >= RESUME_MAX_CHANGES || g.present >= RESUME_MAX_PRESENT {
            g.too_many = true;
            return;
        }
        let uuid = |u: &Uuid| content_sync::uuid_text(u);
        match m {
            Refreshing::Entry { dn, attrs, state } => {
                g.altered += 1;
                entry(dir, s, dn, attrs, state, &mut |item| {
                    g.changes.push(change_of(hub, search, &state.uuid, item));
                });
            }
            Refreshing::Other(Action::Delete(u)) => {
                g.altered += 1;
                g.changes.push(Change::Delete {
                    search,
                    uuid: uuid(&u),
                });
            }
            Refreshing::Other(Action::Present(u)) => {
                g.present += 1;
                g.changes.push(Change::Present {
                    search,
                    uuid: uuid(&u),
                });
            }
            // The phase began with the search's refresh: what came
            // since is present too.
            Refreshing::Other(Action::PresentEnd) => {
                g.changes.insert(began, Change::PresentBegin { search });
                g.changes.push(Change::PresentEnd { search });
            }
            Refreshing::Other(Action::Send(_) | Action::Nothing) => {}
        }
    })
    .await
}

/// Resumes every search of `dir` from its cookie in `progress`: the
/// changes since are gathered, up to [`RESUME_MAX_CHANGES`], and the
/// searches stay open for [`start`] (or end, when the session polls).
pub async fn resume(
    hub: &Hub,
    mut ldap: Ldap,
    dir: &Directory,
    progress: Vec<(SearchRef, Progress)>,
) -> Result<Resumed, ResumeError> {
    let searches = fetch::searches(dir);
    let mut resumed = Vec::with_capacity(searches.len());
    for s in &searches {
        // A search without a cookie would be sent in full, without a
        // present phase: what it no longer finds would stay.
        match progress
            .iter()
            .find(|(r, p)| *r == search_ref(s) && p.cookie.is_some())
        {
            Some((_, p)) => resumed.push(p.clone()),
            None => {
                return Err(ResumeError::Other(format!(
                    "no cookie for the {} search",
                    s.name()
                )));
            }
        }
    }
    let mut g = Gathered::default();
    let mut streams = Vec::new();
    let mut mode = mode_of(dir);
    let mut polls = (mode == Mode::RefreshOnly).then(|| CONFIGURED_TO_POLL.to_owned());
    for (s, mut progress) in searches.iter().zip(resumed) {
        let read = catch_up(hub, &mut ldap, dir, s, &mut progress, mode, &mut g).await;
        if g.too_many {
            return Err(ResumeError::TooManyChanges);
        }
        let stream = read.map_err(|cut| resume_error(s, cut))?;
        if stream.is_none() && mode == Mode::RefreshAndPersist {
            mode = Mode::RefreshOnly;
            polls = Some(not_persisted(s.name()));
        }
        streams.push((search_ref(s), stream, progress));
    }
    let refreshed = Refreshed::new(streams, ldap, polls).await;
    Ok(Resumed {
        changes: g.changes,
        refreshed,
    })
}

/// Why search `s` could not catch up from its cookie.
fn resume_error(s: &Search<'_>, cut: Cut) -> ResumeError {
    match cut {
        Cut::Ended { rc, .. } if rc == E_SYNC_REFRESH_REQUIRED => ResumeError::RefreshRequired,
        Cut::Ended { rc, text } => ResumeError::Other(format!(
            "the server ended the {} search (result {rc}: {text})",
            s.name()
        )),
        Cut::Failed(cause) => ResumeError::Other(format!("{} search: {cause}", s.name())),
    }
}

/// Why a directory's session could not resume from its cookies (it is
/// then read in full by a new session).
#[derive(Debug)]
pub enum ResumeError {
    /// The server answered e-syncRefreshRequired: the cookie is too old.
    RefreshRequired,
    /// More than [`RESUME_MAX_CHANGES`] changes.
    TooManyChanges,
    Other(String),
}

impl std::fmt::Display for ResumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResumeError::RefreshRequired => {
                f.write_str("the server asks for a full refresh (e-syncRefreshRequired)")
            }
            ResumeError::TooManyChanges => {
                write!(f, "more than {RESUME_MAX_CHANGES} changes since")
            }
            ResumeError::Other(why) => f.write_str(why),
        }
    }
}

/// The deletion that replaces `change` when it is too large for a
/// message (`len` bytes): its entry leaves the maps, as a full read
/// drops it.
pub fn dropped_as_too_large(hub: &Hub, change: &Change<'_>, len: usize) -> Option<Change<'static>> {
    let (search, origin) = match change {
        Change::User(u) => (SearchRef::Users, &u.origin),
        Change::Group(g) => (SearchRef::Groups, &g.origin),
        Change::Record(r) => (SearchRef::Records(r.search), &r.origin),
        _ => return None,
    };
    hub.log(
        ipc_proto::Level::Warning,
        format!("dropped {:?}: {}", origin.dn, crate::update::too_large(len)),
    );
    Some(Change::Delete {
        search,
        uuid: origin.uuid.clone()?,
    })
}

/// The change that sends `item`, converted from entry `uuid` of `search`:
/// an entry that no longer meets the rules leaves the maps, as it would
/// at a full read.
fn change_of(hub: &Hub, search: SearchRef, uuid: &Uuid, item: Item<'_>) -> Change<'static> {
    match item {
        Item::User(u) => Change::User(u.into_owned()),
        Item::Group(g) => Change::Group(g.into_owned()),
        Item::Record(r) => Change::Record(r.into_owned()),
        Item::Dropped { dn, violation } => {
            hub.log(
                ipc_proto::Level::Warning,
                format!("dropped {dn:?}: {violation}"),
            );
            Change::Delete {
                search,
                uuid: content_sync::uuid_text(uuid),
            }
        }
    }
}

fn search_ref(s: &Search<'_>) -> SearchRef {
    match s.target {
        Target::Users => SearchRef::Users,
        Target::Groups => SearchRef::Groups,
        Target::Records(rs) => SearchRef::Records(rs.id),
    }
}

/// One message of a sync search.
enum Event {
    Entry {
        state: Option<StateControl>,
        dn: String,
        attrs: crate::entry::Attributes,
    },
    Info(Info),
    Other,
    Malformed(String),
}

fn event(mut re: ResultEntry) -> Event {
    if re.is_intermediate() {
        return match intermediate(&re.0) {
            Some((name, value)) if name == SYNC_INFO_OID.as_bytes() => {
                match content_sync::decode_info(&value) {
                    Ok(i) => Event::Info(i),
                    Err(e) => Event::Malformed(e.to_string()),
                }
            }
            _ => Event::Other,
        };
    }
    if re.is_ref() {
        return Event::Other;
    }
    let controls = std::mem::take(&mut re.1);
    let state = controls
        .iter()
        .find(|c| c.1.ctype == SYNC_STATE_OID)
        .map(|c| content_sync::decode_state(c.1.val.as_deref().unwrap_or(&[])));
    let state = match state {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Event::Malformed(e.to_string()),
        None => None,
    };
    match fetch::parse_entry(re) {
        Some((dn, attrs, _)) => Event::Entry { state, dn, attrs },
        None => Event::Malformed("malformed entry from the server".into()),
    }
}

/// The name and value of an IntermediateResponse (`[APPLICATION 25]
/// SEQUENCE { [0] name OPTIONAL, [1] value OPTIONAL }`).
fn intermediate(t: &StructureTag) -> Option<(Vec<u8>, Vec<u8>)> {
    let PL::C(parts) = &t.payload else {
        return None;
    };
    let mut name = Vec::new();
    let mut value = Vec::new();
    for p in parts {
        match (p.class, p.id, &p.payload) {
            (TagClass::Context, 0, PL::P(b)) => name.clone_from(b),
            (TagClass::Context, 1, PL::P(b)) => value.clone_from(b),
            _ => {}
        }
    }
    Some((name, value))
}

/// Converts one entry as a full read does, with its entryUUID.
fn entry(
    dir: &Directory,
    s: &Search<'_>,
    dn: &str,
    attrs: &crate::entry::Attributes,
    state: &StateControl,
    sink: &mut dyn FnMut(Item<'_>),
) {
    let uuid = content_sync::uuid_text(&state.uuid);
    let mut item = fetch::convert(dir, s.target, dn, attrs);
    match &mut item {
        Item::User(u) => set_uuid(&mut u.origin, uuid),
        Item::Group(g) => set_uuid(&mut g.origin, uuid),
        Item::Record(r) => set_uuid(&mut r.origin, uuid),
        Item::Dropped { .. } => {}
    }
    sink(item);
}

fn set_uuid(o: &mut Origin<'_>, uuid: String) {
    o.uuid = Some(uuid);
}

/// One search's progress, shared by its session's task and [`Sessions`].
type SearchProgress = (SearchRef, Rc<RefCell<Progress>>);

/// The live sessions, by directory, what each session remembers to
/// resume, and the directories whose server refused content
/// synchronization (read in full until the configuration changes).
#[derive(Default)]
pub struct Sessions {
    live: HashMap<u32, Vec<tokio::task::JoinHandle<()>>>,
    /// Per directory, per search (in the order of [`fetch::searches`]):
    /// kept after the session ends, for a resume.
    progress: HashMap<u32, Vec<SearchProgress>>,
    refused: HashMap<u32, String>,
    /// The sessions that poll, each woken by [`Sessions::poll`].
    polls: HashMap<u32, Rc<Notify>>,
}

impl Sessions {
    pub fn is_live(&self, directory: u32) -> bool {
        self.live.contains_key(&directory)
    }

    /// The directories whose session is live.
    pub fn live(&self) -> impl Iterator<Item = u32> + '_ {
        self.live.keys().copied()
    }

    pub fn refused(&self, directory: u32) -> bool {
        self.refused.contains_key(&directory)
    }

    pub fn refuse(&mut self, directory: u32, why: String) {
        self.refused.insert(directory, why);
    }

    /// Tells every session that polls to poll now (ypldapd asked for an
    /// update: the interval has passed). A session still polling polls
    /// once more when it is done.
    pub fn poll(&self) {
        for tick in self.polls.values() {
            tick.notify_one();
        }
    }

    /// What directory `directory`'s ended session remembers, to resume it.
    pub fn progress(&self, directory: u32) -> Option<Vec<(SearchRef, Progress)>> {
        let p = self.progress.get(&directory)?;
        Some(p.iter().map(|(s, p)| (*s, p.borrow().clone())).collect())
    }

    /// A cookie ypldapd saved for search `search` of directory
    /// `directory` (a restart): the directory may resume from it.
    pub fn restore(&mut self, directory: u32, search: SearchRef, cookie: Vec<u8>) {
        let searches = self.progress.entry(directory).or_default();
        let p = Rc::new(RefCell::new(Progress {
            cookie: Some(cookie),
        }));
        match searches.iter_mut().find(|(s, _)| *s == search) {
            Some(found) => found.1 = p,
            None => searches.push((search, p)),
        }
    }

    /// Forgets directory `directory`'s progress: it cannot resume.
    pub fn forget(&mut self, directory: u32) {
        self.progress.remove(&directory);
    }

    /// Ends every session (a new configuration).
    pub fn clear(&mut self) {
        for (_, tasks) in self.live.drain() {
            for t in tasks {
                t.abort();
            }
        }
        self.progress.clear();
        self.refused.clear();
        self.polls.clear();
    }

    /// Ends directory `directory`'s session; its progress stays.
    fn end(&mut self, directory: u32) {
        self.polls.remove(&directory);
        for t in self.live.remove(&directory).into_iter().flatten() {
            t.abort();
        }
    }
}

/// Starts the session of directory `directory`: a task per search that
/// forwards its changes (or one that polls, [`poll`]), and one that
/// probes the server's liveness.
pub fn start(
    hub: &Rc<Hub>,
    sessions: &Rc<RefCell<Sessions>>,
    directory: u32,
    dir: Rc<Directory>,
    refreshed: Refreshed,
) {
    let Refreshed {
        streams,
        ldap,
        polls,
    } = refreshed;
    let mut tasks = Vec::new();
    let mut kept = Vec::new();
    let mut open = Vec::new();
    for (search, stream, progress) in streams {
        let progress = Rc::new(RefCell::new(progress));
        kept.push((search, Rc::clone(&progress)));
        open.extend(stream.map(|s| (search, s, progress)));
    }
    // ypldapd logs why ([`ClientToParent::SyncSession`]).
    let tick = polls.as_ref().map(|_| {
        let tick = Rc::new(Notify::new());
        let (hub, sessions, dir, kept) = (
            Rc::clone(hub),
            Rc::clone(sessions),
            Rc::clone(&dir),
            kept.clone(),
        );
        let (wake, ldap) = (Rc::clone(&tick), ldap.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let why = poll(&hub, &sessions, directory, &dir, ldap, &kept, &wake).await;
            lost(&hub, &sessions, directory, &why);
        }));
        tick
    });
    for (search, mut stream, progress) in open {
        let (hub, sessions, dir) = (Rc::clone(hub), Rc::clone(sessions), Rc::clone(&dir));
        tasks.push(tokio::task::spawn_local(async move {
            let mut persist = Refresh::persist();
            let why = loop {
                match stream.next().await {
                    Ok(Some(re)) => {
                        let mut p = progress.borrow_mut();
                        if let Err(why) =
                            forward(&hub, directory, &dir, search, &mut persist, &mut p, re)
                        {
                            break why;
                        }
                    }
                    Ok(None) => {
                        let r = stream.finish().await;
                        if r.rc == E_SYNC_REFRESH_REQUIRED {
                            sessions.borrow_mut().forget(directory);
                        }
                        break format!("the server ended the search (result {}: {})", r.rc, r.text);
                    }
                    Err(e) => break e.to_string(),
                }
            };
            lost(&hub, &sessions, directory, &why);
        }));
    }
    let (probe_hub, probe_sessions) = (Rc::clone(hub), Rc::clone(sessions));
    let mut probe = ldap;
    tasks.push(tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(LIVENESS_INTERVAL).await;
            let answer = probe
                .with_timeout(OPERATION_TIMEOUT)
                .search("", Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await
                .and_then(ldap3::SearchResult::success);
            if let Err(e) = answer {
                let why = format!("the server did not answer a liveness check: {e}");
                lost(&probe_hub, &probe_sessions, directory, &why);
                return;
            }
        }
    }));
    let mut s = sessions.borrow_mut();
    s.live.insert(directory, tasks);
    s.progress.insert(directory, kept);
    if let Some(tick) = tick {
        s.polls.insert(directory, tick);
    }
}

/// A polling session's life: at each `tick`, every search of `dir` runs
/// as refreshOnly from its cookie, and the changes since go to ypldapd as
/// a persistent search's would, each search's before its new cookie.
/// Returns why the session ended (the server failed or refused, or asked
/// for a full refresh: the progress is then forgotten).
async fn poll(
    hub: &Hub,
    sessions: &RefCell<Sessions>,
    directory: u32,
    dir: &Directory,
    mut ldap: Ldap,
    kept: &[SearchProgress],
    tick: &Notify,
) -> String {
    let searches = fetch::searches(dir);
    loop {
        tick.notified().await;
        let mut brought = 0;
        for (search, progress) in kept {
            let Some(s) = searches.iter().find(|s| search_ref(s) == *search) else {
                continue;
            };
            // Kept only once ypldapd has what it covers.
            let mut next = progress.borrow().clone();
            let mut g = Gathered::default();
            let read = catch_up(hub, &mut ldap, dir, s, &mut next, Mode::RefreshOnly, &mut g).await;
            let failed = match read {
                _ if g.too_many => Some(ResumeError::TooManyChanges),
                Err(cut) => Some(resume_error(s, cut)),
                Ok(_) => None,
            };
            if let Some(e) = failed {
                if !matches!(e, ResumeError::Other(_)) {
                    // Read in full by a new session.
                    sessions.borrow_mut().forget(directory);
                }
                return format!("a poll failed: {e}");
            }
            brought += g.changes.len();
            if let Err(e) = send_changes(hub, directory, &g.changes) {
                return format!("cannot forward changes: {e}");
            }
            if next.cookie != progress.borrow().cookie {
                if let Some(cookie) = next.cookie.clone() {
                    if let Err(e) = hub.send(&ClientToParent::Cookie {
                        directory,
                        search: *search,
                        cookie,
                    }) {
                        return format!("cannot forward the cookie: {e}");
                    }
                }
            }
            *progress.borrow_mut() = next;
        }
        hub.log(
            ipc_proto::Level::Debug,
            format!(
                "directory {}: polled with refreshOnly: {brought} changes",
                dir.host
            ),
        );
    }
}

/// Sends changes in batches of about [`CHANGES_BATCH_BYTES`]; a change
/// too large for a message drops its entry instead.
pub fn send_changes(hub: &Hub, directory: u32, changes: &[Change<'_>]) -> Result<(), LinkError> {
    let mut batch = BatchWriter::new(
        &ClientToParent::Changes {
            directory,
            changes: Vec::new(),
        },
        CHANGES_BATCH_BYTES,
    );
    for c in changes {
        let pushed = match batch.push(c) {
            Err(EncodeError::Oversize { len }) => match dropped_as_too_large(hub, c, len) {
                Some(delete) => batch.push(&delete),
                None => continue,
            },
            other => other,
        };
        if let Ok(Some(full)) = pushed {
            hub.send_encoded(&full)?;
        }
    }
    match batch.take() {
        Some(last) => hub.send_encoded(&last),
        None => Ok(()),
    }
}

/// About this much JSON per message of changes (as an update's batches:
/// ypldapd answers YP requests between two).
const CHANGES_BATCH_BYTES: usize = 8 * 1024;

/// Ends a session and tells ypldapd.
fn lost(hub: &Hub, sessions: &RefCell<Sessions>, directory: u32, why: &str) {
    if !sessions.borrow().is_live(directory) {
        return;
    }
    let _ = hub.send(&ClientToParent::SyncLost {
        directory,
        reason: why.into(),
    });
    sessions.borrow_mut().end(directory);
}

/// Forwards one message of a persistent search as changes, and notes it
/// in the search's progress (a failure to send ends the reader, so the
/// progress never runs ahead of what ypldapd received); a new cookie goes
/// to ypldapd after the changes it covers.
fn forward(
    hub: &Hub,
    directory: u32,
    dir: &Directory,
    search: SearchRef,
    persist: &mut Refresh,
    progress: &mut Progress,
    re: ResultEntry,
) -> Result<(), String> {
    let cookie_before = progress.cookie.clone();
    let delete = |u: &Uuid| Change::Delete {
        search,
        uuid: content_sync::uuid_text(u),
    };
    let changes: Vec<Change<'_>> = match event(re) {
        Event::Entry {
            state: Some(state),
            dn,
            attrs,
        } => match persist.entry(progress, &state) {
            Action::Send(uuid) => {
                let searches = fetch::searches(dir);
                let Some(s) = searches.iter().find(|s| search_ref(s) == search) else {
                    return Ok(());
                };
                let mut out = Vec::new();
                entry(dir, s, &dn, &attrs, &state, &mut |item| {
                    out.push(change_of(hub, search, &uuid, item));
                });
                out
            }
            Action::Delete(uuid) => vec![delete(&uuid)],
            // A persistent search has no phases.
            Action::Present(_) | Action::PresentEnd | Action::Nothing => Vec::new(),
        },
        Event::Info(info) => {
            let mut asked = Vec::new();
            persist.info(progress, &info, &mut asked);
            asked
                .iter()
                .filter_map(|a| match a {
                    Action::Delete(u) => Some(delete(u)),
                    _ => None,
                })
                .collect()
        }
        Event::Malformed(why) => return Err(why),
        Event::Entry { state: None, .. } | Event::Other => Vec::new(),
    };
    let sent = send_changes_of(hub, directory, changes);
    if progress.cookie != cookie_before {
        if let Some(cookie) = progress.cookie.clone() {
            hub.send(&ClientToParent::Cookie {
                directory,
                search,
                cookie,
            })
            .map_err(|e| format!("cannot forward the cookie: {e}"))?;
        }
    }
    sent
}

/// Sends one message's changes; a change too large for a message drops
/// its entry instead.
fn send_changes_of(hub: &Hub, directory: u32, changes: Vec<Change<'_>>) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    let sent = hub.send(&ClientToParent::Changes {
        directory,
        changes: changes.clone(),
    });
    let sent = match sent {
        Err(LinkError::Encode(EncodeError::Oversize { len })) => {
            let changes: Vec<Change<'_>> = changes
                .iter()
                .map(|c| dropped_as_too_large(hub, c, len).unwrap_or_else(|| c.clone()))
                .collect();
            hub.send(&ClientToParent::Changes { directory, changes })
        }
        other => other,
    };
    sent.map_err(|e| format!("cannot forward changes: {e}"))
}
