//! The state directory (DESIGN §14): the entries ypldapd keeps and the
//! sync cookies that describe them, saved so that a restart resumes each
//! content synchronization session from its cookie, and serves the saved
//! maps while the directories cannot be reached (at most `state max-age`
//! old). The format is [`crate::state`]'s.
//!
//! The directory is opened, created or taken over, and the saved state
//! read as root before the privilege drop; afterwards ypldapd writes only
//! there, through that descriptor (the sandbox allows nothing else): the
//! new state to `state.new`, `fsync`, renamed over `state`, the directory
//! synced. The file is `_ypldap`'s, mode 0600: it holds what
//! `master.passwd` and `shadow.byname` hold. A file owned by another user,
//! readable by others, cut short, of another format, domain or
//! configuration is refused with its reason logged, never served.
//!
//! The state is written by a worker process ([`privsep::worker`]), not
//! on the event loop: encoding 100,000 users takes some 65 ms, which on
//! the loop would hold every request arriving meanwhile. The worker is a
//! `fork()` of ypldapd, so it writes the entries exactly as they were at
//! that moment (copy on write) while the loop serves on, and it is in
//! ypldapd's sandbox. One worker at a time; at exit ypldapd waits for it,
//! then writes the last state itself.
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fstat};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, fchown, fsync, mkdir};
use privsep::Identity;

use crate::config::{Config, DEFAULT_STATE_DIRECTORY};
use crate::state::{self, Saved, ToSave};

use super::status::unix_now;

use yp_proto::MapName;

use super::*;

/// How often the state is written at most while changes come (and once
/// at exit).
const SAVE_EVERY: Duration = Duration::from_secs(30);

/// The state directory, open.
#[derive(Debug)]
pub(super) struct StateDir {
    path: PathBuf,
    dir: OwnedFd,
    fingerprint: String,
    /// When the next write is due (changes are waiting).
    due: Option<Instant>,
    last: Option<Instant>,
    /// The worker writing the state, while it runs.
    writer: Option<Writer>,
}

/// A worker process writing the state.
#[derive(Debug)]
struct Writer {
    pid: Pid,
    started: Instant,
    entries: usize,
}

impl StateDir {
    /// The directory's descriptor, for the sandbox's rules.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A new configuration: what is saved from now on is for it.
    pub(super) fn reconfigured(&mut self, config: &Config) {
        self.fingerprint = state::fingerprint(config);
    }

    /// The kept entries changed: a write is due, at most every
    /// [`SAVE_EVERY`].
    pub(super) fn changed(&mut self, now: Instant) {
        if self.due.is_none() {
            self.due = Some(self.last.map_or(now, |t| (t + SAVE_EVERY).max(now)));
        }
    }
}

/// Opens the state directory of `config` as root and reads the state
/// saved there. The default directory is used only when it exists (the
/// package creates it); one the configuration names is created when
/// missing. Either is given to `owner` (`_ypldap`), mode 0700. Problems
/// are logged; ypldapd runs on without saved state.
pub(super) fn open_state(config: &Config, owner: Identity) -> (Option<StateDir>, Option<Saved>) {
    let Some(path) = config.state.directory.clone() else {
        return (None, None);
    };
    let dir = match take_directory(&path, path != Path::new(DEFAULT_STATE_DIRECTORY), owner) {
        Ok(Some(d)) => d,
        Ok(None) => {
            info!(
                "state directory {} does not exist: nothing is saved (create it, mode 0700, to keep the maps and sync cookies across restarts)",
                path.display()
            );
            return (None, None);
        }
        Err(e) => {
            warning!("state directory {}: {e}; nothing is saved", path.display());
            return (None, None);
        }
    };
    let fingerprint = state::fingerprint(config);
    let saved = match read_saved(&dir, owner, config, &fingerprint) {
        Ok(s) => s,
        Err(why) => {
            warning!(
                "state file {}: refused: {why}; the directories are read in full",
                path.join(state::FILE).display()
            );
            None
        }
    };
    let dir = StateDir {
        path,
        dir,
        fingerprint,
        due: None,
        last: None,
        writer: None,
    };
    (Some(dir), saved)
}

/// Opens `path` (creating it when `create`), owned by `owner`, mode 0700.
fn take_directory(path: &Path, create: bool, owner: Identity) -> Result<Option<OwnedFd>, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dir = match open(path, flags, Mode::empty()) {
        Ok(d) => d,
        Err(Errno::ENOENT) if create => {
            mkdir(path, Mode::S_IRWXU).map_err(|e| format!("cannot create it: {e}"))?;
            open(path, flags, Mode::empty()).map_err(|e| e.to_string())?
        }
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ENOTDIR | Errno::ELOOP) => {
            return Err("not a directory (a symbolic link is not followed)".into());
        }
        Err(e) => return Err(e.to_string()),
    };
    let st = fstat(&dir).map_err(|e| e.to_string())?;
    if st.st_uid != 0 && st.st_uid != owner.uid.as_raw() {
        return Err(format!(
            "owned by uid {}, neither root nor {}",
            st.st_uid,
            privsep::UNPRIVILEGED_USER
        ));
    }
    fchown(&dir, Some(owner.uid), Some(owner.gid)).map_err(|e| format!("chown: {e}"))?;
    nix::sys::stat::fchmod(&dir, Mode::S_IRWXU).map_err(|e| format!("chmod: {e}"))?;
    Ok(Some(dir))
}

/// Reads and checks the state file, if there is one.
fn read_saved(
    dir: &OwnedFd,
    owner: Identity,
    config: &Config,
    fingerprint: &str,
) -> Result<Option<Saved>, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match openat(dir, state::FILE, flags, Mode::empty()) {
        Ok(f) => f,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let st = fstat(&fd).map_err(|e| e.to_string())?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err("not a regular file".into());
    }
    if st.st_uid != owner.uid.as_raw() {
        return Err(format!(
            "owned by uid {}, not {}",
            st.st_uid,
            privsep::UNPRIVILEGED_USER
        ));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(format!(
            "mode {:04o}: others may read or change it (it holds password hashes)",
            st.st_mode & 0o7777
        ));
    }
    if st.st_size < 0 || st.st_size as u64 > state::MAX_BYTES {
        return Err(format!("{} bytes, more than any state", st.st_size));
    }
    let mut bytes = Vec::with_capacity(st.st_size as usize);
    std::io::Read::read_to_end(&mut std::fs::File::from(fd), &mut bytes)
        .map_err(|e| e.to_string())?;
    state::decode(
        &bytes,
        &config.domain,
        fingerprint,
        config.directories.len(),
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

impl StateDir {
    /// Writes `what` as the new state: `state.new`, synced, renamed over
    /// `state`, the directory synced. Logs the outcome; whether it was
    /// saved.
    fn write(&self, domain: &str, what: ToSave<'_>) -> bool {
        let started = Instant::now();
        match self.write_file(domain, what) {
            Ok(bytes) => {
                debug!(
                    "state saved: {} entries, {bytes} bytes in {:.3} s",
                    what.store.len(),
                    started.elapsed().as_secs_f64()
                );
                true
            }
            Err(e) => {
                warning!(
                    "state directory {}: cannot save the state: {e}",
                    self.path.display()
                );
                false
            }
        }
    }

    fn write_file(&self, domain: &str, what: ToSave<'_>) -> Result<usize, String> {
        let text = state::encode(domain, &self.fingerprint, unix_now(), what);
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_TRUNC
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC;
        let fd = openat(
            &self.dir,
            state::NEW_FILE,
            flags,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(|e| format!("{}: {e}", state::NEW_FILE))?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&text)
            .map_err(|e| format!("{}: {e}", state::NEW_FILE))?;
        fsync(file.as_fd()).map_err(|e| format!("fsync: {e}"))?;
        drop(file);
        renameat(&self.dir, state::NEW_FILE, &self.dir, state::FILE)
            .map_err(|e| format!("rename: {e}"))?;
        fsync(&self.dir).map_err(|e| format!("fsync of the directory: {e}"))?;
        Ok(text.len())
    }

    /// Waits for the worker, if one runs (at exit).
    fn wait_for_writer(&mut self) {
        let Some(w) = self.writer.take() else {
            return;
        };
        loop {
            match waitpid(w.pid, None) {
                Err(Errno::EINTR) => {}
                Ok(status) => {
                    w.finished(status);
                    return;
                }
                // Reaped already.
                Err(_) => return,
            }
        }
    }
}

impl Writer {
    /// Logs how the worker ended; whether the state was saved.
    fn finished(&self, status: WaitStatus) -> bool {
        let took = self.started.elapsed().as_secs_f64();
        match status {
            WaitStatus::Exited(_, 0) => {
                debug!(
                    "state writer (pid {}) done: {} entries in {took:.3} s, off the event loop",
                    self.pid, self.entries
                );
                true
            }
            // It logged why.
            WaitStatus::Exited(_, code) => {
                warning!(
                    "state writer (pid {}) exited with status {code}: the state was not saved",
                    self.pid
                );
                false
            }
            other => {
                warning!(
                    "state writer (pid {}) ended ({other:?}): the state was not saved",
                    self.pid
                );
                false
            }
        }
    }
}

impl Daemon {
    /// The kept entries changed (maps installed): the state is written
    /// soon, at most every [`SAVE_EVERY`].
    pub(super) fn state_changed(&mut self, now: Instant) {
        if let Some(s) = self.state.as_mut() {
            s.changed(now);
        }
    }

    /// When the state is to be written next (none while a worker writes
    /// it: its end, a `SIGCHLD`, wakes the loop).
    pub(super) fn state_deadline(&self) -> Option<Instant> {
        self.state
            .as_ref()
            .filter(|s| s.writer.is_none())
            .and_then(|s| s.due)
    }

    /// Writes the state when due, by a worker process (see the module's
    /// documentation); with `force` (at exit) at once, here, after the
    /// worker in progress if any.
    pub(super) fn save_state(&mut self, now: Instant, force: bool) {
        let Some(s) = self.state.as_mut() else {
            return;
        };
        if force {
            s.wait_for_writer();
        } else if s.writer.is_some() || s.due.is_none_or(|t| t > now) {
            return;
        }
        let Some(store) = self.live.store() else {
            return;
        };
        let cookies = self.live.cookies();
        let orders = self
            .yp
            .snapshot()
            .map(|snap| map_orders(snap))
            .unwrap_or_default();
        let what = ToSave {
            store,
            cookies: &cookies,
            orders: &orders,
        };
        let domain = self.config.domain.as_str();
        let s = &*s;
        let writer = if force {
            s.write(domain, what);
            None
        } else {
            let started = Instant::now();
            match privsep::worker::fork_worker(|| u8::from(!s.write(domain, what))) {
                Ok(pid) => {
                    debug!(
                        "state writer started (pid {pid}, {} entries; fork {:.1} ms)",
                        store.len(),
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    Some(Writer {
                        pid,
                        started,
                        entries: store.len(),
                    })
                }
                Err(e) => {
                    warning!("cannot start a process to write the state ({e}): written here");
                    s.write(domain, what);
                    None
                }
            }
        };
        if let Some(s) = self.state.as_mut() {
            s.writer = writer;
            s.due = None;
            s.last = Some(now);
        }
    }

    /// A child ended: if it is the state writer, logged; whether it was.
    /// A write that failed is tried again [`SAVE_EVERY`] later.
    pub(super) fn state_writer_reaped(&mut self, status: WaitStatus, now: Instant) -> bool {
        let Some(s) = self.state.as_mut() else {
            return false;
        };
        if s.writer.as_ref().map(|w| w.pid) != status.pid() {
            return false;
        }
        if let Some(w) = s.writer.take() {
            if !w.finished(status) {
                s.changed(now);
            }
        }
        true
    }

    /// The first update failed: the maps saved at the last run are served
    /// until the directories answer, when they are young enough (`state
    /// max-age`). Done once.
    pub(super) fn serve_saved(&mut self, now: Instant) {
        let Some(written) = self.saved_at.take() else {
            return;
        };
        if self.announced || self.live.store().is_none() {
            return;
        }
        let age = unix_now().saturating_sub(written);
        let max = self.config.state.max_age.as_secs();
        if max == 0 {
            info!("state max-age 0: the saved maps are not served; waiting for the directories");
            return;
        }
        if age > max {
            warning!(
                "the saved maps are {age} s old, more than state max-age ({max} s): not served; waiting for the directories"
            );
            return;
        }
        info!(
            "serving the maps saved {age} s ago (state max-age {max} s) until the directories answer"
        );
        self.live.mark_dirty();
        self.start_rebuild(now);
    }
}

/// The ORDER number of each map `snap` serves, by name.
fn map_orders(snap: &yp_proto::Snapshot) -> BTreeMap<String, u32> {
    MapName::ALL
        .into_iter()
        .chain(snap.other_maps())
        .map(|m| (m.as_str().to_owned(), snap.map_order(m)))
        .collect()
}

/// What a start on saved state gives the daemon: the kept entries and
/// cookies, when they were written, and the newest ORDER number of the
/// maps then (those built from them are numbered above it).
pub(super) fn apply_saved(live: &mut sync::Live, saved: Saved, directories: usize) -> (u64, u32) {
    let newest = saved.newest_order();
    live.restore(saved.store, saved.cookies, directories);
    (saved.written, newest)
}
