use super::*;
use crate::client;
use crate::rpc::{ReplyStatus, encode_call, parse_reply};
use crate::snapshot::tests::{group, user};
use proptest::prelude::*;

const DOM: &[u8] = b"example";

fn cfg() -> ServerConfig {
    ServerConfig::new("example", &MapName::ALL, "yphost")
}

fn snap() -> Arc<Snapshot> {
    let users = [
        user("alice", 1000, 1000),
        user("bob", 1001, 100),
        user("carol", 5, 5),
    ];
    let groups = [
        group("staff", 20, &["alice", "bob"]),
        group("users", 100, &[]),
    ];
    Arc::new(Snapshot::build("example", &users, &groups, 1234).0)
}

const PRIV: Caller = Caller {
    allowed: true,
    privileged: true,
    tcp: false,
};
const UNPRIV: Caller = Caller {
    allowed: true,
    privileged: false,
    tcp: false,
};
const TCP: Caller = Caller {
    allowed: true,
    privileged: true,
    tcp: true,
};
const REFUSED: Caller = Caller {
    allowed: false,
    privileged: true,
    tcp: true,
};

fn call(proc_: u32, args: &[u8], caller: Caller, s: Option<&Arc<Snapshot>>) -> Outcome {
    handle_message(
        &encode_call(77, proto::YPPROG, 2, proc_, args),
        &cfg(),
        s,
        caller,
    )
}

fn body(o: &Outcome) -> Vec<u8> {
    client::success_body(o.reply().expect("a reply"), 77)
        .expect("success")
        .to_vec()
}

fn matching(map: &str, key: &[u8], caller: Caller) -> (YpStat, Vec<u8>) {
    let s = snap();
    let o = call(
        proto::YPPROC_MATCH,
        &proto::encode_key(DOM, map.as_bytes(), key),
        caller,
        Some(&s),
    );
    client::resp_val(&body(&o)).unwrap()
}

fn accept_stat(o: &Outcome) -> ReplyStatus<'_> {
    parse_reply(o.reply().unwrap()).unwrap().1
}

#[test]
fn rpc_errors() {
    let s = snap();
    let o = handle_message(&encode_call(77, 100003, 2, 0, &[]), &cfg(), Some(&s), PRIV);
    assert_eq!(accept_stat(&o), ReplyStatus::Accepted(rpc::PROG_UNAVAIL));
    let o = handle_message(
        &encode_call(77, proto::YPPROG, 1, 0, &[]),
        &cfg(),
        Some(&s),
        PRIV,
    );
    assert_eq!(accept_stat(&o), ReplyStatus::Accepted(rpc::PROG_MISMATCH));
    assert_eq!(&o.reply().unwrap()[24..], &[0, 0, 0, 2, 0, 0, 0, 2]);
    for p in [proto::YPPROC_XFR, proto::YPPROC_CLEAR, 12, 99, u32::MAX] {
        let o = call(p, &[], PRIV, Some(&s));
        assert_eq!(
            accept_stat(&o),
            ReplyStatus::Accepted(rpc::PROC_UNAVAIL),
            "proc {p}"
        );
    }
    for p in [1, 2, 3, 4, 5, 8, 9, 10, 11] {
        let o = call(p, &[0, 0, 0, 200], PRIV, Some(&s));
        assert_eq!(
            accept_stat(&o),
            ReplyStatus::Accepted(rpc::GARBAGE_ARGS),
            "proc {p}"
        );
    }
    // a key over YPMAXRECORD is garbage
    let big = vec![b'a'; 1025];
    let o = call(
        3,
        &proto::encode_key(DOM, b"passwd.byname", &big),
        PRIV,
        Some(&s),
    );
    assert_eq!(accept_stat(&o), ReplyStatus::Accepted(rpc::GARBAGE_ARGS));
    let mut m = encode_call(77, proto::YPPROG, 2, 0, &[]);
    m[8..12].copy_from_slice(&3u32.to_be_bytes());
    let o = handle_message(&m, &cfg(), Some(&s), PRIV);
    assert_eq!(accept_stat(&o), ReplyStatus::Denied(rpc::RPC_MISMATCH));
    assert!(matches!(
        handle_message(&[0; 3], &cfg(), Some(&s), PRIV),
        Outcome::NoReply
    ));
}

#[test]
fn null_domain_nonack() {
    let o = call(proto::YPPROC_NULL, &[], PRIV, None);
    assert!(body(&o).is_empty());
    let yes = proto::encode_nokey(DOM, b"")[..12].to_vec();
    let no = proto::encode_nokey(b"other", b"")[..12].to_vec();
    assert_eq!(body(&call(1, &yes, PRIV, None)), [0, 0, 0, 1]);
    assert_eq!(body(&call(1, &no, PRIV, None)), [0, 0, 0, 0]);
    assert_eq!(body(&call(1, &yes, REFUSED, None)), [0, 0, 0, 0]);
    assert_eq!(body(&call(2, &yes, PRIV, None)), [0, 0, 0, 1]);
    assert!(matches!(call(2, &no, PRIV, None), Outcome::NoReply));
    assert!(matches!(call(2, &yes, REFUSED, None), Outcome::NoReply));
    // empty configured domain serves nothing
    let c = ServerConfig::new("", &MapName::ALL, "h");
    let o = handle_message(
        &encode_call(77, proto::YPPROG, 2, 1, &[0, 0, 0, 0]),
        &c,
        None,
        PRIV,
    );
    assert_eq!(body(&o), [0, 0, 0, 0]);
}

#[test]
fn match_values_and_statuses() {
    let (s, v) = matching("passwd.byname", b"alice", UNPRIV);
    assert_eq!(
        (s, v.as_slice()),
        (
            YpStat::True,
            &b"alice:x:1000:1000:User alice:/home/alice:/bin/sh"[..]
        )
    );
    assert_eq!(
        matching("passwd.byname", b"alice\0", UNPRIV).0,
        YpStat::True
    );
    assert_eq!(
        matching("passwd.byname", b"nobody", UNPRIV),
        (YpStat::NoKey, vec![])
    );
    assert_eq!(matching("passwd.byuid", b"1001", UNPRIV).0, YpStat::True);
    assert_eq!(matching("passwd.byuid", b"01001", UNPRIV).0, YpStat::True);
    assert_eq!(matching("passwd.byuid", b"1001\0", UNPRIV).0, YpStat::True);
    assert_eq!(
        matching("passwd.byuid", b"x", UNPRIV),
        (YpStat::BadArgs, vec![])
    );
    assert_eq!(matching("passwd.byuid", b"", UNPRIV).0, YpStat::BadArgs);
    assert_eq!(
        matching("passwd.byuid", b"4294967296", UNPRIV).0,
        YpStat::BadArgs
    );
    assert_eq!(matching("passwd.byuid", b"-1", UNPRIV).0, YpStat::BadArgs);
    assert_eq!(
        matching("passwd.byuid", b"4294967295", UNPRIV).0,
        YpStat::NoKey
    );
    assert_eq!(
        matching("group.bygid", b"20", UNPRIV).1,
        b"staff:*:20:alice,bob"
    );
    assert_eq!(
        matching("group.byname", b"users", UNPRIV).1,
        b"users:*:100:"
    );
    assert_eq!(matching("group.bygid", b"21", UNPRIV).0, YpStat::NoKey);
    assert_eq!(
        matching("netid.byname", b"unix.1000@example", UNPRIV).1,
        b"1000:1000,20"
    );
    assert_eq!(
        matching("netid.byname", b"unix.1000@example\0", UNPRIV).0,
        YpStat::True
    );
    assert_eq!(
        matching("netid.byname", b"unix.1000", UNPRIV).0,
        YpStat::BadArgs
    );
    assert_eq!(
        matching("netid.byname", b"unix.1000@other", UNPRIV).0,
        YpStat::BadArgs
    );
    assert_eq!(
        matching("netid.byname", b"unix.abc@example", UNPRIV).0,
        YpStat::BadArgs
    );
    assert_eq!(
        matching("netid.byname", b"nfs.1000@example", UNPRIV).0,
        YpStat::BadArgs
    );
    assert_eq!(
        matching("netid.byname", b"unix.999@example", UNPRIV).0,
        YpStat::NoKey
    );
    assert_eq!(
        matching("hosts.byname", b"x", UNPRIV),
        (YpStat::NoMap, vec![])
    );
    assert_eq!(
        matching("master.passwd.byname", b"alice", UNPRIV),
        (YpStat::YpErr, vec![])
    );
    assert_eq!(
        matching("master.passwd.byuid", b"1000", UNPRIV).0,
        YpStat::YpErr
    );
    assert_eq!(
        matching("master.passwd.byname", b"alice", PRIV).1,
        b"alice:*:1000:1000::0:0:User alice:/home/alice:/bin/sh"
    );
    // shadow.byname holds hashes too: privileged callers only.
    assert_eq!(
        matching("shadow.byname", b"alice", UNPRIV),
        (YpStat::YpErr, vec![])
    );
    assert_eq!(
        matching("shadow.byname", b"alice", PRIV).1,
        b"alice:*:::::::"
    );
    assert_eq!(
        matching(
            "passwd.byname",
            b"alice",
            Caller {
                allowed: false,
                ..PRIV
            }
        ),
        (YpStat::NoDom, vec![])
    );
    let s = snap();
    let o = call(
        3,
        &proto::encode_key(b"other", b"passwd.byname", b"alice"),
        PRIV,
        Some(&s),
    );
    assert_eq!(
        client::resp_val(&body(&o)).unwrap(),
        (YpStat::NoDom, vec![])
    );
}

#[test]
fn map_not_served_and_no_snapshot() {
    let c = ServerConfig::new("example", &[MapName::PasswdByName], "h");
    let s = snap();
    let m = encode_call(
        77,
        proto::YPPROG,
        2,
        3,
        &proto::encode_key(DOM, b"group.byname", b"staff"),
    );
    let o = handle_message(&m, &c, Some(&s), PRIV);
    assert_eq!(client::resp_val(&body(&o)).unwrap().0, YpStat::NoMap);
    for (p, args) in [
        (3, proto::encode_key(DOM, b"passwd.byname", b"alice")),
        (4, proto::encode_nokey(DOM, b"passwd.byname")),
        (5, proto::encode_key(DOM, b"passwd.byname", b"alice")),
        (8, proto::encode_nokey(DOM, b"passwd.byname")),
        (10, proto::encode_nokey(DOM, b"passwd.byname")),
    ] {
        assert!(
            matches!(call(p, &args, TCP, None), Outcome::NoReply),
            "proc {p}"
        );
    }
    // still a status when the answer does not need the maps
    let o = call(
        3,
        &proto::encode_key(b"x", b"passwd.byname", b"alice"),
        PRIV,
        None,
    );
    assert_eq!(client::resp_val(&body(&o)).unwrap().0, YpStat::NoDom);
}

#[test]
fn first_next() {
    let s = snap();
    let first = |map: &str, c| {
        client::resp_key_val(&body(&call(
            4,
            &proto::encode_nokey(DOM, map.as_bytes()),
            c,
            Some(&s),
        )))
        .unwrap()
    };
    let next = |map: &str, k: &[u8], c| {
        client::resp_key_val(&body(&call(
            5,
            &proto::encode_key(DOM, map.as_bytes(), k),
            c,
            Some(&s),
        )))
        .unwrap()
    };
    let (st, k, v) = first("passwd.byname", UNPRIV);
    assert_eq!((st, k.as_slice()), (YpStat::True, &b"alice"[..]));
    assert!(v.starts_with(b"alice:x:1000"));
    assert_eq!(next("passwd.byname", b"alice", UNPRIV).1, b"bob");
    assert_eq!(next("passwd.byname", b"alice\0", UNPRIV).1, b"bob");
    assert_eq!(next("passwd.byname", b"b", UNPRIV).1, b"bob"); // vanished key
    assert_eq!(
        next("passwd.byname", b"carol", UNPRIV),
        (YpStat::NoMore, vec![], vec![])
    );
    assert_eq!(next("passwd.byname", b"zzz", UNPRIV).0, YpStat::NoMore);
    assert_eq!(first("passwd.byuid", UNPRIV).1, b"1000");
    assert_eq!(next("passwd.byuid", b"1001", UNPRIV).1, b"5");
    assert_eq!(
        first("master.passwd.byname", UNPRIV),
        (YpStat::YpErr, vec![], vec![])
    );
    assert_eq!(first("master.passwd.byname", PRIV).0, YpStat::True);
    assert_eq!(
        first("shadow.byname", UNPRIV),
        (YpStat::YpErr, vec![], vec![])
    );
    assert_eq!(
        next("shadow.byname", b"alice", UNPRIV),
        (YpStat::YpErr, vec![], vec![])
    );
    assert_eq!(first("shadow.byname", PRIV).1, b"alice");
    assert_eq!(next("shadow.byname", b"alice", PRIV).1, b"bob");
    assert_eq!(first("nope", PRIV).0, YpStat::NoMap);
    assert_eq!(
        first("passwd.byname", REFUSED),
        (YpStat::NoDom, vec![], vec![])
    );
    let empty = Arc::new(Snapshot::build("example", &[], &[], 0).0);
    let o = call(
        4,
        &proto::encode_nokey(DOM, b"group.byname"),
        PRIV,
        Some(&empty),
    );
    assert_eq!(client::resp_key_val(&body(&o)).unwrap().0, YpStat::NoMore);
}

#[test]
fn all_streams() {
    let s = snap();
    let o = call(
        8,
        &proto::encode_nokey(DOM, b"passwd.byname"),
        TCP,
        Some(&s),
    );
    let Outcome::Stream(st) = o else {
        panic!("stream expected")
    };
    let bytes = st.collect(64);
    let rec = client::unframe(&bytes).unwrap();
    let (entries, end) = client::resp_all(client::success_body(&rec, 77).unwrap()).unwrap();
    assert_eq!(end, YpStat::NoMore);
    let keys: Vec<_> = entries.iter().map(|e| e.0.clone()).collect();
    assert_eq!(
        keys,
        vec![b"alice".to_vec(), b"bob".to_vec(), b"carol".to_vec()]
    );
    // errors: one element, more=TRUE + status
    for (map, c, want) in [
        ("passwd.byname", UNPRIV, YpStat::YpErr), // over UDP
        (
            "master.passwd.byname",
            Caller {
                privileged: false,
                ..TCP
            },
            YpStat::YpErr,
        ),
        (
            "shadow.byname",
            Caller {
                privileged: false,
                ..TCP
            },
            YpStat::YpErr,
        ),
        ("nope", TCP, YpStat::NoMap),
        ("passwd.byname", REFUSED, YpStat::NoDom),
    ] {
        let o = call(8, &proto::encode_nokey(DOM, map.as_bytes()), c, Some(&s));
        let (e, st) = client::resp_all(&body(&o)).unwrap();
        assert!(e.is_empty());
        assert_eq!(st, want, "{map}");
    }
}

#[test]
fn master_order_maplist() {
    let s = snap();
    let o = call(9, &proto::encode_nokey(DOM, b"passwd.byname"), UNPRIV, None);
    assert_eq!(
        client::resp_master(&body(&o)).unwrap(),
        (YpStat::True, b"yphost".to_vec())
    );
    let o = call(9, &proto::encode_nokey(DOM, b"nope"), UNPRIV, None);
    assert_eq!(
        client::resp_master(&body(&o)).unwrap(),
        (YpStat::NoMap, vec![])
    );
    let o = call(
        9,
        &proto::encode_nokey(b"x", b"passwd.byname"),
        UNPRIV,
        None,
    );
    assert_eq!(client::resp_master(&body(&o)).unwrap().0, YpStat::NoDom);
    let o = call(
        10,
        &proto::encode_nokey(DOM, b"group.bygid"),
        UNPRIV,
        Some(&s),
    );
    assert_eq!(client::resp_order(&body(&o)).unwrap(), (YpStat::True, 1234));
    let o = call(
        10,
        &proto::encode_nokey(DOM, b"master.passwd.byuid"),
        UNPRIV,
        Some(&s),
    );
    assert_eq!(client::resp_order(&body(&o)).unwrap(), (YpStat::True, 1234));
    let o = call(10, &proto::encode_nokey(DOM, b"nope"), UNPRIV, Some(&s));
    assert_eq!(client::resp_order(&body(&o)).unwrap(), (YpStat::NoMap, 0));
    let d = &proto::encode_nokey(DOM, b"")[..12];
    let (st, maps) = client::resp_maplist(&body(&call(11, d, UNPRIV, None))).unwrap();
    assert_eq!(st, YpStat::True);
    assert_eq!(maps.len(), MapName::ALL.len());
    assert_eq!(maps[0], "passwd.byname");
    let (st, maps) = client::resp_maplist(&body(&call(11, d, REFUSED, None))).unwrap();
    assert_eq!((st, maps.len()), (YpStat::NoDom, 0));
    let long = "h".repeat(100);
    assert_eq!(ServerConfig::new("d", &[], &long).master().len(), 64);
}

fn arb_users() -> impl Strategy<Value = Vec<entry_rules::User<'static>>> {
    proptest::collection::vec(("[a-z]{1,6}", 0u32..50, 0u32..5), 0..40)
        .prop_map(|v| v.into_iter().map(|(n, u, g)| user(&n, u, g)).collect())
}

fn arb_groups() -> impl Strategy<Value = Vec<entry_rules::Group<'static>>> {
    proptest::collection::vec(
        (
            "[a-z]{1,6}",
            0u32..20,
            proptest::collection::vec("[a-z]{1,3}", 0..4),
        ),
        0..20,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(n, g, m)| group(&n, g, &m.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn walks_return_every_key_once_in_order(users in arb_users(), groups in arb_groups(), frag in 1usize..300) {
        let s = Arc::new(Snapshot::build("example", &users, &groups, 1).0);
        for map in MapName::ALL {
            let mut expect: Vec<Vec<u8>> = s.iter(map).map(|(k, _)| k.to_vec()).collect();
            let n = expect.len();
            expect.sort();
            expect.dedup();
            prop_assert_eq!(expect.len(), n);
            // FIRST / NEXT
            let mut got = Vec::new();
            let mut o = call(4, &proto::encode_nokey(DOM, map.as_str().as_bytes()), PRIV, Some(&s));
            loop {
                let (st, k, _) = client::resp_key_val(&body(&o)).unwrap();
                if st != YpStat::True { prop_assert_eq!(st, YpStat::NoMore); break; }
                got.push(k.clone());
                prop_assert!(got.len() <= n);
                o = call(5, &proto::encode_key(DOM, map.as_str().as_bytes(), &k), PRIV, Some(&s));
            }
            prop_assert_eq!(&got, &expect);
            // ALL
            let Outcome::Stream(st) = call(8, &proto::encode_nokey(DOM, map.as_str().as_bytes()), TCP, Some(&s)) else {
                panic!("stream");
            };
            let rec = client::unframe(&st.collect(frag)).unwrap();
            let (entries, end) = client::resp_all(client::success_body(&rec, 77).unwrap()).unwrap();
            prop_assert_eq!(end, YpStat::NoMore);
            let keys: Vec<_> = entries.iter().map(|e| e.0.clone()).collect();
            prop_assert_eq!(&keys, &expect);
            for (k, v) in &entries {
                prop_assert_eq!(s.get(map, k), Some(v.as_slice()));
            }
            // Reading ahead a batch of MATCHes (present keys, absent ones,
            // by-id keys written oddly) changes no answer.
            let matches: Vec<Vec<u8>> = entries
                .iter()
                .map(|(k, _)| k.clone())
                .chain([b"nobody-here".to_vec(), b"00042".to_vec(), Vec::new()])
                .map(|k| encode_call(77, proto::YPPROG, 2, proto::YPPROC_MATCH, &proto::encode_key(DOM, map.as_str().as_bytes(), &k)))
                .collect();
            let before: Vec<_> = matches.iter().map(|m| body(&handle_message(m, &cfg(), Some(&s), PRIV))).collect();
            warm_matches(matches.iter().map(Vec::as_slice), &s);
            let after: Vec<_> = matches.iter().map(|m| body(&handle_message(m, &cfg(), Some(&s), PRIV))).collect();
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn any_message_any_caller_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), p in 0u32..13, tcp: bool, allowed: bool) {
        let s = snap();
        let c = Caller { allowed, privileged: true, tcp };
        let _ = handle_message(&data, &cfg(), Some(&s), c);
        let _ = call(p, &data, c, Some(&s));
        let _ = call(p, &data, c, None);
        warm_matches([&data[..], &data[..data.len() / 2]].into_iter(), &s);
    }
}

#[test]
fn requests_are_noted_for_the_counters() {
    let s = snap();
    let noted = |msg: &[u8], caller| handle_message_noted(msg, &cfg(), Some(&s), caller).1;
    let key = proto::encode_key(DOM, b"master.passwd.byname", b"alice");
    let m = encode_call(9, proto::YPPROG, 2, proto::YPPROC_MATCH, &key);
    assert_eq!(
        noted(&m, PRIV),
        Noted {
            procedure: Some(proto::YPPROC_MATCH),
            unprivileged_refused: false
        }
    );
    assert_eq!(
        noted(&m, UNPRIV),
        Noted {
            procedure: Some(proto::YPPROC_MATCH),
            unprivileged_refused: true
        }
    );
    // ORDER reveals nothing: never refused for the port.
    let nokey = proto::encode_nokey(DOM, b"master.passwd.byname");
    let o = encode_call(9, proto::YPPROG, 2, proto::YPPROC_ORDER, &nokey);
    assert!(!noted(&o, UNPRIV).unprivileged_refused);
    // Another program or version: no YP procedure.
    assert_eq!(
        noted(&encode_call(9, 100003, 2, 3, &[]), PRIV).procedure,
        None
    );
    assert_eq!(
        noted(&encode_call(9, proto::YPPROG, 1, 3, &[]), PRIV).procedure,
        None
    );
    assert_eq!(noted(&[0; 3], PRIV), Noted::default());
}
