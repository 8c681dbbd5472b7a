//! The classic maps' statements: defaults, settings, site maps, errors,
//! the plan the builder gets, and the normalised text reading back.

use entry_rules::records::RecordKind;
use yp_proto::maps::MapName;

use super::super::tests::{BODY, errors, parse};

fn config(globals: &str, directory: &str) -> String {
    format!(
        "domain d\n{globals}\ndirectory \"ldap.example.com\" {{\n\tbasedn \"dc=example,dc=com\"\n{BODY}{directory}}}\n"
    )
}

#[test]
fn a_provided_map_searches_its_kind_with_the_defaults() {
    let c = parse(&config(
        "provide map \"hosts.byname\"\nprovide map \"passwd.byname\"\n",
        "",
    ));
    let r = &c.directories[0].settings.records;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id, 0);
    assert_eq!(r[0].kind, RecordKind::Hosts);
    assert_eq!(r[0].base, "dc=example,dc=com");
    assert_eq!(r[0].filter, "(objectClass=ipHost)");
    assert_eq!(r[0].attributes, ["cn", "ipHostNumber"]);
    let plan = c.record_plan();
    assert_eq!(plan.searches.len(), 1);
    // hosts.byaddr is not provided: its slot stays empty.
    assert_eq!(
        plan.searches[0].slots,
        [Some("hosts.byname".parse::<MapName>().unwrap()), None]
    );
    // Without a classic map, no search.
    let c = parse(&config("", ""));
    assert!(c.directories[0].settings.records.is_empty());
    assert!(c.record_plan().searches.is_empty());
}

#[test]
fn a_directory_block_changes_base_filter_and_attributes() {
    let c = parse(&config(
        "provide map \"netgroup\"\nprovide map \"netgroup.byuser\"\n",
        "\tnetgroup basedn \"ou=netgroup,dc=example,dc=com\"\n\
         \tnetgroup filter \"(&(objectClass=nisNetgroup)(!(cn=old-*)))\"\n\
         \tnetgroup attribute name maps to \"ngName\"\n\
         \tnetgroup attribute triple maps to \"nisNetgroupTriple\"\n",
    ));
    let r = &c.directories[0].settings.records[0];
    assert_eq!(r.base, "ou=netgroup,dc=example,dc=com");
    assert_eq!(r.filter, "(&(objectClass=nisNetgroup)(!(cn=old-*)))");
    assert_eq!(
        r.attributes,
        ["ngName", "nisNetgroupTriple", "memberNisNetgroup"]
    );
    // The normalised text spells every default out and reads back.
    let text = c.to_config_text(false);
    assert!(
        text.contains("\tnetgroup attribute member maps to \"memberNisNetgroup\"\n"),
        "{text}"
    );
    assert_eq!(parse(&text), c);
}

#[test]
fn automount_maps_share_one_search() {
    let c = parse(&config(
        "provide map \"auto.master\"\nprovide map \"auto.home\"\nprovide map \"hosts.byaddr\"\n",
        "",
    ));
    let r = &c.directories[0].settings.records;
    let kinds: Vec<RecordKind> = r.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [RecordKind::Hosts, RecordKind::Automount]);
    let plan = c.record_plan();
    let auto = &plan.searches[1];
    let names: Vec<&str> = auto.slots.iter().flatten().map(|m| m.as_str()).collect();
    assert_eq!(names, ["auto.home", "auto.master"]);
}

#[test]
fn a_map_block_defines_and_serves_a_site_map() {
    let c = parse(&config(
        "map \"printers\" {\n\tfilter \"(objectClass=printerService)\"\n\tkey \"cn\"\n\tvalue \"${cn}:${labeledURI}\"\n}\n",
        "",
    ));
    let printers = "printers".parse::<MapName>().unwrap();
    let served = c.served_maps();
    assert_eq!(served.len(), 9);
    assert!(served.contains(&printers));
    let r = &c.directories[0].settings.records;
    assert_eq!(r[0].kind, RecordKind::Site);
    assert_eq!(r[0].base, "dc=example,dc=com");
    assert_eq!(r[0].attributes, ["cn", "cn", "labeledURI"]);
    let plan = c.record_plan();
    assert_eq!(plan.searches[0].slots, [Some(printers)]);
    assert!(plan.searches[0].site.is_some());
    let text = c.to_config_text(false);
    assert!(text.contains("map \"printers\" {\n"), "{text}");
    assert_eq!(parse(&text), c);
}

#[test]
fn two_directories_number_their_searches_apart() {
    let text = format!(
        "domain d\nprovide map \"rpc.byname\"\nprovide map \"services.byname\"\n\
         directory a {{\n\tbasedn \"dc=a\"\n{BODY}}}\ndirectory b {{\n\tbasedn \"dc=b\"\n{BODY}}}\n"
    );
    let c = parse(&text);
    let ids: Vec<Vec<u16>> = c
        .directories
        .iter()
        .map(|d| d.settings.records.iter().map(|r| r.id).collect())
        .collect();
    assert_eq!(ids, [vec![0, 1], vec![2, 3]]);
    assert_eq!(c.record_plan().searches.len(), 4);
    assert_eq!(c.directories[1].settings.records[0].base, "dc=b");
}

#[test]
fn bad_classic_map_statements() {
    let e = errors(&config(
        "provide map \"hosts.byname\"\n",
        "\thosts attribute port maps to \"x\"\n",
    ));
    assert!(e.contains("expected a hosts field (name, address)"), "{e}");
    let e = errors(&config("", "\thosts filter \"(objectClass=ipHost\"\n"));
    assert!(e.contains("invalid hosts filter"), "{e}");
    let e = errors(&config(
        "",
        "\tethers attribute address maps to \"a\"\n\tethers attribute address maps to \"b\"\n",
    ));
    assert!(e.contains("ethers field address is mapped twice"), "{e}");
    let e = errors(&config("", "\thosts search \"x\"\n"));
    assert!(
        e.contains("expected \"basedn\", \"filter\" or \"attribute\" after \"hosts\""),
        "{e}"
    );
    let e = errors(&config("provide map \"printers\"\n", ""));
    assert!(
        e.contains(":2: unsupported map type: printers (no map block defines it)"),
        "{e}"
    );
    let e = errors(&config("map \"printers\" {\n\tkey \"cn\"\n}\n", ""));
    assert!(e.contains("map \"printers\": no filter, no value"), "{e}");
    let e = errors(&config(
        "map \"p\" {\n\tfilter \"(cn=*)\"\n\tkey \"cn\"\n\tvalue \"${cn\"\n}\n",
        "",
    ));
    assert!(
        e.contains(":5: map \"p\": value \"${cn\": \"${\" without its \"}\""),
        "{e}"
    );
    let e = errors(&config(
        "map \"hosts.byname\" {\n\tfilter \"(cn=*)\"\n\tkey \"cn\"\n\tvalue \"cn\"\n}\n",
        "",
    ));
    assert!(e.contains("is a standard map"), "{e}");
    let twice = "map \"p\" {\n\tfilter \"(cn=*)\"\n\tkey \"cn\"\n\tvalue \"cn\"\n}\n";
    let e = errors(&config(&format!("{twice}{twice}"), ""));
    assert!(e.contains("map \"p\" is defined twice"), "{e}");
    let e = errors(&config(
        "map \"a b\" {\n\tfilter \"(cn=*)\"\n\tkey \"cn\"\n\tvalue \"cn\"\n}\n",
        "",
    ));
    assert!(e.contains("cannot name a map"), "{e}");
}
