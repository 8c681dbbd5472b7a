//! SIGHUP: a valid new configuration applies from the next update, an
//! invalid one is refused with its errors while the old one keeps running.

use std::time::Duration;

use nix::sys::signal::Signal;
use tests::wait_for;
use tests::world::{Data, Directory, World, install_reloadable};

const DOMAIN: &str = "reload.test";

fn count(w: &World, map: &str) -> usize {
    w.ypcat(map).map(|v| v.len()).unwrap_or(0)
}

#[test]
fn sighup_applies_valid_and_refuses_invalid_configurations() {
    let mut w = World::builder(DOMAIN)
        .directory(Directory::slapd(Data::generated(40, 8)).read(|b| {
            b.port = Some(389);
            b.passwd_filter = "(&(objectClass=posixAccount)(uidNumber<=10010))".into();
        }))
        .interval(1)
        .reloadable()
        .start();
    let path = w.ns.dir.path().join("ypldap.conf");
    assert_eq!(count(&w, "passwd.byname"), 10);

    // Every reload below happens while a client asks for user00001.
    let watch =
        w.ns.command(env!("CARGO_BIN_EXE_yp-probe"))
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
    w.config.directories[0].passwd_filter = "(objectClass=posixAccount)".into();
    w.config.statements = vec![
        "provide map \"passwd.byname\"".into(),
        "provide map \"group.byname\"".into(),
    ];
    w.write_config(&w.config_text());
    let d = w.ypldapd();
    d.signal(Signal::SIGHUP);
    d.wait_log("reloaded the configuration", 1, Duration::from_secs(10));
    wait_for(Duration::from_secs(20), || {
        (count(&w, "passwd.byname") == 40).then_some(())
    })
    .unwrap_or_else(|| panic!("new filter not applied:\n{}", d.log()));
    assert!(
        w.ypcat("passwd.byuid").is_err(),
        "passwd.byuid is no longer provided"
    );

    // An invalid file: every error is logged, the old configuration stays.
    install_reloadable(
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
    assert_eq!(count(&w, "passwd.byname"), 40);

    // A port the sandbox entered at start does not allow needs a restart.
    let mut c = w.config.clone();
    c.statements.clear();
    c.directories[0].port = Some(3389);
    install_reloadable(&path, &c.render());
    d.signal(Signal::SIGHUP);
    d.wait_log(
        "restart ypldapd for this change",
        1,
        Duration::from_secs(10),
    );
    assert!(d.alive());
    assert_eq!(count(&w, "passwd.byname"), 40);

    let out = watch.wait_with_output().expect("watch");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" failed=0"),
        "requests failed during the reloads: {text}"
    );
}
