//! Content synchronization (RFC 4533) with a directory that offers it:
//! each of the directory's searches runs as a refreshAndPersist search.
//! The refresh (every entry) is read within an update, like a full read;
//! afterwards the searches stay open and the directory pushes every add,
//! modify, delete and rename, which a session task forwards to ypldapd as
//! they come ([`ClientToParent::Changes`]). A session that fails (the
//! connection lost, the server silent to a liveness probe, a search
//! ended) tells ypldapd ([`ClientToParent::SyncLost`]), which reads the
//! directory again.
//!
//! The controls and the intermediate message are read by
//! [`crate::content_sync`], never by ldap3's own parsers (see there).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use ipc_proto::entry_rules::Origin;
use ipc_proto::{Change, ClientToParent, Directory, SearchRef};
use ldap3::asn1::{PL, StructureTag, TagClass};
use ldap3::controls::RawControl;
use ldap3::{Ldap, ResultEntry, Scope, SearchStream};

use crate::content_sync::{
    self, Info, Mode, SYNC_INFO_OID, SYNC_REQUEST_OID, SYNC_STATE_OID, State, StateControl,
};
use crate::fetch::{self, Item, OPERATION_TIMEOUT, Search, Target};
use crate::hub::Hub;

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

/// The open searches of a directory whose refresh is done.
pub struct Refreshed {
    streams: Vec<(SearchRef, Stream)>,
    ldap: Ldap,
}

/// Result codes with which a server says it will not run a sync search
/// for this account: the directory is then read in full.
fn refusal(rc: u32) -> bool {
    // sizeLimitExceeded, adminLimitExceeded, unavailableCriticalExtension,
    // inappropriateAuthentication, insufficientAccessRights,
    // unwillingToPerform.
    matches!(rc, 4 | 11 | 12 | 48 | 50 | 53)
}

/// Runs every search of `dir` as refreshAndPersist over `ldap` and reads
/// each refresh (every entry, to `sink`, with its entryUUID), one search
/// after the other. The searches stay open for [`start`].
pub async fn refresh(
    mut ldap: Ldap,
    dir: &Directory,
    sink: &mut dyn FnMut(Item<'_>),
    done: &mut fetch::Fetched,
) -> Result<Refreshed, SyncError> {
    let mut streams = Vec::new();
    for s in fetch::searches(dir) {
        let name = s.name();
        let failed = |cause: String| SyncError::Failed {
            search: name,
            cause,
        };
        let request = RawControl {
            ctype: SYNC_REQUEST_OID.to_owned(),
            crit: true,
            val: Some(content_sync::encode_request(
                Mode::RefreshAndPersist,
                None,
                false,
            )),
        };
        let mut stream: Stream = ldap
            .with_controls(request)
            .streaming_search(&s.base, Scope::Subtree, &s.filter, s.attributes.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut seen = 0usize;
        loop {
            let next = tokio::time::timeout(OPERATION_TIMEOUT, stream.next())
                .await
                .map_err(|_| {
                    failed(format!(
                        "no answer within {} s",
                        OPERATION_TIMEOUT.as_secs()
                    ))
                })?
                .map_err(|e| failed(e.to_string()))?;
            let Some(re) = next else {
                // The search ended before its refresh did: refused, or a
                // server that does not persist.
                let result = stream.finish().await;
                if refusal(result.rc) || (streams.is_empty() && seen == 0) {
                    return Err(SyncError::Refused {
                        search: name,
                        rc: result.rc,
                        text: result.text,
                    });
                }
                return Err(failed(format!(
                    "the server ended the search (result {}: {})",
                    result.rc, result.text
                )));
            };
            match event(re) {
                Event::Entry { state, dn, attrs } => {
                    seen += 1;
                    if let Some(state) = state {
                        if matches!(state.state, State::Add | State::Modify | State::Present) {
                            entry(dir, &s, &dn, &attrs, &state, &mut |item| {
                                done.count(&item);
                                sink(item);
                            });
                        }
                    }
                }
                Event::Info(
                    Info::RefreshDelete { done: true, .. }
                    | Info::RefreshPresent { done: true, .. },
                ) => break,
                Event::Info(_) | Event::Other => {}
                Event::Malformed(why) => return Err(failed(why)),
            }
        }
        streams.push((search_ref(&s), stream));
    }
    Ok(Refreshed { streams, ldap })
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

/// The live sessions, by directory, and the directories whose server
/// refused content synchronization (read in full until the configuration
/// changes).
#[derive(Default)]
pub struct Sessions {
    live: HashMap<u32, Vec<tokio::task::JoinHandle<()>>>,
    refused: HashMap<u32, String>,
}

impl Sessions {
    pub fn is_live(&self, directory: u32) -> bool {
        self.live.contains_key(&directory)
    }

    pub fn refused(&self, directory: u32) -> bool {
        self.refused.contains_key(&directory)
    }

    pub fn refuse(&mut self, directory: u32, why: String) {
        self.refused.insert(directory, why);
    }

    /// Ends every session (a new configuration).
    pub fn clear(&mut self) {
        for (_, tasks) in self.live.drain() {
            for t in tasks {
                t.abort();
            }
        }
        self.refused.clear();
    }

    /// Ends directory `directory`'s session.
    fn end(&mut self, directory: u32) {
        for t in self.live.remove(&directory).into_iter().flatten() {
            t.abort();
        }
    }
}

/// Starts the session of directory `directory`: a task per search that
/// forwards its changes, and one that probes the server's liveness.
pub fn start(
    hub: &Rc<Hub>,
    sessions: &Rc<RefCell<Sessions>>,
    directory: u32,
    dir: Rc<Directory>,
    refreshed: Refreshed,
) {
    let Refreshed { streams, ldap } = refreshed;
    let mut tasks = Vec::new();
    for (search, mut stream) in streams {
        let (hub, sessions, dir) = (Rc::clone(hub), Rc::clone(sessions), Rc::clone(&dir));
        tasks.push(tokio::task::spawn_local(async move {
            let why = loop {
                match stream.next().await {
                    Ok(Some(re)) => {
                        if let Err(why) = forward(&hub, directory, &dir, search, re) {
                            break why;
                        }
                    }
                    Ok(None) => {
                        let r = stream.finish().await;
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
    sessions.borrow_mut().live.insert(directory, tasks);
}

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

/// Forwards one message of a persistent search as a change.
fn forward(
    hub: &Hub,
    directory: u32,
    dir: &Directory,
    search: SearchRef,
    re: ResultEntry,
) -> Result<(), String> {
    let changes: Vec<Change<'_>> = match event(re) {
        Event::Entry {
            state: Some(state),
            dn,
            attrs,
        } => {
            if state.state == State::Delete {
                vec![Change::Delete {
                    search,
                    uuid: content_sync::uuid_text(&state.uuid),
                }]
            } else {
                let searches = fetch::searches(dir);
                let Some(s) = searches.iter().find(|s| search_ref(s) == search) else {
                    return Ok(());
                };
                let mut out = Vec::new();
                entry(dir, s, &dn, &attrs, &state, &mut |item| match item {
                    Item::User(u) => out.push(Change::User(u.into_owned())),
                    Item::Group(g) => out.push(Change::Group(g.into_owned())),
                    Item::Record(r) => out.push(Change::Record(r.into_owned())),
                    // An entry that no longer meets the rules leaves the
                    // maps, as it would at a full read.
                    Item::Dropped { violation, .. } => {
                        hub.log(
                            ipc_proto::Level::Warning,
                            format!("dropped {dn:?}: {violation}"),
                        );
                        out.push(Change::Delete {
                            search,
                            uuid: content_sync::uuid_text(&state.uuid),
                        });
                    }
                });
                out
            }
        }
        Event::Info(Info::IdSet {
            refresh_deletes: true,
            uuids,
            ..
        }) => uuids
            .iter()
            .map(|u| Change::Delete {
                search,
                uuid: content_sync::uuid_text(u),
            })
            .collect(),
        Event::Malformed(why) => return Err(why),
        Event::Entry { state: None, .. } | Event::Info(_) | Event::Other => Vec::new(),
    };
    if changes.is_empty() {
        return Ok(());
    }
    hub.send(&ClientToParent::Changes { directory, changes })
        .map_err(|e| format!("cannot forward changes: {e}"))
}
