//! Distinguished names compared as a directory compares them (RFC 4514
//! syntax, RFC 4517/4518 matching), for group members given as DNs
//! (`member`, `uniqueMember`).
//!
//! Two DNs name the same entry when their RDNs match in order; two RDNs
//! match when they hold the same attribute value assertions in any order;
//! attribute types match without regard to case (a numeric OID of a
//! common naming attribute is its name); values match after their escapes
//! are decoded, under caseIgnoreMatch with insignificant spaces
//! (RFC 4518: leading and trailing spaces dropped, inner runs of spaces
//! one space), which is how `cn`, `uid`, `ou`, `dc`, `o`, `l` and the
//! other naming attributes of RFC 2307, 389-ds and Active Directory
//! compare. A value given as `#` and hex (BER) is compared as its bytes.
//!
//! [`Dn::normalized`] is a canonical string: equal for DNs that match,
//! different otherwise, so it can key a hash map.

use std::fmt;

/// Why a value is not a DN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnError {
    /// No `type=value` where an RDN should be (also: an empty RDN).
    MissingEquals,
    /// An attribute type that is neither a name nor a numeric OID.
    BadType,
    /// A `\` not followed by a special character or two hex digits.
    BadEscape,
    /// A `#` value that is not an even number of hex digits.
    BadHex,
    /// An unescaped special character inside a value.
    BadCharacter,
    /// The escapes decode to bytes that are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnError::MissingEquals => "an RDN without type=value",
            DnError::BadType => "an invalid attribute type",
            DnError::BadEscape => "an invalid escape",
            DnError::BadHex => "an invalid #hex value",
            DnError::BadCharacter => "an unescaped special character",
            DnError::NotUtf8 => "escapes that are not UTF-8",
        })
    }
}

impl std::error::Error for DnError {}

/// A parsed DN: its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dn {
    norm: String,
}

impl Dn {
    /// Parses `s` (RFC 4514). The empty string is the root DSE's DN.
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let mut rdns: Vec<String> = Vec::new();
        if !s.trim_matches(' ').is_empty() {
            let mut p = Parser {
                b: s.as_bytes(),
                i: 0,
            };
            loop {
                rdns.push(p.rdn()?);
                match p.peek() {
                    None => break,
                    Some(b',' | b';') => p.i += 1,
                    Some(_) => return Err(DnError::BadCharacter),
                }
            }
        }
        Ok(Dn {
            norm: rdns.join(","),
        })
    }

    /// Parses a `uniqueMember` value (RFC 4517 NameAndOptionalUID): a DN,
    /// optionally followed by `#'0101'B`, which is dropped.
    pub fn parse_member(s: &str) -> Result<Dn, DnError> {
        Dn::parse(strip_uid(s))
    }

    /// The canonical form: RDNs in order, AVAs sorted, types lower-cased,
    /// values escaped the one way.
    pub fn normalized(&self) -> &str {
        &self.norm
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.norm)
    }
}

/// Writes the canonical form of the DN `s` (as [`Dn::normalized`]) into
/// `out`, replacing what it held. Most DNs (ASCII, no escapes, one value
/// per RDN) take a fast path with no allocation; any other goes through
/// [`Dn::parse`]. This runs for every member DN of every group: a million
/// in a large directory.
pub fn normalize_into(s: &str, out: &mut String) -> Result<(), DnError> {
    out.clear();
    if fast_normalize(s, out) {
        return Ok(());
    }
    out.clear();
    out.push_str(Dn::parse(s)?.normalized());
    Ok(())
}

/// [`normalize_into`] for a member value: an RFC 4517 optional UID is
/// dropped first (`uniqueMember`).
pub fn normalize_member_into(s: &str, out: &mut String) -> Result<(), DnError> {
    normalize_into(strip_uid(s), out)
}

/// The common case of [`normalize_into`]; false (with `out` half written)
/// when `s` needs the full parser: anything but ASCII, an escape, a
/// multi-valued RDN, a `#` value, a numeric OID. One pass over the bytes
/// (this runs for every member DN, on both sides of the pipe).
fn fast_normalize(s: &str, out: &mut String) -> bool {
    let b = s.as_bytes();
    // The root DSE's (or no) DN: the parser says which.
    if b.iter().all(|&c| c == b' ') {
        return false;
    }
    out.reserve(b.len());
    let mut i = 0;
    loop {
        // The attribute type: a name, spaces around it dropped.
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            return false;
        }
        while let Some(&c) = b.get(i) {
            if !(c.is_ascii_alphanumeric() || c == b'-') {
                break;
            }
            out.push(char::from(c.to_ascii_lowercase()));
            i += 1;
        }
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        out.push('=');
        // The value: case folded, outer spaces dropped, inner runs one.
        let mut space = false;
        let mut started = false;
        loop {
            match b.get(i) {
                None | Some(b',') => break,
                Some(b' ') => space = started,
                Some(&c) => {
                    let special = matches!(
                        c,
                        b'\\' | b'+' | b'"' | b'#' | b'<' | b'>' | b';' | b'=' | 0
                    );
                    if !c.is_ascii() || special {
                        return false;
                    }
                    if space {
                        out.push(' ');
                        space = false;
                    }
                    out.push(char::from(c.to_ascii_lowercase()));
                    started = true;
                }
            }
            i += 1;
        }
        if i >= b.len() {
            return true;
        }
        // Past the `,`: the next RDN.
        i += 1;
        out.push(',');
    }
}

/// `s` without a trailing RFC 4517 optional UID (`#'bits'B`).
fn strip_uid(s: &str) -> &str {
    let Some(head) = s.strip_suffix("'B") else {
        return s;
    };
    match head.rfind("#'") {
        Some(at) if head[at + 2..].bytes().all(|b| b == b'0' || b == b'1') => {
            // Only when the '#' is not escaped (an odd run of '\' before it).
            let backslashes = head[..at].bytes().rev().take_while(|&b| b == b'\\').count();
            if backslashes % 2 == 0 { &s[..at] } else { s }
        }
        _ => s,
    }
}

/// The names some directories give by OID (RFC 4519).
const OID_NAMES: [(&str, &str); 7] = [
    ("2.5.4.3", "cn"),
    ("2.5.4.7", "l"),
    ("2.5.4.10", "o"),
    ("2.5.4.11", "ou"),
    ("0.9.2342.19200300.100.1.1", "uid"),
    ("0.9.2342.19200300.100.1.25", "dc"),
    ("2.5.4.6", "c"),
];

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// One RDN: AVAs joined by `+`, returned sorted and joined by `+`.
    fn rdn(&mut self) -> Result<String, DnError> {
        let mut avas = vec![self.ava()?];
        while self.peek() == Some(b'+') {
            self.i += 1;
            avas.push(self.ava()?);
        }
        avas.sort();
        avas.dedup();
        Ok(avas.join("+"))
    }

    fn ava(&mut self) -> Result<String, DnError> {
        let (ty, value) = self.ava_parts()?;
        let value = match value {
            // Compared as bytes: hex-escape every byte so it cannot match
            // a string value by accident.
            AvaValue::Bytes(hex) => hex.iter().fold(String::from("#"), |mut s, b| {
                s.push_str(&format!("{b:02x}"));
                s
            }),
            AvaValue::Text(s) => escape(&fold(&s)),
        };
        Ok(format!("{ty}={value}"))
    }

    /// One AVA: its type (lower-cased) and its value, escapes decoded.
    fn ava_parts(&mut self) -> Result<(String, AvaValue), DnError> {
        self.skip_spaces();
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'=' || c == b' ' {
                break;
            }
            if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
                return Err(if matches!(c, b',' | b';' | b'+') {
                    DnError::MissingEquals
                } else {
                    DnError::BadType
                });
            }
            self.i += 1;
        }
        let end = self.i;
        self.skip_spaces();
        match self.peek() {
            Some(b'=') => {}
            None | Some(b',' | b';' | b'+') => return Err(DnError::MissingEquals),
            Some(_) => return Err(DnError::BadType),
        }
        let ty = std::str::from_utf8(&self.b[start..end]).map_err(|_| DnError::BadType)?;
        self.i += 1;
        let ty = attribute_type(ty)?;
        self.skip_spaces();
        let value = if self.peek() == Some(b'#') {
            self.i += 1;
            AvaValue::Bytes(self.hex_value()?)
        } else {
            AvaValue::Text(self.string_value()?)
        };
        Ok((ty, value))
    }

    fn hex_value(&mut self) -> Result<Vec<u8>, DnError> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        self.skip_spaces();
        if digits.is_empty() || digits.len() % 2 != 0 {
            return Err(DnError::BadHex);
        }
        if !matches!(self.peek(), None | Some(b',' | b';' | b'+')) {
            return Err(DnError::BadHex);
        }
        Ok(digits
            .chunks(2)
            .map(|p| (hex_digit(p[0]) << 4) | hex_digit(p[1]))
            .collect())
    }

    /// A string value with its escapes decoded, up to `,` `;` `+` or the end.
    fn string_value(&mut self) -> Result<String, DnError> {
        let mut out: Vec<u8> = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b',' | b';' | b'+' => break,
                b'\\' => {
                    let next = self.b.get(self.i + 1).copied();
                    let after = self.b.get(self.i + 2).copied();
                    match (next, after) {
                        (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                            out.push((hex_digit(h) << 4) | hex_digit(l));
                            self.i += 3;
                        }
                        (
                            Some(
                                s @ (b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>'
                                | b'\\'),
                            ),
                            _,
                        ) => {
                            out.push(s);
                            self.i += 2;
                        }
                        _ => return Err(DnError::BadEscape),
                    }
                }
                b'"' | b'<' | b'>' | b'=' | 0 => return Err(DnError::BadCharacter),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| DnError::NotUtf8)
    }
}

/// An AVA's value: text, or bytes given as `#` and hex.
enum AvaValue {
    Text(String),
    Bytes(Vec<u8>),
}

/// The value of attribute `attribute` (escapes decoded, case and spaces
/// as written) in RDN `index` of `dn` (0: the entry's own RDN, 1: its
/// parent's), if that RDN has it as text. Names an entry by what its DN
/// says: the canonical name of a host whose `cn` has several values, the
/// automount map an `automount` entry sits under.
pub fn rdn_value(dn: &str, index: usize, attribute: &str) -> Option<String> {
    let mut p = Parser {
        b: dn.as_bytes(),
        i: 0,
    };
    for _ in 0..index {
        p.rdn().ok()?;
        match p.peek() {
            Some(b',' | b';') => p.i += 1,
            _ => return None,
        }
    }
    let wanted = attribute_type(attribute).ok()?;
    loop {
        let (ty, value) = p.ava_parts().ok()?;
        if let (true, AvaValue::Text(v)) = (ty == wanted, value) {
            return Some(v.trim_matches(' ').to_owned());
        }
        if p.peek() != Some(b'+') {
            return None;
        }
        p.i += 1;
    }
}

fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// An attribute type, lower-cased; a known numeric OID becomes its name.
fn attribute_type(ty: &str) -> Result<String, DnError> {
    let first = ty.bytes().next().ok_or(DnError::BadType)?;
    if first.is_ascii_digit() {
        // RFC 4512 numericoid: two or more arcs, no leading zeros.
        let arc = |n: &str| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'))
        };
        if !(ty.contains('.') && ty.split('.').all(arc)) {
            return Err(DnError::BadType);
        }
        let name = OID_NAMES
            .iter()
            .find(|(oid, _)| *oid == ty)
            .map(|(_, n)| *n);
        return Ok(name.unwrap_or(ty).to_owned());
    }
    let valid =
        first.is_ascii_alphabetic() && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(DnError::BadType);
    }
    Ok(ty.to_ascii_lowercase())
}

/// caseIgnoreMatch with insignificant spaces (RFC 4518, simplified to
/// what naming attributes need): case folded, leading and trailing spaces
/// dropped, inner runs of spaces made one.
fn fold(v: &str) -> String {
    let lower = v.to_lowercase();
    lower
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The one escaped form of a (folded) value: the characters that would
/// end or split it are hex-escaped, so the canonical string parses back.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.char_indices() {
        let special = matches!(c, ',' | ';' | '+' | '"' | '\\' | '<' | '>' | '=' | '\0')
            || (i == 0 && matches!(c, '#' | ' '))
            || (c == ' ' && i + 1 == v.len());
        if special {
            out.push_str(&format!("\\{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        Dn::parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .normalized()
            .to_owned()
    }

    #[test]
    fn same_entry_written_differently() {
        let want = n("uid=alice,ou=People,dc=example,dc=com");
        for s in [
            "UID=alice,OU=people,DC=Example,DC=COM",
            "uid = alice , ou=People , dc=example,dc=com",
            "uid=Alice,ou=People,dc=example,dc=com",
            "uid=  alice  ,ou=People,dc=example,dc=com",
            "uid=alice;ou=People;dc=example;dc=com",
            "0.9.2342.19200300.100.1.1=alice,2.5.4.11=People,dc=example,dc=com",
            "uid=\\61lice,ou=People,dc=example,dc=com",
        ] {
            assert_eq!(n(s), want, "{s}");
        }
        assert_ne!(n("uid=alicia,ou=People,dc=example,dc=com"), want);
        assert_ne!(n("uid=alice,ou=Groups,dc=example,dc=com"), want);
        assert_ne!(n("cn=alice,ou=People,dc=example,dc=com"), want);
    }

    #[test]
    fn escapes_and_spaces_inside_values() {
        // AD names users by full name; commas in names are escaped.
        let a = n("CN=Liddell\\, Alice,CN=Users,DC=example,DC=test");
        assert_eq!(a, n("cn=liddell\\2C alice,cn=users,dc=example,dc=test"));
        assert_eq!(a, n("CN=Liddell\\,  Alice,CN=Users,DC=example,DC=test"));
        assert_eq!(n("cn=a\\+b,dc=x"), n("cn=A\\2bB,dc=x"));
        assert_ne!(n("cn=a\\+b,dc=x"), n("cn=a+sn=b,dc=x"));
        assert_eq!(n("cn=\\ lead,dc=x"), n("cn=lead,dc=x"));
        assert_eq!(n("cn=Ünïcode Ñame,dc=x"), n("cn=ünïcode  ñame,dc=x"));
        assert_eq!(n("cn=\\C3\\9Cber,dc=x"), n("cn=über,dc=x"));
        // The canonical form parses back to itself.
        for s in [
            "cn=Liddell\\, Alice,dc=x",
            "cn=a\\+b\\=c\\\\d,dc=x",
            "cn=\\#x,dc=x",
        ] {
            assert_eq!(n(&n(s)), n(s));
        }
    }

    #[test]
    fn rdn_values_as_written() {
        let dn = "cn=WWW.Example.org ,automountMapName=auto.home,dc=x";
        assert_eq!(rdn_value(dn, 0, "CN").as_deref(), Some("WWW.Example.org"));
        assert_eq!(
            rdn_value(dn, 0, "2.5.4.3").as_deref(),
            Some("WWW.Example.org")
        );
        assert_eq!(
            rdn_value(dn, 1, "automountMapName").as_deref(),
            Some("auto.home")
        );
        assert_eq!(rdn_value(dn, 1, "ou"), None);
        assert_eq!(rdn_value(dn, 3, "dc"), None);
        assert_eq!(
            rdn_value(r"cn=Liddell\, Alice,dc=x", 0, "cn").as_deref(),
            Some("Liddell, Alice")
        );
        assert_eq!(rdn_value("cn=a+uid=b,dc=x", 0, "uid").as_deref(), Some("b"));
        // Bytes are no text value.
        assert_eq!(rdn_value("cn=#0402,dc=x", 0, "cn"), None);
        assert_eq!(rdn_value("not a dn", 0, "cn"), None);
    }

    #[test]
    fn multivalued_rdns_in_any_order() {
        assert_eq!(n("cn=a+uid=b,dc=x"), n("uid=B+CN=A,dc=x"));
        assert_ne!(n("cn=a+uid=b,dc=x"), n("cn=a,dc=x"));
    }

    #[test]
    fn hex_values_are_bytes() {
        assert_eq!(n("cn=#04024869,dc=x"), n("CN=#04024869,DC=X"));
        assert_ne!(n("cn=#04024869,dc=x"), n("cn=\\#04024869,dc=x"));
        assert_eq!(Dn::parse("cn=#0,dc=x"), Err(DnError::BadHex));
    }

    #[test]
    fn unique_member_uid_suffix() {
        let plain = n("uid=alice,ou=People,dc=example,dc=com");
        let with = Dn::parse_member("uid=alice,ou=People,dc=example,dc=com#'0101'B").unwrap();
        assert_eq!(with.normalized(), plain);
        // An escaped # is part of the value.
        assert!(Dn::parse_member("cn=x\\#'01'B").is_ok());
        assert_ne!(
            Dn::parse_member("cn=x\\#'01'B").unwrap().normalized(),
            n("cn=x")
        );
    }

    #[test]
    fn not_dns() {
        for (s, e) in [
            ("alice", DnError::MissingEquals),
            ("uid=alice,,dc=x", DnError::MissingEquals),
            ("uid=alice,dc", DnError::MissingEquals),
            ("u id=alice", DnError::BadType),
            ("1.2.=x", DnError::BadType),
            ("0=x", DnError::BadType),
            ("1.02=x", DnError::BadType),
            ("uid=a\\zz", DnError::BadEscape),
            ("uid=a\\", DnError::BadEscape),
            ("uid=a=b", DnError::BadCharacter),
            ("uid=\\ff,dc=x", DnError::NotUtf8),
        ] {
            assert_eq!(Dn::parse(s), Err(e), "{s}");
        }
        assert_eq!(Dn::parse("").unwrap().normalized(), "");
    }

    proptest! {
        /// The fast path gives exactly what the full parser gives.
        #[test]
        fn fast_path_agrees_with_the_parser(s in "[ a-zA-Z0-9=,.\\-]{0,40}|[ a-zA-Z0-9=,.;+#<>\"\\\\\t\u{e9}-]{0,24}|( ?[a-zA-Z][a-zA-Z0-9-]{0,2} ?= ?[a-zA-Z0-9 ]{0,8},){0,4}[a-zA-Z]{1,3}=[a-zA-Z ]{0,8}") {
            let mut out = String::new();
            let fast = normalize_into(&s, &mut out).map(|()| out.clone());
            let slow = Dn::parse(&s).map(|d| d.normalized().to_owned());
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn never_panics_and_canonical_forms_are_stable(s in ".{0,60}") {
            if let Ok(d) = Dn::parse(&s) {
                let again = Dn::parse(d.normalized()).expect("canonical form parses");
                prop_assert_eq!(again.normalized(), d.normalized());
            }
            let _ = Dn::parse_member(&s);
        }

        #[test]
        fn case_and_spaces_never_matter(
            rdns in proptest::collection::vec(("[a-zA-Z]{1,4}", "[a-zA-Z0-9]{1,6}( [a-zA-Z0-9]{1,6})?"), 1..5),
        ) {
            let plain: Vec<String> = rdns.iter().map(|(t, v)| format!("{t}={v}")).collect();
            let noisy: Vec<String> = rdns
                .iter()
                .map(|(t, v)| format!(" {} =  {} ", t.to_uppercase(), v.to_uppercase().replace(' ', "   ")))
                .collect();
            prop_assert_eq!(
                Dn::parse(&plain.join(",")).unwrap(),
                Dn::parse(&noisy.join(",")).unwrap()
            );
        }
    }
}
