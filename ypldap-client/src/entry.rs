//! Turning one LDAP entry into a user or a group (DESIGN §8). Pure: no I/O.
//!
//! Nothing is ever truncated or altered. An entry that cannot become a
//! valid line is dropped with a reason, which the caller logs with the
//! entry's DN and counts.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;

use ipc_proto::{FieldMappings, GroupEntry, Mapping, UserEntry};

/// The longest map line a YP record may carry (YPMAXRECORD 1024, less the
/// NUL that C clients add).
pub const MAX_LINE: usize = 1023;

/// The largest uid or gid: 2^32 - 2 (2^32 - 1 is "no id" to the kernel).
pub const MAX_ID: u32 = u32::MAX - 1;

/// An entry's attributes, looked up by name case-insensitively.
#[derive(Debug, Default, Clone)]
pub struct Attributes {
    by_lower_name: HashMap<String, Vec<String>>,
    /// Attributes (lower case) with a value that is not UTF-8 text.
    binary: Vec<String>,
}

impl Attributes {
    /// Builds the lookup from (attribute description, values) pairs. An
    /// attribute named twice (different case) keeps the values of both.
    pub fn new<I: IntoIterator<Item = (String, Vec<String>)>>(attrs: I) -> Self {
        let mut by_lower_name: HashMap<String, Vec<String>> = HashMap::new();
        for (name, values) in attrs {
            by_lower_name
                .entry(name.to_ascii_lowercase())
                .or_default()
                .extend(values);
        }
        Attributes {
            by_lower_name,
            binary: Vec::new(),
        }
    }

    /// As [`Attributes::new`], noting the attributes that had a value
    /// which is not text: mapping one of those drops the entry.
    pub fn with_binary<I: IntoIterator<Item = (String, Vec<String>)>>(
        attrs: I,
        binary: Vec<String>,
    ) -> Self {
        let mut a = Self::new(attrs);
        a.binary = binary.iter().map(|b| b.to_ascii_lowercase()).collect();
        a
    }

    fn has_binary(&self, name: &str) -> bool {
        self.binary.iter().any(|b| b.eq_ignore_ascii_case(name))
    }

    /// The values of `name`; an attribute with no values counts as absent.
    pub fn values(&self, name: &str) -> Option<&[String]> {
        self.by_lower_name
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .filter(|v| !v.is_empty())
    }
}

/// Why an entry was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// A mapped attribute is missing (or has no value).
    MissingAttribute(String),
    /// The name field is empty.
    EmptyName,
    /// The uid is not a number in 0..=4294967294.
    InvalidUid(String),
    /// The gid is not a number in 0..=4294967294.
    InvalidGid(String),
    /// A value holds a character the line format cannot carry.
    ForbiddenCharacter { field: &'static str, ch: char },
    /// The map line would be longer than [`MAX_LINE`] bytes.
    LineTooLong(usize),
    /// A mapped attribute has a value that is not UTF-8 text.
    NotText(String),
}

impl DropReason {
    /// The reason's name in the update's summary line.
    pub fn kind(&self) -> &'static str {
        match self {
            DropReason::MissingAttribute(_) => "missing attribute",
            DropReason::EmptyName => "empty name",
            DropReason::InvalidUid(_) => "invalid uid",
            DropReason::InvalidGid(_) => "invalid gid",
            DropReason::ForbiddenCharacter { .. } => "forbidden character",
            DropReason::LineTooLong(_) => "line too long",
            DropReason::NotText(_) => "value not text",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::MissingAttribute(a) => write!(f, "attribute {a} is missing"),
            DropReason::EmptyName => f.write_str("the name is empty"),
            DropReason::InvalidUid(v) => write!(f, "uid {v:?} is not a number from 0 to {MAX_ID}"),
            DropReason::InvalidGid(v) => write!(f, "gid {v:?} is not a number from 0 to {MAX_ID}"),
            DropReason::ForbiddenCharacter { field, ch } => {
                write!(f, "field {field} contains the character {ch:?}")
            }
            DropReason::LineTooLong(n) => {
                write!(f, "its line would be {n} bytes, more than {MAX_LINE}")
            }
            DropReason::NotText(a) => write!(f, "attribute {a} has a value that is not UTF-8 text"),
        }
    }
}

/// One field's value: a single string, or the members of a list.
enum Value<'a> {
    One(&'a str),
    List(&'a [String]),
}

fn value<'a>(m: &'a Mapping, attrs: &'a Attributes) -> Result<Value<'a>, DropReason> {
    if let Mapping::Attribute { name } | Mapping::List { name } = m {
        if attrs.has_binary(name) {
            return Err(DropReason::NotText(name.clone()));
        }
    }
    match m {
        Mapping::Fixed { value } => Ok(Value::One(value)),
        Mapping::Attribute { name } => attrs
            .values(name)
            .and_then(|v| v.first())
            .map(|v| Value::One(v))
            .ok_or_else(|| DropReason::MissingAttribute(name.clone())),
        // An absent list is an empty field, as upstream.
        Mapping::List { name } => Ok(Value::List(attrs.values(name).unwrap_or(&[]))),
    }
}

/// A field's single string; a list mapping joins its values with `,`.
fn text(field: &'static str, m: &Mapping, attrs: &Attributes) -> Result<String, DropReason> {
    let s = match value(m, attrs)? {
        Value::One(s) => s.to_owned(),
        Value::List(items) => {
            for item in items {
                check_member(field, item)?;
            }
            items.join(",")
        }
    };
    check_chars(field, &s)?;
    Ok(s)
}

fn check_chars(field: &'static str, s: &str) -> Result<(), DropReason> {
    match s.chars().find(|c| matches!(c, ':' | '\n' | '\0')) {
        Some(ch) => Err(DropReason::ForbiddenCharacter { field, ch }),
        None => Ok(()),
    }
}

fn check_member(field: &'static str, s: &str) -> Result<(), DropReason> {
    match s.chars().find(|c| matches!(c, ':' | '\n' | '\0' | ',')) {
        Some(ch) => Err(DropReason::ForbiddenCharacter { field, ch }),
        None => Ok(()),
    }
}

/// Parses a uid or gid: decimal digits only, 0..=[`MAX_ID`].
pub fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| n <= MAX_ID)
}

/// Builds a user from an entry with the directory's mappings.
pub fn user(f: &FieldMappings, attrs: &Attributes) -> Result<UserEntry, DropReason> {
    let name = text("name", &f.name, attrs)?;
    if name.is_empty() {
        return Err(DropReason::EmptyName);
    }
    let uid_text = text("uid", &f.uid, attrs)?;
    let uid = parse_id(&uid_text).ok_or(DropReason::InvalidUid(uid_text))?;
    let gid_text = text("gid", &f.gid, attrs)?;
    let gid = parse_id(&gid_text).ok_or(DropReason::InvalidGid(gid_text))?;
    let u = UserEntry {
        name,
        passwd: text("passwd", &f.passwd, attrs)?,
        uid,
        gid,
        class: text("class", &f.class, attrs)?,
        change: text("change", &f.change, attrs)?,
        expire: text("expire", &f.expire, attrs)?,
        gecos: text("gecos", &f.gecos, attrs)?,
        home: text("home", &f.home, attrs)?,
        shell: text("shell", &f.shell, attrs)?,
    };
    let len = master_line(&u).len();
    if len > MAX_LINE {
        return Err(DropReason::LineTooLong(len));
    }
    Ok(u)
}

/// Builds a group from an entry with the directory's mappings.
pub fn group(f: &FieldMappings, attrs: &Attributes) -> Result<GroupEntry, DropReason> {
    let name = text("groupname", &f.groupname, attrs)?;
    if name.is_empty() {
        return Err(DropReason::EmptyName);
    }
    let passwd = text("grouppasswd", &f.grouppasswd, attrs)?;
    let gid_text = text("groupgid", &f.groupgid, attrs)?;
    let gid = parse_id(&gid_text).ok_or(DropReason::InvalidGid(gid_text))?;
    let members: Vec<String> = match value(&f.groupmembers, attrs)? {
        Value::List(items) => {
            for m in items {
                check_member("groupmembers", m)?;
            }
            items.to_vec()
        }
        // A single-valued mapping of the member field: one member, or none.
        Value::One(s) => {
            check_chars("groupmembers", s)?;
            if s.is_empty() {
                Vec::new()
            } else {
                s.split(',').map(str::to_owned).collect()
            }
        }
    };
    let g = GroupEntry {
        name,
        passwd,
        gid,
        members,
    };
    let len = group_line(&g).len();
    if len > MAX_LINE {
        return Err(DropReason::LineTooLong(len));
    }
    Ok(g)
}

/// The 10-field `master.passwd` line, the longest line a user produces.
pub fn master_line(u: &UserEntry) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
        u.name, u.passwd, u.uid, u.gid, u.class, u.change, u.expire, u.gecos, u.home, u.shell
    )
}

/// The group line `name:passwd:gid:m1,m2`.
pub fn group_line(g: &GroupEntry) -> String {
    format!("{}:{}:{}:{}", g.name, g.passwd, g.gid, g.members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attr(n: &str) -> Mapping {
        Mapping::Attribute { name: n.into() }
    }
    fn fixed(v: &str) -> Mapping {
        Mapping::Fixed { value: v.into() }
    }

    fn rfc2307() -> FieldMappings {
        FieldMappings {
            name: attr("uid"),
            passwd: fixed("*"),
            uid: attr("uidNumber"),
            gid: attr("gidNumber"),
            class: fixed(""),
            change: fixed("0"),
            expire: fixed("0"),
            gecos: attr("cn"),
            home: attr("homeDirectory"),
            shell: attr("loginShell"),
            groupname: attr("cn"),
            grouppasswd: fixed("*"),
            groupgid: attr("gidNumber"),
            groupmembers: Mapping::List {
                name: "memberUid".into(),
            },
        }
    }

    fn alice() -> Vec<(String, Vec<String>)> {
        vec![
            ("uid".into(), vec!["alice".into()]),
            ("UIDNUMBER".into(), vec!["1000".into()]),
            ("gidNumber".into(), vec!["1000".into(), "2000".into()]),
            ("cn".into(), vec!["Alice Example".into()]),
            ("homeDirectory".into(), vec!["/home/alice".into()]),
            ("loginShell".into(), vec!["/bin/ksh".into()]),
        ]
    }

    fn with(mut a: Vec<(String, Vec<String>)>, k: &str, v: &[&str]) -> Attributes {
        a.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
        if !v.is_empty() {
            a.push((k.into(), v.iter().map(|s| s.to_string()).collect()));
        }
        Attributes::new(a)
    }

    #[test]
    fn reference_example_user() {
        let u = user(&rfc2307(), &Attributes::new(alice())).expect("user");
        assert_eq!(
            master_line(&u),
            "alice:*:1000:1000::0:0:Alice Example:/home/alice:/bin/ksh"
        );
    }

    #[test]
    fn reference_example_group() {
        let a = Attributes::new(vec![
            ("cn".into(), vec!["staff".into()]),
            ("gidNumber".into(), vec!["20".into()]),
            ("memberUid".into(), vec!["alice".into(), "bob".into()]),
        ]);
        let g = group(&rfc2307(), &a).expect("group");
        assert_eq!(group_line(&g), "staff:*:20:alice,bob");
        let empty = Attributes::new(vec![
            ("cn".into(), vec!["nobody".into()]),
            ("gidNumber".into(), vec!["65534".into()]),
        ]);
        assert_eq!(
            group_line(&group(&rfc2307(), &empty).expect("group")),
            "nobody:*:65534:"
        );
    }

    #[test]
    fn every_drop_reason() {
        let f = rfc2307();
        let cases: Vec<(Attributes, &str)> = vec![
            (with(alice(), "loginShell", &[]), "missing attribute"),
            (with(alice(), "uid", &[""]), "empty name"),
            (with(alice(), "uidNumber", &["-1"]), "invalid uid"),
            (with(alice(), "uidNumber", &["4294967295"]), "invalid uid"),
            (with(alice(), "uidNumber", &["12a"]), "invalid uid"),
            (with(alice(), "uidNumber", &[" 12"]), "invalid uid"),
            (with(alice(), "gidNumber", &["x"]), "invalid gid"),
            (with(alice(), "cn", &["a:b"]), "forbidden character"),
            (
                with(alice(), "homeDirectory", &["/h\nome"]),
                "forbidden character",
            ),
            (with(alice(), "uid", &["al\0ice"]), "forbidden character"),
            (with(alice(), "cn", &[&"x".repeat(1000)]), "line too long"),
        ];
        for (a, want) in cases {
            let r = user(&f, &a);
            assert_eq!(
                r.as_ref().map_err(DropReason::kind).err(),
                Some(want),
                "{r:?}"
            );
        }
        let bad_member = Attributes::new(vec![
            ("cn".into(), vec!["g".into()]),
            ("gidNumber".into(), vec!["5".into()]),
            ("memberUid".into(), vec!["a,b".into()]),
        ]);
        assert_eq!(
            group(&f, &bad_member).map_err(|e| e.kind()),
            Err("forbidden character")
        );
        let many = Attributes::new(vec![
            ("cn".into(), vec!["g".into()]),
            ("gidNumber".into(), vec!["5".into()]),
            (
                "memberUid".into(),
                (0..200).map(|i| format!("user{i:04}")).collect(),
            ),
        ]);
        assert_eq!(group(&f, &many).map_err(|e| e.kind()), Err("line too long"));
    }

    #[test]
    fn ids_at_the_limits() {
        assert_eq!(parse_id("0"), Some(0));
        assert_eq!(parse_id("4294967294"), Some(4294967294));
        assert_eq!(parse_id("4294967295"), None);
        assert_eq!(parse_id("+1"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("007"), Some(7));
    }

    #[test]
    fn exactly_max_line_is_kept() {
        let base = master_line(&user(&rfc2307(), &Attributes::new(alice())).expect("u")).len();
        let gecos = "g".repeat(MAX_LINE - base + "Alice Example".len());
        let u = user(&rfc2307(), &with(alice(), "cn", &[&gecos])).expect("fits");
        assert_eq!(master_line(&u).len(), MAX_LINE);
        let too = "g".repeat(gecos.len() + 1);
        assert!(user(&rfc2307(), &with(alice(), "cn", &[&too])).is_err());
    }

    proptest! {
        /// Whatever the directory holds, a kept entry yields a line with
        /// exactly the expected number of fields, within the size limit.
        #[test]
        fn kept_lines_are_well_formed(
            vals in proptest::collection::vec(".{0,40}", 6),
            uid in prop_oneof!["[0-9]{1,10}", ".{0,12}"],
            gid in prop_oneof!["[0-9]{1,10}", ".{0,12}"],
            members in proptest::collection::vec(".{0,12}", 0..8),
            list_shell in any::<bool>(),
        ) {
            let mut f = rfc2307();
            if list_shell {
                f.shell = Mapping::List { name: "loginShell".into() };
            }
            let a = Attributes::new(vec![
                ("uid".into(), vec![vals[0].clone()]),
                ("uidNumber".into(), vec![uid.clone()]),
                ("gidNumber".into(), vec![gid.clone()]),
                ("cn".into(), vec![vals[3].clone()]),
                ("homeDirectory".into(), vec![vals[4].clone()]),
                ("loginShell".into(), vec![vals[5].clone(), vals[0].clone()]),
                ("memberUid".into(), members.clone()),
            ]);
            if let Ok(u) = user(&f, &a) {
                let line = master_line(&u);
                prop_assert_eq!(line.split(':').count(), 10);
                prop_assert!(line.len() <= MAX_LINE);
                prop_assert!(!line.contains('\n') && !line.contains('\0'));
            }
            if let Ok(g) = group(&f, &a) {
                let line = group_line(&g);
                prop_assert_eq!(line.split(':').count(), 4);
                prop_assert!(line.len() <= MAX_LINE);
                prop_assert_eq!(g.members.len(), members.len());
            }
        }
    }
}
