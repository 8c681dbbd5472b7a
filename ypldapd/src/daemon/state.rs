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

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, SFlag, fstat};
use nix::unistd::mkdir;
use nix::unistd::{fchown, fsync};
use privsep::Identity;

use crate::config::{Config, DEFAULT_STATE_DIRECTORY};
use crate::state::{self, Saved};

use super::status::unix_now;

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
    /// Writes `store` and `cookies` as the new state: `state.new`, synced,
    /// renamed over `state`, the directory synced.
    fn write(
        &self,
        domain: &str,
        store: &yp_proto::store::EntryStore,
        cookies: &[((usize, ipc_proto::SearchRef), Vec<u8>)],
    ) -> Result<usize, String> {
        let text = state::encode(domain, &self.fingerprint, unix_now(), store, cookies);
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
}

impl Daemon {
    /// The kept entries changed (maps installed): the state is written
    /// soon, at most every [`SAVE_EVERY`].
    pub(super) fn state_changed(&mut self, now: Instant) {
        if let Some(s) = self.state.as_mut() {
            s.changed(now);
        }
    }

    /// When the state is to be written next.
    pub(super) fn state_deadline(&self) -> Option<Instant> {
        self.state.as_ref().and_then(|s| s.due)
    }

    /// Writes the state when due (or at once with `force`, at exit).
    pub(super) fn save_state(&mut self, now: Instant, force: bool) {
        let Some(s) = self.state.as_ref() else {
            return;
        };
        if !force && s.due.is_none_or(|t| t > now) {
            return;
        }
        let Some(store) = self.live.store() else {
            return;
        };
        let started = Instant::now();
        let written = s.write(&self.config.domain, store, &self.live.cookies());
        match written {
            Ok(bytes) => debug!(
                "state saved: {} entries, {bytes} bytes in {:.3} s",
                store.len(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => warning!(
                "state directory {}: cannot save the state: {e}",
                s.path.display()
            ),
        }
        if let Some(s) = self.state.as_mut() {
            s.due = None;
            s.last = Some(now);
        }
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

/// What a start on saved state gives the daemon: the kept entries and
/// cookies, and when they were written.
pub(super) fn apply_saved(live: &mut sync::Live, saved: Saved, directories: usize) -> u64 {
    live.restore(saved.store, saved.cookies, directories);
    saved.written
}
