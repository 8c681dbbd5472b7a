//! Deterministic directory contents for tests: RFC 2307 users and groups.

use std::fmt::Write;

/// The suffix every test directory uses.
pub const SUFFIX: &str = "dc=example,dc=com";
/// The service account that may read `userPassword`.
pub const BIND_DN: &str = "cn=ypldap,ou=Services,dc=example,dc=com";
pub const BIND_PW: &str = "ypldapsecret";

/// One test user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    pub password: String,
}

impl User {
    /// A user of gid 100 with a home, a shell and a password hash made
    /// from its name.
    pub fn named(name: &str, uid: u32) -> User {
        User {
            name: name.into(),
            uid,
            gid: 100,
            gecos: format!("User {name}"),
            home: format!("/home/{name}"),
            shell: "/bin/bash".into(),
            password: format!("{{CRYPT}}$6${name}$hash"),
        }
    }
}

/// One test group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

impl Group {
    /// A group with these member names.
    pub fn named(name: &str, gid: u32, members: &[&str]) -> Group {
        Group {
            name: name.into(),
            gid,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// `n` users `user00001`… (uid 10000+i, primary gid 100) and `m` groups
/// `group0001`… (gid 20000+j), group j holding users j, j+1, j+2 (mod n).
/// An LDIF change record, as `ldapmodify` reads it (several may follow
/// one another): user `name`'s login shell (under `ou=People`) set to
/// `shell`.
pub fn shell_change(name: &str, shell: &str) -> String {
    format!(
        "dn: uid={name},ou=People,{SUFFIX}\nchangetype: modify\nreplace: loginShell\nloginShell: {shell}\n\n"
    )
}

pub fn generate(n: usize, m: usize) -> (Vec<User>, Vec<Group>) {
    let users: Vec<User> = (1..=n)
        .map(|i| User {
            name: format!("user{i:05}"),
            uid: 10000 + i as u32,
            gid: 100,
            gecos: format!("Test User {i}"),
            home: format!("/home/user{i:05}"),
            shell: "/bin/bash".into(),
            password: format!("{{CRYPT}}$6$salt{i}$hash{i}"),
        })
        .collect();
    let groups: Vec<Group> = (1..=m)
        .map(|j| Group {
            name: format!("group{j:04}"),
            gid: 20000 + j as u32,
            members: if n == 0 {
                Vec::new()
            } else {
                (0..3)
                    .map(|k| users[(j + k - 1) % n].name.clone())
                    .collect()
            },
        })
        .collect();
    (users, groups)
}

/// The LDIF of a directory holding `users` and `groups` (plus the base
/// entries and the service account).
pub fn ldif(users: &[User], groups: &[Group]) -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=People,{SUFFIX}\nobjectClass: organizationalUnit\nou: People\n\n\
         dn: ou=Groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: Groups\n\n\
         dn: ou=Services,{SUFFIX}\nobjectClass: organizationalUnit\nou: Services\n\n\
         dn: {BIND_DN}\nobjectClass: person\ncn: ypldap\nsn: ypldap\nuserPassword: {BIND_PW}\n\n"
    );
    s.push_str(&entries(users, groups));
    s
}

/// The LDIF of the `posixAccount` and `posixGroup` entries alone, for a
/// directory whose base entries exist already.
pub fn entries(users: &[User], groups: &[Group]) -> String {
    let mut s = String::new();
    for u in users {
        let _ = write!(
            s,
            "dn: uid={n},ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: {n}\ncn: {g}\nsn: {n}\nuidNumber: {uid}\ngidNumber: {gid}\nhomeDirectory: {h}\n\
             loginShell: {sh}\ngecos: {g}\nuserPassword: {p}\n\n",
            n = u.name,
            g = u.gecos,
            uid = u.uid,
            gid = u.gid,
            h = u.home,
            sh = u.shell,
            p = u.password
        );
    }
    for g in groups {
        let _ = write!(
            s,
            "dn: cn={n},ou=Groups,{SUFFIX}\nobjectClass: posixGroup\ncn: {n}\ngidNumber: {gid}\n",
            n = g.name,
            gid = g.gid
        );
        for m in &g.members {
            let _ = writeln!(s, "memberUid: {m}");
        }
        s.push('\n');
    }
    s
}
