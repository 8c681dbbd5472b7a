//! Active Directory's ranged retrieval (`member;range=0-1499`, then
//! `member;range=1500-*`, … until `*`), against a responder that answers
//! as AD documents it, and that breaks off on purpose: the update must
//! then fail and the maps stay as they were. (Samba, the real AD here,
//! sends ranges only when asked for them: see samba_ad.rs.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tests::config::{Config, DirectoryBlock};
use tests::expect::Password;
use tests::ldif::SUFFIX;
use tests::mock_ldap::{self, MockDirectory, MockEntry, Ranges};
use tests::world::{Ready, World};

/// Values per range: AD's `MaxValRange` set to 100 by policy, so that a
/// group needing four ranges is still small enough to be served.
const RANGE: usize = 100;
const MEMBERS: usize = 350;

fn user(name: &str, uid: u32) -> MockEntry {
    MockEntry::user(format!("CN={name},ou=People,{SUFFIX}"), name, uid)
}

fn group(name: &str, gid: u32, members: Vec<String>) -> MockEntry {
    MockEntry {
        dn: format!("CN={name},ou=Groups,{SUFFIX}"),
        attributes: vec![
            ("cn".to_owned(), vec![name.to_owned()]),
            ("gidNumber".to_owned(), vec![gid.to_string()]),
            ("member".to_owned(), members),
        ],
    }
}

/// Users r0, r100, r200 and r349, and a group of `members` member DNs in
/// which they stand first in each range of `range` values (the last one
/// last); every other DN names nothing. A small group comes without
/// ranges.
fn directory(members: usize, range: usize) -> MockDirectory {
    let named = [0, range, 2 * range, members - 1];
    let mut entries: Vec<MockEntry> = named
        .iter()
        .map(|&i| user(&format!("r{i}"), 20000 + i as u32))
        .collect();
    let dns = (0..members)
        .map(|i| {
            if named.contains(&i) {
                format!("CN=r{i},ou=People,{SUFFIX}")
            } else {
                format!("CN=x{i},ou=People,{SUFFIX}")
            }
        })
        .collect();
    entries.push(group("big", 30000, dns));
    entries.push(group(
        "small",
        30001,
        vec![format!("CN=r{},ou=People,{SUFFIX}", members - 1)],
    ));
    MockDirectory {
        entries,
        ranged: vec!["member".into()],
        range_size: range,
        ranges: Mutex::new(Ranges::Complete),
    }
}

/// A world whose ypldapd reads the responder on 127.0.0.1:389, updating
/// every `interval` seconds.
fn start(domain: &str, interval: u32, dir: MockDirectory) -> (World, Arc<MockDirectory>) {
    let mut w = World::builder(domain)
        .without_ypldapd()
        .ready(Ready::Started)
        .start();
    let dir = mock_ldap::serve_in(&w.ns, dir);
    let mut block = DirectoryBlock::new("127.0.0.1");
    block.password = Password::Fixed;
    block.members = vec!["member".into()];
    let mut c = Config::new(domain);
    c.interval = interval;
    c.directories.push(block);
    w.config = c;
    w.start_ypldapd();
    (w, dir)
}

fn group_line(w: &World, name: &str) -> Option<String> {
    w.ypcat("group.byname")
        .expect("ypcat group.byname")
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[test]
fn every_range_is_followed_until_the_last() {
    let (w, _dir) = start("ranges.test", 600, directory(MEMBERS, RANGE));
    w.wait_log("update 1: ", 1, Duration::from_secs(30));
    w.wait_registered(Duration::from_secs(10));
    // All 350 values were read, in four ranges: the four named users (and
    // small's one), the rest counted.
    let log = w.log();
    let unresolved = MEMBERS - 4;
    assert!(
        log.contains(&format!(
            "member DNs: 5 resolved, 0 nested groups, {unresolved} unresolved, 0 nestings cut"
        )),
        "{log}"
    );
    assert_eq!(
        group_line(&w, "big").as_deref(),
        Some("big:*:30000:r0,r100,r200,r349")
    );
    assert_eq!(
        group_line(&w, "small").as_deref(),
        Some("small:*:30001:r349")
    );
}

/// AD's default ranges of 1,500 values: a group of 4,000 member DNs is
/// read whole, then left out with its reason (the DNs of a group that
/// large are more than the reader hands ypldapd as one entry; its names
/// would not fit a YP record either); the update goes on.
#[test]
fn a_group_beyond_the_default_range_is_read_whole_and_left_out() {
    let (w, _dir) = start(
        "bigrange.test",
        600,
        directory(4000, mock_ldap::MAX_VAL_RANGE),
    );
    w.wait_log("update 1: ", 1, Duration::from_secs(30));
    w.wait_registered(Duration::from_secs(10));
    let log = w.log();
    assert!(
        log.contains("dropped \"CN=big,ou=Groups,dc=example,dc=com\"")
            && log.contains("1 groups, dropped: 1 entry too large"),
        "{log}"
    );
    assert_eq!(group_line(&w, "big"), None);
    assert_eq!(
        group_line(&w, "small").as_deref(),
        Some("small:*:30001:r3999")
    );
}

/// The line saying how the first update that starts after the first
/// `started` ones ended: its summary or its failure.
fn outcome_of_update_after(w: &World, started: usize) -> String {
    tests::wait_for(Duration::from_secs(30), || {
        let log = w.log();
        let updates: Vec<&str> = log.lines().filter(|l| l.starts_with("update ")).collect();
        let (at, _) = updates
            .iter()
            .enumerate()
            .filter(|(_, l)| l.ends_with(" started"))
            .nth(started)?;
        updates[at + 1..]
            .iter()
            .find(|l| !l.ends_with(" started"))
            .map(|l| (*l).to_owned())
    })
    .unwrap_or_else(|| panic!("no update ended after update {started}:\n{}", w.log()))
}

/// Each way of not returning the rest fails the update with the reader's
/// error; the maps of the update before stay.
#[test]
fn a_range_never_completed_fails_the_update_and_keeps_the_maps() {
    let (w, dir) = start("norange.test", 2, directory(MEMBERS, RANGE));
    w.wait_log("update 1: ", 1, Duration::from_secs(30));
    w.wait_registered(Duration::from_secs(10));
    let before = w.ypcat("group.byname").expect("ypcat");
    for broken in [Ranges::NoEntry, Ranges::Stuck, Ranges::Missing] {
        dir.set_ranges(broken);
        // The first update to start after the switch reads in this mode.
        let started = w.log().matches(" started\n").count();
        let line = outcome_of_update_after(&w, started);
        assert!(
            line.contains("update failed")
                && line.contains("did not return the rest")
                && line.contains("keeping the current maps"),
            "{broken:?}: {line}"
        );
        assert_eq!(
            w.ypcat("group.byname").expect("ypcat"),
            before,
            "{broken:?}: the maps changed"
        );
    }
    // Complete again: the next update succeeds.
    dir.set_ranges(Ranges::Complete);
    let updates = w.log().matches(": 1 directories,").count();
    w.wait_log(": 1 directories,", updates + 1, Duration::from_secs(30));
}
