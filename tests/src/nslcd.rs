//! nslcd (nss-pam-ldapd), the reference reader: glibc's NSS over LDAP,
//! written by others, run inside a test's namespaces on a private
//! `/etc/nslcd.conf`, so that `getent` and `id` through it can be compared
//! with the same questions answered through NIS by ypldapd.
//!
//! Nothing on the host changes: the configuration and every
//! `nsswitch.conf` are bind mounts inside the namespace (each `id` in a
//! mount namespace of its own), and nslcd's socket is in the namespace's
//! private `/run`.

use std::collections::BTreeSet;
use std::fs::File;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::peers::kill_entered;
use crate::world::World;
use crate::{Namespace, wait_for};

/// How nslcd reads the directory: the lines of its `nslcd.conf` after
/// `uid`/`gid` (`uri`, `base`, `binddn`, `filter`, `map`, …).
#[derive(Debug, Clone)]
pub struct NslcdConfig {
    pub lines: Vec<String>,
}

/// A running `nslcd -d` inside a namespace; killed when dropped.
pub struct Nslcd {
    child: Option<Child>,
}

impl Nslcd {
    /// Writes the configuration, bind-mounts it over `/etc/nslcd.conf` in
    /// the namespace, starts nslcd and waits for its socket.
    pub fn start(ns: &Namespace, config: &NslcdConfig) -> Nslcd {
        let mut text = String::from("uid nslcd\ngid nslcd\n");
        for l in &config.lines {
            text.push_str(l);
            text.push('\n');
        }
        let path = ns.write_file("nslcd.conf", &text);
        ns.sh(&format!(
            "chgrp nslcd {p} && chmod 0640 {p} && mount --bind {p} /etc/nslcd.conf \
             && mkdir -p /run/nslcd && chown nslcd:nslcd /run/nslcd",
            p = path.display()
        ));
        let log = File::create(ns.dir.path().join("nslcd.log")).expect("nslcd log");
        let child = ns
            .command("nslcd")
            .arg("-d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nslcd");
        let up = wait_for(Duration::from_secs(20), || {
            ns.command("test")
                .args(["-S", "/run/nslcd/socket"])
                .status()
                .ok()
                .filter(std::process::ExitStatus::success)
        });
        assert!(
            up.is_some(),
            "nslcd did not start:\n{}",
            std::fs::read_to_string(ns.dir.path().join("nslcd.log")).unwrap_or_default()
        );
        Nslcd { child: Some(child) }
    }
}

impl Drop for Nslcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_entered(&mut c);
        }
    }
}

/// An NSS source: `ldap` (nslcd) or `nis` (ypldapd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ldap,
    Nis,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Ldap => "ldap",
            Source::Nis => "nis",
        }
    }
}

/// Runs `args` inside the namespace with an `nsswitch.conf` that reads
/// passwd, group and shadow from local files, then `source`; in a mount
/// namespace of its own, so the two sources can be asked side by side.
pub fn nss(ns: &Namespace, source: Source, args: &[&str]) -> String {
    let conf = ns.dir.path().join(format!("nsswitch.{}", source.name()));
    if !conf.exists() {
        let s = source.name();
        std::fs::write(
            &conf,
            format!("passwd: files {s}\ngroup: files {s}\nshadow: files {s}\n"),
        )
        .expect("nsswitch.conf");
    }
    let out = ns
        .command("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/nsswitch.conf && exec \"$@\"")
        .arg(&conf)
        .args(args)
        .output()
        .expect("unshare");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `getent DATABASE` through `source`: the source's entries, one per
/// line, without the local files' (`getent -s nis` itself cannot bind).
pub fn getent(ns: &Namespace, source: Source, database: &str) -> Vec<String> {
    let local = ns
        .command("getent")
        .args(["-s", "files", database])
        .output()
        .expect("getent");
    let local: BTreeSet<String> = String::from_utf8_lossy(&local.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    nss(ns, source, &["getent", database])
        .lines()
        .filter(|l| !local.contains(*l))
        .map(str::to_owned)
        .collect()
}

/// A group line with its members as a set (their order is not compared).
pub fn group_entry(line: &str) -> (String, BTreeSet<String>) {
    let (head, members) = line.rsplit_once(':').unwrap_or((line, ""));
    let set = members
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    (head.to_owned(), set)
}

/// `id USER` through `source`: the user's ids and the set of its groups,
/// `None` when the user is unknown.
pub fn id(ns: &Namespace, source: Source, user: &str) -> Option<(String, BTreeSet<String>)> {
    let out = nss(ns, source, &["id", user]);
    let line = out.trim();
    if line.is_empty() {
        return None;
    }
    let (ids, groups) = line.split_once(" groups=").unwrap_or((line, ""));
    Some((
        ids.to_owned(),
        groups
            .split(',')
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

/// A group member that nslcd and ypldapd show differently, on purpose.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub group: &'static str,
    /// What nslcd shows.
    pub nslcd: &'static str,
    /// What ypldapd shows instead (`None`: nothing).
    pub ypldapd: Option<&'static str>,
}

/// What [`compare_with_nslcd`] allows to differ, and how far it asks.
#[derive(Debug, Clone, Default)]
pub struct Differences {
    /// Members shown differently (each must still be there).
    pub members: Vec<Known>,
    /// Groups nslcd serves and ypldapd leaves out on purpose (a line too
    /// long for a YP record): out of `getent group` and `id` (each must
    /// still be served by nslcd).
    pub groups_left_out: Vec<&'static str>,
    /// `id` only for these users (`None`: every user).
    pub id_users: Option<Vec<&'static str>>,
}

/// `getent passwd`, `getent group` and `id USER` for every user give the
/// same answers through nslcd (NSS-LDAP) and ypldapd (NSS-NIS), group
/// members and group lists compared as sets, but for the listed
/// `differences`.
pub fn compare_with_nslcd(w: &World, differences: &Differences) {
    let known = &differences.members;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // The password field differs on purpose: nslcd shows `*`, ypldapd's
    // passwd.byname `x` (the hash is in shadow.byname; ypldap.conf(5),
    // PASSWORDS). Every other field must be the same.
    let without_password = |source| {
        sorted(
            getent(&w.ns, source, "passwd")
                .iter()
                .map(|l| {
                    let mut f: Vec<&str> = l.split(':').collect();
                    if f.len() == 7 {
                        let no_hash = match source {
                            Source::Nis => "x",
                            Source::Ldap => "*",
                        };
                        if f[1] == no_hash {
                            f[1] = "(none)";
                        }
                    }
                    f.join(":")
                })
                .collect(),
        )
    };
    let ldap_passwd = without_password(Source::Ldap);
    let nis_passwd = without_password(Source::Nis);
    assert!(!nis_passwd.is_empty(), "no passwd entries through NIS");
    assert_eq!(ldap_passwd, nis_passwd, "getent passwd: nslcd vs ypldapd");

    let groups = |s| {
        getent(&w.ns, s, "group")
            .iter()
            .map(|l| group_entry(l))
            .collect::<Vec<_>>()
    };
    let mut ldap_groups = groups(Source::Ldap);
    for g in &differences.groups_left_out {
        let before = ldap_groups.len();
        ldap_groups.retain(|(head, _)| !head.starts_with(&format!("{g}:")));
        assert!(
            ldap_groups.len() < before,
            "nslcd no longer serves {g}: the listed difference is gone"
        );
    }
    for (head, members) in &mut ldap_groups {
        for k in known {
            if head.starts_with(&format!("{}:", k.group)) {
                assert!(
                    members.remove(k.nslcd),
                    "nslcd no longer shows {} in {}: the listed difference is gone",
                    k.nslcd,
                    k.group
                );
                members.extend(k.ypldapd.map(str::to_owned));
            }
        }
    }
    ldap_groups.sort();
    let mut nis_groups = groups(Source::Nis);
    nis_groups.sort();
    assert!(!nis_groups.is_empty(), "no group entries through NIS");
    assert_eq!(ldap_groups, nis_groups, "getent group: nslcd vs ypldapd");

    let names: Vec<&str> = match &differences.id_users {
        Some(users) => users.clone(),
        None => nis_passwd
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default())
            .collect(),
    };
    for name in names {
        let mut ldap = id(&w.ns, Source::Ldap, name);
        if let Some((_, groups)) = ldap.as_mut() {
            groups.retain(|g| {
                !differences
                    .groups_left_out
                    .iter()
                    .any(|left| g.ends_with(&format!("({left})")))
            });
        }
        let nis = id(&w.ns, Source::Nis, name);
        assert!(nis.is_some(), "id {name}: unknown through NIS");
        assert_eq!(ldap, nis, "id {name}: nslcd vs ypldapd");
    }
}
