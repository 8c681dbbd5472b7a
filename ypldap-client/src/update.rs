//! One update: for each directory in configuration order, get a connected
//! socket from the broker (through ypldapd), read the directory, and stream
//! its users and groups to ypldapd in batches. Any directory's failure fails
//! the update; ypldapd then keeps the maps it has.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc_proto::entry_rules::{DropReason, Text};
use ipc_proto::{
    BatchWriter, ClientToParent, Directory, DroppedEntry, EncodeError, Level, LinkError,
    MAX_MESSAGE_BYTES, ReadMode, SyncSetting,
};
use ldap3::Ldap;
use rustls::ClientConfig;

use crate::fetch::{self, Item};
use crate::hub::Hub;
use crate::sync::{self, Sessions};

/// How many dropped entries are reported by DN per update; the rest are
/// only counted.
pub const DROP_REPORTS: u64 = 256;

/// About this much JSON per batch message (the cap is 32 KiB): ypldapd
/// decodes one message per turn of its event loop and answers YP requests
/// between turns, so smaller batches keep it prompt during a refresh. One
/// system call per 8 KiB costs next to nothing.
const BATCH_BYTES: usize = 8 * 1024;

/// A directory ready to be read: its settings and, for TLS, its rustls
/// configuration (or why it could not be built).
pub struct ReadyDirectory {
    pub settings: Directory,
    pub tls: Result<Option<Arc<ClientConfig>>, String>,
}

/// How a directory is read in an update, once connected.
enum Prepared {
    /// Its session is live: not read.
    Live,
    /// Read in full or by a new session's refresh.
    Read(Ldap),
    /// Its ended session resumed from its cookies: the changes since.
    Resumed(sync::Resumed),
}

/// Runs update `update` over `dirs`. First each directory is connected
/// and asked whether it offers content synchronization (one whose session
/// is live is left alone; one whose session ended, and whose entries
/// ypldapd still keeps (`resumable`), resumes from its cookies); ypldapd
/// is told the plan; then each directory is read in turn, its entries
/// streamed as they come, in full or by the refresh of its sync searches,
/// or its changes since its session ended; once the update is done, the
/// sessions of the directories refreshed start pushing changes.
pub async fn run(
    hub: &Rc<Hub>,
    dirs: &[Rc<ReadyDirectory>],
    sessions: &Rc<RefCell<Sessions>>,
    update: u64,
    resumable: &[u32],
) -> Result<(), LinkError> {
    let started = Instant::now();
    let fail = |dir: &ReadyDirectory, why: &dyn std::fmt::Display| {
        hub.send(&ClientToParent::UpdateFailed {
            update,
            reason: format!("directory {}: {why}", dir.settings.host).into(),
        })
    };
    // Connect and plan.
    let mut opened: Vec<Prepared> = Vec::with_capacity(dirs.len());
    let mut modes = Vec::with_capacity(dirs.len());
    for (index, dir) in dirs.iter().enumerate() {
        let index = index as u32;
        if sessions.borrow().is_live(index) {
            modes.push(ReadMode::Live);
            opened.push(Prepared::Live);
            continue;
        }
        // Without the entries at ypldapd, changes would apply to nothing.
        if !resumable.contains(&index) {
            sessions.borrow_mut().forget(index);
        }
        let tls = match &dir.tls {
            Ok(t) => t.clone(),
            Err(e) => return fail(dir, e),
        };
        let stream = match hub.connect(index).await? {
            Ok(s) => s,
            Err(e) => return fail(dir, &e),
        };
        let mut ldap = match fetch::open(&dir.settings, tls, stream).await {
            Ok(l) => l,
            Err(e) => return fail(dir, &e),
        };
        let wanted = dir.settings.sync != SyncSetting::Off && !sessions.borrow().refused(index);
        if !(wanted && sync::offered(&mut ldap).await) {
            modes.push(ReadMode::Full);
            opened.push(Prepared::Read(ldap));
            continue;
        }
        let progress = sessions.borrow().progress(index);
        if let Some(progress) = progress {
            sessions.borrow_mut().forget(index);
            match sync::resume(hub, ldap.clone(), &dir.settings, progress).await {
                Ok(resumed) => {
                    hub.log(
                        Level::Debug,
                        format!(
                            "directory {}: content synchronization resumed from its cookie: {} changes since the session ended",
                            dir.settings.host,
                            resumed.changes.len()
                        ),
                    );
                    modes.push(ReadMode::Resume);
                    opened.push(Prepared::Resumed(resumed));
                    continue;
                }
                Err(e) => hub.log(
                    Level::Info,
                    format!(
                        "directory {}: content synchronization cannot resume from its cookie ({e}): refreshing it in full",
                        dir.settings.host
                    ),
                ),
            }
        }
        modes.push(ReadMode::Sync);
        opened.push(Prepared::Read(ldap));
    }
    hub.send(&ClientToParent::UpdatePlan {
        update,
        modes: modes.clone(),
    })?;
    // Read.
    let mut out = Batches::new(update);
    let mut referrals = 0;
    let mut done = fetch::Fetched::default();
    let mut refreshed = Vec::new();
    for (index, (dir, prepared)) in dirs.iter().zip(opened).enumerate() {
        let directory = index as u32;
        let mut ldap = match prepared {
            Prepared::Live => continue,
            Prepared::Read(ldap) => ldap,
            Prepared::Resumed(resumed) => {
                hub.send(&ClientToParent::ReadBegin {
                    update,
                    directory,
                    mode: ReadMode::Resume,
                })?;
                send_changes(hub, directory, resumed.changes)?;
                send_cookies(hub, directory, &resumed.refreshed)?;
                refreshed.push((directory, Rc::clone(dir), resumed.refreshed));
                continue;
            }
        };
        let mut mode = modes.get(index).copied().unwrap_or(ReadMode::Full);
        hub.send(&ClientToParent::ReadBegin {
            update,
            directory,
            mode,
        })?;
        let mut link_error = None;
        let streamed = Cell::new(false);
        let mut sink = |item: Item<'_>| {
            streamed.set(true);
            if let Err(e) = out.item(hub, &item) {
                link_error.get_or_insert(e);
            }
        };
        let mut result = Ok(());
        let mut cookies_of = None;
        if mode == ReadMode::Sync {
            match sync::refresh(ldap.clone(), &dir.settings, &mut sink, &mut done).await {
                Ok(r) => {
                    cookies_of = Some(refreshed.len());
                    refreshed.push((directory, Rc::clone(dir), r));
                }
                Err(sync::SyncError::Refused { search, rc, text }) => {
                    let why = sync::SyncError::Refused { search, rc, text }.to_string();
                    sessions.borrow_mut().refuse(directory, why.clone());
                    // Nothing of it sent yet: read it in full now.
                    let when = if streamed.get() {
                        result = Err(why.clone());
                        "from the next update"
                    } else {
                        mode = ReadMode::Full;
                        hub.send(&ClientToParent::ReadBegin {
                            update,
                            directory,
                            mode,
                        })?;
                        "now"
                    };
                    hub.log(
                        Level::Warning,
                        format!(
                            "directory {}: {why}; reading it in full {when}",
                            dir.settings.host
                        ),
                    );
                }
                Err(e) => result = Err(e.to_string()),
            }
        }
        if mode == ReadMode::Full {
            result = match fetch::read(&mut ldap, &dir.settings, &mut sink).await {
                Ok(f) => {
                    done.add(&f);
                    let _ = ldap.with_timeout(Duration::from_secs(2)).unbind().await;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
        }
        if let Some(e) = link_error {
            return Err(e);
        }
        if let Err(why) = result {
            return fail(dir, &why);
        }
        // Each directory's entries before the next one's ReadBegin, and
        // before the cookies that cover them.
        out.flush(hub)?;
        if let Some((_, _, r)) = cookies_of.and_then(|i| refreshed.get(i)) {
            send_cookies(hub, directory, r)?;
        }
    }
    out.flush(hub)?;
    referrals += done.referrals;
    hub.log(
        Level::Debug,
        format!(
            "read {} directories: {} users, {} groups, {} other entries in {:.2} s",
            dirs.len(),
            done.users,
            done.groups,
            done.records,
            started.elapsed().as_secs_f64()
        ),
    );
    for (directory, _, r) in &refreshed {
        hub.send(&ClientToParent::SyncSession {
            directory: *directory,
            polls: r.polls().map(Into::into),
        })?;
    }
    hub.send(&ClientToParent::UpdateDone {
        update,
        dropped: std::mem::take(&mut out.dropped),
        referrals,
    })?;
    for (directory, dir, r) in refreshed {
        sync::start(hub, sessions, directory, Rc::new(dir.settings.clone()), r);
    }
    Ok(())
}

/// Users, groups and drop reports waiting to be sent, and the drop counts.
struct Batches {
    users: BatchWriter,
    groups: BatchWriter,
    records: BatchWriter,
    drops: BatchWriter,
    dropped: BTreeMap<DropReason, u64>,
}

impl Batches {
    fn new(update: u64) -> Self {
        Batches {
            users: BatchWriter::new(
                &ClientToParent::Users {
                    update,
                    entries: Vec::new(),
                },
                BATCH_BYTES,
            ),
            groups: BatchWriter::new(
                &ClientToParent::Groups {
                    update,
                    entries: Vec::new(),
                },
                BATCH_BYTES,
            ),
            records: BatchWriter::new(
                &ClientToParent::Records {
                    update,
                    entries: Vec::new(),
                },
                BATCH_BYTES,
            ),
            drops: BatchWriter::new(
                &ClientToParent::Dropped {
                    update,
                    entries: Vec::new(),
                },
                BATCH_BYTES,
            ),
            dropped: BTreeMap::new(),
        }
    }

    /// Adds one item to its batch, sending the batch first when it is full.
    fn item(&mut self, hub: &Hub, item: &Item<'_>) -> Result<(), LinkError> {
        let (pushed, dn) = match item {
            Item::User(u) => (self.users.push(u), &*u.origin.dn),
            Item::Group(g) => (self.groups.push(g), &*g.origin.dn),
            Item::Record(r) => (self.records.push(r), &*r.origin.dn),
            Item::Dropped { dn, violation } => {
                return self.drop_entry(hub, dn, violation.reason(), &violation.to_string());
            }
        };
        match pushed {
            Ok(full) => send(hub, full),
            Err(e) => {
                let detail = match e {
                    EncodeError::Oversize { len } => too_large(len),
                    other => other.to_string(),
                };
                self.drop_entry(hub, dn, DropReason::EntryTooLarge, &detail)
            }
        }
    }

    /// Counts a dropped entry, and reports the first few by DN.
    fn drop_entry(
        &mut self,
        hub: &Hub,
        dn: &str,
        reason: DropReason,
        detail: &str,
    ) -> Result<(), LinkError> {
        let count = self.dropped.entry(reason).or_default();
        *count += 1;
        if self.dropped.values().sum::<u64>() > DROP_REPORTS {
            return Ok(());
        }
        // A DN too long for a message is cut for the report only.
        let dn = if dn.len() > 1024 {
            let mut cut = 1024;
            while !dn.is_char_boundary(cut) {
                cut -= 1;
            }
            &dn[..cut]
        } else {
            dn
        };
        let report = DroppedEntry {
            dn: Text::from(dn),
            reason,
            detail: Text::from(detail),
        };
        match self.drops.push(&report) {
            Ok(full) => send(hub, full),
            Err(_) => Ok(()),
        }
    }

    fn flush(&mut self, hub: &Hub) -> Result<(), LinkError> {
        send(hub, self.users.take())?;
        send(hub, self.groups.take())?;
        send(hub, self.records.take())?;
        send(hub, self.drops.take())
    }
}

/// Why an entry of `len` bytes is left out.
pub fn too_large(len: usize) -> String {
    format!(
        "its values come to {len} bytes, more than one message carries ({MAX_MESSAGE_BYTES}); no map line could hold them"
    )
}

/// Gives ypldapd the cookies a refresh (or resume) of `directory` ended
/// with, after its entries.
fn send_cookies(hub: &Hub, directory: u32, r: &sync::Refreshed) -> Result<(), LinkError> {
    for (search, cookie) in r.cookies() {
        hub.send(&ClientToParent::Cookie {
            directory,
            search,
            cookie,
        })?;
    }
    Ok(())
}

/// Sends a resumed directory's changes, in batches.
fn send_changes(
    hub: &Hub,
    directory: u32,
    changes: Vec<ipc_proto::Change<'static>>,
) -> Result<(), LinkError> {
    let mut batch = BatchWriter::new(
        &ClientToParent::Changes {
            directory,
            changes: Vec::new(),
        },
        BATCH_BYTES,
    );
    for c in &changes {
        let pushed = match batch.push(c) {
            Err(EncodeError::Oversize { len }) => match sync::dropped_as_too_large(hub, c, len) {
                Some(delete) => batch.push(&delete),
                None => continue,
            },
            other => other,
        };
        if let Ok(full) = pushed {
            send(hub, full)?;
        }
    }
    send(hub, batch.take())
}

/// Sends a finished batch datagram, if there is one.
fn send(hub: &Hub, datagram: Option<Vec<u8>>) -> Result<(), LinkError> {
    match datagram {
        Some(d) => hub.send_encoded(&d),
        None => Ok(()),
    }
}
