//! ypldapctl against a running ypldapd reading slapd, end to end: every
//! command's answer checked against what the test put in the directory
//! and asked of the server; the sockets' permissions; bad input on the
//! control socket while a MATCH watcher sees every answer.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, socket,
};
use serde_json::Value;
use tests::ldif::SUFFIX;
use tests::peers::SlapdOptions;
use tests::probe::Probe;
use tests::world::{Data, Directory, World};

/// `nobody`, group `nogroup` (Debian's 65534), no other group.
const NOBODY: &[&str] = &["--reuid=65534", "--regid=65534", "--clear-groups"];
/// `nobody` in a group of its own that is not the restricted socket's.
const STRANGER: &[&str] = &["--reuid=65534", "--regid=4321", "--clear-groups"];

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}stderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `ypldapctl ARGS` as root; panics unless it succeeds; its stdout.
fn ctl(w: &World, args: &[&str]) -> String {
    let o = w.ypldapctl(None, args);
    assert!(
        o.status.success(),
        "ypldapctl {args:?}: {}\n{}",
        text(&o),
        w.log()
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `ypldapctl -j ARGS` as root, parsed.
fn json(w: &World, args: &[&str]) -> Value {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let out = ctl(w, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `count` users with a uid out of range, each with a DN of about 850
/// bytes (four RDNs of 200: back-mdb keeps an RDN twice in a key of at
/// most 511 bytes): dropped by the reader, and a `show drops` answer too
/// large for the socket's buffers.
fn long_dn_users(count: usize) -> String {
    let mut parent = format!("ou=People,{SUFFIX}");
    let mut ldif = String::new();
    for c in ['a', 'b', 'c'] {
        let ou = c.to_string().repeat(200);
        parent = format!("ou={ou},{parent}");
        ldif.push_str(&format!(
            "dn: {parent}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        ));
    }
    for i in 0..count {
        let cn = format!("nouid{i:04}-{}", "x".repeat(200));
        ldif.push_str(&format!(
            "dn: cn={cn},{parent}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: nouid{i:04}\ncn: {cn}\nsn: x\nuidNumber: 4294967295\ngidNumber: 100\n\
             homeDirectory: /home/x\nloginShell: /bin/sh\ngecos: x\nuserPassword: x\n\n"
        ));
    }
    ldif
}

/// Two users the directory holds that break a rule.
fn bad_users() -> String {
    format!(
        "dn: uid=baduid,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
         uid: baduid\ncn: Bad Uid\nsn: baduid\nuidNumber: 4294967295\ngidNumber: 100\n\
         homeDirectory: /home/baduid\nloginShell: /bin/sh\ngecos: Bad Uid\nuserPassword: x\n\n\
         dn: uid=noshell,ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
         uid: noshell\ncn: No Shell\nsn: noshell\nuidNumber: 30002\ngidNumber: 100\n\
         homeDirectory: /home/noshell\ngecos: No Shell\nuserPassword: x\n"
    )
}

/// Parses a Prometheus text exposition with the `prometheus_client`
/// package's parser (Debian's python3-prometheus-client, from
/// scripts/install-deps.sh): family name → (type, samples as
/// (name, labels, value, timestamp)).
fn parse_metrics(exposition: &str) -> BTreeMap<String, (String, Vec<Value>)> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = [f.type, [[s.name, s.labels, s.value, s.timestamp] for s in f.samples]]
print(json.dumps(out))
"#;
    // Debian's interpreter, whatever else is first on PATH (pyenv).
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/install-deps.sh installs it)");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), exposition.as_bytes())
        .expect("write");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{exposition}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: BTreeMap<String, (String, Vec<Value>)> =
        serde_json::from_slice(&out.stdout).expect("parser output");
    v
}

/// The value of the sample `name` with exactly `labels`.
fn sample(
    metrics: &BTreeMap<String, (String, Vec<Value>)>,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let want: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    metrics
        .values()
        .flat_map(|(_, s)| s)
        .find(|s| s[0] == name && s[1] == Value::Object(want.clone()))
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

/// Sum of key and value bytes of a map as `ypcat -k` shows it.
fn map_bytes(entries: &[(String, String)]) -> u64 {
    entries
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
}

#[test]
fn every_command_against_a_running_server() {
    let domain = "ctl.test";
    let w = World::builder(domain)
        .directory(Directory::slapd(
            Data::generated(30, 8).with_ldif(&bad_users()),
        ))
        .statement("socket \"/run/ypldapd.rsock\" restricted group \"nogroup\"")
        .reloadable()
        .start();
    let expected = w.expected_maps();

    // The sockets: root's 0600, the restricted one root:nogroup 0660.
    for (path, mode, gid) in [
        ("/run/ypldapd.sock", 0o600, 0),
        ("/run/ypldapd.rsock", 0o660, 65534),
    ] {
        let m = std::fs::symlink_metadata(w.ns.path_inside(path)).expect(path);
        assert!(m.file_type().is_socket(), "{path}");
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{path}");
        assert_eq!((m.uid(), m.gid()), (0, gid), "{path}");
    }

    // Some YP traffic to count: ALL of every map over TCP, ORDER, and a
    // secret map asked from an unprivileged port (refused).
    for map in ["passwd.byname", "group.byname"] {
        assert_eq!(&w.ypcat(map).expect("ypcat"), &expected[map]);
    }
    let poll =
        w.ns.sh(&format!("yppoll -h 127.0.0.1 -d {domain} passwd.byname"));
    // "Map passwd.byname has order number N. [date]"
    let order: u64 = poll
        .split("has order number ")
        .nth(1)
        .and_then(|r| r.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("yppoll: {poll}"));
    let refused =
        w.ns.command("setpriv")
            .args(NOBODY)
            .args([
                "ypcat",
                "-h",
                "127.0.0.1",
                "-d",
                domain,
                "master.passwd.byname",
            ])
            .output()
            .expect("ypcat as nobody");
    assert!(!refused.status.success(), "{}", text(&refused));

    // show summary, as text and as JSON.
    let s = ctl(&w, &["show", "summary"]);
    for want in [
        "domain ctl.test",
        "registered with rpcbind",
        "30 users, 8 groups from 1 directory",
        "dropped 2: 1 missing attribute, 1 invalid uid",
        "ypldap-client running",
        "ypldap-dns running",
    ] {
        assert!(s.contains(want), "{want:?} not in:\n{s}");
    }
    let j = json(&w, &["s", "su"]);
    assert_eq!(j["domain"], domain);
    assert_eq!(j["announcement"]["announced"], true);
    assert_eq!(j["update_mode"], "full_read");
    let last = &j["last_success"];
    assert_eq!(last["number"], 1);
    assert_eq!(last["counts"]["users"], 30);
    assert_eq!(last["counts"]["groups"], 8);
    assert_eq!(last["counts"]["dropped_total"], 2);
    assert_eq!(last["counts"]["dropped"]["invalid_uid"], 1);
    assert_eq!(last["counts"]["dropped"]["missing_attribute"], 1);
    assert_eq!(j["updates"]["succeeded"], 1);
    for h in j["helpers"].as_array().expect("helpers") {
        assert_eq!(h["state"], "running", "{h}");
        assert_eq!(h["restarts"], 0, "{h}");
    }

    // show maps: entries and bytes as ypcat counts them, the ORDER yppoll saw.
    let maps = json(&w, &["show", "maps"]);
    let maps = maps["maps"].as_array().expect("maps");
    assert_eq!(maps.len(), 8);
    for m in maps {
        let name = m["name"].as_str().expect("name");
        let want = &expected[name];
        assert_eq!(m["entries"], want.len(), "{name}");
        assert_eq!(m["bytes"], map_bytes(want), "{name}");
        assert_eq!(m["order"], order, "{name}");
        assert_eq!(
            m["privileged"],
            name.starts_with("master.") || name == "shadow.byname"
        );
    }
    assert!(ctl(&w, &["show", "maps"]).contains("master.passwd.byname *"));

    // show directories: the address ypldap-dns connected to.
    let d = json(&w, &["show", "directories"]);
    let d = &d["directories"][0];
    assert_eq!(d["host"], "127.0.0.1");
    assert_eq!(d["port"], 389);
    assert_eq!(d["tls"], "none");
    assert_eq!(d["address"], "127.0.0.1:389");
    assert_eq!(d["update_mode"], "full_read");
    assert!(d["connections"].as_u64().expect("connections") >= 1, "{d}");

    // show drops: the two bad entries by DN and reason.
    let drops = json(&w, &["show", "drops"]);
    assert_eq!(drops["update"], 1);
    assert_eq!(drops["total"], 2);
    let entries = drops["entries"].as_array().expect("entries");
    let by_dn: BTreeMap<&str, &str> = entries
        .iter()
        .map(|e| (e["dn"].as_str().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by_dn,
        BTreeMap::from([
            (
                format!("uid=baduid,ou=People,{SUFFIX}").as_str(),
                "invalid_uid"
            ),
            (
                format!("uid=noshell,ou=People,{SUFFIX}").as_str(),
                "missing_attribute"
            ),
        ])
    );
    let t = ctl(&w, &["show", "drops"]);
    assert!(t.contains("attribute loginShell is missing"), "{t}");

    // show clients: the requests made above.
    let c = json(&w, &["show", "clients"]);
    let count = |p: &str, t: &str| -> u64 {
        c["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .find(|r| r["procedure"] == p)
            .and_then(|r| r[t].as_u64())
            .unwrap_or_else(|| panic!("no {p}: {c}"))
    };
    assert!(count("all", "tcp") >= 3, "{c}");
    assert!(count("order", "udp") + count("order", "tcp") >= 1, "{c}");
    assert!(
        c["refused"]["unprivileged_port"].as_u64().expect("refused") >= 1,
        "{c}"
    );
    assert_eq!(c["refused"]["allow_list"], 0);

    // show metrics, through a real Prometheus parser.
    let exposition = ctl(&w, &["show", "metrics"]);
    let m = parse_metrics(&exposition);
    for (name, (kind, samples)) in &m {
        assert!(name.starts_with("ypldap_"), "{name}");
        assert!(!samples.is_empty(), "{name}");
        for s in samples {
            assert!(s[3].is_null(), "a timestamp on {s}");
        }
        if kind == "counter" {
            assert!(
                samples
                    .iter()
                    .all(|s| s[0].as_str().unwrap().ends_with("_total"))
            );
        }
    }
    assert_eq!(m["ypldap_updates"].0, "counter");
    assert_eq!(sample(&m, "ypldap_last_success_users", &[]), 30.0);
    assert_eq!(sample(&m, "ypldap_last_success_groups", &[]), 8.0);
    assert_eq!(
        sample(
            &m,
            "ypldap_last_success_dropped_entries",
            &[("reason", "invalid_uid")]
        ),
        1.0
    );
    assert_eq!(
        sample(&m, "ypldap_map_entries", &[("map", "passwd.byname")]),
        expected["passwd.byname"].len() as f64
    );
    assert_eq!(sample(&m, "ypldap_announced", &[]), 1.0);
    assert_eq!(
        sample(&m, "ypldap_helper_up", &[("helper", "ypldap-client")]),
        1.0
    );
    assert!(
        sample(
            &m,
            "ypldap_yp_requests_total",
            &[("procedure", "all"), ("transport", "tcp")]
        ) >= 3.0
    );
    assert_eq!(
        sample(&m, "ypldap_updates_total", &[("result", "success")]),
        1.0
    );

    // update: a user added to the directory shows up at once.
    let add = w.ns.dir.path().join("add.ldif");
    let (users, _) = tests::ldif::generate(31, 0);
    std::fs::write(&add, tests::ldif::entries(&users[30..], &[])).expect("ldif");
    w.ns.sh(&format!(
        "ldapadd -x -H ldap://127.0.0.1 -D cn=admin,{SUFFIX} -w secret -f {}",
        add.display()
    ));
    let out = ctl(&w, &["update"]);
    assert_eq!(out, "update 2 started\n");
    w.wait_log("update 2: ", 1, Duration::from_secs(30));
    let j = json(&w, &["show", "summary"]);
    assert_eq!(j["last_success"]["number"], 2);
    assert_eq!(j["last_success"]["counts"]["users"], 31);
    assert_eq!(j["updates"]["succeeded"], 2);

    // reload: a broken file's errors come back to the caller; the running
    // configuration stays; a good file reloads.
    let good = w.config_text();
    let path = w.write_config(&format!("{good}\nthis is not a statement\n"));
    let o = w.ypldapctl(None, &["reload"]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:", path.display()))
            && err.contains("keeping the current configuration"),
        "{err}"
    );
    w.write_config(&good);
    assert_eq!(
        ctl(&w, &["reload"]),
        "reloaded the configuration; it applies from the next update\n"
    );

    // log verbose / brief.
    assert_eq!(ctl(&w, &["log", "brief"]), "logging brief\n");
    assert_eq!(json(&w, &["show"])["log_verbose"], false);
    assert_eq!(ctl(&w, &["log", "verbose"]), "logging verbose\n");
    assert_eq!(json(&w, &["show"])["log_verbose"], true);

    // Permissions: nobody is refused the control socket; the restricted
    // socket answers show to its group only, and nothing else.
    let o = w.ypldapctl(Some(NOBODY), &["show", "summary"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("permission denied"),
        "{}",
        text(&o)
    );
    let rsock = ["-s", "/run/ypldapd.rsock"];
    let o = w.ypldapctl(Some(NOBODY), &[&rsock[..], &["show", "summary"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("domain ctl.test"));
    for cmd in [&["reload"][..], &["update"], &["log", "brief"]] {
        let o = w.ypldapctl(Some(NOBODY), &[&rsock[..], cmd].concat());
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("is not allowed on the restricted socket"),
            "{}",
            text(&o)
        );
    }
    let o = w.ypldapctl(Some(STRANGER), &[&rsock[..], &["show", "maps"]].concat());
    assert!(!o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("permission denied"));
    // Unknown commands never reach the socket.
    let o = w.ypldapctl(None, &["show", "everything"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown command: show everything"));
}

/// A directory read by content synchronization: `show summary`, `show
/// directories` and the metrics say so, and count the change an
/// administrator makes.
#[test]
fn content_synchronization_is_shown() {
    let mut w = World::builder("ctlsync.test")
        .directory(Directory::slapd_with(
            Data::generated(10, 2),
            SlapdOptions::default().with_sync(),
        ))
        .interval(3600)
        .start();
    w.wait_log(
        "kept current by content synchronization",
        1,
        Duration::from_secs(10),
    );
    let d = json(&w, &["show", "directories"]);
    assert_eq!(d["directories"][0]["update_mode"], "persist", "{d}");
    assert!(d["directories"][0]["last_change_received"].is_null(), "{d}");
    let s = json(&w, &["show", "summary"]);
    assert_eq!(s["update_mode"], "persist");
    assert_eq!(s["directories_kept_current"], 1);
    assert_eq!(s["changes_received"], 0);
    let loaded = s["maps_loaded"].as_u64().expect("maps_loaded");

    // One change: counted, dated, and the maps' last change follows it.
    std::thread::sleep(Duration::from_millis(1100));
    w.change_directory(
        "ldapmodify",
        &format!(
            "dn: uid=user00001,ou=People,{SUFFIX}\nchangetype: modify\nreplace: loginShell\nloginShell: /bin/zsh\n"
        ),
    );
    let s = tests::wait_for(Duration::from_secs(5), || {
        let s = json(&w, &["show", "summary"]);
        (s["changes_received"].as_u64() >= Some(1)).then_some(s)
    })
    .unwrap_or_else(|| panic!("no change counted:\n{}", w.log()));
    assert!(
        s["maps_loaded"].as_u64().expect("maps_loaded") > loaded,
        "{s}"
    );
    let d = json(&w, &["show", "directories"]);
    assert!(d["directories"][0]["last_change_received"].is_u64(), "{d}");
    assert!(
        ctl(&w, &["show"]).contains(
            "1 of 1 directory kept current by content synchronization, 1 change received"
        )
    );
    let m = parse_metrics(&ctl(&w, &["show", "metrics"]));
    assert_eq!(sample(&m, "ypldap_directories_kept_current", &[]), 1.0);
    assert_eq!(sample(&m, "ypldap_sync_changes_total", &[]), 1.0);
    assert!(
        sample(
            &m,
            "ypldap_directory_last_change_received_timestamp_seconds",
            &[("directory", "0")]
        ) > 0.0
    );
}

/// A raw client of the control socket.
fn raw_client(path: &Path) -> OwnedFd {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    connect(fd.as_raw_fd(), &UnixAddr::new(path).expect("path")).expect("connect");
    fd
}

/// Everything the server sends until it closes, joined.
fn read_all(fd: &OwnedFd) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn error_reply(bytes: &[u8]) -> String {
    match ctl_reply(bytes) {
        Ok(Value::Object(o)) if o["reply"]["type"] == "Error" => o["reply"]["body"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        other => panic!("not an error reply: {other:?}"),
    }
}

fn ctl_reply(bytes: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice(bytes)
}

#[test]
fn bad_input_on_the_control_socket_never_disturbs_serving() {
    let w = World::builder("ctlbad.test")
        .directory(Directory::slapd(
            Data::generated(10, 2).with_ldif(&long_dn_users(300)),
        ))
        .start();
    let path = w.control_socket();
    let watcher = Probe::watch(&w, "user00007", 12);
    let started = Instant::now();

    // A client that sends its request and never reads: the answer (the
    // long DNs) is more than the socket holds.
    let deaf = raw_client(&path);
    send(
        deaf.as_raw_fd(),
        br#"{"version":1,"request":{"type":"ShowDrops"}}"#,
        MsgFlags::empty(),
    )
    .expect("send");
    // Clients that never send anything.
    let silent: Vec<OwnedFd> = (0..3).map(|_| raw_client(&path)).collect();

    // Meanwhile: an unknown command, oversize requests, a wrong version.
    for (request, want) in [
        (
            br#"{"version":1,"request":{"type":"Shutdown"}}"#.to_vec(),
            "unknown message type Shutdown",
        ),
        (vec![b'{'; 5000], "at most 1024 allowed"),
        (vec![b'x'; 200_000], "larger than the 32768 bytes read"),
        (
            br#"{"version":9,"request":{"type":"ShowDrops"}}"#.to_vec(),
            "speaks version 1, its peer version 9",
        ),
    ] {
        let c = raw_client(&path);
        send(c.as_raw_fd(), &request, MsgFlags::empty()).expect("send");
        let e = error_reply(&read_all(&c));
        assert!(e.contains(want), "{e:?} lacks {want:?}");
    }
    // The server still answers everyone else, the restricted views too.
    let s = ctl(&w, &["show", "summary"]);
    assert!(s.contains("10 users, 2 groups"), "{s}");
    let drops = json(&w, &["show", "drops"]);
    assert_eq!(drops["total"], 300);
    assert_eq!(drops["entries"].as_array().expect("entries").len(), 256);
    let c = json(&w, &["show", "clients"]);
    assert!(c["requests"].as_array().is_some());

    // After the exchange's 10 s, the deaf and silent clients are closed:
    // the deaf one gets only part of its answer.
    std::thread::sleep(Duration::from_secs(11).saturating_sub(started.elapsed()));
    let got = read_all(&deaf);
    assert!(!got.is_empty(), "nothing sent at all");
    assert!(
        ctl_reply(&got).is_err(),
        "the whole answer fit ({} bytes)",
        got.len()
    );
    for s in &silent {
        assert!(read_all(s).is_empty());
    }
    assert!(ctl(&w, &["show", "summary"]).contains("domain ctlbad.test"));

    watcher.assert_no_failure("bad input on the control socket", 100);
}
