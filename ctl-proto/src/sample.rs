//! A status with every field set, for tests of what reads it (the
//! renderers in ypldapctl, round trips here).

use std::collections::BTreeMap;

use entry_rules::records::RecordKind;
use entry_rules::{DropReason, LockReason};

use crate::*;

/// A finished, successful update with drops of two reasons.
pub fn update_record() -> UpdateRecord {
    UpdateRecord {
        number: 3,
        mode: UpdateMode::FullRead,
        started: 1_800_000_000,
        finished: 1_800_000_002,
        duration_ms: 1_530,
        failure: None,
        counts: Some(UpdateCounts {
            directories: 1,
            users: 40,
            groups: 12,
            records: BTreeMap::from([(RecordKind::Hosts, 5)]),
            duplicate_keys: 1,
            dropped: BTreeMap::from([
                (DropReason::InvalidUid, 2),
                (DropReason::MissingAttribute, 1),
            ]),
            dropped_total: 3,
            member_dns: MemberDns {
                resolved: 7,
                nested: 1,
                unresolved: 2,
                cut: 0,
            },
            referrals: 0,
            locked_passwords: BTreeMap::from([(LockReason::NotAHash, 1)]),
        }),
    }
}

/// `show summary` of a server registered with rpcbind.
pub fn summary() -> Summary {
    Summary {
        version: "0.1.0".into(),
        pid: 4242,
        domain: "example.com".into(),
        now: 1_800_000_100,
        started: 1_799_999_000,
        maps: vec!["passwd.byname".into(), "master.passwd.byname".into()],
        maps_loaded: Some(1_800_000_002),
        announcement: Announcement {
            bind: BindMode::Portmap,
            announced: true,
            detail: "registered with rpcbind version 4".into(),
        },
        update_mode: UpdateMode::FullRead,
        directories_kept_current: 0,
        directories: 1,
        changes_received: 0,
        interval_seconds: 600,
        last_update: Some(update_record()),
        last_success: Some(update_record()),
        running_update: None,
        next_update: Some(1_800_000_602),
        failures_in_a_row: 0,
        updates: UpdateTotals {
            succeeded: 3,
            failed: 1,
        },
        helpers: vec![
            HelperStatus {
                name: "ypldap-client".into(),
                state: HelperState::Running,
                pid: Some(4243),
                since: Some(1_799_999_000),
                restarts: 0,
                next_start: None,
            },
            HelperStatus {
                name: "ypldap-dns".into(),
                state: HelperState::Restarting,
                pid: None,
                since: None,
                restarts: 2,
                next_start: Some(1_800_000_104),
            },
        ],
        log_verbose: false,
    }
}

pub fn maps() -> MapsView {
    MapsView {
        maps: vec![
            MapStatus {
                name: "passwd.byname".into(),
                privileged: false,
                entries: 40,
                bytes: 2_400,
                order: Some(1_800_000_002),
                last_change: Some(1_800_000_002),
            },
            MapStatus {
                name: "master.passwd.byname".into(),
                privileged: true,
                entries: 40,
                bytes: 3_100,
                order: Some(1_800_000_002),
                last_change: Some(1_800_000_002),
            },
        ],
    }
}

pub fn directories() -> DirectoriesView {
    DirectoriesView {
        directories: vec![DirectoryStatus {
            index: 0,
            host: "ldap.example.com".into(),
            port: 389,
            tls: Tls::StartTls,
            update_mode: UpdateMode::FullRead,
            address: Some("192.0.2.1:389".into()),
            connected: Some(1_800_000_000),
            connections: 3,
            connect_failures: 1,
            last_error: None,
            last_change_received: Some(1_800_000_050),
        }],
    }
}

pub fn clients() -> ClientsView {
    ClientsView {
        connections: vec![ConnectionStatus {
            peer: "127.0.0.1:812".into(),
            age_seconds: 3,
            idle_seconds: 1,
            streaming_all: true,
        }],
        connections_max: 256,
        connections_per_host_max: 32,
        connections_accepted: 9,
        requests: Procedure::ALL
            .iter()
            .map(|&p| ProcedureCount {
                procedure: p,
                udp: p.index() as u64 * 10,
                tcp: p.index() as u64,
                last_window: p.index() as u64 * 6,
            })
            .collect(),
        rate_window_seconds: RATE_WINDOW_SECONDS,
        refused: Refusal::ALL.iter().map(|&r| (r, 1)).collect(),
        closed: Closure::ALL.iter().map(|&c| (c, 2)).collect(),
    }
}

pub fn drops() -> DropsView {
    DropsView {
        update: Some(3),
        finished: Some(1_800_000_002),
        total: 5,
        by_reason: BTreeMap::from([
            (DropReason::InvalidUid, 2),
            (DropReason::MissingAttribute, 3),
        ]),
        entries: vec![
            DropEntry {
                dn: "uid=bad,ou=People,dc=example,dc=com".into(),
                kind: Some(EntryKind::User),
                reason: DropReason::InvalidUid,
                detail: "uidNumber is not a number".into(),
                found_by: DropOrigin::Reader,
            },
            DropEntry {
                dn: "cn=gw,ou=Hosts,dc=example,dc=com".into(),
                kind: Some(EntryKind::Record(RecordKind::Hosts)),
                reason: DropReason::MissingAttribute,
                detail: "no ipHostNumber".into(),
                found_by: DropOrigin::Server,
            },
            DropEntry {
                dn: "cn=odd\u{1b}[31m,dc=example,dc=com".into(),
                kind: None,
                reason: DropReason::MissingAttribute,
                detail: String::new(),
                found_by: DropOrigin::Server,
            },
        ],
    }
}

/// `show metrics`.
pub fn status() -> Status {
    Status {
        summary: summary(),
        maps: maps(),
        directories: directories(),
        clients: clients(),
    }
}
