use super::*;
use proptest::prelude::*;

const UUID: [u8; 16] = [
    0x2d, 0x2c, 0x3c, 0x1e, 0x7a, 0x4b, 0x10, 0x3d, 0x90, 0x9d, 0x8f, 0x6e, 0x51, 0x2f, 0x33, 0x01,
];

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_tlv(&mut out, tag, value);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

#[test]
fn request_is_the_rfc_sequence() {
    assert_eq!(
        encode_request(Mode::RefreshOnly, None, false),
        [0x30, 0x03, 0x0a, 0x01, 0x01]
    );
    assert_eq!(
        encode_request(Mode::RefreshAndPersist, Some(b"rid=001,csn=x"), true),
        [
            &[0x30, 0x15, 0x0a, 0x01, 0x03, 0x04, 0x0d][..],
            b"rid=001,csn=x",
            &[0x01, 0x01, 0xff]
        ]
        .concat()
    );
}

#[test]
fn long_cookie_takes_a_long_length() {
    let cookie = vec![b'c'; 300];
    let req = encode_request(Mode::RefreshOnly, Some(&cookie), false);
    // SEQUENCE of 3 + 4 + 300 bytes: lengths in two bytes.
    assert_eq!(&req[..2], &[0x30, 0x82]);
    assert_eq!(usize::from(req[2]) << 8 | usize::from(req[3]), 307);
    assert_eq!(&req[7..11], &[0x04, 0x82, 0x01, 0x2c]);
}

#[test]
fn state_control_each_state() {
    for (n, state) in [
        (0, State::Present),
        (1, State::Add),
        (2, State::Modify),
        (3, State::Delete),
    ] {
        let v = seq(&[tlv(ENUMERATED, &[n]), tlv(OCTET_STRING, &UUID)]);
        assert_eq!(
            decode_state(&v),
            Ok(StateControl {
                state,
                uuid: UUID,
                cookie: None
            })
        );
    }
    let v = seq(&[
        tlv(ENUMERATED, &[1]),
        tlv(OCTET_STRING, &UUID),
        tlv(OCTET_STRING, b"csn"),
    ]);
    assert_eq!(
        decode_state(&v).map(|s| s.cookie),
        Ok(Some(b"csn".to_vec()))
    );
}

#[test]
fn state_control_rejects_what_is_not_the_grammar() {
    let good = [tlv(ENUMERATED, &[1]), tlv(OCTET_STRING, &UUID)];
    assert_eq!(
        decode_state(&seq(&[tlv(ENUMERATED, &[4]), good[1].clone()])),
        Err(SyncError::BadValue)
    );
    assert_eq!(
        decode_state(&seq(&[good[0].clone(), tlv(OCTET_STRING, &UUID[..15])])),
        Err(SyncError::BadUuid)
    );
    let mut trailing = seq(&good);
    trailing.push(0);
    assert_eq!(decode_state(&trailing), Err(SyncError::TrailingBytes));
    let full = seq(&good);
    for cut in 0..full.len() {
        assert!(decode_state(&full[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(
        decode_state(&tlv(SET, &good.concat())),
        Err(SyncError::UnexpectedTag {
            expected: SEQUENCE,
            found: SET
        })
    );
    // Indefinite length.
    assert_eq!(decode_state(&[0x30, 0x80, 0, 0]), Err(SyncError::BadLength));
    let long = seq(&[
        good[0].clone(),
        good[1].clone(),
        tlv(OCTET_STRING, &vec![0; MAX_COOKIE + 1]),
    ]);
    assert_eq!(decode_state(&long), Err(SyncError::CookieTooLong));
}

#[test]
fn done_control() {
    assert_eq!(
        decode_done(&seq(&[])),
        Ok(DoneControl {
            cookie: None,
            refresh_deletes: false
        })
    );
    assert_eq!(
        decode_done(&seq(&[tlv(OCTET_STRING, b"c1"), tlv(BOOLEAN, &[0xff])])),
        Ok(DoneControl {
            cookie: Some(b"c1".to_vec()),
            refresh_deletes: true
        })
    );
    assert_eq!(
        decode_done(&seq(&[tlv(BOOLEAN, &[0, 0])])),
        Err(SyncError::BadValue)
    );
}

#[test]
fn info_messages() {
    assert_eq!(
        decode_info(&tlv(0x80, b"new")),
        Ok(Info::NewCookie(b"new".to_vec()))
    );
    // refreshDone defaults to TRUE.
    assert_eq!(
        decode_info(&tlv(0xa1, &[])),
        Ok(Info::RefreshDelete {
            cookie: None,
            done: true
        })
    );
    assert_eq!(
        decode_info(&tlv(
            0xa2,
            &[tlv(OCTET_STRING, b"k"), tlv(BOOLEAN, &[0])].concat()
        )),
        Ok(Info::RefreshPresent {
            cookie: Some(b"k".to_vec()),
            done: false
        })
    );
    let other = [0xffu8; 16];
    let set = tlv(
        SET,
        &[tlv(OCTET_STRING, &UUID), tlv(OCTET_STRING, &other)].concat(),
    );
    assert_eq!(
        decode_info(&tlv(0xa3, &[tlv(BOOLEAN, &[1]), set].concat())),
        Ok(Info::IdSet {
            cookie: None,
            refresh_deletes: true,
            uuids: vec![UUID, other]
        })
    );
    assert_eq!(
        decode_info(&tlv(0xa4, &[])),
        Err(SyncError::UnexpectedTag {
            expected: 0x80,
            found: 0xa4
        })
    );
    // An idSet without its SET.
    assert_eq!(decode_info(&tlv(0xa3, &[])), Err(SyncError::Truncated));
}

#[test]
fn uuid_prints_as_directories_do() {
    assert_eq!(uuid_text(&UUID), "2d2c3c1e-7a4b-103d-909d-8f6e512f3301");
}

proptest! {
    /// Whatever a directory sends, the decoders answer without panicking.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_state(&bytes);
        let _ = decode_done(&bytes);
        let _ = decode_info(&bytes);
    }

    /// A request's cookie is read back by the same reader the decoders use.
    #[test]
    fn request_round_trips(
        cookie in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..600)),
        persist: bool,
        hint: bool,
    ) {
        let mode = if persist { Mode::RefreshAndPersist } else { Mode::RefreshOnly };
        let req = encode_request(mode, cookie.as_deref(), hint);
        let mut outer = Ber::new(&req);
        let mut s = Ber::new(outer.expect(SEQUENCE).unwrap());
        prop_assert!(outer.finish().is_ok());
        prop_assert_eq!(s.expect(ENUMERATED).unwrap(), &[if persist { 3 } else { 1 }]);
        prop_assert_eq!(s.optional(OCTET_STRING).unwrap(), cookie.as_deref());
        prop_assert_eq!(s.optional(BOOLEAN).unwrap().is_some(), hint);
        prop_assert!(s.finish().is_ok());
    }
}
