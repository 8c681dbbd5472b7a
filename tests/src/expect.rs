//! What the maps must hold for a set of users and groups: the one place
//! the tests spell out how a directory entry becomes a map line, so a
//! change of a map's format is one edit here.

use std::collections::BTreeMap;

use crate::ldif::{Group, User};

/// Every map's `(key, value)` pairs, each list sorted.
pub type Maps = BTreeMap<&'static str, Vec<(String, String)>>;

/// Where a user's password field comes from in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Password {
    /// `attribute passwd maps to "userPassword"`: the directory's value.
    FromDirectory,
    /// `fixed attribute passwd "*"`.
    Fixed,
}

impl Password {
    /// The value the mapping gives for `user`, before any map shows it.
    pub fn value(self, user: &User) -> &str {
        match self {
            Password::FromDirectory => &user.password,
            Password::Fixed => "*",
        }
    }
}

/// The password field `map` shows for a user whose mapped password value
/// is `value`: `x` in `passwd.*` (the hash is never there); elsewhere
/// (`master.passwd.*`, `shadow.byname`) the hash with the `{CRYPT}`
/// transport prefix taken off, or a fixed value as it is.
pub fn password_field(map: &str, value: &str) -> String {
    debug_assert!(
        map.contains("passwd") || map == "shadow.byname",
        "{map} has no password field"
    );
    if map.starts_with("passwd.") {
        "x".to_owned()
    } else if value == "*" {
        value.to_owned()
    } else {
        served_hash(value)
    }
}

/// A hash as the maps that carry one serve it: the test data stores
/// `{CRYPT}` + a crypt(3) hash, and the `{CRYPT}` prefix is taken off.
pub fn served_hash(stored: &str) -> String {
    stored
        .strip_prefix("{CRYPT}")
        .filter(|h| h.starts_with('$'))
        .unwrap_or_else(|| panic!("the test data stores {{CRYPT}}$…, not {stored:?}"))
        .to_owned()
}

/// `passwd.byname`'s and `passwd.byuid`'s line: `passwd(5)`, 7 fields.
pub fn passwd_line(user: &User, password: Password) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}:{}",
        user.name,
        password_field("passwd.byname", password.value(user)),
        user.uid,
        user.gid,
        user.gecos,
        user.home,
        user.shell
    )
}

/// `master.passwd.*`'s line: BSD's 10 fields (class, change and expire
/// fixed to "", 0 and 0 in the tests' configurations).
pub fn master_passwd_line(user: &User, password: Password) -> String {
    format!(
        "{}:{}:{}:{}::0:0:{}:{}:{}",
        user.name,
        password_field("master.passwd.byname", password.value(user)),
        user.uid,
        user.gid,
        user.gecos,
        user.home,
        user.shell
    )
}

/// `shadow.byname`'s line: `shadow(5)`, 9 fields, no ageing.
pub fn shadow_line(user: &User, password: Password) -> String {
    format!(
        "{}:{}:::::::",
        user.name,
        password_field("shadow.byname", password.value(user))
    )
}

/// The members of a `group.*` line as `ypmatch` prints it (none for no
/// line).
pub fn group_members(line: Option<&str>) -> Vec<String> {
    line.and_then(|l| l.trim_end().split(':').nth(3))
        .map(|m| {
            m.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `group.byname`'s and `group.bygid`'s line (group password fixed `*`).
pub fn group_line(group: &Group) -> String {
    format!("{}:*:{}:{}", group.name, group.gid, group.members.join(","))
}

/// `netid.byname`'s `(key, value)` for `user`: the primary gid first, then
/// the gids of the groups listing the user, in group-name order, without
/// repeating the primary one.
pub fn netid_entry(user: &User, groups: &[Group], domain: &str) -> (String, String) {
    let mut gids = vec![user.gid];
    let mut sorted: Vec<&Group> = groups.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for g in sorted {
        if g.members.contains(&user.name) && !gids.contains(&g.gid) {
            gids.push(g.gid);
        }
    }
    let list: Vec<String> = gids.iter().map(u32::to_string).collect();
    (
        format!("unix.{}@{domain}", user.uid),
        format!("{}:{}", user.uid, list.join(",")),
    )
}

/// The lines each map should hold for `users` and `groups`
/// in `domain`.
pub fn maps(users: &[User], groups: &[Group], domain: &str, password: Password) -> Maps {
    let mut m = Maps::new();
    let p7 = |u: &User| passwd_line(u, password);
    let p10 = |u: &User| master_passwd_line(u, password);
    m.insert(
        "passwd.byname",
        users.iter().map(|u| (u.name.clone(), p7(u))).collect(),
    );
    m.insert(
        "passwd.byuid",
        users.iter().map(|u| (u.uid.to_string(), p7(u))).collect(),
    );
    m.insert(
        "master.passwd.byname",
        users.iter().map(|u| (u.name.clone(), p10(u))).collect(),
    );
    m.insert(
        "master.passwd.byuid",
        users.iter().map(|u| (u.uid.to_string(), p10(u))).collect(),
    );
    m.insert(
        "shadow.byname",
        users
            .iter()
            .map(|u| (u.name.clone(), shadow_line(u, password)))
            .collect(),
    );
    m.insert(
        "group.byname",
        groups
            .iter()
            .map(|g| (g.name.clone(), group_line(g)))
            .collect(),
    );
    m.insert(
        "group.bygid",
        groups
            .iter()
            .map(|g| (g.gid.to_string(), group_line(g)))
            .collect(),
    );
    m.insert(
        "netid.byname",
        users
            .iter()
            .map(|u| netid_entry(u, groups, domain))
            .collect(),
    );
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// `maps` with `user` served as a disabled account is (`disabled
/// accounts locked`, the default): its password field `*` and its account
/// expired, day 1 in `shadow.byname`, 86400 s in `master.passwd.*`;
/// `passwd.*` keep `x` as for everyone.
pub fn locked(mut maps: Maps, user: &User) -> Maps {
    let u = user;
    let master = format!(
        "{}:*:{}:{}::0:86400:{}:{}:{}",
        u.name, u.uid, u.gid, u.gecos, u.home, u.shell
    );
    for (map, key, line) in [
        ("master.passwd.byname", u.name.clone(), master.clone()),
        ("master.passwd.byuid", u.uid.to_string(), master),
        (
            "shadow.byname",
            u.name.clone(),
            format!("{}:*::::::1:", u.name),
        ),
    ] {
        if let Some(entry) = maps
            .get_mut(map)
            .and_then(|v| v.iter_mut().find(|(k, _)| *k == key))
        {
            entry.1 = line;
        }
    }
    maps
}

/// The value of `key` in `map`, from `maps`.
pub fn value<'a>(maps: &'a Maps, map: &str, key: &str) -> &'a str {
    maps.get(map)
        .and_then(|v| v.iter().find(|(k, _)| k == key))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key:?} in the expected {map}"))
}
