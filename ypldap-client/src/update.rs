//! One update: for each directory in configuration order, get a connected
//! socket from the broker (through ypldapd), read the directory, and stream
//! its users and groups to ypldapd in batches. Any directory's failure fails
//! the update; ypldapd then keeps the maps it has.

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use ipc_proto::{
    Channel, ClientToParent, Directory, GroupEntry, Level, LinkError, MAX_MESSAGE_BYTES,
    ParentToClient, UserEntry,
};
use rustls::ClientConfig;

use crate::fetch::{self, Item};

/// How many dropped entries are logged one by one per update; the rest are
/// only counted in the summary.
const DROP_WARNINGS: u32 = 20;

/// Room left in a batch message for everything but the entries.
const BATCH_OVERHEAD: usize = 256;

/// A directory ready to be read: its settings and, for TLS, its rustls
/// configuration (or why it could not be built).
pub struct ReadyDirectory {
    pub settings: Directory,
    pub tls: Result<Option<Arc<ClientConfig>>, String>,
}

type Chan = Channel<ParentToClient, ClientToParent>;

/// Runs update `update` over `dirs`. Messages that are not for this update
/// (a new configuration) are kept in `later` for the main loop.
pub fn run(
    chan: &mut Chan,
    runtime: &tokio::runtime::Runtime,
    dirs: &[ReadyDirectory],
    update: u64,
    next_request: &mut u64,
    later: &mut VecDeque<ParentToClient>,
) -> Result<(), LinkError> {
    let started = Instant::now();
    let mut out = Batches::new(update);
    let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
    let mut warned = 0u32;
    let mut referrals = 0;
    let mut totals = (0u64, 0u64);
    for (index, dir) in dirs.iter().enumerate() {
        let fail = |chan: &mut Chan, why: String| {
            chan.send(
                &ClientToParent::UpdateFailed {
                    update,
                    reason: format!("directory {}: {why}", dir.settings.host),
                },
                &[],
            )
        };
        let tls = match &dir.tls {
            Ok(t) => t.clone(),
            Err(e) => return fail(chan, e.clone()),
        };
        *next_request += 1;
        let stream = match connect(chan, index as u32, *next_request, later)? {
            Ok(s) => s,
            Err(e) => return fail(chan, e),
        };
        let mut link_error = None;
        let result = runtime.block_on(fetch::fetch(&dir.settings, tls, stream, &mut |item| {
            let sent = match item {
                Item::User(u) => out.user(chan, u),
                Item::Group(g) => out.group(chan, g),
                Item::Dropped { dn, reason } => {
                    *dropped.entry(reason.kind().to_owned()).or_default() += 1;
                    if warned < DROP_WARNINGS {
                        warned += 1;
                        chan.log(Level::Warning, format!("dropping {dn:?}: {reason}"));
                    }
                    Ok(())
                }
            };
            if let Err(e) = sent {
                link_error.get_or_insert(e);
            }
        }));
        if let Some(e) = link_error {
            return Err(e);
        }
        match result {
            Ok(f) => {
                referrals += f.referrals;
                totals.0 += f.users;
                totals.1 += f.groups;
            }
            Err(e) => return fail(chan, e),
        }
    }
    out.flush(chan)?;
    if warned == DROP_WARNINGS {
        chan.log(
            Level::Warning,
            "more dropped entries were not logged one by one; see the update summary",
        );
    }
    chan.log(
        Level::Debug,
        format!(
            "read {} directories: {} users, {} groups in {:.2} s",
            dirs.len(),
            totals.0,
            totals.1,
            started.elapsed().as_secs_f64()
        ),
    );
    chan.send(
        &ClientToParent::UpdateDone {
            update,
            dropped,
            referrals,
        },
        &[],
    )
}

/// Asks for a connected socket to directory `index` and waits for it.
fn connect(
    chan: &mut Chan,
    index: u32,
    request: u64,
    later: &mut VecDeque<ParentToClient>,
) -> Result<Result<TcpStream, String>, LinkError> {
    chan.send(
        &ClientToParent::Connect {
            request,
            directory: index,
        },
        &[],
    )?;
    loop {
        let Some(r) = chan.recv()? else { continue };
        let mut fds = r.fds.into_iter();
        match r.message {
            ParentToClient::Connected { request: q, .. } if q == request => {
                let fd: OwnedFd = fds.next().ok_or(LinkError::Closed)?;
                return Ok(Ok(TcpStream::from(fd)));
            }
            ParentToClient::ConnectFailed {
                request: q, error, ..
            } if q == request => return Ok(Err(error)),
            // An answer to an earlier, abandoned request: its socket closes here.
            ParentToClient::Connected { .. } | ParentToClient::ConnectFailed { .. } => {}
            other => later.push_back(other),
        }
    }
}

/// Users and groups waiting to be sent, each list below the message limit.
struct Batches {
    update: u64,
    users: Vec<UserEntry>,
    users_len: usize,
    groups: Vec<GroupEntry>,
    groups_len: usize,
}

impl Batches {
    fn new(update: u64) -> Self {
        Batches {
            update,
            users: Vec::new(),
            users_len: 0,
            groups: Vec::new(),
            groups_len: 0,
        }
    }

    fn user(&mut self, chan: &Chan, u: UserEntry) -> Result<(), LinkError> {
        let len = serde_json::to_vec(&u).map_or(MAX_MESSAGE_BYTES, |v| v.len()) + 1;
        if self.users_len + len > MAX_MESSAGE_BYTES - BATCH_OVERHEAD {
            self.send_users(chan)?;
        }
        self.users_len += len;
        self.users.push(u);
        Ok(())
    }

    fn group(&mut self, chan: &Chan, g: GroupEntry) -> Result<(), LinkError> {
        let len = serde_json::to_vec(&g).map_or(MAX_MESSAGE_BYTES, |v| v.len()) + 1;
        if self.groups_len + len > MAX_MESSAGE_BYTES - BATCH_OVERHEAD {
            self.send_groups(chan)?;
        }
        self.groups_len += len;
        self.groups.push(g);
        Ok(())
    }

    fn send_users(&mut self, chan: &Chan) -> Result<(), LinkError> {
        if self.users.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.users);
        self.users_len = 0;
        chan.send(
            &ClientToParent::Users {
                update: self.update,
                entries,
            },
            &[],
        )
    }

    fn send_groups(&mut self, chan: &Chan) -> Result<(), LinkError> {
        if self.groups.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.groups);
        self.groups_len = 0;
        chan.send(
            &ClientToParent::Groups {
                update: self.update,
                entries,
            },
            &[],
        )
    }

    fn flush(&mut self, chan: &Chan) -> Result<(), LinkError> {
        self.send_users(chan)?;
        self.send_groups(chan)
    }
}
