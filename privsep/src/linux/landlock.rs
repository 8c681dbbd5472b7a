//! Landlock: which files may be read or executed and which TCP ports
//! connected to, once the sandbox is entered.
//!
//! The file-system rules are required: on a kernel that enforces none of
//! them (Landlock not built in or not enabled) [`restrict`] fails, unless
//! the administrator accepted that with [`crate::ACCEPT_NO_LANDLOCK`]. The
//! rest is best effort, as Landlock is designed: an older kernel enforces
//! the subset it knows (Debian 12's 6.1 has file rules only, no TCP rules
//! before 6.7, no scoping before 6.12), and each missing part is reported
//! for the log at warning level. seccomp, applied after, does not depend on
//! it.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, make_bitflags, path_beneath_rules,
};

use crate::{Confinement, SandboxError};

/// The newest ABI this policy was written and tested for.
const ABI_TARGET: ABI = ABI::V6;

/// What [`restrict`] enforced, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// One line: "landlock fully enforced (ABI 6)" and the like.
    pub line: String,
    /// Parts of the policy this kernel does not enforce.
    pub warnings: Vec<String>,
}

/// The Landlock ABI version the running kernel offers, or `None` when it
/// enforces no Landlock rule at all (not built in, or not enabled at boot).
/// Asks the kernel directly; changes nothing.
pub fn kernel_abi() -> Option<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag,
    // landlock_create_ruleset only returns the ABI version (or an error);
    // it reads and writes no memory and creates no descriptor.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).ok().filter(|&v| v >= 1)
}

/// Whether `abi` (from [`kernel_abi`]) is enough for a program started
/// with or without [`crate::ACCEPT_NO_LANDLOCK`]: the check every program
/// makes before it does anything else.
pub fn check_filesystem_rules(abi: Option<u32>, accept: bool) -> Result<(), SandboxError> {
    match abi {
        Some(_) => Ok(()),
        None if accept => Ok(()),
        None => Err(SandboxError::NoLandlock(
            "Landlock is not available".to_owned(),
        )),
    }
}

/// What a write directory allows: read, create, write, truncate, rename
/// within and remove regular files (no directories, links, devices,
/// sockets or pipes).
fn write_files() -> BitFlags<AccessFs> {
    make_bitflags!(AccessFs::{ReadFile | ReadDir | WriteFile | RemoveFile | MakeReg | Truncate})
}

/// Restricts the calling thread (and later threads and exec'd children) to
/// what `c` allows. Fails if no file-system rule could be enforced and
/// `c.accept_no_landlock` is not set.
pub fn restrict(c: &Confinement) -> Result<Status, SandboxError> {
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let read_only: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | ReadDir});
    let scopes = if c.scope_signals {
        Scope::from_all(ABI_TARGET)
    } else {
        Scope::AbstractUnixSocket.into()
    };
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_TARGET))
        .map_err(err)?
        .handle_access(AccessNet::from_all(ABI_TARGET))
        .map_err(err)?
        .scope(scopes)
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(&c.read_paths, read_only))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            &c.exec_paths,
            AccessFs::from_read(ABI_TARGET),
        ))
        .map_err(err)?
        .add_rules(path_beneath_rules(&c.write_dirs, write_files()))
        .map_err(err)?
        .add_rules(
            c.tcp_connect_ports
                .iter()
                .map(|&p| Ok::<_, landlock::RulesetError>(NetPort::new(p, AccessNet::ConnectTcp))),
        )
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    let (abi, effective) = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => (
            format!("ABI {}", effective_abi as u32),
            effective_abi as u32,
        ),
        LandlockStatus::NotEnabled => ("not enabled in this kernel".into(), 0),
        LandlockStatus::NotImplemented => ("not built into this kernel".into(), 0),
        #[allow(unreachable_patterns)]
        _ => ("unknown".into(), 0),
    };
    let how = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "NOT enforced",
    };
    let line = format!("landlock {how} ({abi})");
    let filesystem = status.ruleset != RulesetStatus::NotEnforced && effective >= 1;
    if !filesystem && !c.accept_no_landlock {
        return Err(SandboxError::NoLandlock(format!("{}: {line}", c.program)));
    }
    Ok(Status {
        line,
        warnings: missing_parts(c.program, effective, c.accept_no_landlock),
    })
}

/// The warnings for a kernel whose effective Landlock ABI is `abi` (0: no
/// Landlock at all).
fn missing_parts(program: &str, abi: u32, accepted: bool) -> Vec<String> {
    let mut w = Vec::new();
    if abi == 0 {
        w.push(format!(
            "{program}: Landlock file-system rules are NOT enforced (accepted with {}): the program can open any file its user may",
            crate::ACCEPT_NO_LANDLOCK
        ));
        debug_assert!(accepted);
    }
    if abi < 4 {
        w.push(format!(
            "{program}: Landlock network rules are not enforced (kernel before Linux 6.7): TCP connect and bind are not limited by port"
        ));
    }
    if abi < 6 {
        w.push(format!(
            "{program}: Landlock scoping is not enforced (kernel before Linux 6.12): signals and abstract unix sockets towards other processes are not limited"
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_filesystem_rules_is_refused_unless_accepted() {
        assert!(check_filesystem_rules(Some(1), false).is_ok());
        assert!(check_filesystem_rules(None, true).is_ok());
        let e = check_filesystem_rules(None, false).unwrap_err().to_string();
        assert!(e.contains(crate::ACCEPT_NO_LANDLOCK), "{e}");
    }

    #[test]
    fn each_missing_part_is_a_warning() {
        assert!(missing_parts("p", 6, false).is_empty());
        let w = missing_parts("p", 3, false);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("network rules"));
        assert_eq!(missing_parts("p", 0, true).len(), 3);
    }
}
