//! The NIS client side of the end-to-end tests: the bundled sample
//! directory, bindings for libnsl clients (a binding file or a real
//! `ypbind`), glibc NSS through `libnss-nis` inside a namespace, and Debian's
//! `ypserv` serving classic `makedbm` maps as the peer to compare with.
//!
//! Everything here acts inside a [`Namespace`]: the binding file, the
//! `nsswitch.conf` bind mount and the `/var/yp/DOMAIN` map directory live in
//! the namespace's private `/var/yp` and mount table, never on the host.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::ldif::{Group, User};
use crate::{Namespace, wait_for};

/// The bundled sample directory (`examples/sample/sample.ldif`).
pub fn sample_ldif() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample/sample.ldif");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The bundled sample configuration (`examples/sample/ypldap.conf`).
pub fn sample_conf() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample/ypldap.conf");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The sample's classic entries as the update's summary counts them, from
/// the sample's LDIF: `"4 netgroup, 3 automount"` (its `nisNetgroup` and
/// its `nisObject` entries, the automount maps' keys).
pub fn sample_records() -> String {
    let ldif = sample_ldif();
    let count = |class: &str| {
        ldif.split("\n\n")
            .filter(|b| b.lines().any(|l| l == format!("objectClass: {class}")))
            .count()
    };
    format!(
        "{} netgroup, {} automount",
        count("nisNetgroup"),
        count("nisObject")
    )
}

/// The `posixAccount` and `posixGroup` entries of a plain LDIF text (no
/// base64 values, no continuation lines), in file order.
pub fn parse_ldif(text: &str) -> (Vec<User>, Vec<Group>) {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for block in text.split("\n\n") {
        let attrs: Vec<(&str, &str)> = block
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(": "))
            .collect();
        let get = |a: &str| {
            attrs
                .iter()
                .find(|(k, _)| *k == a)
                .map(|(_, v)| v.to_string())
        };
        let all = |a: &str| -> Vec<String> {
            attrs
                .iter()
                .filter(|(k, _)| *k == a)
                .map(|(_, v)| v.to_string())
                .collect()
        };
        let classes = all("objectClass");
        let num = |a: &str| get(a).and_then(|v| v.parse::<u32>().ok()).expect(a);
        if classes.iter().any(|c| c == "posixAccount") {
            users.push(User {
                name: get("uid").expect("uid"),
                uid: num("uidNumber"),
                gid: num("gidNumber"),
                gecos: get("gecos").expect("gecos"),
                home: get("homeDirectory").expect("homeDirectory"),
                shell: get("loginShell").expect("loginShell"),
                password: get("userPassword").expect("userPassword"),
            });
        } else if classes.iter().any(|c| c == "posixGroup") {
            groups.push(Group {
                name: get("cn").expect("cn"),
                gid: num("gidNumber"),
                members: all("memberUid"),
            });
        }
    }
    (users, groups)
}

/// Writes `/var/yp/binding/DOMAIN.2` inside `ns`, as ypbind would: 2
/// ignored bytes, then `struct ypbind_resp` {status 1, 127.0.0.1, port 0,
/// padding}. libnsl (ypmatch, ypwhich, glibc NSS) takes the address from it
/// and asks rpcbind there for the port.
pub fn write_binding_file(ns: &Namespace, domain: &str) {
    ns.sh(&format!(
        "mkdir -p /var/yp/binding && printf '\\000\\000\\001\\000\\000\\000\\177\\000\\000\\001\\000\\000\\000\\000' > /var/yp/binding/{domain}.2"
    ));
}

/// Makes glibc inside `ns` look users, shadow entries and groups up in NIS
/// after the files ([`nss_sources`] with `passwd`, `shadow` and `group`:
/// `files nis`).
pub fn nss_on(ns: &Namespace) {
    nss_sources(
        ns,
        &[
            ("passwd", "files nis"),
            ("group", "files nis"),
            ("shadow", "files nis"),
        ],
    );
}

/// Makes glibc inside `ns` use `sources` for each database named: a copy
/// of `/etc/nsswitch.conf` with those lines replaced (or added) is
/// bind-mounted over the original in the namespace's own mount table
/// (again over an earlier copy, if any). The host's file is never written.
pub fn nss_sources(ns: &Namespace, sources: &[(&str, &str)]) {
    let copy = ns.dir.path().join("nsswitch.conf");
    let current = std::fs::read_to_string(ns_path(ns, "/etc/nsswitch.conf")).unwrap_or_default();
    let mut lines: Vec<String> = current.lines().map(str::to_owned).collect();
    for (db, src) in sources {
        let line = format!("{db}: {src}");
        match lines
            .iter_mut()
            .find(|l| l.split(':').next().map(str::trim) == Some(db))
        {
            Some(l) => *l = line,
            None => lines.push(line),
        }
    }
    let text = lines.join("\n") + "\n";
    let tmp = copy.with_extension("new");
    std::fs::write(&tmp, text).expect("nsswitch.conf copy");
    std::fs::rename(&tmp, &copy).expect("nsswitch.conf copy");
    ns.sh(&format!(
        "test -e /lib/x86_64-linux-gnu/libnss_nis.so.2 -o -e /usr/lib/x86_64-linux-gnu/libnss_nis.so.2 \
           -o -n \"$(ldconfig -p | grep libnss_nis.so.2)\" || {{ echo 'libnss-nis is not installed' >&2; exit 1; }}
         chmod 644 {c}
         mount --bind {c} /etc/nsswitch.conf",
        c = copy.display()
    ));
}

/// A path as the namespace sees it (its mount table may differ from
/// the host's: read through its first process's root).
fn ns_path(ns: &Namespace, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{path}", ns.init_pid()))
}

/// The triples of a `getent netgroup NAME` line (after the name), as
/// `(host,user,domain)`: glibc's getent prints an empty host as a blank,
/// `( ,bob,)`.
pub fn netgroup_triples(line: &str) -> std::collections::BTreeSet<String> {
    let rest = line.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    rest.split(')')
        .map(|t| t.split_whitespace().collect::<String>())
        .filter(|t| !t.is_empty())
        .map(|t| format!("{t})"))
        .collect()
}

/// What a client printed.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `args[0] args[1..]` inside `ns` (no shell) and collects its output.
pub fn run(ns: &Namespace, args: &[&str]) -> Run {
    let out = ns
        .command(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .expect("nsenter");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A PAM service `name` in `ns` that checks passwords with pam_unix only
/// (so through NSS: `passwd` and `shadow` from NIS after [`nss_on`]): a
/// private `/etc/pam.d` holding just that service is mounted over the real
/// one in the namespace's own mount table.
pub fn pam_unix_service(ns: &Namespace, name: &str) {
    let dir = ns.dir.path().join("pam.d");
    std::fs::create_dir_all(&dir).expect("pam.d");
    std::fs::write(
        dir.join(name),
        "auth required pam_unix.so\naccount required pam_unix.so\n",
    )
    .expect("pam service");
    ns.sh(&format!("mount --bind {} /etc/pam.d", dir.display()));
}

/// Runs a client that must succeed; its stdout.
pub fn ok(ns: &Namespace, args: &[&str]) -> String {
    let r = run(ns, args);
    assert!(
        r.ok,
        "{args:?} failed ({:?}):\n{}{}",
        r.code, r.stderr, r.stdout
    );
    r.stdout
}

/// A real `ypbind -n -f CONF` inside a namespace (its kernel NIS domain
/// must be the domain: ypbind refuses otherwise); killed when dropped.
pub struct Ypbind(Child);

impl Ypbind {
    /// Starts ypbind with a private configuration naming `server` for
    /// `domain` and waits until `ypwhich` answers through it.
    pub fn start(ns: &Namespace, domain: &str, server: &str) -> Ypbind {
        let conf = ns.dir.path().join("yp.conf");
        std::fs::write(&conf, format!("domain {domain} server {server}\n")).expect("yp.conf");
        let log = ns.dir.path().join("ypbind.log");
        let child = ns
            .command("ypbind")
            .args(["-n", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(File::create(&log).expect("log"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ypbind");
        let b = Ypbind(child);
        if wait_for(Duration::from_secs(15), || {
            run(ns, &["ypwhich", "-d", domain]).ok.then_some(())
        })
        .is_none()
        {
            panic!(
                "ypbind never bound {domain} to {server}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        b
    }
}

impl Drop for Ypbind {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `f` on a thread that has entered `ns`'s network namespace: sockets
/// it creates live there (the namespace's loopback and rpcbind).
pub fn in_netns<T: Send>(ns: &Namespace, f: impl FnOnce() -> T + Send) -> T {
    let path = ns.net_path();
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::enter_net(&path);
            f()
        })
        .join()
        .expect("thread in the namespace")
    })
}

/// Registers YP (100004 v2) on `port` for UDP and TCP with the rpcbind in
/// `ns`, as a server would with PMAPPROC_SET.
pub fn register_yp(ns: &Namespace, port: u16) {
    use ypldapd::yp::rpcbind::Rpcbind;
    in_netns(ns, || {
        let mut r = Rpcbind::open(false).expect("rpcbind socket");
        r.register(100004, 2, Some(port), Some(port))
            .expect("PMAPPROC_SET");
    });
}

/// Debian's ypserv in `ns`, serving maps built by `makedbm` (and netid by
/// `mknetid`) from classic `passwd` and `group` files, the way
/// `/var/yp/Makefile` builds them. Killed when dropped.
pub struct Ypserv {
    child: Child,
    pub dir: PathBuf,
}

const MAKEDBM: &str = "/usr/lib/yp/makedbm";
const MKNETID: &str = "/usr/lib/yp/mknetid";

impl Ypserv {
    /// Writes `passwd`, `shadow` and `group` source files, builds
    /// `passwd.byname`, `passwd.byuid`, `shadow.byname` (a secure map:
    /// privileged ports only, `makedbm -s`; the Makefile's
    /// `MERGE_PASSWD=false` form), `group.byname`, `group.bygid` and
    /// `netid.byname` into the namespace's private `/var/yp/DOMAIN`, and
    /// starts `ypserv -f` (rpcbind must run in `ns`). Waits until it is
    /// registered.
    pub fn start(ns: &Namespace, domain: &str, passwd: &str, shadow: &str, group: &str) -> Ypserv {
        let dir = ns.dir.path().join("ypserv");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("passwd"), passwd).expect("passwd");
        std::fs::write(dir.join("shadow"), shadow).expect("shadow");
        std::fs::write(dir.join("group"), group).expect("group");
        std::fs::write(dir.join("hosts"), "").expect("hosts");
        // As /var/yp/Makefile: "key<TAB>line" through makedbm, -m the master.
        ns.sh(&format!(
            "set -e
             cd {d}
             m=/var/yp/{domain}
             mkdir -p $m
             master=$(hostname)
             awk -F: '!/^[-+#]/ && $1 != \"\" {{ print $1 \"\\t\" $0 }}' passwd | {MAKEDBM} -i {d}/passwd -m $master -o passwd.byname - $m/passwd.byname
             awk -F: '!/^[-+#]/ && $1 != \"\" {{ print $3 \"\\t\" $0 }}' passwd | {MAKEDBM} -i {d}/passwd -m $master -o passwd.byuid - $m/passwd.byuid
             awk -F: '!/^[-+#]/ && $1 != \"\" {{ print $1 \"\\t\" $0 }}' shadow | {MAKEDBM} -s -i {d}/shadow -m $master -o shadow.byname - $m/shadow.byname
             awk -F: '!/^[-+#]/ && $1 != \"\" {{ print $1 \"\\t\" $0 }}' group | {MAKEDBM} -i {d}/group -m $master -o group.byname - $m/group.byname
             awk -F: '!/^[-+#]/ && $1 != \"\" {{ print $3 \"\\t\" $0 }}' group | {MAKEDBM} -i {d}/group -m $master -o group.bygid - $m/group.bygid
             {MKNETID} -q -p passwd -g group -h hosts -d {domain} | {MAKEDBM} -m $master -o netid.byname - $m/netid.byname",
            d = dir.display()
        ));
        Ypserv::serve(ns, dir)
    }

    /// Starts `ypserv -f` on the maps in the namespace's `/var/yp`, its
    /// log in `dir`, and waits until it is registered.
    fn serve(ns: &Namespace, dir: PathBuf) -> Ypserv {
        let log = dir.join("ypserv.log");
        let child = ns
            .command("ypserv")
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log"))
            .spawn()
            .expect("ypserv");
        let s = Ypserv { child, dir };
        if wait_for(Duration::from_secs(15), || {
            crate::yp_registered(ns).then_some(())
        })
        .is_none()
        {
            panic!(
                "ypserv never registered: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        s
    }

    /// Builds maps with Debian's own `/var/yp/Makefile` (the one the
    /// ypserv package installs, [`DEBIAN_MAKEFILE`], copied into the
    /// namespace's private `/var/yp`) from `files` (name, text), which are
    /// written to a source directory the Makefile's `YPSRCDIR`,
    /// `YPPWDDIR` and `ALIASES` point at; runs `make` once per entry of
    /// `runs` in `/var/yp/DOMAIN`, as `ypinit`/`make` do; then starts
    /// ypserv on the maps. Returns it with each map's [`MapInput`].
    ///
    /// `DBLOAD` (the Makefile's `makedbm -c -m HOST`) is replaced by a
    /// script that runs exactly that, after keeping a copy of its input:
    /// the test needs the lines makedbm was given, in order, to tell a
    /// key's first value from its last.
    pub fn from_makefile(
        ns: &Namespace,
        domain: &str,
        files: &[(String, String)],
        runs: &[MakeRun<'_>],
    ) -> (Ypserv, BTreeMap<String, MapInput>) {
        let dir = ns.dir.path().join("ypserv");
        let src = dir.join("src");
        let capture = dir.join("makedbm-input");
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::create_dir_all(&capture).expect("mkdir");
        for (name, text) in files {
            std::fs::write(src.join(name), text).expect("source file");
        }
        let dbload = dir.join("dbload");
        std::fs::write(
            &dbload,
            format!(
                "#!/bin/bash
# The Makefile's DBLOAD, makedbm -c -m `yphelper --hostname`, keeping each
# map's arguments and input in {cap}.
set -euo pipefail
map=\"${{!#}}\"
printf '%s\\n' \"$@\" > \"{cap}/$map.args\"
cat > \"{cap}/$map\"
args=()
for a in \"$@\"; do if [[ $a == - ]]; then args+=(\"{cap}/$map\"); else args+=(\"$a\"); fi; done
exec {MAKEDBM} -c -m \"$(/usr/lib/yp/yphelper --hostname)\" \"${{args[@]}}\"
",
                cap = capture.display()
            ),
        )
        .expect("dbload");
        std::fs::set_permissions(&dbload, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        // Only ever the namespace's private copy of /var/yp.
        ns.sh(&format!(
            "set -e
             mountpoint -q /var/yp || {{ echo '/var/yp is not the namespace'\\''s own' >&2; exit 1; }}
             test -r {DEBIAN_MAKEFILE} || {{ echo '{DEBIAN_MAKEFILE} missing (is ypserv installed?)' >&2; exit 1; }}
             cp {DEBIAN_MAKEFILE} /var/yp/Makefile
             mkdir -p /var/yp/{domain}"
        ));
        for run in runs {
            let vars: String = run
                .variables
                .iter()
                .map(|(k, v)| format!(" '{k}={}'", src.join(v).display()))
                .collect();
            let out = ns
                .command("sh")
                .arg("-c")
                .arg(format!(
                    "cd /var/yp/{domain} && make -f ../Makefile NOPUSH=true \
                     YPSRCDIR={s} YPPWDDIR={s} ALIASES={s}/aliases DBLOAD={dbload}{vars} {targets}",
                    s = src.display(),
                    dbload = dbload.display(),
                    targets = run.targets.join(" ")
                ))
                .output()
                .expect("make");
            // makedbm -c cannot reach ypserv, which is not running yet:
            // it says so and goes on.
            assert!(
                out.status.success(),
                "make {:?}: {}\n{}",
                run.targets,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut inputs = BTreeMap::new();
        for e in std::fs::read_dir(&capture)
            .expect("captured inputs")
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(map) = name.strip_suffix(".args") else {
                continue;
            };
            let args = std::fs::read_to_string(e.path()).expect("args");
            let text = std::fs::read_to_string(capture.join(map)).expect("input");
            inputs.insert(
                map.to_owned(),
                MapInput {
                    args: args.lines().map(str::to_owned).collect(),
                    text,
                },
            );
        }
        (Ypserv::serve(ns, dir), inputs)
    }
}

/// The Makefile as Debian's ypserv package ships it; `/var/yp/Makefile`
/// is the administrator's copy of it (ucf), which may have been edited.
pub const DEBIAN_MAKEFILE: &str = "/usr/share/yp/templates/var_yp_Makefile";

/// One `make` run of [`Ypserv::from_makefile`]: variables naming source
/// files (`NETGROUP` → `netgroup.acyclic`), relative to the source
/// directory, and the targets.
#[derive(Debug, Clone)]
pub struct MakeRun<'a> {
    pub variables: Vec<(&'a str, &'a str)>,
    pub targets: Vec<&'a str>,
}

/// What the Makefile handed makedbm for one map.
#[derive(Debug, Clone)]
pub struct MapInput {
    /// makedbm's arguments after the Makefile's `-c -m HOST`.
    pub args: Vec<String>,
    /// Its input, as the Makefile's pipeline wrote it.
    pub text: String,
}

impl MapInput {
    /// The (key, value) pairs makedbm reads from the input, in order, as
    /// makedbm(8) says it reads them: the key up to the first blank, the
    /// value after the blanks that follow; `-r` cuts a line at `#`, `-l`
    /// lower-cases the key, `--aliases` reads `name: value`. A key may
    /// come more than once: makedbm stores each line over the last.
    pub fn entries(&self) -> Vec<(String, String)> {
        let flag = |f: &str| self.args.iter().any(|a| a == f);
        let (comments, lower, aliases) = (flag("-r"), flag("-l"), flag("--aliases"));
        let mut out = Vec::new();
        for line in self.text.lines() {
            let line = if comments {
                line.split('#').next().unwrap_or("")
            } else {
                line
            };
            let split = if aliases {
                line.split_once(':')
            } else {
                line.split_once([' ', '\t'])
            };
            let (key, value) = split.unwrap_or((line, ""));
            if key.is_empty() {
                continue;
            }
            let key = if lower {
                key.to_ascii_lowercase()
            } else {
                key.to_owned()
            };
            out.push((key, value.trim_start_matches([' ', '\t']).to_owned()));
        }
        out
    }
}

impl Ypserv {
    /// The host pid of the ypserv started here (not of the children it
    /// forks to answer ALL).
    pub fn pid(&self) -> Option<u32> {
        crate::children(self.child.id())
            .into_iter()
            .find(|&p| crate::comm(p).as_deref() == Some("ypserv"))
    }
}

impl Drop for Ypserv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The classic `passwd` file of `users` (7 fields), in the given order.
pub fn passwd_file(users: &[User], password: impl Fn(&User) -> String) -> String {
    users
        .iter()
        .map(|u| {
            format!(
                "{}:{}:{}:{}:{}:{}:{}\n",
                u.name,
                password(u),
                u.uid,
                u.gid,
                u.gecos,
                u.home,
                u.shell
            )
        })
        .collect()
}

/// The classic `shadow` file of `users` (9 fields, no ageing), in the
/// given order.
pub fn shadow_file(users: &[User], password: impl Fn(&User) -> String) -> String {
    users
        .iter()
        .map(|u| format!("{}:{}:::::::\n", u.name, password(u)))
        .collect()
}

/// The classic `group` file of `groups`, in the given order.
pub fn group_file(groups: &[Group]) -> String {
    groups
        .iter()
        .map(|g| format!("{}:*:{}:{}\n", g.name, g.gid, g.members.join(",")))
        .collect()
}
