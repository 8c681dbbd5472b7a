//! Synthetic users and groups for tests, the example server and
//! benchmarks: deterministic, every group lists a few users.
#![forbid(unsafe_code)]

use ipc_proto::messages::{GroupEntry, UserEntry};

/// `n` users `user00000..` with uid 10000+i and gid 100, and `m` groups
/// `group0000..` with gid 20000+j listing users j, j+m, j+2m, ... (at most
/// 8 members each).
pub fn generate(n: usize, m: usize) -> (Vec<UserEntry>, Vec<GroupEntry>) {
    let users = (0..n)
        .map(|i| UserEntry {
            name: format!("user{i:05}"),
            passwd: format!("$6$salt{i}$hash"),
            uid: 10_000 + i as u32,
            gid: 100,
            class: String::new(),
            change: "0".into(),
            expire: "0".into(),
            gecos: format!("Test User {i}"),
            home: format!("/home/user{i:05}"),
            shell: "/bin/sh".into(),
        })
        .collect();
    let groups = (0..m)
        .map(|j| GroupEntry {
            name: format!("group{j:04}"),
            passwd: "*".into(),
            gid: 20_000 + j as u32,
            members: (j..n)
                .step_by(m.max(1))
                .take(8)
                .map(|i| format!("user{i:05}"))
                .collect(),
        })
        .collect();
    (users, groups)
}
