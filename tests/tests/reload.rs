//! SIGHUP: a valid new configuration applies from the next update, an
//! invalid one is refused with its errors while the old one keeps running.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use tests::ldif::{self, PASSWD_FROM_LDAP, directory_block, service_bind};
use tests::peers::{Slapd, SlapdOptions, Ypldapd, start_rpcbind};
use tests::pki::Pki;
use tests::{Namespace, wait_for, yp_registered, ypcat};

/// Writes `text` to `path` by replacing the file (as editors do), owned by
/// root, group _ypldap, mode 0640: readable by ypldapd after it dropped root.
fn install_config(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    let gid = nix::unistd::Group::from_name("_ypldap")
        .ok()
        .flatten()
        .expect("group _ypldap")
        .gid;
    nix::unistd::chown(&tmp, Some(nix::unistd::Uid::from_raw(0)), Some(gid)).expect("chown");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::rename(&tmp, path).expect("rename");
}

fn config(filter: &str, port: u16, extra: &str) -> String {
    let block = directory_block(
        &format!("\"127.0.0.1\" port {port}"),
        &service_bind(),
        PASSWD_FROM_LDAP,
    )
    .replace("(objectClass=posixAccount)", filter);
    format!("domain \"reload.test\"\ninterval 1\n{extra}{block}")
}

fn count(ns: &Namespace, map: &str) -> usize {
    ypcat(ns, "reload.test", map).map(|v| v.len()).unwrap_or(0)
}

#[test]
fn sighup_applies_valid_and_refuses_invalid_configurations() {
    let ns = Namespace::new("reload.test");
    let pki = Pki::create(ns.dir.path());
    let (users, groups) = ldif::generate(40, 8);
    let _slapd = Slapd::start(
        &ns,
        "slapd",
        &pki,
        &ldif::ldif(&users, &groups),
        SlapdOptions::default(),
    );
    let _rpcbind = start_rpcbind(&ns);
    let path = ns.dir.path().join("ypldap.conf");
    install_config(
        &path,
        &config("(&(objectClass=posixAccount)(uidNumber<=10010))", 389, ""),
    );
    let d = Ypldapd::start_with(&ns, &path);
    wait_for(Duration::from_secs(20), || yp_registered(&ns).then_some(()))
        .unwrap_or_else(|| panic!("not registered:\n{}", d.log()));
    assert_eq!(count(&ns, "passwd.byname"), 10);

    // Every reload below happens while a client asks for user00001.
    let watch = ns
        .command(env!("CARGO_BIN_EXE_yp-probe"))
        .args([
            "watch",
            "reload.test",
            "passwd.byname",
            "user00001",
            "user00001:",
            "15",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("yp-probe");

    // A new filter and a narrower "provide map": applied from the next update.
    install_config(
        &path,
        &config(
            "(objectClass=posixAccount)",
            389,
            "provide map \"passwd.byname\"\nprovide map \"group.byname\"\n",
        ),
    );
    d.signal(Signal::SIGHUP);
    d.wait_log("reloaded the configuration", 1, Duration::from_secs(10));
    wait_for(Duration::from_secs(20), || {
        (count(&ns, "passwd.byname") == 40).then_some(())
    })
    .unwrap_or_else(|| panic!("new filter not applied:\n{}", d.log()));
    assert!(
        ypcat(&ns, "reload.test", "passwd.byuid").is_err(),
        "passwd.byuid is no longer provided"
    );

    // An invalid file: every error is logged, the old configuration stays.
    install_config(
        &path,
        "domain \"reload.test\"\ninterval 0\nbogus statement\n",
    );
    d.signal(Signal::SIGHUP);
    d.wait_log(
        "reload failed: keeping the current configuration",
        1,
        Duration::from_secs(10),
    );
    let log = d.log();
    assert!(log.contains("ypldap.conf:2:"), "{log}");
    assert!(log.contains("ypldap.conf:3:"), "{log}");
    let updates = log.matches(" users, ").count();
    d.wait_log(" users, ", updates + 1, Duration::from_secs(20));
    assert_eq!(count(&ns, "passwd.byname"), 40);

    // A port the sandbox entered at start does not allow needs a restart.
    install_config(&path, &config("(objectClass=posixAccount)", 3389, ""));
    d.signal(Signal::SIGHUP);
    d.wait_log(
        "restart ypldapd for this change",
        1,
        Duration::from_secs(10),
    );
    assert!(d.alive());
    assert_eq!(count(&ns, "passwd.byname"), 40);

    let out = watch.wait_with_output().expect("watch");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" failed=0"),
        "requests failed during the reloads: {text}"
    );
}
