//! Groups whose members are DNs (RFC 2307bis), at scale, for the
//! benchmarks (issue 15): `groupOfNames` entries carrying a `gidNumber`
//! through `extensibleObject`, as the tests' slapd holds them, with
//! `member: uid=…,ou=People,…` values of the generated users; the lines
//! ypldapd should serve for them; the `ldapsearch` arguments of the group
//! search ypldap-client makes for them.
//!
//! Group `j` holds 10 to 200 users (`10 + 88·j mod 191`: every size in the
//! range once per 191 groups, in a scattered order), consecutive from a
//! point spread over all users. Every twentieth group (5%) also names the
//! group before it by DN, every fortieth the one before that too, so those
//! groups nest one level; no cycles.

use std::collections::HashSet;
use std::fmt::Write as _;

use tests::ldif::{Group, SUFFIX, User};

/// Fewest and most users a group names by DN.
pub const MIN_MEMBERS: usize = 10;
pub const MAX_MEMBERS: usize = 200;

/// The longest group line YP serves (ypldap.conf(5), GROUP MEMBERS): a
/// longer one is left out of both group maps.
pub const MAX_LINE: usize = 1023;

/// The group filter of an RFC 2307bis directory (the tests'
/// `DirectoryBlock::rfc2307bis`).
pub const GROUP_FILTER: &str = "(&(objectClass=groupOfNames)(gidNumber=*))";

/// One group: its name and gid as [`tests::ldif::generate`] makes them,
/// the users it names (indices into the users) and the groups it names
/// (indices into the groups), each by DN.
pub struct DnGroup {
    pub name: String,
    pub gid: u32,
    pub users: Vec<usize>,
    pub groups: Vec<usize>,
}

/// `m` groups `group0001`… (gid 20000+j) over `users` users.
pub fn groups(m: usize, users: usize) -> Vec<DnGroup> {
    (1..=m)
        .map(|j| {
            let size = (MIN_MEMBERS + (j * 88) % (MAX_MEMBERS - MIN_MEMBERS + 1)).min(users);
            let start = (j * 9973) % users.max(1);
            let mut nested = Vec::new();
            if j % 20 == 0 {
                nested.push(j - 2);
            }
            if j % 40 == 0 {
                nested.push(j - 3);
            }
            DnGroup {
                name: format!("group{j:04}"),
                gid: 20000 + j as u32,
                users: (0..size).map(|k| (start + k) % users).collect(),
                groups: nested,
            }
        })
        .collect()
}

fn user_dn(u: &User) -> String {
    format!("uid={},ou=People,{SUFFIX}", u.name)
}

fn group_dn(g: &DnGroup) -> String {
    format!("cn={},ou=Groups,{SUFFIX}", g.name)
}

/// The LDIF of the group entries (their `ou` is in [`tests::ldif::ldif`]):
/// user DNs first, then nested groups' DNs.
pub fn ldif(groups: &[DnGroup], users: &[User]) -> String {
    let mut s = String::new();
    for g in groups {
        let _ = write!(
            s,
            "dn: {}\nobjectClass: groupOfNames\nobjectClass: extensibleObject\ncn: {}\ngidNumber: {}\n",
            group_dn(g),
            g.name,
            g.gid
        );
        for &u in &g.users {
            let _ = writeln!(s, "member: {}", user_dn(&users[u]));
        }
        for &n in &g.groups {
            let _ = writeln!(s, "member: {}", group_dn(&groups[n]));
        }
        s.push('\n');
    }
    s
}

/// What the update summary should count: member DNs resolved to users
/// and nested groups met. ypldapd stops resolving a group once its line
/// is too long to serve, so a dropped group counts the DNs up to there.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub resolved: usize,
    pub nested: usize,
    /// Groups whose line fits in [`MAX_LINE`] bytes, served.
    pub served: usize,
}

/// The groups as ypldapd resolves them: names in the directory's order,
/// a nested group's members where it stands, each name once; only those
/// whose line fits in [`MAX_LINE`] bytes, as YP can serve them. And the
/// counts the update summary should show.
pub fn resolved(groups: &[DnGroup], users: &[User]) -> (Vec<Group>, Expected) {
    let mut expected = Expected::default();
    let mut served = Vec::new();
    for g in groups {
        let mut line = format!("{}:*:{}:", g.name, g.gid);
        let head = line.len();
        let mut seen = HashSet::new();
        let mut members = Vec::new();
        // Each user DN, with the nested group it came through.
        let through = g
            .groups
            .iter()
            .flat_map(|&n| groups[n].users.iter().map(move |&u| (Some(n), u)));
        let mut nested_met = HashSet::new();
        let mut fits = true;
        for (nested, u) in g.users.iter().map(|&u| (None, u)).chain(through) {
            if let Some(n) = nested
                && nested_met.insert(n)
            {
                expected.nested += 1;
            }
            expected.resolved += 1;
            if seen.insert(u) {
                if line.len() > head {
                    line.push(',');
                }
                line.push_str(&users[u].name);
                members.push(users[u].name.clone());
                if line.len() > MAX_LINE {
                    fits = false;
                    break;
                }
            }
        }
        if fits {
            served.push(Group {
                name: g.name.clone(),
                gid: g.gid,
                members,
            });
        }
    }
    expected.served = served.len();
    (served, expected)
}

/// `ldapsearch` arguments (base, filter, attributes) of the group search
/// ypldap-client makes with `list groupmembers maps to "memberUid"` and
/// `"member"`.
pub fn group_search() -> String {
    format!("-b 'ou=Groups,{SUFFIX}' '{GROUP_FILTER}' cn gidNumber memberUid member")
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sizes_cover_the_range_and_nesting_is_one_level() {
        let (users, _) = tests::ldif::generate(1000, 0);
        let gs = groups(400, users.len());
        let sizes: HashSet<usize> = gs.iter().map(|g| g.users.len()).collect();
        assert_eq!(sizes.len(), MAX_MEMBERS - MIN_MEMBERS + 1);
        assert!(sizes.contains(&MIN_MEMBERS) && sizes.contains(&MAX_MEMBERS));
        let nesting: Vec<&DnGroup> = gs.iter().filter(|g| !g.groups.is_empty()).collect();
        assert_eq!(nesting.len(), 20);
        for g in &gs {
            for &n in &g.groups {
                assert!(gs[n].groups.is_empty(), "{} nests deeper", g.name);
            }
            let distinct: HashSet<usize> = g.users.iter().copied().collect();
            assert_eq!(distinct.len(), g.users.len());
        }
    }

    #[test]
    fn resolution_follows_nested_groups_and_stops_at_the_line_limit() {
        let (users, _) = tests::ldif::generate(200, 0);
        let group = |j: usize, users: Vec<usize>, groups: Vec<usize>| DnGroup {
            name: format!("group{j:04}"),
            gid: 20000 + j as u32,
            users,
            groups,
        };
        let gs = vec![
            group(1, vec![0, 1], vec![]),
            // Its own users, then group 1's where it stands, each once.
            group(2, vec![1, 2], vec![0]),
            // "group0003:*:20003:" and 120 names of 9 bytes: the 101st
            // makes the line 18 + 101 * 10 - 1 = 1027 bytes.
            group(3, (0..120).collect(), vec![0]),
        ];
        let (served, expected) = resolved(&gs, &users);
        let names: Vec<Vec<&str>> = served
            .iter()
            .map(|g| g.members.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["user00001", "user00002"],
                vec!["user00002", "user00003", "user00001"]
            ]
        );
        assert_eq!(
            expected,
            Expected {
                resolved: 2 + 4 + 101,
                nested: 1,
                served: 2
            }
        );
        let text = ldif(&gs, &users);
        assert_eq!(text.matches("member: uid=").count(), 124);
        assert_eq!(text.matches("member: cn=group0001,").count(), 2);
    }
}
