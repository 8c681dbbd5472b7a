//! What the running kernel's Landlock can enforce. A guarantee that rests
//! on a Landlock feature this kernel lacks (Debian 12's own 6.1 has file
//! rules only) is reported as skipped, with the reason, rather than failed;
//! every other guarantee is still checked.

/// A Landlock feature and the ABI (and Linux release) that brought it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub abi: u32,
    pub linux: &'static str,
    pub what: &'static str,
}

/// Rules on reading, writing and executing files.
pub const FILES: Feature = Feature {
    abi: 1,
    linux: "5.13",
    what: "file rules",
};

/// Rules on TCP connect and bind by port.
pub const TCP: Feature = Feature {
    abi: 4,
    linux: "6.7",
    what: "TCP connect and bind rules",
};

/// Scoping: no connecting to abstract unix sockets, no signals, outside
/// the sandbox.
pub const SCOPES: Feature = Feature {
    abi: 6,
    linux: "6.12",
    what: "abstract unix socket and signal scoping",
};

/// The ABI the programs' policies are written for (`ABI_TARGET` in
/// `privsep/src/linux/landlock.rs`): with it, privsep reports the
/// ruleset "fully enforced".
pub const TARGET: Feature = SCOPES;

/// The running kernel's Landlock ABI, 0 when it has none (not built in or
/// not enabled).
pub fn kernel_abi() -> u32 {
    privsep::linux::landlock::kernel_abi().unwrap_or(0)
}

/// Whether a kernel with Landlock `abi` has `f`.
pub fn has(abi: u32, f: Feature) -> bool {
    abi >= f.abi
}

/// The line a test prints when it cannot check `what` on this kernel.
pub fn skipped(what: &str, f: Feature, abi: u32) -> String {
    format!(
        "skipped: {what}: needs Landlock {} (ABI {}, Linux {}); this kernel has ABI {abi}",
        f.what, f.abi, f.linux
    )
}

/// The start of the status privsep logs on entering a sandbox, on a
/// kernel with Landlock `abi`.
pub fn expected_status(abi: u32) -> &'static str {
    if has(abi, TARGET) {
        "landlock fully enforced"
    } else if abi >= 1 {
        "landlock partially enforced"
    } else {
        "landlock NOT enforced"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_by_abi() {
        assert_eq!(expected_status(0), "landlock NOT enforced");
        assert_eq!(expected_status(2), "landlock partially enforced");
        assert_eq!(expected_status(5), "landlock partially enforced");
        assert_eq!(expected_status(6), "landlock fully enforced");
        assert_eq!(expected_status(7), "landlock fully enforced");
        assert!(has(4, TCP) && !has(3, TCP) && !has(5, SCOPES));
        assert_eq!(
            skipped("x", TCP, 2),
            "skipped: x: needs Landlock TCP connect and bind rules (ABI 4, Linux 6.7); this kernel has ABI 2"
        );
    }
}
