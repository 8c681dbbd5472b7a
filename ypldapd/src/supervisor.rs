//! Starting, watching and restarting the two helpers.
//!
//! A helper is lost when its link closes or breaks the protocol, or when it
//! exits. ypldapd keeps serving the maps it has, logs why, and starts a new
//! helper after a back-off that doubles from 1 s to 60 s and resets once a
//! helper has stayed up for a minute. The new helper enters its own sandbox
//! before it reads anything, as the first one did.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ipc_proto::spawn::{Stdio, spawn_helper};
use ipc_proto::{Channel, Datagram, LinkError, Message};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// The first restart delay.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest restart delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long a helper must run for the back-off to start over.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// How long a helper whose link closed may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// One helper process and ypldapd's end of its link.
pub struct Helper<I, O> {
    /// `ypldap-client` or `ypldap-dns`, for logs.
    pub name: &'static str,
    path: PathBuf,
    args: Vec<OsString>,
    pid: Option<Pid>,
    chan: Option<Channel<I, O>>,
    started: Instant,
    backoff: Duration,
    last_delay: Duration,
    restart_at: Option<Instant>,
    kill_at: Option<Instant>,
    outbox: VecDeque<(Vec<u8>, Vec<OwnedFd>)>,
    outbox_bytes: usize,
    /// `limit helper-queue`: more queued than this and the helper is stuck.
    queue_limit: usize,
    /// The last drain stopped at its bound with messages perhaps waiting.
    backlog: bool,
    stopping: bool,
    /// Processes started, the first one included.
    starts: u64,
}

/// The most bytes queued for a helper before it counts as stuck, unless
/// the configuration says otherwise (`limit helper-queue`).
pub const OUTBOX_MAX: usize = 4 << 20;

impl<I, O: Message> Helper<I, O> {
    pub fn new(name: &'static str, path: PathBuf, args: Vec<OsString>) -> Self {
        Helper {
            name,
            path,
            args,
            pid: None,
            chan: None,
            started: Instant::now(),
            backoff: BACKOFF_MIN,
            last_delay: Duration::ZERO,
            restart_at: Some(Instant::now()),
            kill_at: None,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            queue_limit: OUTBOX_MAX,
            backlog: false,
            stopping: false,
            starts: 0,
        }
    }

    /// The binary this helper runs.
    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Sets `limit helper-queue`.
    pub fn set_queue_limit(&mut self, bytes: usize) {
        self.queue_limit = bytes;
    }

    /// Replaces the arguments used at the next start.
    pub fn set_args(&mut self, args: Vec<OsString>) {
        self.args = args;
    }

    /// Starts the helper and opens its link (non-blocking; our `Hello` is
    /// sent). On failure the next attempt is scheduled and the error returned.
    pub fn start(&mut self, stdio: Stdio<'_>, now: Instant) -> anyhow::Result<()> {
        self.restart_at = None;
        let mut argv: Vec<&std::ffi::OsStr> = vec![std::ffi::OsStr::new(self.name)];
        argv.extend(self.args.iter().map(std::ffi::OsString::as_os_str));
        let spawned = match spawn_helper(&self.path, &argv, stdio) {
            Ok(s) => s,
            Err(e) => {
                self.schedule_restart(now);
                anyhow::bail!("cannot start {} ({}): {e}", self.name, self.path.display());
            }
        };
        self.pid = Some(spawned.pid);
        self.started = now;
        self.starts += 1;
        spawned.link.set_nonblocking(true)?;
        privsep::rights::limit(&spawned.link, &crate::sandbox::HELPER_LINK)?;
        match Channel::open(spawned.link) {
            Ok(c) => self.chan = Some(c),
            Err(e) => {
                self.kill_now();
                anyhow::bail!("{}: cannot greet: {e}", self.name);
            }
        }
        Ok(())
    }

    /// The link, while the helper is up.
    pub fn channel(&mut self) -> Option<&mut Channel<I, O>> {
        self.chan.as_mut()
    }

    /// Sends `msg` (with `fd` attached) or queues it until the link has room.
    /// A helper that lets more than its queue limit pile up is stuck: it is
    /// killed here (and restarted once reaped), and the send fails. Fails
    /// too when the helper is down.
    pub fn send(&mut self, msg: &O, fd: Option<OwnedFd>) -> Result<(), LinkError> {
        let chan = self.chan.as_ref().ok_or(LinkError::Closed)?;
        let fds: Vec<OwnedFd> = fd.into_iter().collect();
        let bytes = ipc_proto::codec::encode(msg, fds.len()).map_err(LinkError::Encode)?;
        if self.outbox.is_empty() {
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
            match chan.link().send_encoded(&bytes, &borrowed) {
                Ok(()) => return Ok(()),
                Err(LinkError::WouldBlock) => {}
                Err(e) => return Err(e),
            }
        }
        self.outbox_bytes += bytes.len();
        self.outbox.push_back((bytes, fds));
        if self.outbox_bytes > self.queue_limit {
            crate::warning!(
                "{}: {} bytes queued for it, more than limit helper-queue {}: it does not read its link; killing it",
                self.name,
                self.outbox_bytes,
                self.queue_limit
            );
            self.drop_link(Instant::now(), true);
            return Err(LinkError::Closed);
        }
        Ok(())
    }

    /// After a readiness event: sends what was queued (when `writable`), then
    /// receives up to `max` datagrams (the handshake done, not yet decoded:
    /// the caller decodes each, borrowing from it). Returns them, and the
    /// error that ended the link, if one did (the caller then drops the
    /// helper). While
    /// [`Self::backlog`] says so afterwards, more may be waiting: the event
    /// loop must call again without waiting for a new event, since the
    /// descriptor is edge-triggered. The bound keeps one busy helper from
    /// holding up the YP answers.
    pub fn drain(&mut self, writable: bool, max: usize) -> (Vec<Datagram>, Option<LinkError>) {
        let mut got = Vec::new();
        self.backlog = false;
        if writable {
            if let Err(e) = self.flush() {
                return (got, Some(e));
            }
        }
        let Some(chan) = self.chan.as_mut() else {
            return (got, None);
        };
        loop {
            if got.len() >= max {
                self.backlog = true;
                return (got, None);
            }
            match chan.recv_datagram() {
                Ok(None) => {}
                Ok(Some(r)) => got.push(r),
                Err(LinkError::WouldBlock) => return (got, None),
                Err(e) => return (got, Some(e)),
            }
        }
    }

    /// Whether the last [`Self::drain`] stopped at its bound.
    pub fn backlog(&self) -> bool {
        self.backlog && self.chan.is_some()
    }

    /// Sends what was queued, as far as the link takes it.
    pub fn flush(&mut self) -> Result<(), LinkError> {
        let Some(chan) = self.chan.as_ref() else {
            return Ok(());
        };
        while let Some((bytes, fds)) = self.outbox.front() {
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
            match chan.link().send_encoded(bytes, &borrowed) {
                Ok(()) => {
                    self.outbox_bytes -= bytes.len();
                    self.outbox.pop_front();
                }
                Err(LinkError::WouldBlock) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The link's descriptor, for registering with the event loop.
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        self.chan.as_ref().map(|c| c.as_fd())
    }

    /// The helper's pid, while it has not been reaped.
    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// Starts after the first one.
    pub fn restarts(&self) -> u64 {
        self.starts.saturating_sub(1)
    }

    /// When the current (or last) process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When the helper is started again, while it is down.
    pub fn restart_at(&self) -> Option<Instant> {
        if self.pid.is_none() {
            self.restart_at
        } else {
            None
        }
    }

    /// Whether ypldapd holds the helper's link.
    pub fn linked(&self) -> bool {
        self.chan.is_some()
    }

    /// Whether the helper is up and has greeted us.
    pub fn ready(&self) -> bool {
        self.chan.as_ref().is_some_and(ipc_proto::Channel::greeted)
    }

    /// Closes the link (the helper sees EOF and exits). With `kill`, the
    /// helper broke the protocol and is killed at once; otherwise it gets a
    /// grace period to exit on its own.
    pub fn drop_link(&mut self, now: Instant, kill_it: bool) {
        self.chan = None;
        self.outbox.clear();
        self.outbox_bytes = 0;
        if kill_it {
            self.kill_now();
        } else if self.pid.is_some() {
            self.kill_at = Some(now + EXIT_GRACE);
        }
        if self.pid.is_none() {
            self.schedule_restart(now);
        }
    }

    fn kill_now(&mut self) {
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }

    /// Takes note of a reaped child if it is this helper; returns a line for
    /// the log.
    pub fn reaped(&mut self, status: WaitStatus, now: Instant) -> Option<String> {
        let pid = status.pid()?;
        if self.pid != Some(pid) {
            return None;
        }
        self.pid = None;
        self.chan = None;
        self.outbox.clear();
        self.outbox_bytes = 0;
        self.kill_at = None;
        let how = match status {
            WaitStatus::Exited(_, code) => format!("exited with status {code}"),
            WaitStatus::Signaled(_, sig, _) => format!("terminated by signal {}", sig.as_str()),
            other => format!("stopped ({other:?})"),
        };
        if self.stopping {
            return Some(format!("{} (pid {pid}) {how}", self.name));
        }
        self.schedule_restart(now);
        Some(format!(
            "{} (pid {pid}) {how}; restarting in {} s",
            self.name,
            self.last_delay.as_secs()
        ))
    }

    fn schedule_restart(&mut self, now: Instant) {
        if now.duration_since(self.started) >= HEALTHY_AFTER {
            self.backoff = BACKOFF_MIN;
        }
        self.last_delay = self.backoff;
        self.restart_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// The next moment this helper needs attention (restart or kill).
    pub fn deadline(&self) -> Option<Instant> {
        match (self.restart_at, self.kill_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a restart is due now.
    pub fn restart_due(&self, now: Instant) -> bool {
        self.pid.is_none() && self.restart_at.is_some_and(|t| t <= now)
    }

    /// Kills a helper that overstayed its grace period.
    pub fn enforce_grace(&mut self, now: Instant) {
        if self.kill_at.is_some_and(|t| t <= now) {
            self.kill_at = None;
            self.kill_now();
        }
    }

    /// At shutdown: close the link so the helper exits.
    pub fn shut_down(&mut self) {
        self.stopping = true;
        self.chan = None;
        self.outbox.clear();
        self.restart_at = None;
    }

    /// At shutdown, after a grace period: kill what is still running.
    pub fn force_stop(&mut self) {
        self.kill_now();
    }
}
