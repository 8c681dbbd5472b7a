//! The real NIS clients against ypldapd: `ypcat`, `ypmatch` (through a
//! binding file and through a real `ypbind`), `yppoll`, `ypwhich`,
//! `rpcinfo`, and glibc (`getent`, `id`) through `libnss-nis`, in both
//! `bind portmap` and `bind local` modes. The directory is the bundled
//! sample (`examples/sample/sample.ldif`, read with
//! `examples/sample/ypldap.conf`), so these tests also keep the sample and
//! what `scripts/demo.sh` shows honest. Each test has its own namespaces.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use yp_proto::maps::MapName;

use tests::expect::{Maps, password_field};
use tests::nis::{Ypbind, nss_on, ok, register_yp, run};
use tests::wait_for;
use tests::world::{Data, Directory, Ready, World};

/// The host name inside the namespaces: what MASTER (yppoll, ypwhich -m)
/// must answer.
const MASTER: &str = "ypmaster.test";

/// The maps the sample configuration provides beside the eight of users
/// and groups.
const SAMPLE_CLASSIC_MAPS: [&str; 5] = [
    "netgroup",
    "netgroup.byuser",
    "netgroup.byhost",
    "auto.master",
    "auto.home",
];

/// Passwords as the sample stores them.
const ALICE_STORED: &str = "{CRYPT}$6$s5001$x4imEzsPxUz28A5DJZpVHFbh2kLczRvYodnWi6uPc.J23AFWZ.cYAmkMjjNsTxbxabR4s8/FlGC28bg4YOXPY0";
const MALLORY_STORED: &str = "{CRYPT}$6$s5030$fqhQqD72rxpT9g2WSgPLu/C87zbffGlpUDDELzo2qmiIVpo.h8HnmH9d9CpFp9ZFis1EFufmkVdzLvofkNfmM1";
const MAXIMILIANE_STORED: &str = "{CRYPT}$6$s5029$XGdrRG3QXCJGZl36N.Xcg5HmKmyNTBsr80uSlSiKH/bdSINmhT0ZwI2s3WOlMZnuR.cs2XmDg52En3M9RFR3t.";

/// Lines from the sample that the assertions below spell out in full (the
/// password field as [`password_field`] says each map shows it).
fn alice() -> String {
    format!(
        "alice:{}:5001:5000:Alice Liddell,Room 101,555-0101,:/home/alice:/bin/bash",
        password_field("passwd.byname", ALICE_STORED)
    )
}
fn alice_master() -> String {
    format!(
        "alice:{}:5001:5000::0:0:Alice Liddell,Room 101,555-0101,:/home/alice:/bin/bash",
        password_field("master.passwd.byname", ALICE_STORED)
    )
}
fn mallory() -> String {
    format!(
        "mallory:{}:5030:5010:Mallory Knox:/home/mallory:/bin/bash",
        password_field("passwd.byname", MALLORY_STORED)
    )
}
fn maximiliane() -> String {
    format!(
        "maximiliane:{}:5029:5000:Maximiliane von Hohenberg-Schoenfeld,Building 4 Room 1203 (east wing),+49 89 1234 5678,+49 170 1234567,on leave until further notice:/home/maximiliane:/bin/bash",
        password_field("passwd.byname", MAXIMILIANE_STORED)
    )
}
const ENGINEERING: &str = "engineering:*:5001:alice,carol,dave,grace,ivan,ken,linus,margaret,niklaus,radia,barbara,dennis,xavier,mallory";

/// slapd with the sample, rpcbind, and ypldapd with the sample
/// configuration, its maps loaded.
struct Fixture {
    /// The YP port (UDP and TCP), from ypldapd's log.
    port: u16,
    /// `bind local`: the binding file as ypldapd left it once the maps
    /// were loaded (before the test wrote anything).
    binding_file: Option<Vec<u8>>,
    w: World,
}

/// The sample world: `statements` go after `domain` in the sample
/// configuration.
fn sample_world(domain: &str, statements: &[&str]) -> World {
    let mut b = World::builder(domain)
        .hostname(MASTER)
        .directory(Directory::slapd(Data::sample()))
        .sample_config()
        .ready(Ready::FirstMaps);
    for s in statements {
        b = b.statement(*s);
    }
    let w = b.start();
    assert_eq!(
        (w.users().len(), w.groups().len()),
        (33, 12),
        "the sample changed"
    );
    assert!(
        w.log().contains(&format!(
            "update 1: 1 directories, 33 users, 12 groups, {}, dropped: none",
            tests::nis::sample_records()
        )),
        "{}",
        w.log()
    );
    w
}

fn start(domain: &str, local: bool) -> Fixture {
    let w = sample_world(domain, if local { &["bind local"] } else { &[] });
    let port = w.yp_port();
    let binding_file = if local {
        // Filled after the first maps; give it a moment after the log line.
        let path = format!("/var/yp/binding/{domain}.2");
        let read = || {
            w.ns.command("cat")
                .arg(&path)
                .output()
                .ok()
                .map(|o| o.stdout)
        };
        let got = wait_for(Duration::from_secs(3), || read().filter(|b| !b.is_empty()));
        Some(got.or_else(read).unwrap_or_default())
    } else {
        w.wait_registered(Duration::from_secs(10));
        None
    };
    Fixture {
        port,
        binding_file,
        w,
    }
}

/// The sample world with one more statement, registered.
fn start_allowing(domain: &str, statement: &str) -> Fixture {
    let w = sample_world(domain, &[statement]);
    w.wait_registered(Duration::from_secs(10));
    Fixture {
        port: w.yp_port(),
        binding_file: None,
        w,
    }
}

impl Fixture {
    fn want(&self) -> Maps {
        self.w.expected_maps()
    }

    /// The values of `map` in key byte order, one per line (what plain
    /// `ypcat` prints), or "key value" lines (`ypcat -k`).
    fn listing(&self, map: &str, keys: bool) -> String {
        self.want()[map]
            .iter()
            .map(|(k, v)| {
                if keys {
                    format!("{k} {v}\n")
                } else {
                    format!("{v}\n")
                }
            })
            .collect()
    }

    fn ypcat(&self) {
        let d = self.w.domain.as_str();
        for map in MapName::ALL.map(MapName::as_str) {
            assert_eq!(
                ok(
                    &self.w.ns,
                    &["ypcat", "-k", "-h", "127.0.0.1", "-d", d, map]
                ),
                self.listing(map, true),
                "ypcat -k {map}"
            );
            assert_eq!(
                ok(&self.w.ns, &["ypcat", "-h", "127.0.0.1", "-d", d, map]),
                self.listing(map, false),
                "ypcat {map}"
            );
        }
        // Nicknames, as an administrator types them.
        for (nick, map) in [("passwd", "passwd.byname"), ("group", "group.byname")] {
            assert_eq!(
                ok(&self.w.ns, &["ypcat", "-h", "127.0.0.1", "-d", d, nick]),
                self.listing(map, false),
                "ypcat {nick}"
            );
        }
        // master.passwd.* only to a caller on a privileged port: not to an
        // unprivileged user's ypcat.
        let r = run(
            &self.w.ns,
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "ypcat",
                "-h",
                "127.0.0.1",
                "-d",
                d,
                "master.passwd.byname",
            ],
        );
        assert!(!r.ok && r.stdout.is_empty(), "{r:?}");
        assert!(!r.stderr.contains("$6$"), "{r:?}");
        // ...while the 7-field map is open to everyone.
        let r = run(
            &self.w.ns,
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "ypcat",
                "-h",
                "127.0.0.1",
                "-d",
                d,
                "passwd.byname",
            ],
        );
        assert_eq!(r.stdout, self.listing("passwd.byname", false), "{r:?}");
        // A map that does not exist.
        let r = run(
            &self.w.ns,
            &["ypcat", "-h", "127.0.0.1", "-d", d, "no.such.map"],
        );
        assert!(!r.ok, "{r:?}");
        assert!(r.stderr.contains("No such map"), "{r:?}");
    }

    /// ypmatch through whatever binding the namespace has.
    fn ypmatch(&self) {
        let d = self.w.domain.as_str();
        let m = |args: &[&str]| {
            let mut a = vec!["ypmatch", "-d", d];
            a.extend_from_slice(args);
            ok(&self.w.ns, &a)
        };
        assert_eq!(m(&["alice", "passwd"]), format!("{}\n", alice()));
        assert_eq!(m(&["alice", "passwd.byname"]), format!("{}\n", alice()));
        assert_eq!(
            m(&["-k", "alice", "mallory", "passwd.byname"]),
            format!("alice {}\nmallory {}\n", alice(), mallory())
        );
        assert_eq!(m(&["5030", "passwd.byuid"]), format!("{}\n", mallory()));
        assert_eq!(m(&["5029", "passwd.byuid"]), format!("{}\n", maximiliane()));
        assert_eq!(
            m(&["alice", "master.passwd.byname"]),
            format!("{}\n", alice_master())
        );
        assert_eq!(
            m(&["5001", "master.passwd.byuid"]),
            format!("{}\n", alice_master())
        );
        assert_eq!(m(&["engineering", "group"]), format!("{ENGINEERING}\n"));
        assert_eq!(
            m(&["contractors", "group.byname"]),
            "contractors:*:5010:mallory,oscar,pat\n"
        );
        assert_eq!(m(&["5011", "group.bygid"]), "interns:*:5011:\n");
        assert_eq!(m(&["5000", "group.bygid"]), "employees:*:5000:\n");
        assert_eq!(
            m(&[&format!("unix.5001@{d}"), "netid.byname"]),
            "5001:5000,5006,5001,5012,5013\n"
        );
        // mallory's primary group also lists her: not repeated.
        assert_eq!(
            m(&[&format!("unix.5030@{d}"), "netid.byname"]),
            "5030:5010,5001,5013\n"
        );
        assert_eq!(
            m(&[&format!("unix.5033@{d}"), "netid.byname"]),
            "5033:5002\n"
        );
        let r = run(&self.w.ns, &["ypmatch", "-d", d, "nosuch", "passwd.byname"]);
        assert!(!r.ok, "{r:?}");
        assert_eq!(
            r.stderr.trim(),
            "Can't match key nosuch in map passwd.byname. Reason: No such key in map",
            "{r:?}"
        );
        let r = run(&self.w.ns, &["ypmatch", "-d", d, "alice", "no.such.map"]);
        assert!(!r.ok, "{r:?}");
        assert!(
            r.stderr.contains("Reason: No such map in server's domain"),
            "{r:?}"
        );
    }

    fn yppoll(&self) {
        let d = self.w.domain.as_str();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        for map in MapName::ALL.map(MapName::as_str) {
            let out = ok(&self.w.ns, &["yppoll", "-h", "127.0.0.1", "-d", d, map]);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 3, "yppoll {map}: {out}");
            assert_eq!(lines[0], format!("Domain {d} is supported."));
            let rest = lines[1]
                .strip_prefix(&format!("Map {map} has order number "))
                .unwrap_or_else(|| panic!("yppoll {map}: {out}"));
            let order: u64 = rest
                .split('.')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("yppoll {map}: {out}"));
            // The time the maps were built: in the last few minutes.
            assert!(
                order <= now + 1 && order + 300 >= now,
                "order {order}, now {now}"
            );
            assert_eq!(lines[2], format!("The master server is {MASTER}."));
        }
        let r = run(
            &self.w.ns,
            &[
                "yppoll",
                "-h",
                "127.0.0.1",
                "-d",
                "other.domain",
                "passwd.byname",
            ],
        );
        assert!(!r.ok, "{r:?}");
    }

    /// ypwhich through whatever binding the namespace has. Plain `ypwhich`
    /// (which server?) asks ypbind itself, so only with `ypbind`; `-m`
    /// asks the server (MAPLIST, MASTER) and also works with a binding file.
    fn ypwhich(&self, ypbind: bool) {
        let d = self.w.domain.as_str();
        if ypbind {
            let server = ok(&self.w.ns, &["ypwhich", "-d", d]);
            assert!(
                server == "localhost\n" || server == "127.0.0.1\n",
                "ypwhich: {server:?}"
            );
        } else {
            let r = run(&self.w.ns, &["ypwhich", "-d", d]);
            assert_eq!(
                r.stderr, "ypwhich: Can't communicate with ypbind\n",
                "{r:?}"
            );
        }
        let mut got: Vec<String> = ok(&self.w.ns, &["ypwhich", "-d", d, "-m"])
            .lines()
            .map(str::to_owned)
            .collect();
        got.sort();
        let mut want: Vec<String> = MapName::ALL
            .iter()
            .map(ToString::to_string)
            .chain(SAMPLE_CLASSIC_MAPS.map(str::to_owned))
            .map(|m| format!("{m} {MASTER}"))
            .collect();
        want.sort();
        assert_eq!(got, want, "ypwhich -m");
        assert_eq!(
            ok(&self.w.ns, &["ypwhich", "-d", d, "-m", "passwd.byname"]),
            format!("{MASTER}\n")
        );
    }

    /// rpcinfo straight to the YP port, and through rpcbind's table.
    fn rpcinfo(&self) {
        let port = self.port.to_string();
        assert!(self.port < 1024, "YP port {port} is not reserved");
        let p = ok(&self.w.ns, &["rpcinfo", "-p", "127.0.0.1"]);
        for proto in ["udp", "tcp"] {
            let line = format!("    100004    2   {proto}  {port:>5}  ypserv");
            assert!(p.lines().any(|l| l == line), "no {line:?} in:\n{p}");
        }
        for t in ["-u", "-t"] {
            assert_eq!(
                ok(&self.w.ns, &["rpcinfo", t, "127.0.0.1", "100004", "2"]),
                "program 100004 version 2 ready and waiting\n"
            );
            assert_eq!(
                ok(
                    &self.w.ns,
                    &["rpcinfo", "-n", &port, t, "127.0.0.1", "100004", "2"]
                ),
                "program 100004 version 2 ready and waiting\n"
            );
            let r = run(&self.w.ns, &["rpcinfo", t, "127.0.0.1", "100004", "3"]);
            assert!(!r.ok, "{r:?}");
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(
                all.contains("Program/version mismatch; low version = 2, high version = 2")
                    && all.contains("program 100004 version 3 is not available"),
                "{r:?}"
            );
        }
    }

    /// glibc through libnss-nis (the namespace's nsswitch.conf says
    /// `files nis`) and whatever binding the namespace has.
    fn nss(&self) {
        let ns = &self.w.ns;
        assert_eq!(
            ok(ns, &["getent", "passwd", "alice"]),
            format!("{}\n", alice())
        );
        assert_eq!(
            ok(ns, &["getent", "passwd", "5029"]),
            format!("{}\n", maximiliane())
        );
        assert_eq!(
            ok(ns, &["getent", "passwd", "mallory", "5001"]),
            format!("{}\n{}\n", mallory(), alice())
        );
        // The whole list: the local files, then every NIS user (FIRST/NEXT).
        let local = ok(ns, &["getent", "-s", "files", "passwd"]);
        assert_eq!(
            ok(ns, &["getent", "passwd"]),
            format!("{local}{}", self.listing("passwd.byname", false))
        );
        assert_eq!(
            ok(ns, &["getent", "group", "engineering"]),
            format!("{ENGINEERING}\n")
        );
        assert_eq!(ok(ns, &["getent", "group", "5011"]), "interns:*:5011:\n");
        let local = ok(ns, &["getent", "-s", "files", "group"]);
        assert_eq!(
            ok(ns, &["getent", "group"]),
            format!("{local}{}", self.listing("group.byname", false))
        );
        // Supplementary groups (initgroups reads group.byname with ALL).
        assert_eq!(
            ok(ns, &["id", "alice"]),
            "uid=5001(alice) gid=5000(employees) groups=5000(employees),5006(admins),5001(engineering),5012(oncall),5013(vpn)\n"
        );
        assert_eq!(
            ok(ns, &["id", "mallory"]),
            "uid=5030(mallory) gid=5010(contractors) groups=5010(contractors),5001(engineering),5013(vpn)\n"
        );
        assert_eq!(
            ok(ns, &["id", "5033"]),
            "uid=5033(bkpsvc) gid=5002(operations) groups=5002(operations)\n"
        );
        assert_eq!(
            ok(ns, &["id", "-Gn", "grace"]),
            "employees admins engineering operations\n"
        );
        // Unknown names answer at once (no 25 s RPC timeout) with "not found".
        let t = std::time::Instant::now();
        let r = run(ns, &["getent", "passwd", "nosuch"]);
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let r = run(ns, &["id", "nosuch"]);
        assert!(!r.ok && r.stderr.contains("no such user"), "{r:?}");
    }
}

#[test]
fn ypcat_every_map_by_host() {
    let f = start("ypcat.test", false);
    f.ypcat();
    assert!(f.w.ypldapd().alive());
}

#[test]
fn ypmatch_and_ypwhich_through_a_binding_file() {
    let f = start("ypmatch.test", false);
    f.w.bind_clients();
    f.ypmatch();
    f.ypwhich(false);
}

#[test]
fn ypmatch_ypwhich_and_nss_through_a_real_ypbind() {
    let f = start("ypbind.test", false);
    let _ypbind = Ypbind::start(&f.w.ns, &f.w.domain, "127.0.0.1");
    f.ypmatch();
    f.ypwhich(true);
    nss_on(&f.w.ns);
    f.nss();
}

#[test]
fn yppoll_and_rpcinfo() {
    let f = start("yppoll.test", false);
    f.yppoll();
    f.rpcinfo();
}

#[test]
fn getent_and_id_through_libnss_nis() {
    let f = start("nss.test", false);
    f.w.bind_clients();
    nss_on(&f.w.ns);
    f.nss();
}

/// `bind local`: no rpcbind registration, sockets on 127.0.0.1 only.
///
/// Linux clients cannot use such a server on their own: libnsl (ypmatch,
/// ypwhich, glibc NSS) and yp-tools (ypcat, yppoll) read only the address
/// from the binding file and ask rpcbind on it for the port (BSD libc uses
/// the port in the file). So after checking that ypldapd registered
/// nothing, the test registers ypldapd's port with the namespace's rpcbind
/// itself, standing in for BSD libc, and then every client must work.
#[test]
fn bind_local_every_client() {
    let f = start("local.test", true);
    assert!(
        !f.w.registered(),
        "bind local must not register with rpcbind:\n{}",
        f.w.log()
    );
    assert!(
        f.w.log().contains(&format!(
            "serving domain local.test on 127.0.0.1:{}",
            f.port
        )),
        "{}",
        f.w.log()
    );
    // Loopback only, UDP and TCP on the same reserved port.
    let listening = f.w.ns.sh(&format!("ss -Hlnut 'sport = :{}'", f.port));
    let addrs: Vec<&str> = listening
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .collect();
    assert_eq!(
        addrs,
        [
            format!("127.0.0.1:{}", f.port),
            format!("127.0.0.1:{}", f.port)
        ],
        "{listening}"
    );
    register_yp(&f.w.ns, f.port);
    f.ypcat();
    f.ypmatch();
    f.ypwhich(false);
    f.yppoll();
    f.rpcinfo();
    nss_on(&f.w.ns);
    f.nss();
}

/// The binding file `bind local` writes once the first maps are loaded:
/// 16 bytes, upstream's layout (reference §5.1).
#[test]
fn bind_local_fills_the_binding_file() {
    let f = start("localfile.test", true);
    let p = f.port.to_be_bytes();
    let mut want = vec![0u8, 0];
    want.extend_from_slice(&1i32.to_ne_bytes());
    want.extend_from_slice(&[127, 0, 0, 1, p[0], p[1], 0, 0, p[0], p[1]]);
    assert_eq!(
        f.binding_file.as_deref(),
        Some(&want[..]),
        "binding file; log:\n{}",
        f.w.log()
    );
    assert!(!f.w.log().contains("cannot write yp binding file"));
    let mode = f.w.ns.sh("stat -c %a /var/yp/binding/localfile.test.2");
    assert_eq!(mode.trim(), "644");
    // With the file as ypldapd wrote it, libnsl finds the server.
    register_yp(&f.w.ns, f.port);
    f.ypmatch();
}

/// `allow` in the configuration: a real client from an address inside the
/// listed networks is answered, one from outside them is told the domain
/// is not served (by ypcat, and by ypmatch through a binding to that
/// address). Clients reach the server at three loopback addresses and
/// speak from the one they reach.
#[test]
fn allow_list_refuses_a_client_outside_it() {
    let (inside, outside) = ("10.99.0.2", "10.99.0.1");
    let f = start_allowing(
        "allow.test",
        &format!("allow \"127.0.0.1\"\nallow \"{inside}/32\""),
    );
    f.w.ns.sh(&format!(
        "ip addr add {inside}/32 dev lo && ip addr add {outside}/32 dev lo"
    ));
    let d = f.w.domain.as_str();
    for host in ["127.0.0.1", inside] {
        assert_eq!(
            ok(&f.w.ns, &["ypcat", "-h", host, "-d", d, "group"]),
            f.listing("group.byname", false),
            "from {host}"
        );
    }
    let r = run(&f.w.ns, &["ypcat", "-h", outside, "-d", d, "group"]);
    assert!(!r.ok && r.stdout.is_empty(), "from {outside}: {r:?}");
    assert!(
        r.stderr
            .contains("Can't bind to server which serves this domain"),
        "from {outside}: {r:?}"
    );
    // libnsl (ypmatch) through a binding to the outside address.
    f.w.ns.sh(&format!(
        "printf '\\000\\000\\001\\000\\000\\000\\012\\143\\000\\001\\000\\000\\000\\000' > /var/yp/binding/{d}.2"
    ));
    let r = run(&f.w.ns, &["ypmatch", "-d", d, "alice", "passwd.byname"]);
    assert!(!r.ok && r.stdout.is_empty(), "ypmatch via {outside}: {r:?}");
    assert_eq!(
        r.stderr.trim(),
        "Can't match key alice in map passwd.byname. Reason: Can't bind to server which serves this domain",
        "ypmatch via {outside}"
    );
    assert!(f.w.ypldapd().alive());
}

/// The sample's netgroups and automount maps, as the demo shows them:
/// glibc expands ssh-users (which holds sysadmins and developers),
/// innetgr(3) answers as access rules need, the BSD reverse map names
/// each user's netgroups, and autofs reads auto.master and auto.home over
/// NIS (`automount -m` mounts nothing).
#[test]
fn netgroups_and_automount_maps_as_the_demo_shows_them() {
    let f = start("ngauto.test", false);
    let ns = &f.w.ns;
    f.w.bind_clients();
    tests::nis::nss_sources(ns, &[("netgroup", "nis"), ("automount", "nis")]);
    let triples = |name: &str| {
        let out = ok(ns, &["getent", "netgroup", name]);
        assert!(out.starts_with(name), "{out}");
        tests::nis::netgroup_triples(&out)
    };
    assert_eq!(
        triples("ssh-users"),
        [
            "(,alice,example.com)",
            "(,carol,example.com)",
            "(,dave,example.com)",
            "(,frank,example.com)"
        ]
        .map(str::to_owned)
        .into()
    );
    assert_eq!(
        triples("servers"),
        [
            "(db1.example.com,-,example.com)",
            "(web1.example.com,-,example.com)"
        ]
        .map(str::to_owned)
        .into()
    );
    let innetgr = ok(
        ns,
        &[
            "python3",
            "-c",
            "import ctypes; l = ctypes.CDLL('libc.so.6'); print(\
             l.innetgr(b'ssh-users', None, b'alice', None), \
             l.innetgr(b'ssh-users', None, b'dave', b'example.com'), \
             l.innetgr(b'ssh-users', None, b'bob', None), \
             l.innetgr(b'servers', b'web1.example.com', None, None), \
             l.innetgr(b'servers', b'laptop.example.com', None, None), \
             l.innetgr(b'servers', None, b'alice', None))",
        ],
    );
    assert_eq!(innetgr.trim(), "1 1 0 1 0 0");
    let byuser: std::collections::BTreeMap<String, String> =
        f.w.ypcat("netgroup.byuser")
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect();
    assert_eq!(byuser["alice.example.com"], "sysadmins,ssh-users");
    assert_eq!(byuser["dave.example.com"], "developers,ssh-users");
    assert_eq!(byuser.len(), 4, "{byuser:?}");
    let cat = |map: &str| f.w.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cat("auto.master"),
        [("/home".to_owned(), "auto.home --timeout=60".to_owned())]
    );
    let home = [
        ("*", "-rw,soft nfs1.example.com:/export/home/&"),
        ("alice", "-rw,soft nfs2.example.com:/export/home/alice"),
    ];
    assert_eq!(
        cat("auto.home"),
        home.map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let dump = ok(ns, &["automount", "-m", "auto.master"]);
    let section = dump
        .split("Mount point: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no mount point:\n{dump}"));
    assert!(section.starts_with("/home\n"), "{dump}");
    assert!(section.contains("map: auto.home\n"), "{dump}");
    for (k, v) in home {
        assert!(section.contains(&format!("  {k} | {v}\n")), "{k}: {dump}");
    }
}
