//! ypldapd against the classic server: the same users and groups, once in
//! slapd for ypldapd, once as `passwd` and `group` files turned into maps by
//! `makedbm` and `mknetid` (as Debian's /var/yp/Makefile does) for Debian's
//! `ypserv`, each server in its own namespaces. Every key and value of the
//! six maps both serve must be identical as `ypcat -k -h` shows them.
//!
//! Deliberate differences, each applied in one place below
//! ([`DIFFERENCES`], [`group_file_order`]):
//!
//! 1. None for the password field: ypldapd takes the `{CRYPT}` transport
//!    prefix off and serves the hash in `shadow.byname` only, `x` in
//!    `passwd.*`, which is what Debian's Makefile builds with
//!    `MERGE_PASSWD=false` from a passwd file with `x` and a shadow file.
//! 2. The order of the supplementary gids in `netid.byname`. ypldapd lists
//!    them in group-name order (upstream's rule, DESIGN §7); `mknetid` in
//!    the order of the group file. The group file here is written sorted by
//!    name, so the lines agree; the test also checks that, sorted, the gid
//!    sets agree for the directory's own order.
//! 3. Maps only one side has: ypldapd also serves `master.passwd.byname`
//!    and `master.passwd.byuid` (BSD; Debian builds no such maps), so they
//!    are not compared here (`clients.rs` and `ldap.rs` check them); nor
//!    are the sample's netgroup and automount maps (`classic.rs` compares
//!    those maps with the Makefile's).

use std::collections::BTreeMap;

use tests::expect::password_field;
use tests::ldif::{self, Group, User};
use tests::nis::{Ypserv, group_file, passwd_file, shadow_file};
use tests::world::{Data, Directory, World};

const MAPS: [&str; 6] = [
    "passwd.byname",
    "passwd.byuid",
    "shadow.byname",
    "group.byname",
    "group.bygid",
    "netid.byname",
];

/// The deliberate differences, for the failure message.
const DIFFERENCES: &str =
    "netid gid order: group-name order vs group-file order (the group file is sorted by name)";

/// The data set: the bundled sample (users in several groups, an empty
/// group, a primary group that also lists its user, a long gecos), plus
/// edge entries and a few hundred generated users and groups.
fn data() -> Data {
    let mut extra_users = vec![User {
        // A gecos of 700 bytes: long, but the line stays under 1024.
        name: "longgecos".into(),
        uid: 5100,
        gid: 5000,
        gecos: format!("Long Gecos,{}", "x".repeat(689)),
        home: "/home/longgecos".into(),
        shell: "/bin/bash".into(),
        password: "{CRYPT}$6$long$abcdefghijklmnopqrstuvwxyz0123456789".into(),
    }];
    let mut extra_groups = vec![
        // A member no user has: kept in the group line, ignored for netid.
        Group {
            name: "ghosts".into(),
            gid: 5099,
            members: vec!["alice".into(), "nosuchuser".into()],
        },
        // A group whose gid is also a user's primary gid, listing that user
        // and others; and a user in many groups.
        Group {
            name: "allhands".into(),
            gid: 5098,
            members: vec!["longgecos".into(), "alice".into(), "user00001".into()],
        },
    ];
    let (gen_users, gen_groups) = ldif::generate(300, 40);
    extra_users.extend(gen_users);
    extra_groups.extend(gen_groups);
    Data::sample().with_entries(extra_users, extra_groups)
}

/// ypldapd reading `data` with the sample configuration, registered.
fn ypldapd_world(domain: &str, data: Data) -> World {
    let (users, groups) = (data.users.len(), data.groups.len());
    let w = World::builder(domain)
        .directory(Directory::slapd(data))
        .sample_config()
        .start();
    assert!(
        w.log().contains(&format!(
            "update 1: 1 directories, {users} users, {groups} groups, {}, dropped: none",
            tests::nis::sample_records()
        )),
        "{}",
        w.log()
    );
    w
}

/// Debian's ypserv in its own world, serving classic maps of `users` and
/// `groups` (the group file in the given order), with the password fields
/// each map of ypldapd shows.
fn ypserv_world(domain: &str, users: &[User], groups: &[Group]) -> (Ypserv, World) {
    let w = World::builder(domain).without_ypldapd().start();
    let passwd = passwd_file(users, |u| password_field("passwd.byname", &u.password));
    let shadow = shadow_file(users, |u| password_field("shadow.byname", &u.password));
    let ypserv = Ypserv::start(&w.ns, domain, &passwd, &shadow, &group_file(groups));
    (ypserv, w)
}

/// The group file in the order `mknetid` must see it to list gids as
/// ypldapd does (difference 2).
fn group_file_order(groups: &[Group]) -> Vec<Group> {
    let mut g = groups.to_vec();
    g.sort_by(|a, b| a.name.cmp(&b.name));
    g
}

#[test]
fn ypldapd_and_ypserv_serve_identical_maps() {
    let domain = "compare.test";
    let data = data();
    let (users, groups) = (data.users.clone(), data.groups.clone());
    assert!(users.len() > 330 && groups.len() > 50);
    // ypldapd, reading the directory; ypserv, from files with the same content.
    let a = ypldapd_world(domain, data);
    let (_ypserv, b) = ypserv_world(domain, &users, &group_file_order(&groups));

    for map in MAPS {
        let ours = a.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
        let classic = b.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
        assert!(!classic.is_empty(), "ypserv's {map} is empty");
        let only_ours: Vec<_> = ours.iter().filter(|e| !classic.contains(e)).collect();
        let only_classic: Vec<_> = classic.iter().filter(|e| !ours.contains(e)).collect();
        assert!(
            only_ours.is_empty() && only_classic.is_empty(),
            "{map} differs (deliberate differences already applied: {DIFFERENCES})\n\
             only ypldapd: {only_ours:#?}\nonly ypserv: {only_classic:#?}"
        );
        assert_eq!(ours.len(), classic.len(), "{map}");
    }
}

/// Difference 2, the other way round: with the group file in the
/// directory's own order, mknetid lists the same gids as ypldapd, in
/// another order.
#[test]
fn netid_gid_sets_agree_whatever_the_group_file_order() {
    let domain = "netid.test";
    let data = data();
    let (users, groups) = (data.users.clone(), data.groups.clone());
    let a = ypldapd_world(domain, data);
    let (_ypserv, b) = ypserv_world(domain, &users, &groups);
    let netid = |w: &World| -> BTreeMap<String, String> {
        w.ypcat("netid.byname")
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect()
    };
    let (ours, classic) = (netid(&a), netid(&b));
    assert_eq!(
        classic.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    let split = |v: &str| {
        let (uid, gids) = v.split_once(':').expect("uid:gids");
        let mut g: Vec<&str> = gids.split(',').collect();
        let primary = g.remove(0);
        g.sort_unstable();
        (uid.to_owned(), primary.to_owned(), g.join(","))
    };
    let mut reordered = 0;
    for (k, v) in &ours {
        assert_eq!(split(v), split(&classic[k]), "{k}: {v} vs {}", classic[k]);
        reordered += usize::from(*v != classic[k]);
    }
    // The sample's users are in several groups listed out of name order.
    assert!(
        reordered > 0,
        "no user's gid order differs: the test lost its point"
    );
}
