//! The schema, codec and link: every message round-trips, every kind of bad
//! datagram gives its typed error, fds travel and unexpected ones are refused.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd};

use ipc_proto::codec::{self, DecodeError, EncodeError, MAX_MESSAGE_BYTES};
use ipc_proto::entry_rules::{DropReason, Group, Origin, Text, User};
use ipc_proto::*;
use nix::sys::socket::{MsgFlags, send};

fn directory() -> Directory {
    let m = |n: &str| Mapping::Attribute { name: n.into() };
    Directory {
        host: "ldap.example.org".into(),
        port: 636,
        tls: TlsMode::Ldaps,
        bind: Bind::Simple {
            dn: "cn=reader,dc=example,dc=org".into(),
            credential: "s3cret".into(),
        },
        basedn: "dc=example,dc=org".into(),
        groupdn: "ou=groups,dc=example,dc=org".into(),
        passwd_filter: "(objectClass=posixAccount)".into(),
        group_filter: "(objectClass=posixGroup)".into(),
        fields: FieldMappings {
            name: m("uid"),
            passwd: Mapping::Fixed { value: "*".into() },
            uid: m("uidNumber"),
            gid: m("gidNumber"),
            class: Mapping::Fixed { value: "".into() },
            change: Mapping::Fixed { value: "0".into() },
            expire: Mapping::Fixed { value: "0".into() },
            gecos: m("cn"),
            home: m("homeDirectory"),
            shell: m("loginShell"),
            groupname: m("cn"),
            grouppasswd: Mapping::Fixed { value: "*".into() },
            groupgid: m("gidNumber"),
            groupmembers: Mapping::List {
                name: "memberUid".into(),
            },
            groupmembers_also: Vec::new(),
            shadow: ShadowMappings {
                lastchange: Some(m("shadowLastChange")),
                max: Some(m("shadowMax")),
                ..Default::default()
            },
        },
        records: vec![RecordSearch {
            id: 0,
            kind: entry_rules::records::RecordKind::Hosts,
            base: "ou=hosts,dc=example,dc=org".into(),
            filter: "(objectClass=ipHost)".into(),
            attributes: vec!["cn".into(), "ipHostNumber".into()],
        }],
        sync: SyncSetting::Off,
    }
}

fn origin(dn: String) -> Origin<'static> {
    Origin {
        dn: dn.into(),
        uuid: None,
    }
}

fn user(i: u32) -> User<'static> {
    User {
        origin: origin(format!("uid=user{i},ou=People,dc=example,dc=org")),
        name: format!("user{i}").into(),
        passwd: "*".into(),
        uid: 1000 + i,
        gid: 100,
        class: "".into(),
        change: "0".into(),
        expire: "0".into(),
        gecos: "Ünïcode \"User\"".into(),
        home: format!("/home/user{i}").into(),
        shell: "/bin/sh".into(),
        shadow: Default::default(),
        disabled: false,
    }
}

fn round_trip<M>(msgs: Vec<M>)
where
    M: Message + PartialEq + std::fmt::Debug + for<'a> serde::Deserialize<'a>,
{
    for m in msgs {
        let fds = m.fd_count();
        let bytes = codec::encode(&m, fds).expect("encode");
        let back: M = codec::decode(&bytes, fds).expect("decode");
        assert_eq!(back, m);
    }
}

/// `ClientToParent` borrows from its datagram, so it round-trips by hand.
fn round_trip_borrowed(msgs: Vec<ClientToParent<'_>>) {
    for m in msgs {
        let bytes = codec::encode(&m, 0).expect("encode");
        let back: ClientToParent<'_> = codec::decode(&bytes, 0).expect("decode");
        assert_eq!(back, m);
    }
}

#[test]
fn every_message_round_trips() {
    round_trip(vec![
        ParentToDns::Configure {
            directories: vec![Endpoint {
                host: "h".into(),
                port: 389,
            }],
        },
        ParentToDns::Connect {
            request: 7,
            directory: 0,
        },
    ]);
    round_trip(vec![
        DnsToParent::Log {
            level: Level::Warning,
            text: "x".into(),
        },
        DnsToParent::Connected(Connection {
            request: 1,
            directory: 2,
            address: "127.0.0.1:389".into(),
        }),
        DnsToParent::ConnectFailed(ConnectFailure {
            request: 1,
            directory: 2,
            error: "refused".into(),
        }),
    ]);
    round_trip(vec![
        ParentToClient::ConfigBegin { directories: 1 },
        ParentToClient::Directory {
            index: 0,
            settings: Box::new(directory()),
        },
        ParentToClient::Pem {
            index: 0,
            kind: PemKind::Ca,
            data: "-----BEGIN CERTIFICATE-----\n".into(),
        },
        ParentToClient::ConfigEnd,
        ParentToClient::Update {
            update: 3,
            resumable: vec![1],
        },
        ParentToClient::Connected(Connection {
            request: 1,
            directory: 0,
            address: "[::1]:636".into(),
        }),
        ParentToClient::ConnectFailed(ConnectFailure {
            request: 1,
            directory: 0,
            error: "e".into(),
        }),
    ]);
    round_trip_borrowed(vec![
        ClientToParent::Log {
            level: Level::Debug,
            text: "y".into(),
        },
        ClientToParent::Connect {
            request: 9,
            directory: 1,
        },
        ClientToParent::Users {
            update: 1,
            entries: (0..10).map(user).collect(),
        },
        ClientToParent::Groups {
            update: 1,
            entries: vec![Group {
                origin: origin("cn=staff,ou=Groups,dc=example,dc=org".into()),
                name: "staff".into(),
                passwd: "*".into(),
                gid: 20,
                members: vec!["user1".into(), "user2".into()],
                member_dns: Vec::new(),
            }],
        },
        ClientToParent::Dropped {
            update: 1,
            entries: vec![DroppedEntry {
                dn: "uid=x,dc=example,dc=org".into(),
                reason: DropReason::InvalidUid,
                detail: "uid \"x\" is not a number".into(),
            }],
        },
        ClientToParent::UpdateDone {
            update: 1,
            dropped: BTreeMap::from([
                (DropReason::MissingAttribute, 2),
                (DropReason::LineTooLong, 1),
            ]),
            referrals: 0,
        },
        ClientToParent::UpdateFailed {
            update: 1,
            reason: "bind failed".into(),
        },
    ]);
}

#[test]
fn typed_decode_errors() {
    let d = |b: &[u8], fds| codec::decode::<ParentToDns>(b, fds);
    assert_eq!(
        d(br#"{"type":"Connect","body":{"request":1"#, 0),
        Err(DecodeError::Truncated)
    );
    assert!(matches!(
        d(b"not json", 0),
        Err(DecodeError::InvalidJson(_))
    ));
    assert_eq!(
        d(br#"{"type":"Explode"}"#, 0),
        Err(DecodeError::UnknownType("Explode".into()))
    );
    assert_eq!(
        d(
            br#"{"type":"Connect","body":{"request":1,"directory":0,"evil":1}}"#,
            0
        ),
        Err(DecodeError::UnknownField("evil".into()))
    );
    assert_eq!(
        d(
            br#"{"type":"Connect","body":{"request":1,"directory":0},"evil":1}"#,
            0
        ),
        Err(DecodeError::UnknownField("evil".into()))
    );
    // The handshake is not a message: a second Hello is an unknown type.
    assert_eq!(
        d(&codec::encode_hello(), 0),
        Err(DecodeError::UnknownType("Hello".into()))
    );
    assert_eq!(
        d(
            br#"{"type":"Connect","body":{"request":1,"directory":0}}"#,
            1
        ),
        Err(DecodeError::UnexpectedFds {
            expected: 0,
            received: 1
        })
    );
    let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
    assert_eq!(
        d(&big, 0),
        Err(DecodeError::Oversize {
            len: MAX_MESSAGE_BYTES + 1
        })
    );
    // Unknown fields inside nested settings are refused too.
    let mut v = serde_json::to_value(ParentToClient::Directory {
        index: 0,
        settings: Box::new(directory()),
    })
    .expect("json");
    v["body"]["settings"]["fields"]["surprise"] = serde_json::json!(1);
    let bytes = serde_json::to_vec(&v).expect("json");
    assert_eq!(
        codec::decode::<ParentToClient>(&bytes, 0),
        Err(DecodeError::UnknownField("surprise".into()))
    );
}

#[test]
fn handshake_checks_version_and_order() {
    assert_eq!(codec::decode_hello(&codec::encode_hello(), 0), Ok(()));
    assert_eq!(
        codec::decode_hello(
            br#"{"type":"Connect","body":{"request":1,"directory":0}}"#,
            0
        ),
        Err(DecodeError::OutOfOrder)
    );
    let e = codec::decode_hello(br#"{"type":"Hello","body":{"version":99}}"#, 0).unwrap_err();
    assert_eq!(
        e,
        DecodeError::VersionMismatch {
            ours: 2,
            theirs: 99
        }
    );
    assert_eq!(
        e.to_string(),
        "protocol version mismatch: this program speaks version 2, its peer version 99"
    );
    // A version-1 peer (internally tagged Hello) is named as such.
    assert_eq!(
        codec::decode_hello(br#"{"type":"Hello","version":1}"#, 0),
        Err(DecodeError::VersionMismatch { ours: 2, theirs: 1 })
    );
    assert!(matches!(
        codec::decode_hello(b"garbage", 0),
        Err(DecodeError::InvalidJson(_))
    ));
    assert_eq!(
        codec::decode_hello(&codec::encode_hello(), 1),
        Err(DecodeError::UnexpectedFds {
            expected: 0,
            received: 1
        })
    );
}

#[test]
fn channel_consumes_the_handshake_once() {
    let (a, b) = Link::pair().expect("pair");
    let mut parent = Channel::<DnsToParent, ParentToDns>::open(a).expect("open");
    let mut helper = Channel::<ParentToDns, DnsToParent>::open(b).expect("open");
    assert!(matches!(helper.recv(), Ok(None)), "the Hello is consumed");
    assert!(helper.greeted());
    parent
        .send(
            &ParentToDns::Connect {
                request: 1,
                directory: 0,
            },
            &[],
        )
        .expect("send");
    let r = helper.recv().expect("recv").expect("a message");
    assert_eq!(
        r.message,
        ParentToDns::Connect {
            request: 1,
            directory: 0
        }
    );
    assert!(matches!(parent.recv(), Ok(None)));
    // A second Hello breaks the protocol.
    helper
        .link()
        .send_encoded(&codec::encode_hello(), &[])
        .expect("send");
    assert!(matches!(
        parent.recv(),
        Err(LinkError::Decode(DecodeError::UnknownType(_)))
    ));
}

#[test]
fn entries_borrow_from_the_datagram() {
    let m = ClientToParent::Users {
        update: 4,
        entries: (0..3).map(user).collect(),
    };
    let bytes = codec::encode(&m, 0).expect("encode");
    let back: ClientToParent<'_> = codec::decode(&bytes, 0).expect("decode");
    let ClientToParent::Users { entries, .. } = back else {
        panic!("not Users")
    };
    assert!(matches!(
        entries[1].name,
        Text(std::borrow::Cow::Borrowed("user1"))
    ));
    // Escaped text (the quotes in gecos) is decoded into its own string.
    assert_eq!(&*entries[1].gecos, "Ünïcode \"User\"");
}

#[test]
fn batches_fill_up_to_their_target_and_decode() {
    for target in [300, 1000, 8 * 1024, MAX_MESSAGE_BYTES] {
        let mut w = BatchWriter::new(
            &ClientToParent::Users {
                update: 9,
                entries: vec![],
            },
            target,
        );
        let mut datagrams = Vec::new();
        let all: Vec<User<'static>> = (0..500).map(user).collect();
        for u in &all {
            if let Some(d) = w.push(u).expect("fits") {
                datagrams.push(d);
            }
        }
        datagrams.extend(w.take());
        assert!(w.is_empty());
        let mut got = Vec::new();
        for d in &datagrams {
            assert!(d.len() <= target.max(400), "{} > {target}", d.len());
            match codec::decode::<ClientToParent<'_>>(d, 0).expect("decode") {
                ClientToParent::Users { update: 9, entries } => {
                    assert!(!entries.is_empty());
                    got.extend(entries.into_iter().map(|u| User {
                        origin: origin(u.origin.dn.to_string()),
                        ..user(u.uid - 1000)
                    }));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, all);
        if target >= 8 * 1024 {
            // Full batches: no two consecutive ones would have fit in one.
            assert!(
                datagrams.len() < 500 * 250 / target + 2,
                "{}",
                datagrams.len()
            );
        }
    }
}

#[test]
fn batch_refuses_an_entry_larger_than_a_message() {
    let mut w = BatchWriter::new(
        &ClientToParent::Users {
            update: 1,
            entries: vec![],
        },
        8 * 1024,
    );
    assert!(w.push(&user(1)).expect("fits").is_none());
    let mut huge = user(2);
    huge.origin.dn = "x".repeat(MAX_MESSAGE_BYTES).into();
    assert!(matches!(w.push(&huge), Err(EncodeError::Oversize { .. })));
    // The batch holds what it held before.
    let d = w.take().expect("one entry");
    match codec::decode::<ClientToParent<'_>>(&d, 0).expect("decode") {
        ClientToParent::Users { entries, .. } => assert_eq!(entries, vec![user(1)]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn encode_refuses_oversize_and_wrong_fd_counts() {
    let huge = ClientToParent::Users {
        update: 1,
        entries: (0..2000).map(user).collect(),
    };
    assert!(matches!(
        codec::encode(&huge, 0),
        Err(EncodeError::Oversize { .. })
    ));
    let c = DnsToParent::Connected(Connection {
        request: 1,
        directory: 0,
        address: "a".into(),
    });
    assert_eq!(
        codec::encode(&c, 0),
        Err(EncodeError::FdCount {
            expected: 1,
            attached: 0
        })
    );
}

#[test]
fn fds_travel_with_their_message() {
    let (a, b) = Link::pair().expect("pair");
    let mut f = tempfile::tempfile().expect("tmp");
    f.write_all(b"passed along").expect("write");
    let msg = DnsToParent::Connected(Connection {
        request: 5,
        directory: 1,
        address: "x".into(),
    });
    a.send(&msg, &[f.as_fd()]).expect("send");
    let r = b.recv::<DnsToParent>().expect("recv");
    assert_eq!(r.message, msg);
    assert_eq!(r.fds.len(), 1);
    assert_ne!(r.fds[0].as_raw_fd(), f.as_raw_fd());
    let mut got = std::fs::File::from(r.fds.into_iter().next().expect("fd"));
    got.rewind().expect("seek");
    let mut s = String::new();
    got.read_to_string(&mut s).expect("read");
    assert_eq!(s, "passed along");
}

#[test]
fn unexpected_fd_is_refused_and_closed() {
    let (a, b) = Link::pair().expect("pair");
    let f = tempfile::tempfile().expect("tmp");
    let bytes = codec::encode(
        &ParentToDns::Configure {
            directories: vec![],
        },
        0,
    )
    .expect("encode");
    a.send_encoded(&bytes, &[f.as_fd()]).expect("send");
    let before = open_fds();
    match b.recv::<ParentToDns>() {
        Err(LinkError::Decode(DecodeError::UnexpectedFds {
            expected: 0,
            received: 1,
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(open_fds(), before, "the unexpected fd must be closed");
}

#[test]
fn truncated_oversize_and_closed_links() {
    let (a, b) = Link::pair().expect("pair");
    let big = vec![b'{'; MAX_MESSAGE_BYTES + 100];
    send(a.as_raw_fd(), &big, MsgFlags::empty()).expect("send");
    assert!(matches!(
        b.recv::<ParentToDns>(),
        Err(LinkError::Decode(DecodeError::Oversize { .. }))
    ));
    send(a.as_raw_fd(), br#"{"type":"Conn"#, MsgFlags::empty()).expect("send");
    assert!(matches!(
        b.recv::<ParentToDns>(),
        Err(LinkError::Decode(DecodeError::Truncated))
    ));
    b.set_nonblocking(true).expect("nonblocking");
    assert!(matches!(
        b.recv::<ParentToDns>(),
        Err(LinkError::WouldBlock)
    ));
    drop(a);
    assert!(matches!(b.recv::<ParentToDns>(), Err(LinkError::Closed)));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(std::iter::Iterator::count)
        .unwrap_or(0)
}

#[test]
fn spawned_helper_holds_only_stdio_and_its_link() {
    let null = std::fs::File::open("/dev/null").expect("null");
    // Descriptors without close-on-exec that must not reach the child.
    let leaked: Vec<std::fs::File> = (0..3).map(|_| tempfile::tempfile().expect("tmp")).collect();
    for f in &leaked {
        nix::fcntl::fcntl(
            f,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .expect("clear cloexec");
    }
    let argv = [std::ffi::OsStr::new("sleep"), std::ffi::OsStr::new("30")];
    let spawned = ipc_proto::spawn::spawn_helper(
        std::path::Path::new("/bin/sleep"),
        &argv,
        ipc_proto::spawn::Stdio {
            null: null.as_fd(),
            keep_stderr: false,
        },
    )
    .expect("spawn");
    let pid = spawned.pid.as_raw();
    // Wait until the exec happened.
    let mut fds = BTreeMap::new();
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
            fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .expect("fd dir")
                .flatten()
                .filter_map(|e| {
                    let n: u32 = e.file_name().to_str()?.parse().ok()?;
                    let t = std::fs::read_link(e.path()).ok()?;
                    Some((n, t.display().to_string()))
                })
                .collect();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = nix::sys::signal::kill(spawned.pid, nix::sys::signal::Signal::SIGKILL);
    nix::sys::wait::waitpid(spawned.pid, None).expect("wait");
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2, 3],
        "{fds:?}"
    );
    assert_eq!(fds[&0], "/dev/null");
    assert_eq!(fds[&1], "/dev/null");
    assert_eq!(fds[&2], "/dev/null");
    assert!(fds[&3].starts_with("socket:"), "{fds:?}");
    drop(leaked);
}
