//! Content synchronization (RFC 4533) against 389 Directory Server with
//! its Content Synchronization plugin (over the Retro Changelog), as
//! FreeIPA runs it: groups of names with `member` DNs. One instance for
//! the whole file (creating one takes seconds, and the plugins need a
//! restart): one test, its steps in order.
//!
//! ypldapd binds as the service account: 389-ds refuses a sync search to
//! an anonymous client (result 50), which the last step shows, with the
//! full reads ypldapd falls back to.

use std::time::{Duration, Instant};

use tests::config::Bind;
use tests::expect::Password;
use tests::ldif::{self, Group, SUFFIX, User};
use tests::wait_for;
use tests::world::{Data, Directory, World};

/// What "within a second" is checked against.
const PROPAGATION: Duration = Duration::from_secs(1);

fn person(name: &str) -> String {
    format!("uid={name},ou=People,{SUFFIX}")
}

/// alice, bob and carol; `developers` (alice, bob) and `staff` (carol)
/// as groupOfNames + posixGroup with `member` DNs.
fn data() -> Data {
    let users = vec![
        User::named("alice", 10001),
        User::named("bob", 10002),
        User::named("carol", 10003),
    ];
    let mut text = ldif::ldif(&users, &[]);
    let groups = [
        ("developers", 20001, ["alice", "bob"].as_slice()),
        ("staff", 20002, ["carol"].as_slice()),
    ];
    for (cn, gid, members) in groups {
        text.push_str(&format!(
            "dn: cn={cn},ou=Groups,{SUFFIX}\nobjectClass: top\nobjectClass: groupOfNames\n\
             objectClass: posixGroup\ncn: {cn}\ngidNumber: {gid}\n"
        ));
        for m in members {
            text.push_str(&format!("member: {}\n", person(m)));
        }
        text.push('\n');
    }
    Data {
        users,
        groups: groups
            .iter()
            .map(|(cn, gid, members)| Group {
                name: (*cn).into(),
                gid: *gid,
                members: members.iter().map(|m| (*m).to_owned()).collect(),
            })
            .collect(),
        ldif: text,
    }
}

/// An administrator's change (the Directory Manager's); the instant the
/// tool returned.
fn change(w: &mut World, tool: &str, input: &str) -> Instant {
    let (server, ns) = w.server_in_ns(0);
    server.ds389().write(ns, tool, input);
    Instant::now()
}

/// Polls `ypmatch key map` until `want` holds for its value (`None`: the
/// server answers "no such key"); the time since `since`, printed with
/// `what`.
fn until(
    w: &World,
    what: &str,
    since: Instant,
    key: &str,
    map: &str,
    want: impl Fn(Option<&str>) -> bool,
    limit: Duration,
) -> Duration {
    let took = w.ypmatch_until(since, key, map, &want, limit);
    println!("{what}: answered after {took:?}");
    took
}

#[test]
fn ds389_changes_reach_the_maps_and_a_restart_is_followed() {
    let mut w = World::builder("ds389sync.test")
        .directory(Directory::ds389(data()).read(|b| {
            b.members = vec!["member".into()];
        }))
        .interval(3600)
        .without_ypldapd()
        .start();
    {
        let (server, ns) = w.server_in_ns(0);
        server.ds389().enable_content_sync(ns);
    }
    w.start_ypldapd();
    w.bind_clients();
    w.wait_log(
        "kept current by content synchronization",
        1,
        Duration::from_secs(10),
    );
    w.assert_maps();

    // Modify.
    let t = change(
        &mut w,
        "ldapmodify",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/zsh\n",
            person("alice")
        ),
    );
    let took = until(
        &w,
        "a modify",
        t,
        "alice",
        "passwd.byname",
        |l| l.is_some_and(|l| l.trim_end().ends_with(":/bin/zsh")),
        Duration::from_secs(5),
    );
    assert!(took < PROPAGATION, "modify took {took:?}");

    // Add: a new user, by name and by uid.
    let t = change(
        &mut w,
        "ldapadd",
        &ldif::entries(&[User::named("dave", 10004)], &[]),
    );
    let took = until(
        &w,
        "an add",
        t,
        "dave",
        "passwd.byname",
        |l| l.is_some(),
        Duration::from_secs(5),
    );
    assert!(took < PROPAGATION, "add took {took:?}");
    assert!(
        w.ypmatch("10004", "passwd.byuid")
            .is_ok_and(|l| l.starts_with("dave:"))
    );

    // Membership: a member DN added to a group; netid follows.
    let t = change(
        &mut w,
        "ldapmodify",
        &format!(
            "dn: cn=staff,ou=Groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: {}\n",
            person("dave")
        ),
    );
    let took = until(
        &w,
        "a member added",
        t,
        "staff",
        "group.byname",
        |l| tests::expect::group_members(l) == ["carol", "dave"],
        Duration::from_secs(5),
    );
    assert!(took < PROPAGATION, "membership took {took:?}");
    let netid = w
        .ypmatch("unix.10004@ds389sync.test", "netid.byname")
        .expect("netid");
    assert_eq!(netid.trim_end(), "10004:100,20002");

    // Delete: the user goes, and from the group whose member DN named it.
    let t = change(&mut w, "ldapdelete", &format!("{}\n", person("bob")));
    let took = until(
        &w,
        "a delete",
        t,
        "bob",
        "passwd.byname",
        |l| l.is_none(),
        Duration::from_secs(5),
    );
    assert!(took < PROPAGATION, "delete took {took:?}");
    until(
        &w,
        "the deleted user out of its group",
        t,
        "developers",
        "group.byname",
        |l| tests::expect::group_members(l) == ["alice"],
        Duration::from_secs(5),
    );

    // 389-ds restarted (SIGTERM, as an administrator restarts it): the
    // session ends, the last entries are served meanwhile, and a change
    // made after the restart is answered.
    {
        let (server, ns) = w.server_in_ns(0);
        server.ds389().restart(ns);
    }
    w.wait_log("content synchronization ended", 1, Duration::from_secs(10));
    assert!(w.ypmatch("alice", "passwd.byname").is_ok());
    let t = change(
        &mut w,
        "ldapmodify",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/ksh\n",
            person("carol")
        ),
    );
    until(
        &w,
        "a modify after the restart",
        t,
        "carol",
        "passwd.byname",
        |l| l.is_some_and(|l| l.trim_end().ends_with(":/bin/ksh")),
        Duration::from_secs(20),
    );
    // Kept current again: a new session (or, with resume, the old one
    // resumed from its cookie).
    let live_again = wait_for(Duration::from_secs(10), || {
        let log = w.log();
        (log.matches("kept current by content synchronization")
            .count()
            >= 2
            || log.contains("content synchronization resumed from its cookie"))
        .then_some(())
    });
    assert!(live_again.is_some(), "no session again:\n{}", w.log());
    let t = change(
        &mut w,
        "ldapmodify",
        &format!(
            "dn: cn=staff,ou=Groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: {}\n",
            person("carol")
        ),
    );
    let took = until(
        &w,
        "a member removed once kept current again",
        t,
        "staff",
        "group.byname",
        |l| tests::expect::group_members(l) == ["dave"],
        Duration::from_secs(5),
    );
    assert!(took < PROPAGATION, "after the restart: {took:?}");
    {
        // The session resumed from its cookie, no full read.
        assert!(
            w.log()
                .contains("content synchronization resumed from its cookie"),
            "{}",
            w.log()
        );
    }

    // Anonymous: 389-ds refuses the sync search (result 50); ypldapd says
    // so and reads the directory in full, as without sync. (Anonymous
    // readers see no userPassword: the passwords are fixed.)
    w.stop_ypldapd(nix::sys::signal::Signal::SIGTERM);
    let block = &mut w.config.directories[0];
    block.bind = Bind::Anonymous;
    block.password = Password::Fixed;
    let started = Instant::now();
    w.start_ypldapd();
    println!("anonymous: registered after {:?}", started.elapsed());
    let log = w.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("refused content synchronization"))
        .unwrap_or_else(|| panic!("no refusal in the log:\n{log}"));
    println!("anonymous: {refusal}");
    assert!(refusal.contains("result 50"), "{refusal}");
    // Read in full within the same first update, not 10 s later.
    assert!(log.contains("update 1: 1 directories"), "{log}");
    assert!(
        !log.contains("kept current by content synchronization (RFC 4533)"),
        "{log}"
    );
    let line = w.ypmatch("carol", "passwd.byname").expect("carol");
    assert!(line.trim_end().ends_with(":/bin/ksh"), "{line}");
}
