//! `docs/audit.md` against the code: its generated blocks (seccomp lists,
//! Landlock rules, messages, dependency trees) must be what the programs'
//! real policies and `cargo tree` say now, and the parent must link none of
//! the crates that parse what the network sends.

use tests::audit;

/// Fails with a diff and the refresh command when the document is stale.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn audit_document_is_current() {
    let path = audit::document_path();
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let blocks = audit::generated().unwrap_or_else(|e| panic!("{e}"));
    let new = audit::refresh(&doc, &blocks).unwrap_or_else(|e| panic!("{e}"));
    if doc != new {
        panic!(
            "{} is stale (the code changed; the document did not):\n{}\nrefresh it with: {}",
            path.display(),
            audit::diff(&doc, &new),
            audit::REFRESH
        );
    }
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
