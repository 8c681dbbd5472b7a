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

/// One test group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// `n` users `user00001`… (uid 10000+i, primary gid 100) and `m` groups
/// `group0001`… (gid 20000+j), group j holding users j, j+1, j+2 (mod n).
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

/// How the test configs map the password field.
pub const PASSWD_FROM_LDAP: &str = "\tattribute passwd maps to \"userPassword\"\n";
pub const PASSWD_FIXED: &str = "\tfixed attribute passwd \"*\"\n";

/// A `ypldap.conf` directory block for the test directory, RFC 2307 schema.
/// `head` is what follows `directory` (host, port, TLS mode); `bind` the
/// bind lines; `passwd` one of [`PASSWD_FROM_LDAP`], [`PASSWD_FIXED`].
pub fn directory_block(head: &str, bind: &str, passwd: &str) -> String {
    format!(
        "directory {head} {{\n{bind}\
         \tbasedn \"ou=People,{SUFFIX}\"\n\
         \tgroupdn \"ou=Groups,{SUFFIX}\"\n\
         \tpasswd filter \"(objectClass=posixAccount)\"\n\
         \tattribute name maps to \"uid\"\n\
         {passwd}\
         \tattribute uid maps to \"uidNumber\"\n\
         \tattribute gid maps to \"gidNumber\"\n\
         \tfixed attribute class \"\"\n\
         \tfixed attribute change \"0\"\n\
         \tfixed attribute expire \"0\"\n\
         \tattribute gecos maps to \"gecos\"\n\
         \tattribute home maps to \"homeDirectory\"\n\
         \tattribute shell maps to \"loginShell\"\n\
         \tgroup filter \"(objectClass=posixGroup)\"\n\
         \tattribute groupname maps to \"cn\"\n\
         \tfixed attribute grouppasswd \"*\"\n\
         \tattribute groupgid maps to \"gidNumber\"\n\
         \tlist groupmembers maps to \"memberUid\"\n\
         }}\n"
    )
}

/// The bind lines for the service account.
pub fn service_bind() -> String {
    format!("\tbinddn \"{BIND_DN}\"\n\tbindcred \"{BIND_PW}\"\n")
}

/// The password field of `master.passwd.*` and `shadow.byname` for a value
/// stored in the directory: the test data stores `{CRYPT}` + a crypt(3)
/// hash, and the `{CRYPT}` transport prefix is taken off.
pub fn served_hash(stored: &str) -> String {
    stored
        .strip_prefix("{CRYPT}")
        .filter(|h| h.starts_with('$'))
        .unwrap_or_else(|| panic!("the test data stores {{CRYPT}}$…, not {stored:?}"))
        .to_owned()
}

/// The lines each map should hold for `users` and `groups` in domain
/// `domain`, as `(key, value)`, for a config with `passwd` mapping: the
/// hash in `master.passwd.*` and `shadow.byname` only, `x` in `passwd.*`.
pub fn expected_maps(
    users: &[User],
    groups: &[Group],
    domain: &str,
    passwd_from_ldap: bool,
) -> std::collections::BTreeMap<&'static str, Vec<(String, String)>> {
    let pw = |u: &User| {
        if passwd_from_ldap {
            served_hash(&u.password)
        } else {
            "*".into()
        }
    };
    let mut m: std::collections::BTreeMap<&'static str, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    let p7 = |u: &User| {
        format!(
            "{}:x:{}:{}:{}:{}:{}",
            u.name, u.uid, u.gid, u.gecos, u.home, u.shell
        )
    };
    let p10 = |u: &User| {
        format!(
            "{}:{}:{}:{}::0:0:{}:{}:{}",
            u.name,
            pw(u),
            u.uid,
            u.gid,
            u.gecos,
            u.home,
            u.shell
        )
    };
    let gl = |g: &Group| format!("{}:*:{}:{}", g.name, g.gid, g.members.join(","));
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
            .map(|u| (u.name.clone(), format!("{}:{}:::::::", u.name, pw(u))))
            .collect(),
    );
    m.insert(
        "group.byname",
        groups.iter().map(|g| (g.name.clone(), gl(g))).collect(),
    );
    m.insert(
        "group.bygid",
        groups.iter().map(|g| (g.gid.to_string(), gl(g))).collect(),
    );
    m.insert(
        "netid.byname",
        users
            .iter()
            .map(|u| {
                let mut gids = vec![u.gid];
                let mut sorted: Vec<&Group> = groups.iter().collect();
                sorted.sort_by(|a, b| a.name.cmp(&b.name));
                for g in sorted {
                    if g.members.contains(&u.name) && !gids.contains(&g.gid) {
                        gids.push(g.gid);
                    }
                }
                let list: Vec<String> = gids.iter().map(u32::to_string).collect();
                (
                    format!("unix.{}@{domain}", u.uid),
                    format!("{}:{}", u.uid, list.join(",")),
                )
            })
            .collect(),
    );
    for v in m.values_mut() {
        v.sort();
    }
    m
}
