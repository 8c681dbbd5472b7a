//! Synthetic users and groups for tests, the example server, benchmarks
//! and fuzzing: deterministic, every group lists a few users.

use entry_rules::{Group, Origin, User};

fn origin(rdn: &str, name: &str) -> Origin<'static> {
    Origin {
        dn: format!("{rdn}={name},dc=example,dc=com").into(),
        uuid: None,
    }
}

/// A user with the given ids, a `*` password and predictable text fields.
pub fn user(name: &str, uid: u32, gid: u32) -> User<'static> {
    User {
        origin: origin("uid", name),
        name: name.to_owned().into(),
        passwd: "*".into(),
        uid,
        gid,
        class: "".into(),
        change: "0".into(),
        expire: "0".into(),
        gecos: format!("User {name}").into(),
        home: format!("/home/{name}").into(),
        shell: "/bin/sh".into(),
        shadow: Default::default(),
        disabled: false,
    }
}

/// A group listing `members` by name.
pub fn group(name: &str, gid: u32, members: &[&str]) -> Group<'static> {
    Group {
        origin: origin("cn", name),
        name: name.to_owned().into(),
        passwd: "*".into(),
        gid,
        members: members.iter().map(|&m| m.to_owned().into()).collect(),
        member_dns: Vec::new(),
    }
}

/// `n` users `user00000..` with uid 10000+i and gid 100, and `m` groups
/// `group0000..` with gid 20000+j listing users j, j+m, j+2m, ... (at most
/// 8 members each).
pub fn generate(n: usize, m: usize) -> (Vec<User<'static>>, Vec<Group<'static>>) {
    let users = (0..n)
        .map(|i| {
            let name = format!("user{i:05}");
            User {
                passwd: format!("$6$salt{i}$hash").into(),
                change: "0".into(),
                gecos: format!("Test User {i}").into(),
                ..user(&name, 10_000 + i as u32, 100)
            }
        })
        .collect();
    let groups = (0..m)
        .map(|j| {
            let members: Vec<String> = (j..n)
                .step_by(m.max(1))
                .take(8)
                .map(|i| format!("user{i:05}"))
                .collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            group(&format!("group{j:04}"), 20_000 + j as u32, &members)
        })
        .collect();
    (users, groups)
}
