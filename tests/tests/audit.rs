//! `docs/audit.md` against the code: its generated blocks (seccomp lists,
//! Landlock rules, messages, dependency trees) must be what the programs'
//! real policies and `cargo tree` say now, and the parent must link none of
//! the crates that parse what the network sends.

use tests::audit;

/// Fails with a diff and the refresh command when `docs/audit.md` or a
/// manual page is stale.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn audit_document_is_current() {
    for d in audit::documents().unwrap_or_else(|e| panic!("{e}")) {
        let path = &d.path;
        let doc =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let new = audit::refresh_marked(&doc, &d.blocks, d.markers)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if doc != new {
            panic!(
                "{} is stale (the code changed; the document did not):\n{}\nrefresh it with: {}",
                path.display(),
                audit::diff(&doc, &new),
                audit::REFRESH
            );
        }
    }
}

/// Every program's Capsicum list is consistent (`fcntl`/`ioctl` commands
/// only with their right, no right twice), names each descriptor once, and
/// covers its standard descriptors and its link; the client, in capability
/// mode, holds no right that reaches outside what it was given.
#[test]
fn capsicum_rights_are_consistent() {
    use privsep::rights::Right;
    for p in audit::PROGRAMS {
        let (limited, unlimited) = audit::descriptor_rights(p);
        let mut names: Vec<&str> = limited
            .iter()
            .map(|r| r.descriptor)
            .chain(unlimited.iter().map(|(d, _)| *d))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "{p}: a descriptor listed twice");
        for r in &limited {
            assert!(r.is_consistent(), "{p}: {r:?}");
        }
        assert!(names.iter().any(|d| d.starts_with("fd 0")), "{p}: fd 0");
        assert!(names.iter().any(|d| d.contains("link")), "{p}: its link");
    }
    let (client, _) = audit::descriptor_rights("ypldap-client");
    assert!(audit::confinement("ypldap-client").capability_mode);
    for r in &client {
        for forbidden in [Right::Connect, Right::Accept, Right::Setsockopt] {
            assert!(!r.rights.contains(&forbidden), "client {r:?}");
        }
    }
    // ypldapd answers UDP to the caller's address: CAP_CONNECT is what
    // sendto with an address needs; without it no reply leaves.
    assert!(ypldapd::sandbox::YP_UDP.rights.contains(&Right::Connect));
}

/// ypldapd never links the LDAP, TLS, async or DNS stacks: whatever parses
/// a directory's or a name server's answers lives in a helper.
#[test]
fn parent_links_no_network_parsers() {
    let tree = audit::dependency_tree("ypldapd").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        audit::links(&tree, "ypldapd"),
        "cargo tree output: {tree:?}"
    );
    for c in [
        "ldap3",
        "rustls",
        "tokio",
        "hickory-resolver",
        "hickory-proto",
        "ring",
        "lber",
    ] {
        assert!(!audit::links(&tree, c), "ypldapd links {c}: {tree:?}");
    }
}

/// Each helper links only its own stack: the LDAP reader no resolver, the
/// broker no LDAP or TLS.
#[test]
fn helpers_link_only_their_own_stack() {
    let client = audit::dependency_tree("ypldap-client").unwrap_or_else(|e| panic!("{e}"));
    assert!(audit::links(&client, "ldap3") && audit::links(&client, "rustls"));
    assert!(!audit::links(&client, "hickory-resolver"), "{client:?}");
    let dns = audit::dependency_tree("ypldap-dns").unwrap_or_else(|e| panic!("{e}"));
    assert!(audit::links(&dns, "hickory-resolver"));
    for c in ["ldap3", "rustls", "lber"] {
        assert!(!audit::links(&dns, c), "ypldap-dns links {c}: {dns:?}");
    }
}

/// The client's seccomp list is the common runtime and nothing more: no
/// call that opens a file, creates or connects a socket, or starts a process.
#[test]
#[cfg(target_os = "linux")]
fn client_policy_opens_nothing() {
    let c = audit::confinement("ypldap-client");
    for call in [
        "openat", "open", "socket", "connect", "bind", "execve", "clone", "clone3", "fork",
    ] {
        assert!(c.syscalls.get(call).is_none(), "ypldap-client may {call}");
    }
}
