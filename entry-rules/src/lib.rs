//! What a directory entry must be to enter a NIS map (DESIGN §8, §13).
//!
//! The one place for these rules: ypldap-client applies them when it turns
//! an LDAP entry into a [`User`] or [`Group`], and ypldapd applies the same
//! functions again to everything the client sends, since a peer is never
//! trusted to have done it. An entry that breaks a rule is dropped, never
//! altered or truncated; [`Violation`] says which rule, for the log, and
//! [`DropReason`] is its kind, counted in the update's summary and carried
//! between the programs as a typed value.
//!
//! The entry types are also the wire form of an entry (ipc-proto sends
//! them as they are): their text fields borrow from the received datagram
//! where the JSON allows it, so ypldapd reads a batch without copying each
//! string again.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

pub mod dn;
pub mod password;
pub mod records;

pub use password::{LOCKED, LockReason, crypt_hash, served_password};

/// The longest map line a YP record may carry (YPMAXRECORD 1024, less the
/// NUL that C clients add).
pub const MAX_LINE: usize = 1023;

/// The largest uid or gid: 2^32 - 2 (2^32 - 1 is "no id" to the kernel).
pub const MAX_ID: u32 = u32::MAX - 1;

/// Why an entry (or only a user's `netid.byname` entry) was left out.
/// The variants are the summary's categories; [`Violation`] carries the
/// detail of one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A mapped attribute is missing or has no value.
    MissingAttribute,
    /// A mapped attribute has a value that is not UTF-8 text.
    NotText,
    /// The name is empty.
    EmptyName,
    /// The uid is not a number from 0 to [`MAX_ID`].
    InvalidUid,
    /// The gid is not a number from 0 to [`MAX_ID`].
    InvalidGid,
    /// A field contains `:`, newline or NUL, which would corrupt the line.
    ForbiddenCharacter,
    /// A group member is empty or contains `,`.
    BadMember,
    /// The line would be longer than [`MAX_LINE`] bytes.
    LineTooLong,
    /// An earlier entry had the same name (the first one wins).
    DuplicateName,
    /// Only the user's `netid.byname` entry: its line would be too long.
    NetidTooLong,
    /// The maps reached their 4 GiB limit.
    SnapshotFull,
    /// The entry (its DN, mostly) does not fit one message between the
    /// programs (32 KiB).
    EntryTooLarge,
    /// A shadow field (RFC 2307 `shadowAccount`) is not a number of days.
    InvalidShadow,
    /// A disabled account, left out by `disabled accounts omitted`.
    DisabledAccount,
    /// A value of a classic map's entry that is not what its field holds
    /// (an address, a number, a netgroup triple).
    InvalidValue,
}

impl DropReason {
    /// Every reason, in summary order.
    pub const ALL: [DropReason; 15] = [
        DropReason::MissingAttribute,
        DropReason::NotText,
        DropReason::EmptyName,
        DropReason::InvalidUid,
        DropReason::InvalidGid,
        DropReason::ForbiddenCharacter,
        DropReason::BadMember,
        DropReason::LineTooLong,
        DropReason::DuplicateName,
        DropReason::NetidTooLong,
        DropReason::SnapshotFull,
        DropReason::EntryTooLarge,
        DropReason::InvalidShadow,
        DropReason::DisabledAccount,
        DropReason::InvalidValue,
    ];

    /// The reason's name in the update's summary line.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::MissingAttribute => "missing attribute",
            DropReason::NotText => "value not text",
            DropReason::EmptyName => "empty name",
            DropReason::InvalidUid => "invalid uid",
            DropReason::InvalidGid => "invalid gid",
            DropReason::ForbiddenCharacter => "forbidden character",
            DropReason::BadMember => "bad group member",
            DropReason::LineTooLong => "line too long",
            DropReason::DuplicateName => "duplicate name",
            DropReason::NetidTooLong => "netid line too long",
            DropReason::SnapshotFull => "maps full (4 GiB)",
            DropReason::EntryTooLarge => "entry too large",
            DropReason::InvalidShadow => "invalid shadow field",
            DropReason::DisabledAccount => "disabled account",
            DropReason::InvalidValue => "invalid value",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule, with what a log line needs to say which. Never holds a
/// field's value where that value could be a secret (the password field is
/// only ever named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The mapped attribute (as configured) is missing.
    MissingAttribute(String),
    /// The mapped attribute has a value that is not UTF-8 text.
    NotText(String),
    EmptyName,
    /// The uid as the directory gave it.
    InvalidUid(String),
    /// The gid as the directory gave it.
    InvalidGid(String),
    /// `field` contains `ch`.
    ForbiddenCharacter {
        field: &'static str,
        ch: char,
    },
    /// A member of `field` is empty or contains `,`.
    BadMember {
        field: &'static str,
    },
    /// The longest line the entry makes would be `len` bytes.
    LineTooLong {
        len: usize,
    },
    /// Shadow field `field` holds `value`, not a number of days.
    InvalidShadow {
        field: &'static str,
        value: String,
    },
    /// A member given as a DN that is none.
    BadMemberDn {
        error: dn::DnError,
        value: String,
    },
    /// Field `field` of a classic map's entry holds `value` (cut to 64
    /// characters), which is not what the field holds.
    InvalidValue {
        field: &'static str,
        value: String,
    },
}

impl Violation {
    /// The summary category.
    pub fn reason(&self) -> DropReason {
        match self {
            Violation::MissingAttribute(_) => DropReason::MissingAttribute,
            Violation::NotText(_) => DropReason::NotText,
            Violation::EmptyName => DropReason::EmptyName,
            Violation::InvalidUid(_) => DropReason::InvalidUid,
            Violation::InvalidGid(_) => DropReason::InvalidGid,
            Violation::ForbiddenCharacter { .. } => DropReason::ForbiddenCharacter,
            Violation::BadMember { .. } => DropReason::BadMember,
            Violation::LineTooLong { .. } => DropReason::LineTooLong,
            Violation::InvalidShadow { .. } => DropReason::InvalidShadow,
            Violation::BadMemberDn { .. } => DropReason::BadMember,
            Violation::InvalidValue { .. } => DropReason::InvalidValue,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MissingAttribute(a) => write!(f, "attribute {a} is missing"),
            Violation::NotText(a) => write!(f, "attribute {a} has a value that is not UTF-8 text"),
            Violation::EmptyName => f.write_str("the name is empty"),
            Violation::InvalidUid(v) => write!(f, "uid {v:?} is not a number from 0 to {MAX_ID}"),
            Violation::InvalidGid(v) => write!(f, "gid {v:?} is not a number from 0 to {MAX_ID}"),
            Violation::ForbiddenCharacter { field, ch } => {
                write!(f, "field {field} contains the character {ch:?}")
            }
            Violation::BadMember { field } => {
                write!(f, "a member in field {field} is empty or contains ','")
            }
            Violation::LineTooLong { len } => {
                write!(f, "its line would be {len} bytes, more than {MAX_LINE}")
            }
            Violation::InvalidShadow { field, value } => {
                write!(f, "{field} {value:?} is not a number of days")
            }
            Violation::BadMemberDn { error, value } => {
                write!(f, "member {value:?} is not a DN: {error}")
            }
            Violation::InvalidValue { field, value } => {
                write!(f, "{field} {value:?} is not valid")
            }
        }
    }
}

impl std::error::Error for Violation {}

/// Parses a uid or gid as the directory stores it: decimal digits only,
/// 0..=[`MAX_ID`].
pub fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| n <= MAX_ID)
}

/// Parses a shadow field as the directory stores it (RFC 2307
/// `shadowAccount`, an INTEGER of days): decimal digits, or nothing. `-1`,
/// which some tools store for "not set", is nothing too.
pub fn parse_days(s: &str) -> Result<Option<u32>, NotDays> {
    if s.is_empty() || s == "-1" {
        return Ok(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotDays);
    }
    s.parse::<u32>().map(Some).map_err(|_| NotDays)
}

/// A shadow field's value is not a number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDays;

/// Seconds in a day: `master.passwd` counts seconds, shadow counts days.
pub const DAY: u64 = 86_400;

/// A `shadowMax` of this many days or more means "never" (shadow(5)
/// tools write 99999).
pub const NEVER_DAYS: u32 = 99_999;

/// Whether `id` is a uid or gid a map may carry.
pub fn valid_id(id: u32) -> bool {
    id <= MAX_ID
}

/// Checks that a single-valued field can sit in a `:`-separated line.
pub fn check_text(field: &'static str, s: &str) -> Result<(), Violation> {
    match s.chars().find(|c| matches!(c, ':' | '\n' | '\0')) {
        Some(ch) => Err(Violation::ForbiddenCharacter { field, ch }),
        None => Ok(()),
    }
}

/// Checks one member of a `,`-separated list field.
pub fn check_member(field: &'static str, s: &str) -> Result<(), Violation> {
    check_text(field, s)?;
    if s.is_empty() || s.contains(',') {
        return Err(Violation::BadMember { field });
    }
    Ok(())
}

/// How many decimal digits `n` has.
pub fn decimal_len(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// A text field of an entry: borrowed from the received message when the
/// JSON allows it. Dereferences to `str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text(Cow::Owned(s))
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl Text<'_> {
    /// The same text, owning its bytes.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

/// Where an entry came from: its DN and, under content synchronisation,
/// its entryUUID. Logs and drop reports name entries by DN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin<'a> {
    #[serde(borrow)]
    pub dn: Text<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl Origin<'_> {
    /// What the entries ypldapd keeps know this one by: its entryUUID
    /// when content synchronisation sent it, else (read in full) its DN,
    /// which names one entry of a directory as well. The two never meet:
    /// an entryUUID holds no `=`, a DN always does.
    pub fn key(&self) -> &str {
        self.uuid.as_deref().unwrap_or(&self.dn)
    }
}

/// A user's shadow fields (RFC 2307 `shadowAccount`): dates in days since
/// 1970-01-01, the others in days; `None` where the configuration maps
/// nothing or the directory has no value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lastchange: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<u32>,
}

impl Shadow {
    /// Whether nothing is set (then nothing travels).
    pub fn is_empty(&self) -> bool {
        *self == Shadow::default()
    }
}

/// One user: the mapped fields of one directory entry, ids as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User<'a> {
    #[serde(borrow)]
    pub origin: Origin<'a>,
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub passwd: Text<'a>,
    pub uid: u32,
    pub gid: u32,
    #[serde(borrow)]
    pub class: Text<'a>,
    #[serde(borrow)]
    pub change: Text<'a>,
    #[serde(borrow)]
    pub expire: Text<'a>,
    #[serde(borrow)]
    pub gecos: Text<'a>,
    #[serde(borrow)]
    pub home: Text<'a>,
    #[serde(borrow)]
    pub shell: Text<'a>,
    /// The shadow fields the configuration maps.
    #[serde(default, skip_serializing_if = "Shadow::is_empty")]
    pub shadow: Shadow,
    /// The directory marks the account disabled: it still resolves (for
    /// `ls -l`), but its password is locked and its account expired.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// The expiry a disabled account gets: day 1 (1970-01-02), long past, so
/// that a client's pam_unix refuses it even where the password field is
/// not what it checks.
pub const DISABLED_EXPIRY_DAYS: u32 = 1;

/// A date field of `master.passwd`, as served: the configured text, or a
/// number of seconds derived from the shadow fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seconds<'a> {
    Given(&'a str),
    Derived(u64),
}

impl Seconds<'_> {
    /// The field's length in the line.
    pub fn len(&self) -> usize {
        match self {
            Seconds::Given(s) => s.len(),
            Seconds::Derived(n) => digits(*n),
        }
    }

    /// Whether the field is empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Seconds::Given(""))
    }
}

impl fmt::Display for Seconds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seconds::Given(s) => f.write_str(s),
            Seconds::Derived(n) => write!(f, "{n}"),
        }
    }
}

/// How many decimal digits `n` has.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// Whether a date of `master.passwd` is unset (`0` or nothing, as BSD's
/// passwd(5) has it), so the shadow fields may give it.
fn unset(s: &str) -> bool {
    s.is_empty() || s == "0"
}

impl Origin<'_> {
    /// The same origin, owning its text.
    pub fn into_owned(self) -> Origin<'static> {
        Origin {
            dn: self.dn.into_owned(),
            uuid: self.uuid,
        }
    }
}

impl User<'_> {
    /// The same user, owning its text (kept beyond the message it came in).
    pub fn into_owned(self) -> User<'static> {
        User {
            origin: self.origin.into_owned(),
            name: self.name.into_owned(),
            passwd: self.passwd.into_owned(),
            uid: self.uid,
            gid: self.gid,
            class: self.class.into_owned(),
            change: self.change.into_owned(),
            expire: self.expire.into_owned(),
            gecos: self.gecos.into_owned(),
            home: self.home.into_owned(),
            shell: self.shell.into_owned(),
            shadow: self.shadow,
            disabled: self.disabled,
        }
    }

    /// `master.passwd`'s `change` (the time the password must be changed,
    /// in seconds): as configured; when that is 0 or nothing, the shadow
    /// fields' last change plus maximum age (unless the maximum means
    /// never). One date, two units: each map states it in its own.
    pub fn master_change(&self) -> Seconds<'_> {
        match (self.shadow.lastchange, self.shadow.max) {
            (Some(last), Some(max)) if unset(&self.change) && max < NEVER_DAYS => {
                Seconds::Derived((u64::from(last) + u64::from(max)) * DAY)
            }
            _ => Seconds::Given(&self.change),
        }
    }

    /// The password field of the maps that carry hashes: the stored
    /// value's crypt(3) hash, or why it is served locked.
    pub fn hash(&self) -> Result<&str, LockReason> {
        if self.disabled {
            return Err(LockReason::Disabled);
        }
        crypt_hash(&self.passwd)
    }

    /// [`Self::hash`], or [`LOCKED`].
    pub fn served_hash(&self) -> &str {
        self.hash().unwrap_or(LOCKED)
    }

    /// `master.passwd`'s `expire` (the account's expiry, in seconds): as
    /// configured; when that is 0 or nothing, the shadow expiry date. A
    /// disabled account expired on day 1.
    pub fn master_expire(&self) -> Seconds<'_> {
        if self.disabled {
            return Seconds::Derived(u64::from(DISABLED_EXPIRY_DAYS) * DAY);
        }
        match self.shadow.expire {
            Some(days) if unset(&self.expire) => Seconds::Derived(u64::from(days) * DAY),
            _ => Seconds::Given(&self.expire),
        }
    }

    /// The shadow expiry date in days: as configured, else from a
    /// configured `expire` in seconds (the day it falls in).
    pub fn shadow_expire(&self) -> Option<u64> {
        if self.disabled {
            return Some(u64::from(DISABLED_EXPIRY_DAYS));
        }
        self.shadow
            .expire
            .map(u64::from)
            .or_else(|| match self.expire.parse::<u64>() {
                Ok(secs) if secs > 0 => Some(secs / DAY),
                _ => None,
            })
    }

    /// The seven fields after the name and password of `shadow.byname`'s
    /// line, in order: last change, min, max, warning, inactive, expire,
    /// flag (`None` is an empty field).
    pub fn shadow_fields(&self) -> [Option<u64>; 7] {
        let s = &self.shadow;
        let d = |v: Option<u32>| v.map(u64::from);
        [
            d(s.lastchange),
            d(s.min),
            d(s.max),
            d(s.warning),
            d(s.inactive),
            self.shadow_expire(),
            d(s.flag),
        ]
    }

    /// The length of the `shadow.byname` line
    /// `name:hash:lastchg:min:max:warn:inactive:expire:flag`.
    pub fn shadow_line_len(&self) -> usize {
        self.name.len()
            + self.served_hash().len()
            + self
                .shadow_fields()
                .iter()
                .map(|f| f.map_or(0, digits))
                .sum::<usize>()
            + 8
    }

    /// The text fields as configured, with their names, in master.passwd
    /// order (the two ids sit between `passwd` and `class`).
    pub fn text_fields(&self) -> [(&'static str, &str); 8] {
        [
            ("name", &self.name),
            ("passwd", &self.passwd),
            ("class", &self.class),
            ("change", &self.change),
            ("expire", &self.expire),
            ("gecos", &self.gecos),
            ("home", &self.home),
            ("shell", &self.shell),
        ]
    }

    /// The length of the 10-field master.passwd line (never shorter than
    /// the passwd line): the name, the served password, the two ids, the
    /// dates as served, the other text fields and nine colons.
    pub fn master_line_len(&self) -> usize {
        [
            &self.name,
            &self.class,
            &self.gecos,
            &self.home,
            &self.shell,
        ]
        .iter()
        .map(|v| v.len())
        .sum::<usize>()
            + self.served_hash().len()
            + self.master_change().len()
            + self.master_expire().len()
            + decimal_len(self.uid)
            + decimal_len(self.gid)
            + 9
    }

    /// Every rule a user must meet to enter the maps.
    pub fn check(&self) -> Result<(), Violation> {
        if self.name.is_empty() {
            return Err(Violation::EmptyName);
        }
        if !valid_id(self.uid) {
            return Err(Violation::InvalidUid(self.uid.to_string()));
        }
        if !valid_id(self.gid) {
            return Err(Violation::InvalidGid(self.gid.to_string()));
        }
        for (field, value) in self.text_fields() {
            check_text(field, value)?;
        }
        let len = self.master_line_len().max(self.shadow_line_len());
        if len > MAX_LINE {
            return Err(Violation::LineTooLong { len });
        }
        Ok(())
    }
}

/// One group: the mapped fields of one directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group<'a> {
    #[serde(borrow)]
    pub origin: Origin<'a>,
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub passwd: Text<'a>,
    pub gid: u32,
    /// Member user names (values that are no DN, as `memberUid` holds),
    /// in the directory's order.
    #[serde(borrow)]
    pub members: Vec<Text<'a>>,
    /// Members given as DNs (`member`, `uniqueMember`), in the directory's
    /// order, as the directory wrote them: ypldapd resolves them to users
    /// (and nested groups), as the group arrives when they all name users
    /// read before it, else once every entry is in.
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub member_dns: Vec<Text<'a>>,
}

impl Group<'_> {
    /// The same group, owning its text.
    pub fn into_owned(self) -> Group<'static> {
        Group {
            origin: self.origin.into_owned(),
            name: self.name.into_owned(),
            passwd: self.passwd.into_owned(),
            gid: self.gid,
            members: self.members.into_iter().map(Text::into_owned).collect(),
            member_dns: self.member_dns.into_iter().map(Text::into_owned).collect(),
        }
    }

    /// The length of the line `name:passwd:gid:m1,m2,...`.
    pub fn line_len(&self) -> usize {
        let members: usize = self.members.iter().map(|m| m.len() + 1).sum();
        self.name.len() + self.passwd.len() + decimal_len(self.gid) + 3 + members.saturating_sub(1)
    }

    /// Every rule a group must meet to enter the maps.
    pub fn check(&self) -> Result<(), Violation> {
        self.check_with(&mut |_| {})
    }

    /// [`Self::check`], handing the canonical form of each member DN
    /// ([`dn::normalize_into`]) to `each_dn` as it is checked (so a caller
    /// that needs them parses each DN once).
    pub fn check_with(&self, each_dn: &mut dyn FnMut(&str)) -> Result<(), Violation> {
        if self.name.is_empty() {
            return Err(Violation::EmptyName);
        }
        if !valid_id(self.gid) {
            return Err(Violation::InvalidGid(self.gid.to_string()));
        }
        check_text("groupname", &self.name)?;
        check_text("grouppasswd", &self.passwd)?;
        for m in &self.members {
            check_member("groupmembers", m)?;
        }
        let mut canonical = String::new();
        for m in &self.member_dns {
            let parsed = if m.is_empty() {
                Err(dn::DnError::MissingEquals)
            } else {
                dn::normalize_member_into(m, &mut canonical)
            };
            if let Err(e) = parsed {
                return Err(Violation::BadMemberDn {
                    error: e,
                    value: m.to_string(),
                });
            }
            each_dn(&canonical);
        }
        // With members still to resolve, the whole line is checked when
        // they are.
        let len = self.line_len();
        if len > MAX_LINE {
            return Err(Violation::LineTooLong { len });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
