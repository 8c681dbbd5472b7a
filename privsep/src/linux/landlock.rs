//! Landlock: which files may be read or executed and which TCP ports
//! connected to, once the sandbox is entered.
//!
//! Best effort, as Landlock is designed: an older kernel enforces the subset
//! it knows (Debian 12's 6.1 has file rules only), and the status is logged.
//! seccomp, applied after, does not depend on it.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, make_bitflags, path_beneath_rules,
};

use crate::{Confinement, SandboxError};

/// The newest ABI this policy was written and tested for.
const ABI_TARGET: ABI = ABI::V6;

/// Restricts the calling thread (and later threads and exec'd children) to
/// what `c` allows. Returns a status line for the log.
pub fn restrict(c: &Confinement) -> Result<String, SandboxError> {
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
        .add_rules(
            c.tcp_connect_ports
                .iter()
                .map(|&p| Ok::<_, landlock::RulesetError>(NetPort::new(p, AccessNet::ConnectTcp))),
        )
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => format!("ABI {}", effective_abi as u32),
        LandlockStatus::NotEnabled => "not enabled in this kernel".into(),
        LandlockStatus::NotImplemented => "not built into this kernel".into(),
        #[allow(unreachable_patterns)]
        _ => "unknown".into(),
    };
    let how = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "NOT enforced",
    };
    Ok(format!("landlock {how} ({abi})"))
}
