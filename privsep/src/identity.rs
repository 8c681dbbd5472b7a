//! Changing root and user, and proving root is gone.

use std::path::Path;

use nix::unistd::{
    Gid, Uid, User, chdir, chroot, getgroups, getresgid, getresuid, setgroups, setresgid, setresuid,
};

use crate::SandboxError;

/// The unprivileged identity looked up before anything is dropped (after
/// chroot the password database is out of reach).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: Uid,
    pub gid: Gid,
}

/// Looks `name` up in the password database. A user whose uid or gid is
/// 0 is refused: dropping to it would keep root's files, or root's group's.
pub fn lookup_user(name: &str) -> Result<Identity, SandboxError> {
    match User::from_name(name) {
        Ok(Some(u)) => Identity::checked(name, u.uid, u.gid),
        Ok(None) => Err(SandboxError::NoUser(name.to_owned())),
        Err(e) => Err(SandboxError::Drop("getpwnam", e)),
    }
}

impl Identity {
    /// `uid` and `gid` as the identity of `name`, unless either is 0.
    pub fn checked(name: &str, uid: Uid, gid: Gid) -> Result<Identity, SandboxError> {
        if uid.is_root() || gid.as_raw() == 0 {
            return Err(SandboxError::PrivilegedUser {
                name: name.to_owned(),
                uid: uid.as_raw(),
                gid: gid.as_raw(),
            });
        }
        Ok(Identity { uid, gid })
    }

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
        // Prove the drop, user and group alike: every id is the new one,
        // no supplementary group is left but the new one, and neither root's
        // uid nor gid 0 can be taken back.
        let ids = getresuid().map_err(|e| SandboxError::Drop("getresuid", e))?;
        if ids.real != self.uid || ids.effective != self.uid || ids.saved != self.uid {
            return Err(SandboxError::RootRegained);
        }
        let gids = getresgid().map_err(|e| SandboxError::Drop("getresgid", e))?;
        if gids.real != self.gid || gids.effective != self.gid || gids.saved != self.gid {
            return Err(SandboxError::RootRegained);
        }
        let groups = getgroups().map_err(|e| SandboxError::Drop("getgroups", e))?;
        if groups.iter().any(|&g| g != self.gid) {
            return Err(SandboxError::RootRegained);
        }
        if !self.uid.is_root()
            && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok()
        {
            return Err(SandboxError::RootRegained);
        }
        if self.gid.as_raw() != 0
            && setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).is_ok()
        {
            return Err(SandboxError::RootRegained);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_by_another_name_is_refused() {
        let ok = Identity::checked("_ypldap", Uid::from_raw(101), Gid::from_raw(101));
        assert!(ok.is_ok());
        for (uid, gid) in [(0, 101), (101, 0), (0, 0)] {
            let e = Identity::checked("_ypldap", Uid::from_raw(uid), Gid::from_raw(gid))
                .unwrap_err()
                .to_string();
            assert!(e.contains("neither may be 0"), "{e}");
        }
    }
}
