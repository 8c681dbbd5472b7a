//! Classic map entries at scale for the benchmarks: hosts and netgroups,
//! as LDIF for slapd and as the records ypldap-client would send, and
//! the configuration lines and `ldapsearch` arguments of their searches.

use std::fmt::Write as _;

use tests::ldif::SUFFIX;

/// One host: `host00001` with the alias `host00001.bench.test` and one
/// IPv4 address in 10.0.0.0/8.
pub struct Host {
    pub name: String,
    pub alias: String,
    pub address: String,
}

/// One netgroup: `ng0001` with twenty triples of a host and a user of the
/// generated directory, and, every tenth, the netgroup before it.
pub struct Netgroup {
    pub name: String,
    pub triples: Vec<String>,
    pub members: Vec<String>,
}

pub const HOSTS_OU: &str = "ou=Hosts";
pub const NETGROUPS_OU: &str = "ou=Netgroup";

/// `n` hosts.
pub fn hosts(n: usize) -> Vec<Host> {
    (1..=n)
        .map(|i| Host {
            name: format!("host{i:05}"),
            alias: format!("host{i:05}.bench.test"),
            address: format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        })
        .collect()
}

/// `m` netgroups over `users` users and `hosts` hosts (user and host
/// names as [`tests::ldif::generate`] and [`hosts`] make them).
pub fn netgroups(m: usize, users: usize, hosts: usize) -> Vec<Netgroup> {
    (1..=m)
        .map(|j| Netgroup {
            name: format!("ng{j:04}"),
            triples: (0..20)
                .map(|k| {
                    let u = (j * 20 + k) % users.max(1) + 1;
                    let h = (j * 7 + k) % hosts.max(1) + 1;
                    format!("(host{h:05},user{u:05},bench.test)")
                })
                .collect(),
            members: if j % 10 == 0 {
                vec![format!("ng{:04}", j - 1)]
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// The LDIF of the hosts and netgroups, with their two `ou` entries.
pub fn ldif(hosts: &[Host], netgroups: &[Netgroup]) -> String {
    let mut s = format!(
        "dn: {HOSTS_OU},{SUFFIX}\nobjectClass: organizationalUnit\nou: Hosts\n\n\
         dn: {NETGROUPS_OU},{SUFFIX}\nobjectClass: organizationalUnit\nou: Netgroup\n\n"
    );
    for h in hosts {
        let _ = write!(
            s,
            "dn: cn={},{HOSTS_OU},{SUFFIX}\nobjectClass: ipHost\nobjectClass: device\ncn: {}\ncn: {}\nipHostNumber: {}\n\n",
            h.name, h.name, h.alias, h.address
        );
    }
    for g in netgroups {
        let _ = write!(
            s,
            "dn: cn={},{NETGROUPS_OU},{SUFFIX}\nobjectClass: nisNetgroup\ncn: {}\n",
            g.name, g.name
        );
        for t in &g.triples {
            let _ = writeln!(s, "nisNetgroupTriple: {t}");
        }
        for m in &g.members {
            let _ = writeln!(s, "memberNisNetgroup: {m}");
        }
        s.push('\n');
    }
    s
}

/// The maps served: the users' and groups' eight, `hosts.*` and the
/// three netgroup maps.
pub const MAPS: [&str; 13] = [
    "passwd.byname",
    "passwd.byuid",
    "master.passwd.byname",
    "master.passwd.byuid",
    "group.byname",
    "group.bygid",
    "netid.byname",
    "shadow.byname",
    "hosts.byname",
    "hosts.byaddr",
    "netgroup",
    "netgroup.byuser",
    "netgroup.byhost",
];

/// The lines a directory block needs to read them where [`ldif`] put
/// them.
pub fn directory_lines() -> [String; 2] {
    [
        format!("hosts basedn \"{HOSTS_OU},{SUFFIX}\""),
        format!("netgroup basedn \"{NETGROUPS_OU},{SUFFIX}\""),
    ]
}

/// `ldapsearch` arguments (base, filter, attributes) of the two searches
/// ypldap-client makes for them.
pub fn searches() -> [String; 2] {
    [
        format!("-b '{HOSTS_OU},{SUFFIX}' '(objectClass=ipHost)' cn ipHostNumber"),
        format!(
            "-b '{NETGROUPS_OU},{SUFFIX}' '(objectClass=nisNetgroup)' cn nisNetgroupTriple memberNisNetgroup"
        ),
    ]
}
