//! ypldap-client's entry builder and ypldapd's map builder on arbitrary
//! attribute values and mappings: whatever a directory holds, an entry the
//! client keeps is kept by ypldapd too, and its lines are well formed.
#![no_main]

use entry_rules::MAX_LINE;
use ipc_proto::{FieldMappings, Mapping};
use libfuzzer_sys::fuzz_target;
use yp_proto::{MapName, Snapshot};
use ypldap_client::entry::{self, Attributes};

const NAMES: [&str; 6] = ["uid", "uidNumber", "gidNumber", "cn", "home", "memberUid"];

fn mapping(sel: u8, fixed: &str) -> Mapping {
    let name = NAMES[usize::from(sel) % NAMES.len()].to_owned();
    match sel % 3 {
        0 => Mapping::Attribute { name },
        1 => Mapping::List { name },
        _ => Mapping::Fixed {
            value: fixed.to_owned(),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 14 {
        return;
    }
    let (sel, rest) = data.split_at(14);
    let text = String::from_utf8_lossy(rest);
    // Values are the pieces between 0xff bytes (turned into U+FFFD above).
    let pieces: Vec<String> = text.split('\u{fffd}').map(str::to_owned).collect();
    let mut attrs = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let vals: Vec<String> = pieces.iter().skip(i).step_by(NAMES.len()).cloned().collect();
        attrs.push((name.to_string(), vals));
    }
    let a = Attributes::new(attrs);
    let fixed = pieces.first().cloned().unwrap_or_default();
    let f = FieldMappings {
        name: mapping(sel[0], &fixed),
        passwd: mapping(sel[1], &fixed),
        uid: mapping(sel[2], &fixed),
        gid: mapping(sel[3], &fixed),
        class: mapping(sel[4], &fixed),
        change: mapping(sel[5], &fixed),
        expire: mapping(sel[6], &fixed),
        gecos: mapping(sel[7], &fixed),
        home: mapping(sel[8], &fixed),
        shell: mapping(sel[9], &fixed),
        groupname: mapping(sel[10], &fixed),
        grouppasswd: mapping(sel[11], &fixed),
        groupgid: mapping(sel[12], &fixed),
        groupmembers: mapping(sel[13], &fixed),
        groupmembers_also: Vec::new(),
        shadow: ipc_proto::ShadowMappings {
            lastchange: Some(mapping(sel[0] ^ sel[13], &fixed)),
            expire: Some(mapping(sel[1] ^ sel[13], &fixed)),
            ..Default::default()
        },
    };
    // Whatever the client keeps, ypldapd keeps too (the same rules), and
    // the lines it builds are well formed.
    let users: Vec<_> = entry::user("uid=x,dc=example", &f, &a).into_iter().collect();
    let groups: Vec<_> = entry::group("cn=x,dc=example", &f, &a).into_iter().collect();
    let (snap, report) = Snapshot::build("fuzz", &users, &groups, 1);
    assert_eq!(report.users_kept, users.len(), "{report:?}");
    assert_eq!(report.groups_kept, groups.len(), "{report:?}");
    for (map, fields) in [
        (MapName::PasswdByName, 7),
        (MapName::MasterPasswdByUid, 10),
        (MapName::GroupByName, 4),
        (MapName::ShadowByName, 9),
    ] {
        for (_, line) in snap.iter(map) {
            let line = std::str::from_utf8(line).expect("lines are text");
            assert_eq!(line.split(':').count(), fields, "{line:?}");
            assert!(line.len() <= MAX_LINE);
            assert!(!line.contains('\n') && !line.contains('\0'));
        }
    }
    for g in &groups {
        assert!(g.members.iter().all(|m| !m.contains(',') && !m.is_empty()));
    }
});
