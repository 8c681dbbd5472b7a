//! Scale-out: one OpenLDAP provider, two replicas (syncrepl consumers in
//! refreshAndPersist, each with its own syncprov overlay), and two NIS
//! servers, each reading its own replica by content synchronization.
//!
//! Each NIS server is a [`World`] of its own (its own network namespace,
//! rpcbind, `/var/yp`), with its replica beside it on its loopback, as a
//! site puts a replica on each NIS server. The provider has a third
//! namespace; the replicas reach it through its unix socket (`ldapi://`,
//! a path in its scratch directory), so no network joins the namespaces
//! and each ypldapd still sees only its own 127.0.0.1.
//!
//! One test, its steps in order (three slapds and two ypldapd are set up
//! once): a change written to the provider is answered by both NIS
//! servers within a second; with the provider stopped both keep serving
//! (a MATCH watcher per server sees no failed request), and converge when
//! it returns; a replica killed and started again on its database: its
//! NIS server keeps serving meanwhile and converges with a change made
//! after the restart.

use std::time::{Duration, Instant};

use tests::expect;
use tests::ldif::SUFFIX;
use tests::peers::SlapdOptions;
use tests::probe::Probe;
use tests::wait_for;
use tests::world::{Data, Directory, World};
use yp_proto::maps::MapName;

/// What "within a second" is checked against.
const PROPAGATION: Duration = Duration::from_secs(1);

const USERS: usize = 30;
const GROUPS: usize = 6;
/// The user each MATCH watcher asks for; no step changes it.
const WATCHED: &str = "user00007";
/// How long the provider stays down.
const PROVIDER_DOWN: Duration = Duration::from_secs(5);

/// The provider and the two NIS servers (each with its replica).
struct Site {
    provider: World,
    nis: [World; 2],
}

impl Site {
    fn start() -> Site {
        let data = Data::generated(USERS, GROUPS);
        let mut provider = World::builder("provider.test")
            .directory(Directory::slapd_with(
                data.clone(),
                SlapdOptions::default().with_sync(),
            ))
            .bare()
            .start();
        let url = provider.slapd().ldapi_url();
        // The replicas start empty and copy the provider; the maps must
        // show what the provider holds.
        let replica_data = Data {
            ldif: String::new(),
            ..data
        };
        let nis = ["east", "west"].map(|name| {
            let mut w = World::builder("replicas.test")
                .hostname(name)
                .directory(Directory::slapd_with(
                    replica_data.clone(),
                    SlapdOptions::default().with_sync().replica_of(&url),
                ))
                .without_ypldapd()
                .start();
            wait_for_copy(&w);
            w.start_ypldapd();
            w.bind_clients();
            w.wait_log(
                "kept current by content synchronization",
                1,
                Duration::from_secs(10),
            );
            w
        });
        Site { provider, nis }
    }

    /// An administrator's change on the provider (returns when the tool does).
    fn change(&mut self, tool: &str, input: &str) -> Instant {
        self.provider.change_directory(tool, input);
        Instant::now()
    }

    /// Waits until both NIS servers answer `key` in `map` as `want` says;
    /// how long each took from `since`, printed with `what`.
    fn converge(
        &self,
        what: &str,
        since: Instant,
        key: &str,
        map: &str,
        want: impl Fn(Option<&str>) -> bool + Sync,
        limit: Duration,
    ) -> [Duration; 2] {
        let took = std::thread::scope(|s| {
            let handles = self
                .nis
                .each_ref()
                .map(|w| s.spawn(|| w.ypmatch_until(since, key, map, &want, limit)));
            handles.map(|h| h.join().expect("poller"))
        });
        println!(
            "{what}: answered by {} after {:?}, by {} after {:?}",
            self.nis[0].ns.sh("hostname").trim(),
            took[0],
            self.nis[1].ns.sh("hostname").trim(),
            took[1]
        );
        took
    }
}

/// Waits until the replica in `w` holds every user and group.
fn wait_for_copy(w: &World) {
    let want = USERS + GROUPS;
    let count = || {
        let out = w.ns.sh(&format!(
            "ldapsearch -x -LLL -H ldap://127.0.0.1 -b '{SUFFIX}' \
             '(|(objectClass=posixAccount)(objectClass=posixGroup))' dn | grep -c '^dn:' || true"
        ));
        out.trim().parse::<usize>().unwrap_or(0)
    };
    if wait_for(Duration::from_secs(20), || (count() == want).then_some(())).is_none() {
        panic!("the replica holds {} of {want} entries", count());
    }
}

/// A `loginShell` change of `user` on the provider.
fn shell_change(user: &str, shell: &str) -> String {
    format!(
        "dn: uid={user},ou=People,{SUFFIX}\nchangetype: modify\nreplace: loginShell\nloginShell: {shell}\n"
    )
}

fn has_shell(shell: &str) -> impl Fn(Option<&str>) -> bool + Sync + '_ {
    move |line| line.is_some_and(|l| l.trim_end().ends_with(&format!(":{shell}")))
}

#[test]
fn two_nis_servers_on_two_replicas_follow_the_provider() {
    let mut site = Site::start();
    for w in &site.nis {
        w.assert_maps();
    }

    // A change on the provider: both NIS servers answer it within 1 s.
    let t = site.change("ldapmodify", &shell_change("user00003", "/bin/zsh"));
    let took = site.converge(
        "a modify",
        t,
        "user00003",
        "passwd.byname",
        has_shell("/bin/zsh"),
        Duration::from_secs(5),
    );
    assert!(took.iter().all(|d| *d < PROPAGATION), "{took:?}");
    let t = site.change(
        "ldapmodify",
        &format!(
            "dn: cn=group0002,ou=Groups,{SUFFIX}\nchangetype: modify\nadd: memberUid\nmemberUid: user00020\n"
        ),
    );
    let took = site.converge(
        "a member added",
        t,
        "group0002",
        "group.byname",
        |l| l.is_some_and(|l| l.trim_end().ends_with(",user00020")),
        Duration::from_secs(5),
    );
    assert!(took.iter().all(|d| *d < PROPAGATION), "{took:?}");

    // The provider stopped: both keep serving from their replicas.
    let seconds = PROVIDER_DOWN.as_secs() + 3;
    let watches = site
        .nis
        .each_ref()
        .map(|w| Probe::watch(w, WATCHED, seconds as u32));
    site.provider.server(0).kill();
    std::thread::sleep(PROVIDER_DOWN);
    for w in &site.nis {
        let line = w.ypmatch("user00003", "passwd.byname").expect("user00003");
        assert!(has_shell("/bin/zsh")(Some(&line)), "{line}");
    }
    site.provider.restart_server(0);
    let t = site.change("ldapmodify", &shell_change("user00004", "/bin/ksh"));
    // The replicas reconnect within their retry interval (1 s).
    let took = site.converge(
        "a modify once the provider is back",
        t,
        "user00004",
        "passwd.byname",
        has_shell("/bin/ksh"),
        Duration::from_secs(10),
    );
    assert!(
        took.iter()
            .all(|d| *d < PROPAGATION + Duration::from_secs(1)),
        "{took:?}"
    );
    for (w, watch) in site.nis.iter().zip(watches) {
        watch.assert_no_failure(
            &format!(
                "{}'s MATCH watch, provider down {PROVIDER_DOWN:?}",
                w.ns.sh("hostname").trim()
            ),
            50,
        );
    }
    for w in &site.nis {
        assert!(
            !w.log().contains("content synchronization ended"),
            "the replica stayed up, yet the session ended:\n{}",
            w.log()
        );
    }

    // One replica killed and started again on its database: its NIS
    // server serves its last entries meanwhile, and converges.
    let watch = Probe::watch(&site.nis[0], WATCHED, 12);
    let killed = site.nis[0].server(0).pid().expect("replica pid");
    site.nis[0].server(0).kill();
    assert!(!tests::alive(killed));
    site.nis[0].wait_log("content synchronization ended", 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    site.nis[0].restart_server(0);
    // ypldapd reads its replica again 1 s after the session ended; that
    // read fails (the replica is still down) and the next comes 10 s later,
    // the retry after a failed update: east converges within ~11 s.
    let t = site.change("ldapadd", &new_user("newhire", 10777));
    let took = site.converge(
        "a user added after the replica's restart",
        t,
        "newhire",
        "passwd.byname",
        |l| l.is_some_and(|l| l.starts_with("newhire:")),
        Duration::from_secs(20),
    );
    // The other NIS server was never affected.
    assert!(took[1] < PROPAGATION, "{took:?}");
    watch.assert_no_failure("east's MATCH watch, its replica restarted", 50);
    // Kept current again: the next change is answered within a second.
    let t = site.change("ldapdelete", &format!("uid=newhire,ou=People,{SUFFIX}\n"));
    let took = site.converge(
        "a delete once the replica is back",
        t,
        "newhire",
        "passwd.byname",
        |l| l.is_none(),
        Duration::from_secs(5),
    );
    assert!(took.iter().all(|d| *d < PROPAGATION), "{took:?}");
    let log = site.nis[0].log();
    {
        // The session resumed from its cookie, no full read.
        assert!(
            log.contains("content synchronization resumed from its cookie"),
            "{log}"
        );
    }
    // Every map of both is what the provider holds now.
    for w in &site.nis {
        let mut users = w.users();
        for (name, shell) in [("user00003", "/bin/zsh"), ("user00004", "/bin/ksh")] {
            users
                .iter_mut()
                .filter(|u| u.name == name)
                .for_each(|u| u.shell = shell.into());
        }
        let mut groups = w.groups();
        groups
            .iter_mut()
            .filter(|g| g.name == "group0002")
            .for_each(|g| g.members.push("user00020".into()));
        let want = expect::maps(&users, &groups, &w.domain, w.config.password());
        for map in MapName::ALL.map(MapName::as_str) {
            assert_eq!(&w.ypcat(map).expect("ypcat"), &want[map], "{map}");
        }
    }
}

fn new_user(name: &str, uid: u32) -> String {
    format!(
        "dn: uid={name},ou=People,{SUFFIX}\nobjectClass: posixAccount\nobjectClass: account\n\
         uid: {name}\ncn: {name}\nuidNumber: {uid}\ngidNumber: 100\nhomeDirectory: /home/{name}\n\
         loginShell: /bin/sh\ngecos: New Hire\nuserPassword: {{CRYPT}}$6$salt$hash\n"
    )
}
