//! The classic NIS maps (hosts, services, protocols, rpc, networks,
//! netmasks, ethers, netgroups and their reverse maps, publickey, mail
//! aliases, automount, a site map) against the reference and real clients.
//!
//! One description of a site's data ([`ClassicData`]) is written twice:
//! as LDIF for slapd, which ypldapd reads with nothing but `provide map`
//! lines (the defaults), and as `/etc`-style files from which Debian's own
//! `/var/yp/Makefile` builds the same maps (awk, `makedbm`, `revnetgroup`)
//! for Debian's ypserv. Every key and value of every map must be the same,
//! except for the deliberate differences ypldap.conf(5) lists, each a
//! named [`Difference`] here that must explain the keys it excuses and
//! must be needed by the data at least once.
//!
//! The other tests use the same ypldapd (one [`Shared`] world, set up by
//! whichever test comes first): glibc through libnss-nis (`getent`,
//! `innetgr`), autofs (`automount -m`), the entries that must be dropped,
//! the site map and `ypwhich -m`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tests::classic_data::{BadEntry, ClassicData, NETGROUP_CYCLE, bad_entries};
use tests::ldif::SUFFIX;
use tests::nis::{self, MakeRun, MapInput, Ypserv};
use tests::peers::SlapdOptions;
use tests::world::{Data, Directory, Shared, World};

const DOMAIN: &str = "classic.test";

/// Every map both servers build: what Debian's Makefile can build of the
/// classic maps (`ALL`'s `hosts rpc services protocols netgrp`, and the
/// ones it comments out: `publickey mail ethers networks netmasks` and
/// its `AUTO_MAPS`).
const MAPS: [&str; 21] = [
    "hosts.byname",
    "hosts.byaddr",
    "services.byname",
    "services.byservicename",
    "protocols.byname",
    "protocols.bynumber",
    "rpc.byname",
    "rpc.bynumber",
    "networks.byname",
    "networks.byaddr",
    "netmasks.byaddr",
    "ethers.byname",
    "ethers.byaddr",
    "netgroup",
    "netgroup.byuser",
    "netgroup.byhost",
    "publickey.byname",
    "mail.aliases",
    "auto.master",
    "auto.home",
    "auto.local",
];

/// The site map: a printer's name to `name:uri`.
const PRINTERS: &str = "map \"printers\" {
\tbasedn \"ou=Printers,dc=example,dc=com\"
\tfilter \"(objectClass=labeledURIObject)\"
\tkey \"cn\"
\tvalue \"${cn}:${labeledURI}\"
}";

/// The schema of the RFC 2307bis classes Debian's slapd lacks
/// (`nisKeyObject`, `automountMap`, `automount`).
fn extra_schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/rfc2307bis-extra.schema")
}

/// ypldapd reading the site's data (and the bad entries) with the
/// defaults, clients bound to it, glibc looking the classic databases up
/// in NIS.
struct Ours {
    w: World,
    data: ClassicData,
    bad: Vec<BadEntry>,
}

static OURS: Shared<Ours> = Shared::new();

fn ours() -> Arc<Ours> {
    OURS.get(|| {
        let data = ClassicData::site(DOMAIN);
        let bad = bad_entries();
        let mut ldif = Data::of(Vec::new(), Vec::new()).with_ldif(&data.ldif());
        let mut slapd = SlapdOptions::default()
            .with_schema("/etc/ldap/schema/misc.schema")
            .with_schema(extra_schema());
        for b in &bad {
            if b.breaks_schema {
                slapd = slapd.with_unchecked_ldif(&b.ldif);
            } else {
                ldif = ldif.with_ldif(&b.ldif);
            }
        }
        // The classic entries are under the suffix: the directory's basedn,
        // which the classic kinds search unless told otherwise.
        let mut b = World::builder(DOMAIN)
            .directory(Directory::slapd_with(ldif, slapd).read(|b| b.basedn = SUFFIX.into()));
        for m in MAPS {
            b = b.statement(format!("provide map \"{m}\""));
        }
        let w = b.statement(PRINTERS).start();
        w.bind_clients();
        nis::nss_sources(
            &w.ns,
            &[
                ("hosts", "files nis"),
                ("services", "files nis"),
                ("protocols", "files nis"),
                ("rpc", "files nis"),
                ("networks", "files nis"),
                ("ethers", "files nis"),
                ("aliases", "files nis"),
                ("netgroup", "nis"),
                ("automount", "nis"),
            ],
        );
        Ours { w, data, bad }
    })
}

/// Debian's ypserv serving what Debian's Makefile built from the files.
struct Reference {
    w: World,
    _ypserv: Ypserv,
    inputs: BTreeMap<String, MapInput>,
}

static REFERENCE: Shared<Reference> = Shared::new();

fn reference() -> Arc<Reference> {
    REFERENCE.get(|| {
        let data = ClassicData::site(DOMAIN);
        let w = World::builder(DOMAIN).without_ypldapd().start();
        let (ypserv, inputs) = Ypserv::from_makefile(
            &w.ns,
            DOMAIN,
            &data.files(DOMAIN),
            &[
                MakeRun {
                    variables: vec![],
                    targets: vec![
                        "hosts",
                        "services",
                        "protocols",
                        "rpc",
                        "networks",
                        "netmasks",
                        "ethers",
                        "publickey",
                        "mail",
                        "netgroup",
                        "auto.master",
                        "auto.home",
                        "auto.local",
                    ],
                },
                // The reverse maps from the netgroups ypldapd's netgroup
                // map serves (the first of a name given twice:
                // Difference::FirstKeyWins), without the cycle, on which
                // revnetgroup recurses until it crashes: ypldapd's answer
                // for the cycle is checked on its own
                // (netgroup_cycle_is_followed_once).
                MakeRun {
                    variables: vec![("NETGROUP", "netgroup.reverse")],
                    targets: vec!["netgroup.byuser", "netgroup.byhost"],
                },
            ],
        );
        Reference {
            w,
            _ypserv: ypserv,
            inputs,
        }
    })
}

/// `ypcat -k` of `map` from a world's server, as a map.
fn cat(w: &World, map: &str) -> BTreeMap<String, String> {
    w.ypcat(map)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .collect()
}

/// The deliberate differences of ypldap.conf(5), OTHER MAPS, that the
/// comparison meets. Each explains a key's two values in a precise way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Difference {
    /// "A key two entries give goes to the first entry read; makedbm
    /// keeps the last line": the Makefile gave makedbm the key more than
    /// once; ypldapd serves the first value, ypserv the last.
    FirstKeyWins,
    /// "Addresses are written in their canonical form (IPv6 as RFC 5952
    /// writes it …; MAC addresses as ether_ntoa(3) writes them)": applied
    /// to the reference before comparing (keys and the lines' first field
    /// of hosts.* and ethers.*).
    CanonicalAddress,
    /// "hosts.byname leads to an entry's first IPv4 line where the
    /// Makefile leads to its last line".
    FirstIpv4Line,
    /// "… and it holds the names of hosts with only IPv6 addresses, which
    /// the Makefile leaves out (it takes only lines starting with a
    /// digit)": a name only ypldapd has, of a line whose address does not
    /// start with a digit, which the Makefile never gave makedbm.
    Ipv6OnlyHostName,
    /// "The netgroups of a netgroup.byuser or netgroup.byhost value are in
    /// the order they were read; revnetgroup(8) lists them in the reverse
    /// …": the same set of netgroups.
    ReverseNetgroupOrder,
    /// "An automount entry's information is served whole; the Makefile
    /// cuts a line at #": ypserv's value is ypldapd's up to the `#`.
    AutomountComment,
}

/// Every [`Difference`]: the data must need each.
const DIFFERENCES: [Difference; 6] = [
    Difference::FirstKeyWins,
    Difference::CanonicalAddress,
    Difference::FirstIpv4Line,
    Difference::Ipv6OnlyHostName,
    Difference::ReverseNetgroupOrder,
    Difference::AutomountComment,
];

/// An address as ypldap.conf(5) says ypldapd writes it: IPv6 as RFC 5952
/// (Rust's `Ipv6Addr` display), a MAC as `ether_ntoa` (`%x:%x:…`).
fn canonical_address(map: &str, a: &str) -> String {
    if map.starts_with("hosts.") {
        a.parse::<IpAddr>()
            .map_or_else(|_| a.to_owned(), |ip| ip.to_string())
    } else {
        let parts: Vec<&str> = a.split([':', '-']).collect();
        let bytes: Option<Vec<u8>> = parts
            .iter()
            .map(|p| u8::from_str_radix(p, 16).ok())
            .collect();
        match bytes {
            Some(b) if b.len() == 6 => b
                .iter()
                .map(|x| format!("{x:x}"))
                .collect::<Vec<_>>()
                .join(":"),
            _ => a.to_owned(),
        }
    }
}

/// The reference's key and value with addresses canonical
/// ([`Difference::CanonicalAddress`]): hosts.byaddr and ethers.byaddr
/// keys, and the first field of every hosts.* and ethers.* line.
fn canonical(map: &str, key: &str, value: &str) -> (String, String) {
    if !(map.starts_with("hosts.") || map.starts_with("ethers.")) {
        return (key.to_owned(), value.to_owned());
    }
    let key = if map.ends_with(".byaddr") {
        canonical_address(map, key)
    } else {
        key.to_owned()
    };
    let value = match value.split_once('\t') {
        Some((a, rest)) => format!("{}\t{rest}", canonical_address(map, a)),
        None => value.to_owned(),
    };
    (key, value)
}

/// A hosts line's address.
fn address(line: &str) -> &str {
    line.split('\t').next().unwrap_or(line)
}

/// The comma-separated netgroups of a reverse map value, as a set.
fn netgroup_set(v: &str) -> BTreeSet<&str> {
    v.split(',').collect()
}

/// Which differences explain `key`'s values in `map`: ypldapd's `ours`,
/// ypserv's `theirs`, and the values the Makefile gave makedbm for the
/// key, in order (`given`). `None`: none does.
fn explain(
    map: &str,
    ours: Option<&str>,
    theirs: Option<&str>,
    given: &[String],
) -> Option<Vec<Difference>> {
    use Difference::*;
    match (ours, theirs) {
        (Some(o), None) if map == "hosts.byname" && given.is_empty() => {
            let a = address(o);
            let v6 = a.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6());
            (v6 && !a.starts_with(|c: char| c.is_ascii_digit())).then(|| vec![Ipv6OnlyHostName])
        }
        (Some(o), Some(t)) if map == "hosts.byname" && !given.is_empty() => {
            // The lines of the first entry that gave the key: the first
            // run of lines with the same names.
            let names = |l: &str| l.split_once('\t').map(|(_, n)| n.to_owned());
            let first: Vec<&String> = given
                .iter()
                .take_while(|l| names(l) == names(&given[0]))
                .collect();
            let want = first
                .iter()
                .find(|l| address(l).parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv4()))
                .unwrap_or(&first[0]);
            if o != want.as_str() || Some(t) != given.last().map(String::as_str) {
                return None;
            }
            let mut d = Vec::new();
            if first.len() < given.len() {
                d.push(FirstKeyWins);
            }
            if Some(want) != first.last() {
                d.push(FirstIpv4Line);
            }
            (!d.is_empty()).then_some(d)
        }
        (Some(o), Some(t)) if map.starts_with("netgroup.by") => {
            (netgroup_set(o) == netgroup_set(t)).then(|| vec![ReverseNetgroupOrder])
        }
        (Some(o), Some(t)) if map.starts_with("auto.") && o.contains('#') => {
            (o.split('#').next() == Some(t)).then(|| vec![AutomountComment])
        }
        (Some(o), Some(t)) => (given.len() > 1
            && given.first().map(String::as_str) == Some(o)
            && given.last().map(String::as_str) == Some(t))
        .then(|| vec![FirstKeyWins]),
        _ => None,
    }
}

#[test]
fn every_map_is_the_makefiles_but_for_the_listed_differences() {
    let (ours, reference) = (ours(), reference());
    let mut needed: BTreeMap<Difference, Vec<String>> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for map in MAPS {
        let mine = cat(&ours.w, map);
        let raw = cat(&reference.w, map);
        assert!(!raw.is_empty(), "ypserv's {map} is empty");
        assert!(
            !mine.keys().any(|k| k.starts_with("YP_")),
            "{map}: ypldapd serves YP_* keys"
        );
        // ypserv hides its YP_* keys (YP_LAST_MODIFIED, YP_MASTER_NAME, …)
        // from FIRST/NEXT/ALL, so ypcat shows none from either server: the
        // listed difference "No YP_* keys" is not visible here.
        let mut theirs = BTreeMap::new();
        for (k, v) in &raw {
            let (ck, cv) = canonical(map, k, v);
            if (&ck, &cv) != (k, v) {
                needed
                    .entry(Difference::CanonicalAddress)
                    .or_default()
                    .push(format!("{map} {k}"));
            }
            theirs.insert(ck, cv);
        }
        let input = reference
            .inputs
            .get(map)
            .unwrap_or_else(|| panic!("the Makefile never ran makedbm for {map}"));
        let mut given: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in input.entries() {
            let (k, v) = canonical(map, &k, &v);
            given.entry(k).or_default().push(v);
        }
        // The cycle's netgroups are not in the reference's reverse maps
        // (revnetgroup cannot take them): left out of ypldapd's here and
        // checked in netgroup_cycle_is_followed_once.
        let mine: BTreeMap<String, String> = if map.starts_with("netgroup.by") {
            mine.into_iter()
                .filter_map(|(k, v)| {
                    let kept: Vec<&str> = v
                        .split(',')
                        .filter(|g| !NETGROUP_CYCLE.contains(g))
                        .collect();
                    (!kept.is_empty()).then(|| (k, kept.join(",")))
                })
                .collect()
        } else {
            mine
        };
        let keys: BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
        for k in keys {
            let (o, t) = (mine.get(k), theirs.get(k));
            if o == t {
                continue;
            }
            let g = given.get(k).map(Vec::as_slice).unwrap_or_default();
            match explain(map, o.map(String::as_str), t.map(String::as_str), g) {
                Some(ds) => {
                    for d in ds {
                        needed.entry(d).or_default().push(format!("{map} {k}"));
                    }
                }
                None => unexplained.push(format!(
                    "{map} {k:?}:\n    ypldapd: {o:?}\n    ypserv:  {t:?}\n    the Makefile gave: {g:?}"
                )),
            }
        }
    }
    eprintln!("differences met: {needed:#?}");
    assert!(
        unexplained.is_empty(),
        "{} keys differ beyond ypldap.conf(5)'s list:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    for d in DIFFERENCES {
        assert!(
            needed.contains_key(&d),
            "the data no longer needs {d:?}: the test lost part of its point"
        );
    }
}

/// The netgroups `name` reaches, itself first, each once (cycles
/// followed once); a name defined twice is its first definition, as the
/// netgroup map serves it.
fn reach<'a>(data: &'a ClassicData, name: &str) -> Vec<&'a tests::classic_data::Netgroup> {
    let mut out: Vec<&tests::classic_data::Netgroup> = Vec::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        let Some(g) = data.netgroups.iter().find(|g| g.name == n) else {
            continue; // a member nobody defines
        };
        if out.iter().any(|o| o.name == g.name) {
            continue;
        }
        out.push(g);
        todo.extend(g.members.iter().rev().cloned());
    }
    out
}

/// A triple's (host, user, domain).
fn triple(t: &str) -> [&str; 3] {
    let inner = t.trim_start_matches('(').trim_end_matches(')');
    let f: Vec<&str> = inner.split(',').map(str::trim).collect();
    [f[0], f[1], f[2]]
}

/// The netgroup cycle, which the reference cannot build: in
/// netgroup.byuser and netgroup.byhost, each `user.domain` (`host.domain`)
/// of the cycle's triples names every netgroup of the cycle that reaches
/// it (an empty field is `*`), and nothing else does.
#[test]
fn netgroup_cycle_is_followed_once() {
    let o = ours();
    for (map, field) in [("netgroup.byuser", 1), ("netgroup.byhost", 0)] {
        let mut want: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for root in NETGROUP_CYCLE {
            for g in reach(&o.data, root) {
                for t in &g.triples {
                    let f = triple(t);
                    let star = |s: &str| {
                        if s.is_empty() {
                            "*".to_owned()
                        } else {
                            s.to_owned()
                        }
                    };
                    want.entry(format!("{}.{}", star(f[field]), star(f[2])))
                        .or_default()
                        .insert(root);
                }
            }
        }
        let got: BTreeMap<String, BTreeSet<String>> = cat(&o.w, map)
            .into_iter()
            .filter_map(|(k, v)| {
                let cycle: BTreeSet<String> = v
                    .split(',')
                    .filter(|g| NETGROUP_CYCLE.contains(g))
                    .map(str::to_owned)
                    .collect();
                (!cycle.is_empty()).then_some((k, cycle))
            })
            .collect();
        let want: BTreeMap<String, BTreeSet<String>> = want
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(got, want, "{map}: the cycle's keys");
        // ring1 and ring2 reach each other, and ringroot reaches both.
        if field == 1 {
            assert_eq!(
                want.get("ringuser1.classic.test"),
                Some(&NETGROUP_CYCLE.map(str::to_owned).into_iter().collect())
            );
        }
    }
}

/// `getent ARGS` inside the world: each line's words.
fn getent(w: &World, args: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let mut cmd = vec!["getent"];
    cmd.extend_from_slice(args);
    let r = nis::run(&w.ns, &cmd);
    if !r.ok {
        return Err(format!("getent {args:?}: exit {:?} {}", r.code, r.stderr));
    }
    Ok(r.stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect())
}

/// The one line `getent ARGS` prints, as words.
fn getent1(w: &World, args: &[&str]) -> Vec<String> {
    let mut lines = getent(w, args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines.len(), 1, "getent {args:?}: {lines:?}");
    lines.remove(0)
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| (*w).to_owned()).collect()
}

/// A call `innetgr(netgroup, host, user, domain)` and its answer.
type Innetgr<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

/// glibc through libnss-nis reads every classic database it has from
/// ypldapd (nsswitch.conf `hosts: files nis` and so on; the test's names
/// and numbers are in none of the files). Where glibc's NIS lookup is
/// broken for a key form (against Debian's ypserv on the Makefile's maps
/// just as much), the map is read with `ypmatch` instead and the comment
/// says why.
#[test]
fn glibc_reads_the_classic_maps_through_libnss_nis() {
    let o = ours();
    let w = &o.w;

    // netgroup: glibc expands member netgroups itself (reading only the
    // netgroup map), each once, the cycle included; an empty host is
    // printed as a blank.
    for name in [
        "ypt-admins",
        "ypt-all",
        "ypt-nested",
        "ypt-ring1",
        "ypt-ringroot",
        "ypt-wild",
        "ypt-dangling",
        "ypt-chain01",
    ] {
        let line = getent1(w, &["netgroup", name]);
        assert_eq!(line[0], name);
        let got = nis::netgroup_triples(&line.join(" "));
        let want: BTreeSet<String> = reach(&o.data, name)
            .iter()
            .flat_map(|g| g.triples.iter().cloned())
            .collect();
        assert_eq!(got, want, "getent netgroup {name}");
    }
    // innetgr(3), as login access rules call it.
    let cases: [Innetgr<'_>; 13] = [
        // Two levels down: ypt-nested > ypt-all > ypt-admins.
        ("ypt-nested", Some("adminhost"), None, None, true),
        (
            "ypt-nested",
            None,
            Some("alice"),
            Some("classic.test"),
            true,
        ),
        ("ypt-nested", None, Some("alice"), Some("other.test"), false),
        // The second entry of the name "ypt-admins" is hidden by the first.
        ("ypt-admins", None, Some("mallory"), None, false),
        // (,bob,): any host, any domain.
        (
            "ypt-admins",
            Some("anyhost"),
            Some("bob"),
            Some("anydomain"),
            true,
        ),
        // "-" names no user.
        ("ypt-web", None, Some("anyone"), None, false),
        ("ypt-web", Some("web1"), None, None, true),
        // The cycle, both ways, and from outside it.
        ("ypt-ring2", None, Some("ringuser1"), None, true),
        ("ypt-ringroot", Some("ringhost2"), None, None, true),
        ("ypt-ring1", None, Some("rootuser"), None, false),
        ("ypt-wild", Some("h"), Some("u"), Some("d"), true),
        // A member nobody defines is skipped.
        ("ypt-dangling", Some("h9"), Some("u9"), Some("d9"), true),
        // Twenty levels down.
        ("ypt-chain01", Some("chainhost20"), None, None, true),
    ];
    let arg = |v: Option<&str>| v.map_or_else(|| "None".to_owned(), |s| format!("b{s:?}"));
    let calls: Vec<String> = cases
        .iter()
        .map(|(g, h, u, d, _)| format!("l.innetgr(b{g:?}, {}, {}, {})", arg(*h), arg(*u), arg(*d)))
        .collect();
    let script = format!(
        "import ctypes\nl = ctypes.CDLL('libc.so.6')\nprint(' '.join(str(x) for x in [{}]))",
        calls.join(", ")
    );
    let out = nis::ok(&w.ns, &["python3", "-c", &script]);
    let got: Vec<bool> = out.split_whitespace().map(|x| x == "1").collect();
    let want: Vec<bool> = cases.iter().map(|c| c.4).collect();
    assert_eq!(got, want, "innetgr for {cases:?}");

    // hosts: by each name, any case; the first IPv4 line.
    let gateway = words(&["192.0.2.1", "gateway", "gw", "Gateway.Classic.Test"]);
    assert_eq!(getent1(w, &["hosts", "gateway"]), gateway);
    assert_eq!(getent1(w, &["hosts", "GW"]), gateway);
    assert_eq!(
        getent1(w, &["hosts", "v6first"]),
        words(&["192.0.2.7", "v6first"])
    );
    assert_eq!(
        getent1(w, &["hosts", "v6only-alias"]),
        words(&["2001:db8::6", "v6only", "v6only-alias"])
    );
    assert_eq!(
        getent1(w, &["hosts", "ula-host"]),
        words(&["fd00::5", "ula-host"])
    );
    // "intranet": the first entry's.
    assert_eq!(
        getent1(w, &["hosts", "intranet"]),
        words(&["192.0.2.25", "mail", "intranet"])
    );
    let ahosts = getent(w, &["ahosts", "gateway"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ahosts[0], words(&["192.0.2.1", "STREAM", "gateway"]));
    // By address, glibc's libnss-nis asks hosts.byaddr for "127.0.0.1"
    // whatever the address (its inet_ntoa buffer is overwritten by
    // libnsl's binding code), so `getent hosts ADDRESS` fails against
    // ypserv too: hosts.byaddr is read with ypmatch.
    w.ypmatch("192.0.2.80", "hosts.byaddr")
        .map(|v| assert_eq!(v.trim_end(), "192.0.2.80\tweb intranet www"))
        .unwrap_or_else(|e| panic!("{e}"));
    w.ypmatch("2001:db8::7", "hosts.byaddr")
        .map(|v| assert_eq!(v.trim_end(), "2001:db8::7\tv6first"))
        .unwrap_or_else(|e| panic!("{e}"));

    // services: by name, name/protocol, alias, port/protocol.
    let http = words(&["ypt-http", "48080/tcp", "ypt-www"]);
    assert_eq!(getent1(w, &["services", "ypt-http"]), http);
    assert_eq!(getent1(w, &["services", "ypt-www/tcp"]), http);
    // 48080/tcp is also ypt-proxy's: the first entry's.
    assert_eq!(getent1(w, &["services", "48080/tcp"]), http);
    assert_eq!(
        getent1(w, &["services", "ypt-echo/udp"]),
        words(&["ypt-echo", "47007/udp"])
    );
    assert_eq!(
        getent1(w, &["services", "47007/udp"]),
        words(&["ypt-echo", "47007/udp"])
    );
    assert_eq!(
        getent1(w, &["services", "ypt-split"]),
        words(&["ypt-split", "47001/tcp"])
    );
    assert_eq!(
        getent1(w, &["services", "47001/udp"]),
        words(&["ypt-split", "47001/udp"])
    );

    // protocols and rpc: by name, alias and number.
    let proto1 = words(&["ypt-proto1", "201", "YPT-Proto-One"]);
    assert_eq!(getent1(w, &["protocols", "ypt-proto1"]), proto1);
    assert_eq!(getent1(w, &["protocols", "YPT-Proto-One"]), proto1);
    assert_eq!(getent1(w, &["protocols", "201"]), proto1);
    assert_eq!(
        getent1(w, &["protocols", "ypt-common"]),
        words(&["ypt-proto3", "203", "ypt-common"])
    );
    let rpc1 = words(&["ypt-rpc1", "400001", "ypt-rpcalias"]);
    assert_eq!(getent1(w, &["rpc", "ypt-rpcalias"]), rpc1);
    assert_eq!(getent1(w, &["rpc", "400001"]), rpc1);
    assert_eq!(
        getent1(w, &["rpc", "400003"]),
        words(&["ypt-rpc3", "400003"])
    );

    // networks: by name and alias (glibc prints the number "10.1" as
    // 10.1.0.0). By number, libnss-nis's getnetbyaddr finds nothing,
    // against ypserv too: networks.byaddr is read with ypmatch.
    let lab = words(&["ypt-lab", "10.1.0.0", "ypt-lab-net"]);
    assert_eq!(getent1(w, &["networks", "ypt-lab"]), lab);
    assert_eq!(getent1(w, &["networks", "ypt-lab-net"]), lab);
    assert_eq!(
        getent1(w, &["networks", "ypt-dmz"]),
        words(&["ypt-dmz", "192.0.2.0"])
    );
    w.ypmatch("10.1", "networks.byaddr")
        .map(|v| assert_eq!(v.trim_end(), "ypt-lab\t10.1 ypt-lab-net"))
        .unwrap_or_else(|e| panic!("{e}"));
    w.ypmatch("10.1", "netmasks.byaddr")
        .map(|v| assert_eq!(v.trim_end(), "255.255.0.0"))
        .unwrap_or_else(|e| panic!("{e}"));

    // ethers: by name (the first address) and by address in any form
    // (glibc asks for ether_ntoa's form, which ypldapd serves).
    assert_eq!(
        getent1(w, &["ethers", "ypt-eth2"]),
        words(&["0:1b:21:a:b:2", "ypt-eth2"])
    );
    assert_eq!(
        getent1(w, &["ethers", "ypt-eth3"]),
        words(&["0:1b:21:a:b:3", "ypt-eth3"])
    );
    assert_eq!(
        getent1(w, &["ethers", "00:1B:21:0A:0B:04"]),
        words(&["0:1b:21:a:b:4", "ypt-eth3"])
    );
    assert_eq!(
        getent1(w, &["ethers", "0:1b:21:a:b:12"]),
        words(&["0:1b:21:a:b:12", "ypt-eth2b"])
    );

    // aliases. glibc lower-cases the name it asks for, and neither server
    // lower-cases mail.aliases' keys (makedbm --aliases keeps them), so a
    // mixed-case alias is found only by ypmatch, from ypserv as well.
    assert_eq!(
        getent1(w, &["aliases", "ypt-team"]),
        words(&["ypt-team:", "alice,", "bob,", "carol@example.org"])
    );
    assert_eq!(
        getent1(w, &["aliases", "postmaster"]),
        words(&["postmaster:", "root"])
    );
    w.ypmatch("Ypt-Mixed", "mail.aliases")
        .map(|v| assert_eq!(v.trim_end(), "alice"))
        .unwrap_or_else(|e| panic!("{e}"));

    // publickey: getent has no such database; keyserv and secure RPC ask
    // publickey.byname by netname.
    let key = &o.data.publickeys[0];
    w.ypmatch(
        &format!("unix.{}@{DOMAIN}", key.uid.unwrap_or_default()),
        "publickey.byname",
    )
    .map(|v| assert_eq!(v.trim_end(), format!("{}:{}", key.public, key.secret)))
    .unwrap_or_else(|e| panic!("{e}"));
}

/// autofs reads auto.master over NIS (nsswitch.conf `automount: nis`, the
/// master map named on the command line) and each map it names;
/// `automount -m` dumps them and exits, mounting nothing.
#[test]
fn autofs_reads_auto_master_and_its_maps_over_nis() {
    let o = ours();
    let out = nis::ok(&o.w.ns, &["automount", "-m", "auto.master"]);
    let master = o
        .data
        .automount
        .iter()
        .find(|m| m.name == "auto.master")
        .expect("auto.master");
    // Each mount point: "Mount point: /home", its source "nis" and map,
    // then "key | information" lines.
    let sections: Vec<&str> = out.split("Mount point: ").skip(1).collect();
    assert_eq!(sections.len(), master.entries.len(), "{out}");
    for (mount, info) in &master.entries {
        let map_name = info.split_whitespace().next().unwrap_or_default();
        let section = sections
            .iter()
            .find(|s| s.lines().next() == Some(mount.as_str()))
            .unwrap_or_else(|| panic!("no mount point {mount}:\n{out}"));
        assert!(section.contains("instance type(s): nis"), "{section}");
        assert!(section.contains(&format!("map: {map_name}\n")), "{section}");
        let map = o
            .data
            .automount
            .iter()
            .find(|m| m.name == map_name)
            .unwrap_or_else(|| panic!("auto.master names {map_name}, which the data lacks"));
        let got: BTreeSet<(String, String)> = section
            .lines()
            .filter_map(|l| l.trim().split_once(" | "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let want: BTreeSet<(String, String)> = map.entries.iter().cloned().collect();
        assert_eq!(got, want, "{mount} ({map_name})");
    }
}

/// The name of a reason as the update's summary counts it, and the count.
fn summary_drops(line: &str) -> BTreeMap<String, usize> {
    let drops = line
        .split("dropped: ")
        .nth(1)
        .and_then(|d| d.split(", referrals").next())
        .unwrap_or_else(|| panic!("no drops in {line}"));
    drops
        .split(", ")
        .filter_map(|d| {
            let (n, reason) = d.split_once(' ')?;
            Some((reason.to_owned(), n.parse().ok()?))
        })
        .collect()
}

/// Entries of every classic kind that break their map's rules are dropped,
/// each named in a warning with its reason and counted in the update's
/// summary; the update goes on, and every other entry is served.
#[test]
fn bad_entries_are_dropped_with_their_reasons() {
    let o = ours();
    let log = o.w.log();
    let summary = log
        .lines()
        .find(|l| l.starts_with("update 1: "))
        .unwrap_or_else(|| panic!("no update summary:\n{log}"));
    // Warnings are logged one by one up to 20 per update: the data has
    // no more bad entries than that.
    assert!(o.bad.len() <= 20);
    for b in &o.bad {
        let want = format!(" entry \"{}\": {} (", b.dn, b.reason);
        assert!(
            log.lines()
                .any(|l| l.starts_with("dropped ") && l.contains(&want)),
            "no warning {want:?}:\n{log}"
        );
    }
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for b in &o.bad {
        *want.entry(b.reason.to_owned()).or_default() += 1;
    }
    assert_eq!(summary_drops(summary), want, "{summary}");
    // Every good entry is kept: the summary counts them per kind.
    let d = &o.data;
    let automount: usize = d.automount.iter().map(|m| m.entries.len()).sum();
    for (n, kind) in [
        (d.netgroups.len(), "netgroup"),
        (d.hosts.len(), "hosts"),
        (d.services.len(), "services"),
        (d.protocols.len(), "protocols"),
        (d.rpcs.len(), "rpc"),
        (d.networks.len(), "networks"),
        (d.ethers.len(), "ethers"),
        (d.publickeys.len(), "publickey"),
        (d.aliases.len(), "aliases"),
        (automount, "automount"),
        (d.printers.len(), "map"),
    ] {
        assert!(
            summary.contains(&format!(", {n} {kind},")),
            "{n} {kind}: {summary}"
        );
    }
    // And served, none of the bad ones (all named bad-… or "bad …").
    for map in MAPS.into_iter().chain(["printers"]) {
        let m = cat(&o.w, map);
        assert!(!m.is_empty(), "{map} is empty");
        let bad: Vec<_> = m
            .iter()
            .filter(|(k, v)| k.contains("bad") || v.contains("bad"))
            .collect();
        assert!(bad.is_empty(), "{map} serves {bad:?}");
    }
}

/// A site map (`map "printers" { … value "${cn}:${labeledURI}" }`) is
/// served like the standard maps, and MAPLIST (`ypwhich -m`) lists every
/// map served, each with this server as its master.
#[test]
fn site_map_and_maplist() {
    let o = ours();
    let want: BTreeMap<String, String> = o
        .data
        .printers
        .iter()
        .map(|p| (p.name.clone(), format!("{}:{}", p.name, p.uri)))
        .collect();
    assert_eq!(cat(&o.w, "printers"), want);
    let lp2 = &o.data.printers[1];
    assert_eq!(
        o.w.ypmatch(&lp2.name, "printers")
            .unwrap_or_else(|e| panic!("{e}"))
            .trim_end(),
        want[&lp2.name]
    );
    let host = nis::ok(&o.w.ns, &["hostname"]);
    let listed = nis::ok(&o.w.ns, &["ypwhich", "-d", DOMAIN, "-m"]);
    let got: BTreeMap<&str, &str> = listed.lines().filter_map(|l| l.split_once(' ')).collect();
    let want: BTreeMap<&str, &str> = MAPS
        .into_iter()
        .chain(["printers"])
        .map(|m| (m, host.trim()))
        .collect();
    assert_eq!(got, want, "ypwhich -m");
}
