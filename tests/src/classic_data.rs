//! One description of a site's classic NIS data (hosts, services,
//! netgroups, automount maps and the rest), written out twice: as LDIF in
//! the RFC 2307 / RFC 2307bis form ypldapd reads, and as the `/etc`-style
//! files Debian's `/var/yp/Makefile` builds its maps from, in the layout
//! ypldap.conf(5), OTHER MAPS, gives (the first field, a tab, the others
//! separated by single spaces; one line per address or protocol).
//!
//! The data is small (a few dozen entries per map) but holds the cases that
//! matter: aliases, mixed case, a key two entries give, hosts with several
//! addresses, IPv6-only hosts, addresses not written canonically, services
//! on both protocols, networks with and without a netmask, nested
//! netgroups, wildcards and `-` in triples, a netgroup cycle, both forms
//! of automount entries, a site map. [`bad_ldif`] holds entries ypldapd
//! must drop, each with the reason it must give.

use std::fmt::Write;

use crate::ldif::SUFFIX;

/// An `ipHost`: its names (the first is its RDN, the canonical name) and
/// addresses, as written.
#[derive(Debug, Clone)]
pub struct Host {
    pub names: Vec<String>,
    pub addresses: Vec<String>,
}

/// An `ipService`: names, port and protocols (the entry's RDN is
/// `cn=NAME+ipServiceProtocol=FIRST`, as the migration tools write it, so
/// that one name may have an entry per protocol).
#[derive(Debug, Clone)]
pub struct Service {
    pub names: Vec<String>,
    pub port: u32,
    pub protocols: Vec<String>,
}

/// An `ipProtocol` or `oncRpc`: names and number.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub names: Vec<String>,
    pub number: u32,
}

/// An `ipNetwork`: names, number as `/etc/networks` writes it, netmask.
#[derive(Debug, Clone)]
pub struct Network {
    pub names: Vec<String>,
    pub number: String,
    pub netmask: Option<String>,
}

/// An `ieee802Device`: a name and its MAC addresses, as written.
#[derive(Debug, Clone)]
pub struct Ether {
    pub name: String,
    pub addresses: Vec<String>,
}

/// A `nisNetgroup`: triples as written, then member netgroups. `ou` is
/// the organisational unit it sits in (two netgroups of one name need
/// two).
#[derive(Debug, Clone)]
pub struct Netgroup {
    pub name: String,
    pub triples: Vec<String>,
    pub members: Vec<String>,
    pub ou: &'static str,
}

/// A `nisKeyObject`: a user's key (with a uid) or a host's (without).
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub name: String,
    pub uid: Option<u32>,
    /// Hex, as `/etc/publickey` holds it; the LDIF stores some with the
    /// RFC 2307 `{DES}` prefix.
    pub public: String,
    pub secret: String,
}

/// A `nisMailAlias`.
#[derive(Debug, Clone)]
pub struct Alias {
    pub name: String,
    pub members: Vec<String>,
}

/// How an automount map is stored in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutomountForm {
    /// RFC 2307: a `nisMap` holding `nisObject` entries (`cn`,
    /// `nisMapEntry`, `nisMapName`).
    NisObject,
    /// RFC 2307bis / autofs: an `automountMap` holding `automount`
    /// entries (`automountKey`, `automountInformation`).
    Automount,
}

/// An automount map: its name and (key, information) entries.
#[derive(Debug, Clone)]
pub struct AutomountMap {
    pub name: String,
    pub form: AutomountForm,
    pub entries: Vec<(String, String)>,
}

/// A printer of the site map `printers`: `cn` and `labeledURI`.
#[derive(Debug, Clone)]
pub struct Printer {
    pub name: String,
    pub uri: String,
}

/// Everything, in directory order.
#[derive(Debug, Clone)]
pub struct ClassicData {
    pub hosts: Vec<Host>,
    pub services: Vec<Service>,
    pub protocols: Vec<Numbered>,
    pub rpcs: Vec<Numbered>,
    pub networks: Vec<Network>,
    pub ethers: Vec<Ether>,
    pub netgroups: Vec<Netgroup>,
    pub publickeys: Vec<PublicKey>,
    pub aliases: Vec<Alias>,
    pub automount: Vec<AutomountMap>,
    pub printers: Vec<Printer>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn host(names: &[&str], addresses: &[&str]) -> Host {
    Host {
        names: strings(names),
        addresses: strings(addresses),
    }
}

fn service(names: &[&str], port: u32, protocols: &[&str]) -> Service {
    Service {
        names: strings(names),
        port,
        protocols: strings(protocols),
    }
}

fn numbered(names: &[&str], number: u32) -> Numbered {
    Numbered {
        names: strings(names),
        number,
    }
}

fn network(names: &[&str], number: &str, netmask: Option<&str>) -> Network {
    Network {
        names: strings(names),
        number: number.to_owned(),
        netmask: netmask.map(str::to_owned),
    }
}

fn ether(name: &str, addresses: &[&str]) -> Ether {
    Ether {
        name: name.to_owned(),
        addresses: strings(addresses),
    }
}

fn netgroup(name: &str, triples: &[&str], members: &[&str]) -> Netgroup {
    Netgroup {
        name: name.to_owned(),
        triples: strings(triples),
        members: strings(members),
        ou: "Netgroup",
    }
}

/// Deterministic hex of `len` digits for key `seed`.
fn hex(seed: u32, len: usize) -> String {
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

/// The netgroups of the cycle (ring1 → ring2 → ring1, and ringroot
/// reaching into it): `revnetgroup` recurses on them until it crashes
/// (stack overflow), so the reference's reverse maps are built without
/// them (`netgroup.reverse` of [`ClassicData::files`]) and ypldapd's answer for them is
/// checked on its own.
pub const NETGROUP_CYCLE: [&str; 3] = ["ypt-ring1", "ypt-ring2", "ypt-ringroot"];

impl ClassicData {
    /// The test site: hand-written edge cases plus generated entries.
    pub fn site(domain: &str) -> ClassicData {
        let mut hosts = vec![
            // Several addresses, IPv6 last; an alias in mixed case.
            host(
                &["gateway", "gw", "Gateway.Classic.Test"],
                &["192.0.2.1", "198.51.100.1", "2001:db8::1"],
            ),
            // IPv6 first, and not written canonically.
            host(&["v6first"], &["2001:DB8:0:0::7", "192.0.2.7"]),
            // IPv6 only, the address starting with a digit.
            host(&["v6only", "v6only-alias"], &["2001:db8::6"]),
            // IPv6 only, the address starting with a letter: the
            // Makefile's hosts.byname takes only lines starting with a digit.
            host(&["ula-host"], &["fd00::5"]),
            // "intranet": a name two entries give.
            host(&["mail", "intranet"], &["192.0.2.25"]),
            host(&["web", "intranet", "www"], &["192.0.2.80"]),
            // An address two entries give.
            host(&["smtp"], &["192.0.2.25"]),
            // Written canonically by nobody: leading zeros in IPv6.
            host(&["printer-gw"], &["2001:0db8:0000::0010", "192.0.2.10"]),
        ];
        hosts.extend((1..=24).map(|i| {
            host(
                &[&format!("node{i:02}"), &format!("n{i:02}")],
                &[&format!("10.0.0.{i}")],
            )
        }));

        // Ports, protocol and RPC numbers and names that Debian's
        // /etc/services, /etc/protocols and /etc/rpc do not hold: glibc
        // reads those files before NIS.
        let mut services = vec![
            // Both protocols in one entry.
            service(&["ypt-echo"], 47007, &["tcp", "udp"]),
            service(&["ypt-http", "ypt-www"], 48080, &["tcp"]),
            // "48080/tcp" given twice.
            service(&["ypt-proxy"], 48080, &["tcp"]),
            // One name, an entry per protocol.
            service(&["ypt-split"], 47001, &["tcp"]),
            service(&["ypt-split"], 47001, &["udp"]),
            // "ypt-log" (and "ypt-log/udp") given by two entries.
            service(&["ypt-syslog", "ypt-log"], 47514, &["udp"]),
            service(&["ypt-logger", "ypt-log"], 47515, &["udp"]),
        ];
        services.extend((1..=20).map(|i| {
            let protocols: &[&str] = if i % 3 == 0 {
                &["tcp", "udp"]
            } else {
                &["tcp"]
            };
            service(&[&format!("ypt-svc{i:02}")], 49000 + i, protocols)
        }));

        let mut protocols = vec![
            numbered(&["ypt-proto1", "YPT-Proto-One"], 201),
            numbered(&["ypt-proto2"], 202),
            // "ypt-common" given twice.
            numbered(&["ypt-proto3", "ypt-common"], 203),
            numbered(&["ypt-proto4", "ypt-common"], 204),
        ];
        protocols.extend((1..=20).map(|i| numbered(&[&format!("ypt-p{i:02}")], 210 + i)));

        let mut rpcs = vec![
            numbered(&["ypt-rpc1", "ypt-rpcalias"], 400_001),
            numbered(&["ypt-rpc2"], 400_002),
            // Number 400003 given twice.
            numbered(&["ypt-rpc3"], 400_003),
            numbered(&["ypt-rpc3b"], 400_003),
        ];
        rpcs.extend((1..=20).map(|i| numbered(&[&format!("ypt-rpcprog{i:02}")], 400_100 + i)));

        let mut networks = vec![
            network(&["ypt-lab", "ypt-lab-net"], "10.1", Some("255.255.0.0")),
            network(&["ypt-dmz"], "192.0.2", Some("255.255.255.0")),
            network(&["ypt-wan"], "198.51.100.0", None),
            // Number 10.9 given twice, each with its netmask.
            network(&["ypt-old"], "10.9", Some("255.255.0.0")),
            network(&["ypt-new", "ypt-new-net"], "10.9", Some("255.255.255.0")),
        ];
        networks.extend((1..=20).map(|i| {
            let mask = (i % 2 == 0).then_some("255.255.255.0");
            network(&[&format!("ypt-net{i:02}")], &format!("172.16.{i}"), mask)
        }));

        let mut ethers = vec![
            ether("ypt-eth1", &["0:1b:21:a:b:1"]),
            // Not written as ether_ntoa writes it.
            ether("ypt-eth2", &["00:1B:21:0A:0B:02"]),
            ether("ypt-eth2b", &["00-1b-21-0a-0b-12"]),
            // Two addresses: ethers.byname has one key for both lines.
            ether("ypt-eth3", &["0:1b:21:a:b:3", "0:1b:21:a:b:4"]),
            // An address two entries give.
            ether("ypt-eth5", &["0:1b:21:a:b:1"]),
        ];
        ethers.extend((1..=20).map(|i| {
            ether(
                &format!("ypt-station{i:02}"),
                &[&format!("2:0:0:0:1:{i:x}")],
            )
        }));

        let mut netgroups = vec![
            netgroup(
                "ypt-admins",
                &["(adminhost,alice,classic.test)", "(,bob,)"],
                &[],
            ),
            // "-": no user.
            netgroup("ypt-web", &["(web1,-,classic.test)", "(web2,-,)"], &[]),
            netgroup("ypt-all", &["(-,carol,)"], &["ypt-admins", "ypt-web"]),
            netgroup("ypt-nested", &[], &["ypt-all"]),
            // Everyone, everywhere.
            netgroup("ypt-wild", &["(,,)"], &[]),
            // A member netgroup nobody defines.
            netgroup("ypt-dangling", &["(h9,u9,d9)"], &["ypt-nosuch"]),
            // The cycle (NETGROUP_CYCLE).
            netgroup(
                "ypt-ring1",
                &["(ringhost1,ringuser1,classic.test)"],
                &["ypt-ring2"],
            ),
            netgroup(
                "ypt-ring2",
                &["(ringhost2,ringuser2,classic.test)"],
                &["ypt-ring1"],
            ),
            netgroup("ypt-ringroot", &["(roothost,rootuser,)"], &["ypt-ring1"]),
        ];
        // A chain of 20, each holding the next.
        netgroups.extend((1..=20).map(|i| {
            let triple = format!("(chainhost{i:02},chainuser{i:02},classic.test)");
            let next = format!("ypt-chain{:02}", i + 1);
            let members: Vec<&str> = if i < 20 { vec![&next] } else { vec![] };
            netgroup(&format!("ypt-chain{i:02}"), &[&triple], &members)
        }));
        // A netgroup name two entries give (in two OUs).
        netgroups.push(Netgroup {
            ou: "Netgroup2",
            ..netgroup("ypt-admins", &["(otheradmin,mallory,)"], &[])
        });

        let mut publickeys: Vec<PublicKey> = (1..=12)
            .map(|i| PublicKey {
                name: format!("user{i:02}"),
                uid: Some(5000 + i),
                public: hex(i, 48),
                secret: hex(i + 1000, 64),
            })
            .collect();
        publickeys.push(PublicKey {
            name: "ypt-host1".into(),
            uid: None,
            public: hex(77, 48),
            secret: hex(78, 64),
        });

        let mut aliases = vec![
            Alias {
                name: "postmaster".into(),
                members: strings(&["root"]),
            },
            Alias {
                name: "ypt-team".into(),
                members: strings(&["alice", "bob", "carol@example.org"]),
            },
            Alias {
                name: "Ypt-Mixed".into(),
                members: strings(&["alice"]),
            },
        ];
        aliases.extend((1..=20).map(|i| Alias {
            name: format!("ypt-list{i:02}"),
            members: vec![format!("user{i:02}"), format!("user{:02}@{domain}", i + 1)],
        }));

        let mut home: Vec<(String, String)> = ["alice", "bob", "carol"]
            .iter()
            .map(|u| {
                (
                    (*u).to_owned(),
                    format!("-rw,soft fs.classic.test:/export/home/{u}"),
                )
            })
            .collect();
        home.extend((1..=20).map(|i| {
            (
                format!("user{i:02}"),
                format!("-rw fs{}.classic.test:/export/home/user{i:02}", i % 3),
            )
        }));
        home.push(("*".into(), "fs.classic.test:/export/home/&".into()));
        let automount = vec![
            AutomountMap {
                name: "auto.master".into(),
                form: AutomountForm::Automount,
                entries: vec![
                    ("/home".into(), "auto.home".into()),
                    ("/local".into(), "auto.local --timeout=60".into()),
                ],
            },
            AutomountMap {
                name: "auto.home".into(),
                form: AutomountForm::NisObject,
                entries: home,
            },
            AutomountMap {
                name: "auto.local".into(),
                form: AutomountForm::Automount,
                entries: vec![
                    (
                        "scratch".into(),
                        "-rw,nosuid fs.classic.test:/export/scratch".into(),
                    ),
                    // '#' inside the information: the Makefile cuts it.
                    (
                        "tools".into(),
                        "-ro fs.classic.test:/export/tools #read-only".into(),
                    ),
                    (
                        "data".into(),
                        "-rw / fs1.classic.test:/export/data /old fs2.classic.test:/export/old"
                            .into(),
                    ),
                ],
            },
        ];

        let printers = (1..=4)
            .map(|i| Printer {
                name: format!("lp{i}"),
                uri: format!("ipp://print{i}.classic.test/queue"),
            })
            .collect();

        ClassicData {
            hosts,
            services,
            protocols,
            rpcs,
            networks,
            ethers,
            netgroups,
            publickeys,
            aliases,
            automount,
            printers,
        }
    }

    /// The LDIF of one OU per kind and the entries, for a directory
    /// whose base entries exist already ([`crate::ldif::ldif`]'s; the
    /// services go to its `ou=Services`).
    pub fn ldif(&self) -> String {
        let mut s = String::new();
        let ous = [
            "Hosts",
            "Protocols",
            "Rpc",
            "Networks",
            "Ethers",
            "Netgroup",
            "Netgroup2",
            "Keys",
            "Aliases",
            "Automount",
            "Printers",
        ];
        for ou in ous {
            let _ = write!(
                s,
                "dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
            );
        }
        for h in &self.hosts {
            let _ = writeln!(
                s,
                "dn: cn={},ou=Hosts,{SUFFIX}\nobjectClass: device\nobjectClass: ipHost",
                h.names[0]
            );
            values(&mut s, "cn", &h.names);
            values(&mut s, "ipHostNumber", &h.addresses);
            s.push('\n');
        }
        // Services sit beside the service account in ou=Services.
        for v in &self.services {
            let _ = writeln!(
                s,
                "dn: cn={}+ipServiceProtocol={},ou=Services,{SUFFIX}\nobjectClass: ipService\nipServicePort: {}",
                v.names[0], v.protocols[0], v.port
            );
            values(&mut s, "cn", &v.names);
            values(&mut s, "ipServiceProtocol", &v.protocols);
            s.push('\n');
        }
        for (ou, class, attr, list) in [
            (
                "Protocols",
                "ipProtocol",
                "ipProtocolNumber",
                &self.protocols,
            ),
            ("Rpc", "oncRpc", "oncRpcNumber", &self.rpcs),
        ] {
            for p in list {
                let _ = writeln!(
                    s,
                    "dn: cn={},ou={ou},{SUFFIX}\nobjectClass: {class}\n{attr}: {}\ndescription: {}",
                    p.names[0], p.number, p.names[0]
                );
                values(&mut s, "cn", &p.names);
                s.push('\n');
            }
        }
        for n in &self.networks {
            let _ = writeln!(
                s,
                "dn: cn={},ou=Networks,{SUFFIX}\nobjectClass: ipNetwork\nipNetworkNumber: {}",
                n.names[0], n.number
            );
            values(&mut s, "cn", &n.names);
            if let Some(m) = &n.netmask {
                let _ = writeln!(s, "ipNetmaskNumber: {m}");
            }
            s.push('\n');
        }
        for e in &self.ethers {
            let _ = writeln!(
                s,
                "dn: cn={n},ou=Ethers,{SUFFIX}\nobjectClass: device\nobjectClass: ieee802Device\ncn: {n}",
                n = e.name
            );
            values(&mut s, "macAddress", &e.addresses);
            s.push('\n');
        }
        for g in &self.netgroups {
            let _ = writeln!(
                s,
                "dn: cn={n},ou={ou},{SUFFIX}\nobjectClass: nisNetgroup\ncn: {n}",
                n = g.name,
                ou = g.ou
            );
            values(&mut s, "nisNetgroupTriple", &g.triples);
            values(&mut s, "memberNisNetgroup", &g.members);
            s.push('\n');
        }
        for (i, k) in self.publickeys.iter().enumerate() {
            // Half with RFC 2307's {DES} prefix, half without.
            let prefix = if i % 2 == 0 { "{DES}" } else { "" };
            let _ = writeln!(
                s,
                "dn: cn={n},ou=Keys,{SUFFIX}\nobjectClass: device\nobjectClass: nisKeyObject\ncn: {n}\n\
                 nisPublicKey: {prefix}{}\nnisSecretKey: {prefix}{}",
                k.public,
                k.secret,
                n = k.name
            );
            if let Some(uid) = k.uid {
                let _ = writeln!(s, "uidNumber: {uid}");
            }
            s.push('\n');
        }
        for a in &self.aliases {
            let _ = writeln!(
                s,
                "dn: cn={n},ou=Aliases,{SUFFIX}\nobjectClass: nisMailAlias\ncn: {n}",
                n = a.name
            );
            values(&mut s, "rfc822MailMember", &a.members);
            s.push('\n');
        }
        for m in &self.automount {
            match m.form {
                AutomountForm::NisObject => {
                    let parent = format!("nisMapName={},ou=Automount,{SUFFIX}", m.name);
                    let _ = write!(
                        s,
                        "dn: {parent}\nobjectClass: nisMap\nnisMapName: {}\n\n",
                        m.name
                    );
                    for (k, v) in &m.entries {
                        let _ = write!(
                            s,
                            "dn: cn={},{parent}\nobjectClass: nisObject\ncn: {k}\nnisMapEntry: {v}\nnisMapName: {}\n\n",
                            rdn_escape(k),
                            m.name
                        );
                    }
                }
                AutomountForm::Automount => {
                    let parent = format!("automountMapName={},ou=Automount,{SUFFIX}", m.name);
                    let _ = write!(
                        s,
                        "dn: {parent}\nobjectClass: automountMap\nautomountMapName: {}\n\n",
                        m.name
                    );
                    for (k, v) in &m.entries {
                        let _ = write!(
                            s,
                            "dn: automountKey={},{parent}\nobjectClass: automount\nautomountKey: {k}\nautomountInformation: {v}\n\n",
                            rdn_escape(k)
                        );
                    }
                }
            }
        }
        for p in &self.printers {
            let _ = write!(
                s,
                "dn: cn={n},ou=Printers,{SUFFIX}\nobjectClass: device\nobjectClass: labeledURIObject\ncn: {n}\nlabeledURI: {}\n\n",
                p.uri,
                n = p.name
            );
        }
        s
    }

    /// The `/etc`-style source files, by name, for the Makefile:
    /// `hosts`, `services`, `protocols`, `rpc`, `networks`, `netmasks`,
    /// `ethers`, `netgroup`, `publickey`, `aliases` and one per automount
    /// map. `netgroup.reverse` is the `netgroup` file `revnetgroup` can
    /// take and ypldapd's reverse maps derive from: see
    /// [`ClassicData::reverse_netgroup_file`].
    pub fn files(&self, domain: &str) -> Vec<(String, String)> {
        let mut files = Vec::new();
        let mut f = String::new();
        for h in &self.hosts {
            for a in &h.addresses {
                let _ = writeln!(f, "{}", line(a, &h.names));
            }
        }
        files.push(("hosts".to_owned(), std::mem::take(&mut f)));
        for v in &self.services {
            for p in &v.protocols {
                let mut rest = vec![format!("{}/{p}", v.port)];
                rest.extend(v.names[1..].iter().cloned());
                let _ = writeln!(f, "{}", line(&v.names[0], &rest));
            }
        }
        files.push(("services".to_owned(), std::mem::take(&mut f)));
        for (name, list) in [("protocols", &self.protocols), ("rpc", &self.rpcs)] {
            for p in list {
                let mut rest = vec![p.number.to_string()];
                rest.extend(p.names[1..].iter().cloned());
                let _ = writeln!(f, "{}", line(&p.names[0], &rest));
            }
            files.push((name.to_owned(), std::mem::take(&mut f)));
        }
        let mut masks = String::new();
        for n in &self.networks {
            let mut rest = vec![n.number.clone()];
            rest.extend(n.names[1..].iter().cloned());
            let _ = writeln!(f, "{}", line(&n.names[0], &rest));
            if let Some(m) = &n.netmask {
                let _ = writeln!(masks, "{}\t{m}", n.number);
            }
        }
        files.push(("networks".to_owned(), std::mem::take(&mut f)));
        files.push(("netmasks".to_owned(), masks));
        for e in &self.ethers {
            for a in &e.addresses {
                let _ = writeln!(f, "{a}\t{}", e.name);
            }
        }
        files.push(("ethers".to_owned(), std::mem::take(&mut f)));
        files.push(("netgroup".to_owned(), self.netgroup_file(false)));
        files.push(("netgroup.reverse".to_owned(), self.netgroup_file(true)));
        for k in &self.publickeys {
            let owner = k.uid.map_or_else(|| k.name.clone(), |u| u.to_string());
            let _ = writeln!(f, "unix.{owner}@{domain}\t{}:{}", k.public, k.secret);
        }
        files.push(("publickey".to_owned(), std::mem::take(&mut f)));
        for a in &self.aliases {
            let _ = writeln!(f, "{}:\t{}", a.name, a.members.join(", "));
        }
        files.push(("aliases".to_owned(), std::mem::take(&mut f)));
        for m in &self.automount {
            for (k, v) in &m.entries {
                let _ = writeln!(f, "{k}\t{v}");
            }
            files.push((m.name.clone(), std::mem::take(&mut f)));
        }
        files
    }

    /// The `netgroup` file. For the reverse maps (`reverse`), the
    /// netgroups ypldapd serves in `netgroup`, without the cycle: of a
    /// name given twice the first line only (ypldapd's netgroup map keeps
    /// the first, makedbm the last, and each server's reverse maps follow
    /// its own netgroup map), and none of [`NETGROUP_CYCLE`] (revnetgroup
    /// recurses on a cycle until it crashes).
    fn netgroup_file(&self, reverse: bool) -> String {
        let mut f = String::new();
        let mut seen = Vec::new();
        for g in &self.netgroups {
            if reverse && (NETGROUP_CYCLE.contains(&g.name.as_str()) || seen.contains(&&g.name)) {
                continue;
            }
            seen.push(&g.name);
            let rest: Vec<String> = g.triples.iter().chain(&g.members).cloned().collect();
            let _ = writeln!(f, "{}", line(&g.name, &rest));
        }
        f
    }

    /// The netgroup named `name` (the first of that name).
    pub fn netgroup(&self, name: &str) -> &Netgroup {
        self.netgroups
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no netgroup {name}"))
    }
}

/// `first<TAB>rest joined by single spaces`.
fn line(first: &str, rest: &[String]) -> String {
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}\t{}", rest.join(" "))
    }
}

fn values(s: &mut String, attr: &str, vs: &[String]) {
    for v in vs {
        let _ = writeln!(s, "{attr}: {v}");
    }
}

/// An RDN value with RFC 4514's special characters escaped.
fn rdn_escape(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && matches!(c, '#' | ' '))
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The bad entries (by RDN) without an attribute their object class
/// requires.
const MISSING_REQUIRED: [&str; 4] = [
    "cn=bad-noaddr",
    "cn=bad-noproto",
    "cn=bad-nosecret",
    "cn=bad-noentry,nisMapName=auto.home",
];

/// An entry ypldapd must drop: its DN and the reason its log names.
#[derive(Debug, Clone)]
pub struct BadEntry {
    pub dn: String,
    /// The summary's name of the reason (`invalid value`, …).
    pub reason: &'static str,
    pub ldif: String,
    /// It lacks an attribute its object class requires.
    pub breaks_schema: bool,
}

/// Entries of every classic kind that break a rule of their map: a
/// missing attribute, a blank or a newline where the line forbids it, an
/// address or a number that does not parse, a bad triple, a port out of
/// range, a MAC that does not parse. Some lack an attribute their object
/// class requires (what a reader sees when an ACL hides it): they are
/// loaded without schema checks ([`crate::peers::SlapdOptions::unchecked_ldif`]).
/// None of their names is used elsewhere.
///
/// The entries of [`MISSING_REQUIRED`] lack an attribute their object
/// class requires.
pub fn bad_entries() -> Vec<BadEntry> {
    let mut out = Vec::new();
    let mut bad = |rdn: &str, ou: &str, reason: &'static str, body: &str| {
        let dn = format!("{rdn},ou={ou},{SUFFIX}");
        out.push(BadEntry {
            ldif: format!("dn: {dn}\n{body}\n"),
            breaks_schema: MISSING_REQUIRED.contains(&rdn),
            dn,
            reason,
        });
    };
    // hosts
    bad(
        "cn=bad-addr",
        "Hosts",
        "invalid value",
        "objectClass: device\nobjectClass: ipHost\ncn: bad-addr\nipHostNumber: 192.0.2.300",
    );
    bad(
        "cn=bad host",
        "Hosts",
        "forbidden character",
        "objectClass: device\nobjectClass: ipHost\ncn: bad host\nipHostNumber: 192.0.2.201",
    );
    bad(
        "cn=bad-noaddr",
        "Hosts",
        "missing attribute",
        "objectClass: device\nobjectClass: ipHost\ncn: bad-noaddr",
    );
    // services
    bad(
        "cn=bad-port+ipServiceProtocol=tcp",
        "Services",
        "invalid value",
        "objectClass: ipService\ncn: bad-port\nipServicePort: 70000\nipServiceProtocol: tcp",
    );
    bad(
        "cn=bad-noproto",
        "Services",
        "missing attribute",
        "objectClass: ipService\ncn: bad-noproto\nipServicePort: 47999",
    );
    // protocols, rpc: a number out of range, a name with a newline
    bad(
        "cn=bad-proto",
        "Protocols",
        "invalid value",
        "objectClass: ipProtocol\ncn: bad-proto\nipProtocolNumber: 300\ndescription: x",
    );
    bad(
        "cn=bad-rpc",
        "Rpc",
        "forbidden character",
        // "bad-rpc" and "bad\nrpc" (base64: a value with a newline).
        "objectClass: oncRpc\ncn: bad-rpc\ncn:: YmFkCnJwYw==\noncRpcNumber: 400999\ndescription: x",
    );
    // networks
    bad(
        "cn=bad-net",
        "Networks",
        "invalid value",
        "objectClass: ipNetwork\ncn: bad-net\nipNetworkNumber: 10.300",
    );
    bad(
        "cn=bad-mask",
        "Networks",
        "invalid value",
        "objectClass: ipNetwork\ncn: bad-mask\nipNetworkNumber: 10.77\nipNetmaskNumber: 255.255.0",
    );
    // ethers
    bad(
        "cn=bad-mac",
        "Ethers",
        "invalid value",
        "objectClass: device\nobjectClass: ieee802Device\ncn: bad-mac\nmacAddress: 0:1b:21:a:b",
    );
    bad(
        "cn=bad-nomac",
        "Ethers",
        "missing attribute",
        "objectClass: device\nobjectClass: ieee802Device\ncn: bad-nomac",
    );
    // netgroups
    bad(
        "cn=bad-triple",
        "Netgroup",
        "invalid value",
        "objectClass: nisNetgroup\ncn: bad-triple\nnisNetgroupTriple: (host,user)",
    );
    bad(
        "cn=bad-member",
        "Netgroup",
        "forbidden character",
        "objectClass: nisNetgroup\ncn: bad-member\nmemberNisNetgroup: ypt bad",
    );
    // publickey
    bad(
        "cn=bad-key",
        "Keys",
        "invalid value",
        "objectClass: device\nobjectClass: nisKeyObject\ncn: bad-key\nuidNumber: 5999\n\
         nisPublicKey: {DES}not-hex!\nnisSecretKey: {DES}abcdef",
    );
    bad(
        "cn=bad-nosecret",
        "Keys",
        "missing attribute",
        "objectClass: device\nobjectClass: nisKeyObject\ncn: bad-nosecret\nuidNumber: 5998\nnisPublicKey: abcdef",
    );
    // mail aliases
    bad(
        "cn=bad-nomembers",
        "Aliases",
        "missing attribute",
        "objectClass: nisMailAlias\ncn: bad-nomembers",
    );
    bad(
        "cn=bad-comma",
        "Aliases",
        "bad group member",
        "objectClass: nisMailAlias\ncn: bad-comma\nrfc822MailMember: alice,bob",
    );
    // automount
    bad(
        "automountKey=bad key,automountMapName=auto.local",
        "Automount",
        "forbidden character",
        "objectClass: automount\nautomountKey: bad key\nautomountInformation: fs:/x",
    );
    bad(
        "cn=bad-noentry,nisMapName=auto.home",
        "Automount",
        "missing attribute",
        "objectClass: nisObject\ncn: bad-noentry\nnisMapName: auto.home",
    );
    // the site map
    bad(
        "cn=bad-nouri",
        "Printers",
        "missing attribute",
        "objectClass: device\nobjectClass: labeledURIObject\ncn: bad-nouri",
    );
    out
}
