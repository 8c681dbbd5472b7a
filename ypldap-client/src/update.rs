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

/// About this much JSON of entries per batch message (the cap is 32 KiB):
/// ypldapd decodes one message per turn of its event loop and answers YP
/// requests between turns, so smaller batches keep it prompt during a
/// refresh. One system call per 8 KiB costs next to nothing.
const BATCH_BYTES: usize = 8 * 1024;

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

/// Entries of one kind waiting to be sent, below the message limit.
struct Batch<T> {
    items: Vec<T>,
    len: usize,
}

impl<T: serde::Serialize> Batch<T> {
    fn new() -> Self {
        Batch {
            items: Vec::new(),
            len: 0,
        }
    }

    /// Adds `item`, first sending what is queued (as built by `message`)
    /// when `item` would not fit beside it.
    fn push(
        &mut self,
        chan: &Chan,
        item: T,
        message: impl Fn(Vec<T>) -> ClientToParent,
    ) -> Result<(), LinkError> {
        let len = serde_json::to_vec(&item).map_or(MAX_MESSAGE_BYTES, |v| v.len()) + 1;
        if self.len + len > BATCH_BYTES.min(MAX_MESSAGE_BYTES - BATCH_OVERHEAD) {
            self.send(chan, message)?;
        }
        self.len += len;
        self.items.push(item);
        Ok(())
    }

    fn send(
        &mut self,
        chan: &Chan,
        message: impl Fn(Vec<T>) -> ClientToParent,
    ) -> Result<(), LinkError> {
        if self.items.is_empty() {
            return Ok(());
        }
        self.len = 0;
        chan.send(&message(std::mem::take(&mut self.items)), &[])
    }
}

/// Users and groups waiting to be sent.
struct Batches {
    update: u64,
    users: Batch<UserEntry>,
    groups: Batch<GroupEntry>,
}

impl Batches {
    fn new(update: u64) -> Self {
        Batches {
            update,
            users: Batch::new(),
            groups: Batch::new(),
        }
    }

    fn users_message(&self) -> impl Fn(Vec<UserEntry>) -> ClientToParent + use<> {
        let update = self.update;
        move |entries| ClientToParent::Users { update, entries }
    }

    fn groups_message(&self) -> impl Fn(Vec<GroupEntry>) -> ClientToParent + use<> {
        let update = self.update;
        move |entries| ClientToParent::Groups { update, entries }
    }

    fn user(&mut self, chan: &Chan, u: UserEntry) -> Result<(), LinkError> {
        let m = self.users_message();
        self.users.push(chan, u, m)
    }

    fn group(&mut self, chan: &Chan, g: GroupEntry) -> Result<(), LinkError> {
        let m = self.groups_message();
        self.groups.push(chan, g, m)
    }

    fn flush(&mut self, chan: &Chan) -> Result<(), LinkError> {
        let (mu, mg) = (self.users_message(), self.groups_message());
        self.users.send(chan, mu)?;
        self.groups.send(chan, mg)
    }
}
