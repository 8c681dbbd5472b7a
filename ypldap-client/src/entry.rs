//! Turning one LDAP entry into a user or a group with the directory's
//! field mappings. Pure: no I/O.
//!
//! The rules an entry must meet are `entry-rules`' (the same functions
//! ypldapd applies again); this module only looks the mapped attributes up.
//! Nothing is ever truncated or altered: an entry that breaks a rule is
//! dropped with the [`Violation`], which the caller reports with its DN.

use std::borrow::Cow;

use ipc_proto::RecordSearch;
use ipc_proto::entry_rules::dn;
use ipc_proto::entry_rules::records::Record;
use ipc_proto::entry_rules::{
    Group, Origin, Shadow, Text, User, Violation, check_member, parse_days, parse_id,
};
use ipc_proto::{FieldMappings, Mapping, ShadowMappings};

/// An entry's attributes, looked up by name case-insensitively. An entry
/// carries only the few attributes the mappings name, so a list searched
/// in order costs less than hashing (this runs for every entry).
#[derive(Debug, Default, Clone)]
pub struct Attributes {
    list: Vec<(String, Vec<String>)>,
    /// Attributes with a value that is not UTF-8 text.
    binary: Vec<String>,
}

impl Attributes {
    /// Builds the lookup from (attribute description, values) pairs. An
    /// attribute named twice (different case) keeps the values of both.
    pub fn new<I: IntoIterator<Item = (String, Vec<String>)>>(attrs: I) -> Self {
        let mut list: Vec<(String, Vec<String>)> = Vec::new();
        for (name, values) in attrs {
            match list.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                Some((_, v)) => v.extend(values),
                None => list.push((name, values)),
            }
        }
        Attributes {
            list,
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
        a.binary = binary;
        a
    }

    /// Adds the attributes of `other` (the rest of a ranged attribute).
    pub fn merge(&mut self, other: Attributes) {
        for (name, values) in other.list {
            match self
                .list
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                Some((_, v)) => v.extend(values),
                None => self.list.push((name, values)),
            }
        }
        self.binary.extend(other.binary);
    }

    pub(crate) fn has_binary(&self, name: &str) -> bool {
        let name = without_range(name);
        self.binary.iter().any(|b| b.eq_ignore_ascii_case(name))
    }

    /// Whether the entry lists `name` at all, even without a value.
    pub fn lists(&self, name: &str) -> bool {
        let name = without_range(name);
        self.list.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The values of `name`; an attribute with no values counts as absent.
    /// A mapping that asks for a range (`member;range=0-1499`) gets every
    /// value: the reader files all ranges under the attribute.
    pub fn values(&self, name: &str) -> Option<&[String]> {
        let name = without_range(name);
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .filter(|v| !v.is_empty())
    }
}

/// `member` for `member;range=0-1499`; other names as they are.
fn without_range(name: &str) -> &str {
    crate::fetch::split_range(name).map_or(name, |(attribute, _, _)| attribute)
}

/// One field's value: a single string, or the values of a list.
enum Value<'a> {
    One(&'a str),
    List(&'a [String]),
}

fn value<'a>(m: &'a Mapping, attrs: &'a Attributes) -> Result<Value<'a>, Violation> {
    if let Mapping::Attribute { name } | Mapping::List { name } = m {
        if attrs.has_binary(name) {
            return Err(Violation::NotText(name.clone()));
        }
    }
    match m {
        Mapping::Fixed { value } => Ok(Value::One(value)),
        Mapping::Attribute { name } => attrs
            .values(name)
            .and_then(|v| v.first())
            .map(|v| Value::One(v))
            .ok_or_else(|| Violation::MissingAttribute(name.clone())),
        // An absent list is an empty field, as upstream.
        Mapping::List { name } => Ok(Value::List(attrs.values(name).unwrap_or(&[]))),
    }
}

/// A field's single string, borrowed where it can be; a list mapping joins
/// its values with `,` (each value must then be a valid list member).
fn text<'a>(
    field: &'static str,
    m: &'a Mapping,
    attrs: &'a Attributes,
) -> Result<Text<'a>, Violation> {
    Ok(match value(m, attrs)? {
        Value::One(s) => Text(Cow::Borrowed(s)),
        Value::List(items) => {
            for item in items {
                check_member(field, item)?;
            }
            Text(Cow::Owned(items.join(",")))
        }
    })
}

/// A uid or gid field, parsed by the shared rule.
fn id<'a>(
    field: &'static str,
    m: &'a Mapping,
    attrs: &'a Attributes,
    invalid: fn(String) -> Violation,
) -> Result<u32, Violation> {
    let t = text(field, m, attrs)?;
    parse_id(&t).ok_or_else(|| invalid(t.0.into_owned()))
}

/// A shadow field in days. Unlike the upstream fields, a shadow attribute
/// the entry lacks is no reason to drop it (most users have few of them):
/// the field is empty.
fn days(
    field: &'static str,
    m: Option<&Mapping>,
    attrs: &Attributes,
) -> Result<Option<u32>, Violation> {
    let Some(m) = m else {
        return Ok(None);
    };
    let t = match text(field, m, attrs) {
        Ok(t) => t,
        Err(Violation::MissingAttribute(_)) => return Ok(None),
        Err(v) => return Err(v),
    };
    parse_days(&t).map_err(|_| Violation::InvalidShadow {
        field,
        value: t.0.into_owned(),
    })
}

/// The shadow fields the directory block maps.
fn shadow(m: &ShadowMappings, attrs: &Attributes) -> Result<Shadow, Violation> {
    let [lastchange, min, max, warning, inactive, expire, flag] = m.fields();
    let d = |(field, m): (&'static str, &Option<Mapping>)| days(field, m.as_ref(), attrs);
    Ok(Shadow {
        lastchange: d(lastchange)?,
        min: d(min)?,
        max: d(max)?,
        warning: d(warning)?,
        inactive: d(inactive)?,
        expire: d(expire)?,
        flag: d(flag)?,
    })
}

fn origin(dn: &str) -> Origin<'_> {
    Origin {
        dn: Text(Cow::Borrowed(dn)),
        uuid: None,
    }
}

/// Builds a user from an entry with the directory's mappings and checks it.
pub fn user<'a>(
    dn: &'a str,
    f: &'a FieldMappings,
    attrs: &'a Attributes,
) -> Result<User<'a>, Violation> {
    let u = User {
        origin: origin(dn),
        name: text("name", &f.name, attrs)?,
        uid: id("uid", &f.uid, attrs, Violation::InvalidUid)?,
        gid: id("gid", &f.gid, attrs, Violation::InvalidGid)?,
        passwd: text("passwd", &f.passwd, attrs)?,
        class: text("class", &f.class, attrs)?,
        change: text("change", &f.change, attrs)?,
        expire: text("expire", &f.expire, attrs)?,
        gecos: text("gecos", &f.gecos, attrs)?,
        home: text("home", &f.home, attrs)?,
        shell: text("shell", &f.shell, attrs)?,
        shadow: shadow(&f.shadow, attrs)?,
        disabled: disabled(attrs),
    };
    u.check()?;
    Ok(u)
}

/// The attributes a user search also reads, whatever the mappings: the
/// marks of a disabled account.
pub const ACCOUNT_STATE_ATTRIBUTES: [&str; 2] = ["userAccountControl", "nsAccountLock"];

/// Active Directory's `userAccountControl` flag ACCOUNTDISABLE.
const UF_ACCOUNTDISABLE: u32 = 0x2;

/// Whether the directory marks the account disabled: Active Directory's
/// `userAccountControl` with ACCOUNTDISABLE, 389-ds's and FreeIPA's
/// `nsAccountLock: TRUE`.
fn disabled(attrs: &Attributes) -> bool {
    let first = |name: &str| attrs.values(name).and_then(|v| v.first());
    let uac = first("userAccountControl")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|flags| flags & i64::from(UF_ACCOUNTDISABLE) != 0);
    let locked = first("nsAccountLock").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    uac || locked
}

/// Builds a group from an entry with the directory's mappings and checks it.
/// A classic map's entry (host, netgroup, …): the values of each
/// attribute the search reads, in its order. The rules are applied by
/// ypldapd, which builds these maps' lines; only a value that is not text
/// drops the entry here.
pub fn record<'a>(
    dn: &'a str,
    search: &RecordSearch,
    attrs: &'a Attributes,
) -> Result<Record<'a>, Violation> {
    let mut values = Vec::with_capacity(search.attributes.len());
    for name in &search.attributes {
        if attrs.has_binary(name) {
            return Err(Violation::NotText(name.clone()));
        }
        values.push(
            attrs
                .values(name)
                .unwrap_or(&[])
                .iter()
                .map(|v| Text(Cow::Borrowed(v.as_str())))
                .collect(),
        );
    }
    Ok(Record {
        origin: Origin {
            dn: Text(Cow::Borrowed(dn)),
            uuid: None,
        },
        search: search.id,
        values,
    })
}

pub fn group<'a>(
    dn: &'a str,
    f: &'a FieldMappings,
    attrs: &'a Attributes,
) -> Result<Group<'a>, Violation> {
    let name = text("groupname", &f.groupname, attrs)?;
    let passwd = text("grouppasswd", &f.grouppasswd, attrs)?;
    let gid = id("groupgid", &f.groupgid, attrs, Violation::InvalidGid)?;
    let mut members: Vec<Text<'a>> = Vec::new();
    let mut member_dns: Vec<Text<'a>> = Vec::new();
    // A value is a DN when it parses as one (`member`, `uniqueMember`),
    // else a user name (`memberUid`).
    let mut scratch = String::new();
    let mut add = |v: &'a str| {
        let t = Text(Cow::Borrowed(v));
        if !v.is_empty() && dn::normalize_member_into(v, &mut scratch).is_ok() {
            member_dns.push(t);
        } else {
            members.push(t);
        }
    };
    match value(&f.groupmembers, attrs)? {
        Value::List(items) => items.iter().for_each(|m| add(m)),
        // A single-valued mapping of the member field: one DN, or a
        // `,`-separated list of names.
        Value::One("") => {}
        Value::One(s) if dn::Dn::parse_member(s).is_ok() => add(s),
        Value::One(s) => s.split(',').for_each(&mut add),
    }
    // Further `list groupmembers` attributes: their values join the list.
    for name in &f.groupmembers_also {
        if attrs.has_binary(name) {
            return Err(Violation::NotText(name.clone()));
        }
        attrs
            .values(name)
            .unwrap_or(&[])
            .iter()
            .for_each(|v| add(v));
    }
    // Every rule but the member DNs', which parsed above: each DN is
    // parsed once here (a large directory has a million).
    let mut g = Group {
        origin: origin(dn),
        name,
        passwd,
        gid,
        members,
        member_dns: Vec::new(),
    };
    g.check()?;
    g.member_dns = member_dns;
    Ok(g)
}

#[cfg(test)]
mod tests;
