//! The classic NIS maps beyond users and groups (DESIGN §13, "a map is a
//! row in one table"): for each kind of directory entry, the object class
//! and attributes it is read from unless the configuration says otherwise,
//! and the keys and lines it gives.
//!
//! Keys and values are those Debian's `/var/yp/Makefile` builds from the
//! equivalent `/etc` file, where the file's line is written as
//! `first<TAB>second third …` (the first field, a tab, the others
//! separated by single spaces). The deliberate differences are listed in
//! ypldap.conf(5), COMPATIBILITY; each is marked here where it is made.
//!
//! Like [`crate::User`] and [`crate::Group`], a [`Record`] is also the wire
//! form: ypldap-client sends the values of the attributes a search asks
//! for, and ypldapd builds the lines with [`build`], so that the one
//! process that sees every entry decides what enters the maps.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::{MAX_LINE, Origin, Text, Violation, dn};

/// A kind of directory entry that feeds classic maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// `nisNetgroup`: `netgroup`, and the reverse maps
    /// `netgroup.byuser` and `netgroup.byhost` ypldapd derives.
    Netgroup,
    /// `ipHost`: `hosts.byname`, `hosts.byaddr`.
    Hosts,
    /// `ipService`: `services.byname`, `services.byservicename`.
    Services,
    /// `ipProtocol`: `protocols.byname`, `protocols.bynumber`.
    Protocols,
    /// `oncRpc`: `rpc.byname`, `rpc.bynumber`.
    Rpc,
    /// `ipNetwork`: `networks.byname`, `networks.byaddr`, and
    /// `netmasks.byaddr` from those with a netmask.
    Networks,
    /// `ieee802Device`: `ethers.byname`, `ethers.byaddr`.
    Ethers,
    /// `nisKeyObject`: `publickey.byname`.
    Publickey,
    /// `nisMailAlias`: `mail.aliases`.
    Aliases,
    /// `nisObject` (RFC 2307) and `automount` (RFC 2307bis, autofs):
    /// `auto.master` and every other `auto.*` map, each entry to the map
    /// it names.
    Automount,
    /// A map a `map` block of the configuration defines.
    Site,
}

/// One attribute a kind reads: the word that names it in the
/// configuration (`hosts attribute address maps to "…"`) and the LDAP
/// attribute read unless the configuration says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub word: &'static str,
    pub attribute: &'static str,
}

const fn role(word: &'static str, attribute: &'static str) -> Role {
    Role { word, attribute }
}

impl RecordKind {
    /// The kinds a `provide map` of a standard name selects, in the order
    /// the maps are documented.
    pub const CLASSIC: [RecordKind; 10] = [
        RecordKind::Netgroup,
        RecordKind::Hosts,
        RecordKind::Services,
        RecordKind::Protocols,
        RecordKind::Rpc,
        RecordKind::Networks,
        RecordKind::Ethers,
        RecordKind::Publickey,
        RecordKind::Aliases,
        RecordKind::Automount,
    ];

    /// The word that starts this kind's statements in a directory block.
    pub fn word(self) -> &'static str {
        match self {
            RecordKind::Netgroup => "netgroup",
            RecordKind::Hosts => "hosts",
            RecordKind::Services => "services",
            RecordKind::Protocols => "protocols",
            RecordKind::Rpc => "rpc",
            RecordKind::Networks => "networks",
            RecordKind::Ethers => "ethers",
            RecordKind::Publickey => "publickey",
            RecordKind::Aliases => "aliases",
            RecordKind::Automount => "automount",
            RecordKind::Site => "map",
        }
    }

    /// The kind whose statements start with `word`.
    pub fn from_word(word: &str) -> Option<RecordKind> {
        RecordKind::CLASSIC.into_iter().find(|k| k.word() == word)
    }

    /// The search filter used unless the configuration gives one.
    pub fn default_filter(self) -> &'static str {
        match self {
            RecordKind::Netgroup => "(objectClass=nisNetgroup)",
            RecordKind::Hosts => "(objectClass=ipHost)",
            RecordKind::Services => "(objectClass=ipService)",
            RecordKind::Protocols => "(objectClass=ipProtocol)",
            RecordKind::Rpc => "(objectClass=oncRpc)",
            RecordKind::Networks => "(objectClass=ipNetwork)",
            RecordKind::Ethers => "(objectClass=ieee802Device)",
            RecordKind::Publickey => "(objectClass=nisKeyObject)",
            RecordKind::Aliases => "(objectClass=nisMailAlias)",
            RecordKind::Automount => "(|(objectClass=nisObject)(objectClass=automount))",
            RecordKind::Site => "(objectClass=*)",
        }
    }

    /// The attributes read, in the order a [`Record`]'s values come.
    pub fn roles(self) -> &'static [Role] {
        const NETGROUP: [Role; 3] = [
            role("name", "cn"),
            role("triple", "nisNetgroupTriple"),
            role("member", "memberNisNetgroup"),
        ];
        const HOSTS: [Role; 2] = [role("name", "cn"), role("address", "ipHostNumber")];
        const SERVICES: [Role; 3] = [
            role("name", "cn"),
            role("port", "ipServicePort"),
            role("protocol", "ipServiceProtocol"),
        ];
        const PROTOCOLS: [Role; 2] = [role("name", "cn"), role("number", "ipProtocolNumber")];
        const RPC: [Role; 2] = [role("name", "cn"), role("number", "oncRpcNumber")];
        const NETWORKS: [Role; 3] = [
            role("name", "cn"),
            role("number", "ipNetworkNumber"),
            role("netmask", "ipNetmaskNumber"),
        ];
        const ETHERS: [Role; 2] = [role("name", "cn"), role("address", "macAddress")];
        const PUBLICKEY: [Role; 4] = [
            role("name", "cn"),
            role("uid", "uidNumber"),
            role("public", "nisPublicKey"),
            role("secret", "nisSecretKey"),
        ];
        const ALIASES: [Role; 2] = [role("name", "cn"), role("member", "rfc822MailMember")];
        const AUTOMOUNT: [Role; 5] = [
            role("key", "automountKey"),
            role("information", "automountInformation"),
            role("niskey", "cn"),
            role("nisentry", "nisMapEntry"),
            role("nismap", "nisMapName"),
        ];
        match self {
            RecordKind::Netgroup => &NETGROUP,
            RecordKind::Hosts => &HOSTS,
            RecordKind::Services => &SERVICES,
            RecordKind::Protocols => &PROTOCOLS,
            RecordKind::Rpc => &RPC,
            RecordKind::Networks => &NETWORKS,
            RecordKind::Ethers => &ETHERS,
            RecordKind::Publickey => &PUBLICKEY,
            RecordKind::Aliases => &ALIASES,
            RecordKind::Automount => &AUTOMOUNT,
            // A site map's attributes are its block's.
            RecordKind::Site => &[],
        }
    }

    /// The maps the kind's slots are, by slot ([`Key::slot`]). Netgroup's
    /// slots 1 and 2 are derived by ypldapd from every netgroup at once;
    /// automount and site maps are named by the entry or the block.
    pub fn maps(self) -> &'static [&'static str] {
        match self {
            RecordKind::Netgroup => &["netgroup", "netgroup.byuser", "netgroup.byhost"],
            RecordKind::Hosts => &["hosts.byname", "hosts.byaddr"],
            RecordKind::Services => &["services.byname", "services.byservicename"],
            RecordKind::Protocols => &["protocols.byname", "protocols.bynumber"],
            RecordKind::Rpc => &["rpc.byname", "rpc.bynumber"],
            RecordKind::Networks => &["networks.byname", "networks.byaddr", "netmasks.byaddr"],
            RecordKind::Ethers => &["ethers.byname", "ethers.byaddr"],
            RecordKind::Publickey => &["publickey.byname"],
            RecordKind::Aliases => &["mail.aliases"],
            RecordKind::Automount | RecordKind::Site => &[],
        }
    }

    /// The kind that feeds the standard map `name`, and its slot.
    pub fn of_map(name: &str) -> Option<(RecordKind, u8)> {
        if is_automount_map(name) {
            return Some((RecordKind::Automount, 0));
        }
        RecordKind::CLASSIC.into_iter().find_map(|k| {
            let slot = k.maps().iter().position(|m| *m == name)?;
            Some((k, u8::try_from(slot).ok()?))
        })
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Whether `name` is an automount map name: `auto.` and at least one
/// more character that may appear in a map name.
pub fn is_automount_map(name: &str) -> bool {
    name.strip_prefix("auto.")
        .is_some_and(|rest| !rest.is_empty() && valid_map_name(rest))
}

/// Whether `name` may name a map: printable ASCII without space, `/` or
/// `#`, 1 to 64 bytes (YPMAXMAP).
pub fn valid_map_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'#')
}

/// One directory entry of a classic kind, as the LDAP reader sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record<'a> {
    #[serde(borrow)]
    pub origin: Origin<'a>,
    /// Which of the directory's record searches it answers.
    pub search: u16,
    /// The values of each attribute the search reads, in the search's
    /// order (an attribute the entry lacks has none).
    #[serde(borrow)]
    pub values: Vec<Vec<Text<'a>>>,
}

impl Record<'_> {
    /// The same record, owning its text.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            origin: self.origin.into_owned(),
            search: self.search,
            values: self
                .values
                .into_iter()
                .map(|vs| vs.into_iter().map(Text::into_owned).collect())
                .collect(),
        }
    }
}

/// A site map's value: text and attribute values, as its block's `value`
/// template (`"${cn}:${labeledURI}"`) or single attribute gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFormat {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Piece {
    Text(String),
    /// The values of a record's attribute, by index (0 is the key).
    Values(usize),
}

/// Why a `value` template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${` without its `}`.
    Unclosed,
    /// `${}` or a name that is not an attribute description.
    BadAttribute(String),
    /// A template that names no attribute.
    NoAttribute,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unclosed => f.write_str("\"${\" without its \"}\""),
            TemplateError::BadAttribute(a) => write!(f, "{a:?} is not an attribute name"),
            TemplateError::NoAttribute => f.write_str("the value names no attribute"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Whether `s` is an attribute name as a search may ask for it.
pub fn valid_attribute(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b';')
}

impl SiteFormat {
    /// Reads a block's `value`: a template with `${attribute}` in it, or
    /// an attribute name alone. Returns the format and the attributes it
    /// reads, which follow the key's in the search (the format refers to
    /// them by that position).
    pub fn parse(value: &str) -> Result<(SiteFormat, Vec<String>), TemplateError> {
        let mut attributes: Vec<String> = Vec::new();
        let index = |name: &str, attributes: &mut Vec<String>| match attributes
            .iter()
            .position(|a| a.eq_ignore_ascii_case(name))
        {
            Some(i) => i + 1,
            None => {
                attributes.push(name.to_owned());
                attributes.len()
            }
        };
        if !value.contains("${") {
            if !valid_attribute(value) {
                return Err(TemplateError::BadAttribute(value.to_owned()));
            }
            let i = index(value, &mut attributes);
            return Ok((
                SiteFormat {
                    pieces: vec![Piece::Values(i)],
                },
                attributes,
            ));
        }
        let mut pieces = Vec::new();
        let mut rest = value;
        while let Some(at) = rest.find("${") {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_owned()));
            }
            let after = &rest[at + 2..];
            let end = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..end];
            if !valid_attribute(name) {
                return Err(TemplateError::BadAttribute(name.to_owned()));
            }
            pieces.push(Piece::Values(index(name, &mut attributes)));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        if attributes.is_empty() {
            return Err(TemplateError::NoAttribute);
        }
        Ok((SiteFormat { pieces }, attributes))
    }
}

/// A key a record gives, in the kind's slot `slot`, with the index of its
/// value in [`Out::values`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub slot: u8,
    pub key: String,
    pub value: usize,
}

/// What one record gives: its values, and keys that point at them. Kept
/// between records so that its buffers are reused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Out {
    pub values: Vec<String>,
    pub keys: Vec<Key>,
    /// For automount: the map the entry belongs to.
    pub map: Option<String>,
}

impl Out {
    fn clear(&mut self) {
        self.values.clear();
        self.keys.clear();
        self.map = None;
    }

    fn value(&mut self, v: String) -> Result<usize, Violation> {
        if v.len() > MAX_LINE {
            return Err(Violation::LineTooLong { len: v.len() });
        }
        self.values.push(v);
        Ok(self.values.len() - 1)
    }

    fn key(&mut self, slot: u8, key: String, value: usize) -> Result<(), Violation> {
        if key.len() > MAX_LINE {
            return Err(Violation::LineTooLong { len: key.len() });
        }
        self.keys.push(Key { slot, key, value });
        Ok(())
    }
}

/// What [`build`] needs besides the record.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub kind: RecordKind,
    /// The LDAP attribute of each value list, as searched (for messages).
    pub attributes: &'a [String],
    /// The NIS domain (`publickey.byname` keys name it).
    pub domain: &'a str,
    /// A site map's value format.
    pub site: Option<&'a SiteFormat>,
}

/// Builds the keys and values of one record into `out`, or says which
/// rule it breaks (the record is then dropped whole).
pub fn build(cx: &Context<'_>, rec: &Record<'_>, out: &mut Out) -> Result<(), Violation> {
    out.clear();
    let r = Fields { cx, rec };
    match cx.kind {
        RecordKind::Netgroup => netgroup(&r, out),
        RecordKind::Hosts => hosts(&r, out),
        RecordKind::Services => services(&r, out),
        RecordKind::Protocols => numbered(&r, out, 255),
        RecordKind::Rpc => numbered(&r, out, u64::from(u32::MAX)),
        RecordKind::Networks => networks(&r, out),
        RecordKind::Ethers => ethers(&r, out),
        RecordKind::Publickey => publickey(&r, out),
        RecordKind::Aliases => aliases(&r, out),
        RecordKind::Automount => automount(&r, out),
        RecordKind::Site => site(&r, out),
    }
}

/// A record's values by role, with the rules every field follows.
struct Fields<'a> {
    cx: &'a Context<'a>,
    rec: &'a Record<'a>,
}

impl<'a> Fields<'a> {
    fn attribute(&self, i: usize) -> String {
        self.cx
            .attributes
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    }

    fn field(&self, i: usize) -> &'static str {
        self.cx.kind.roles().get(i).map_or("value", |r| r.word)
    }

    /// Every value of attribute `i`, each checked: no newline or NUL.
    fn all(&self, i: usize) -> Result<impl Iterator<Item = &'a str> + use<'a>, Violation> {
        let values = self.rec.values.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let field = self.field(i);
        for v in values {
            forbid(field, v, &['\n', '\0'])?;
        }
        Ok(values.iter().map(|t| &**t))
    }

    /// The first value of attribute `i`, which must be there.
    fn first(&self, i: usize) -> Result<&'a str, Violation> {
        self.all(i)?
            .next()
            .ok_or_else(|| Violation::MissingAttribute(self.attribute(i)))
    }

    /// The first value of attribute `i`, if any.
    fn optional(&self, i: usize) -> Result<Option<&'a str>, Violation> {
        Ok(self.all(i)?.next())
    }

    /// The values of attribute `i` as words of a whitespace-separated
    /// line: none may be empty or hold a blank or `#` (which makedbm's
    /// comment removal would cut). At least one must be there.
    fn words(&self, i: usize) -> Result<Vec<&'a str>, Violation> {
        let field = self.field(i);
        let mut out: Vec<&str> = Vec::new();
        for v in self.all(i)? {
            word(field, v)?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Err(Violation::MissingAttribute(self.attribute(i)));
        }
        Ok(out)
    }

    /// The entry's names (attribute `i`): the canonical one first, then
    /// its aliases in the directory's order. The canonical name is the
    /// value the entry's RDN gives, where the RDN is of this attribute
    /// (a host `cn=www+…` has `cn: www` and `cn: www.example.org`), else
    /// the first value (as nslcd chooses).
    fn names(&self, i: usize) -> Result<Vec<&'a str>, Violation> {
        let mut names = self.words(i)?;
        if let Some(value) = dn::rdn_value(&self.rec.origin.dn, 0, &self.attribute(i)) {
            let at = names
                .iter()
                .position(|n| *n == value)
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(&value)));
            if let Some(at) = at {
                let canonical = names.remove(at);
                names.insert(0, canonical);
            }
        }
        Ok(names)
    }
}

/// `v` must contain none of `chars`.
fn forbid(field: &'static str, v: &str, chars: &[char]) -> Result<(), Violation> {
    match v.chars().find(|c| chars.contains(c)) {
        Some(ch) => Err(Violation::ForbiddenCharacter { field, ch }),
        None => Ok(()),
    }
}

/// `v` must be one word of a whitespace-separated line.
fn word(field: &'static str, v: &str) -> Result<(), Violation> {
    if v.is_empty() {
        return Err(Violation::EmptyName);
    }
    match v
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '#' | '\0'))
    {
        Some(ch) => Err(Violation::ForbiddenCharacter { field, ch }),
        None => Ok(()),
    }
}

fn invalid(field: &'static str, value: &str) -> Violation {
    Violation::InvalidValue {
        field,
        value: value.chars().take(64).collect(),
    }
}

/// `first<TAB>rest joined by spaces`, the layout of every line here.
fn line<'s>(first: &str, rest: impl IntoIterator<Item = &'s str>) -> String {
    let mut s = String::from(first);
    for (i, w) in rest.into_iter().enumerate() {
        s.push(if i == 0 { '\t' } else { ' ' });
        s.push_str(w);
    }
    s
}

/// A member of a netgroup: a triple, or another netgroup by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetgroupMember<'a> {
    /// `(host,user,domain)`; an empty field is a wildcard.
    Triple {
        host: &'a str,
        user: &'a str,
        domain: &'a str,
    },
    Netgroup(&'a str),
}

/// The members of a `netgroup` map value, in order: what the value
/// [`build`] wrote says. Triples' fields are trimmed.
pub fn netgroup_members(value: &str) -> impl Iterator<Item = NetgroupMember<'_>> {
    let mut rest = value;
    std::iter::from_fn(move || {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        if let Some(inner) = rest.strip_prefix('(') {
            let end = inner.find(')').unwrap_or(inner.len());
            let mut f = inner[..end].splitn(3, ',').map(str::trim);
            let (host, user, domain) = (
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
            );
            rest = inner.get(end + 1..).unwrap_or("");
            Some(NetgroupMember::Triple { host, user, domain })
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            Some(NetgroupMember::Netgroup(name))
        }
    })
}

/// Checks a `nisNetgroupTriple` value and writes it in the map's form:
/// `(host,user,domain)`, fields trimmed, none holding a blank, a comma
/// or a parenthesis.
fn triple(v: &str) -> Result<String, Violation> {
    let inner = v
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| invalid("triple", v))?;
    let fields: Vec<&str> = inner.split(',').map(str::trim).collect();
    let [host, user, domain] = fields[..] else {
        return Err(invalid("triple", v));
    };
    for f in [host, user, domain] {
        if f.chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '#'))
        {
            return Err(invalid("triple", v));
        }
    }
    Ok(format!("({host},{user},{domain})"))
}

/// `netgroup`: the name, then its triples and member netgroups.
fn netgroup(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let name = r.names(0)?[0];
    let mut parts: Vec<String> = Vec::new();
    for t in r.all(1)? {
        parts.push(triple(t)?);
    }
    for m in r.all(2)? {
        word("member", m)?;
        if m.contains(['(', ')']) {
            return Err(invalid("member", m));
        }
        parts.push(m.to_owned());
    }
    let v = out.value(parts.join(" "))?;
    out.key(0, name.to_owned(), v)
}

/// `hosts.*`: a line `address<TAB>names` per address. `hosts.byname`'s
/// keys are lower-cased (makedbm -l) and point at the entry's first
/// IPv4 line, else its first line; addresses are written in their
/// canonical form (a difference: makedbm keeps the file's text).
fn hosts(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let names = r.names(0)?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for a in r.words(1)? {
        let ip: IpAddr = a.parse().map_err(|_| invalid("address", a))?;
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    let mut by_name = None;
    for (i, ip) in addresses.iter().enumerate() {
        let text = ip.to_string();
        let v = out.value(line(&text, names.iter().copied()))?;
        out.key(1, text, v)?;
        let first_ipv4 = ip.is_ipv4() && !addresses[..i].iter().any(IpAddr::is_ipv4);
        if by_name.is_none() || first_ipv4 {
            by_name = Some(v);
        }
    }
    if let Some(v) = by_name {
        for n in &names {
            out.key(0, n.to_ascii_lowercase(), v)?;
        }
    }
    Ok(())
}

/// A decimal number from 0 to `max`.
fn number(field: &'static str, v: &str, max: u64) -> Result<u64, Violation> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(field, v));
    }
    v.parse::<u64>()
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| invalid(field, v))
}

/// `services.*`: a line `name<TAB>port/protocol aliases` per protocol;
/// `services.byname` by `port/protocol`, `services.byservicename` by
/// `name/protocol` and by the bare name (the first protocol's line), for
/// the name and each alias.
fn services(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let names = r.names(0)?;
    let port = r.first(1)?;
    let port = number("port", port, u64::from(u16::MAX))?;
    for (i, proto) in r.words(2)?.into_iter().enumerate() {
        let pp = format!("{port}/{proto}");
        let v = out.value(line(
            names[0],
            std::iter::once(pp.as_str()).chain(names[1..].iter().copied()),
        ))?;
        out.key(0, pp, v)?;
        for n in &names {
            out.key(1, format!("{n}/{proto}"), v)?;
            if i == 0 {
                out.key(1, (*n).to_owned(), v)?;
            }
        }
    }
    Ok(())
}

/// `protocols.*` and `rpc.*`: `name<TAB>number aliases`, by each name and
/// by number.
fn numbered(r: &Fields<'_>, out: &mut Out, max: u64) -> Result<(), Violation> {
    let names = r.names(0)?;
    let n = r.first(1)?;
    number("number", n, max)?;
    let v = out.value(line(
        names[0],
        std::iter::once(n).chain(names[1..].iter().copied()),
    ))?;
    for name in &names {
        out.key(0, (*name).to_owned(), v)?;
    }
    out.key(1, n.to_owned(), v)
}

/// A network number as `/etc/networks` writes it: one to four decimal
/// parts from 0 to 255 (`10`, `10.1`, `10.1.0.0`).
fn network_number(v: &str) -> Result<(), Violation> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() > 4
        || parts
            .iter()
            .any(|p| number("number", p, 255).is_err() || p.len() > 3)
    {
        return Err(invalid("number", v));
    }
    Ok(())
}

/// `networks.*`: `name<TAB>number aliases`, by each name and by number;
/// `netmasks.byaddr`: the number to the netmask, where there is one.
fn networks(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let names = r.names(0)?;
    let n = r.first(1)?;
    network_number(n)?;
    let v = out.value(line(
        names[0],
        std::iter::once(n).chain(names[1..].iter().copied()),
    ))?;
    for name in &names {
        out.key(0, (*name).to_owned(), v)?;
    }
    out.key(1, n.to_owned(), v)?;
    if let Some(mask) = r.optional(2)? {
        let m: Ipv4Addr = mask.parse().map_err(|_| invalid("netmask", mask))?;
        let v = out.value(m.to_string())?;
        out.key(2, n.to_owned(), v)?;
    }
    Ok(())
}

/// A MAC address (`0:1b:21:a:b:c`, `00-1B-21-0A-0B-0C`) written as
/// glibc's `ether_ntoa` writes it, which is the key glibc asks
/// `ethers.byaddr` for: lower-case hex without leading zeros.
fn mac(v: &str) -> Result<String, Violation> {
    let parts: Vec<&str> = v.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        return Err(invalid("address", v));
    }
    let bytes: Vec<String> = parts
        .iter()
        .map(|p| format!("{:x}", u8::from_str_radix(p, 16).unwrap_or(0)))
        .collect();
    Ok(bytes.join(":"))
}

/// `ethers.*`: `address<TAB>name` per address; by name (the first
/// address) and by address.
fn ethers(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let name = r.names(0)?[0];
    let mut first = None;
    for a in r.words(1)? {
        let m = mac(a)?;
        let v = out.value(format!("{m}\t{name}"))?;
        out.key(1, m, v)?;
        first.get_or_insert(v);
    }
    match first {
        Some(v) => out.key(0, name.to_owned(), v),
        None => Err(Violation::MissingAttribute(r.attribute(1))),
    }
}

/// A key value without its `{DES}` scheme prefix (RFC 2307 stores
/// `{DES}hex`).
fn strip_scheme(v: &str) -> &str {
    match v.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("{des}") => &v[5..],
        _ => v,
    }
}

/// `publickey.byname`: `unix.<uid>@<domain>` for a user's key (the entry
/// has a uid), `unix.<name>@<domain>` for a host's, to
/// `public:secret`.
fn publickey(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let name = r.names(0)?[0];
    let owner = match r.optional(1)? {
        Some(uid) => {
            crate::parse_id(uid).ok_or_else(|| Violation::InvalidUid(uid.to_owned()))?;
            uid
        }
        None => name,
    };
    let public = strip_scheme(r.first(2)?);
    let secret = strip_scheme(r.first(3)?);
    for (field, v) in [("public", public), ("secret", secret)] {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(field, v));
        }
    }
    let v = out.value(format!("{public}:{secret}"))?;
    out.key(0, format!("unix.{owner}@{}", r.cx.domain), v)
}

/// `mail.aliases`: the alias to its members, joined by `, ` (the value
/// makedbm --aliases makes of `name: a, b`).
fn aliases(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let name = r.names(0)?[0];
    if name.contains(':') {
        return Err(Violation::ForbiddenCharacter {
            field: "name",
            ch: ':',
        });
    }
    let mut members = Vec::new();
    for m in r.all(1)? {
        let m = m.trim();
        if m.is_empty() || m.contains(',') {
            return Err(Violation::BadMember { field: "member" });
        }
        members.push(m);
    }
    if members.is_empty() {
        return Err(Violation::MissingAttribute(r.attribute(1)));
    }
    let v = out.value(members.join(", "))?;
    out.key(0, name.to_owned(), v)
}

/// Automount: the key (`automountKey`, else `cn`) to the information
/// (`automountInformation`, else `nisMapEntry`), in the map the entry
/// names (`nisMapName`, else the RDN of its parent: `automountMapName`,
/// `nisMapName` or `ou`).
fn automount(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let key = match r.optional(0)? {
        Some(k) => k,
        None => r.first(2)?,
    };
    word("key", key)?;
    let info = match r.optional(1)? {
        Some(i) => i,
        None => r.first(3)?,
    };
    if info.trim().is_empty() {
        return Err(Violation::MissingAttribute(r.attribute(1)));
    }
    let map = match r.optional(4)? {
        Some(m) => m.to_owned(),
        None => ["automountMapName", "nisMapName", "ou"]
            .into_iter()
            .find_map(|a| dn::rdn_value(&r.rec.origin.dn, 1, a))
            .ok_or_else(|| Violation::MissingAttribute(r.attribute(4)))?,
    };
    let v = out.value(info.to_owned())?;
    out.key(0, key.to_owned(), v)?;
    out.map = Some(map);
    Ok(())
}

/// A site map: each value of the key attribute to the block's value.
fn site(r: &Fields<'_>, out: &mut Out) -> Result<(), Violation> {
    let format =
        r.cx.site
            .ok_or(Violation::MissingAttribute("value".to_owned()))?;
    let keys: Vec<&str> = r.all(0)?.filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        return Err(Violation::MissingAttribute(r.attribute(0)));
    }
    let mut value = String::new();
    for p in &format.pieces {
        match p {
            Piece::Text(t) => value.push_str(t),
            Piece::Values(i) => {
                let vals: Vec<&str> = r.all(*i)?.collect();
                if vals.is_empty() {
                    return Err(Violation::MissingAttribute(r.attribute(*i)));
                }
                value.push_str(&vals.join(" "));
            }
        }
    }
    let v = out.value(value)?;
    for k in keys {
        out.key(0, k.to_owned(), v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
