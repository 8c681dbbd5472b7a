//! Changing root and user, and proving root is gone.

use std::path::Path;

use nix::unistd::{Gid, Uid, User, chdir, chroot, getresuid, setgroups, setresgid, setresuid};

use crate::SandboxError;

/// The unprivileged identity looked up before anything is dropped (after
/// chroot the password database is out of reach).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: Uid,
    pub gid: Gid,
}

/// Looks `name` up in the password database.
pub fn lookup_user(name: &str) -> Result<Identity, SandboxError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(Identity {
            uid: u.uid,
            gid: u.gid,
        }),
        Ok(None) => Err(SandboxError::NoUser(name.to_owned())),
        Err(e) => Err(SandboxError::Drop("getpwnam", e)),
    }
}

impl Identity {
    /// Optionally changes root to `root`, then sets the groups, gid and uid to
    /// this identity and checks that root cannot be regained. Every failure
    /// is fatal.
    pub fn become_user(self, root: Option<&Path>) -> Result<(), SandboxError> {
        if let Some(dir) = root {
            chroot(dir).map_err(|e| SandboxError::Drop("chroot", e))?;
            chdir("/").map_err(|e| SandboxError::Drop("chdir /", e))?;
        }
        setgroups(&[self.gid]).map_err(|e| SandboxError::Drop("setgroups", e))?;
        setresgid(self.gid, self.gid, self.gid).map_err(|e| SandboxError::Drop("setresgid", e))?;
        setresuid(self.uid, self.uid, self.uid).map_err(|e| SandboxError::Drop("setresuid", e))?;
        let ids = getresuid().map_err(|e| SandboxError::Drop("getresuid", e))?;
        if ids.real != self.uid || ids.effective != self.uid || ids.saved != self.uid {
            return Err(SandboxError::RootRegained);
        }
        if !self.uid.is_root()
            && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok()
        {
            return Err(SandboxError::RootRegained);
        }
        Ok(())
    }
}
