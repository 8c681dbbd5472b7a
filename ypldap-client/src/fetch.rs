//! Reading one directory over a connected socket: TLS, bind, the user and
//! group searches with paged results, every result code checked.

use std::collections::HashSet;
use std::fmt;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ipc_proto::entry_rules::records::Record;
use ipc_proto::entry_rules::{Group, User, Violation};
use ipc_proto::{Bind, Directory, Mapping, RecordSearch, TlsMode};
use ldap3::adapters::{Adapter, PagedResults};
use ldap3::asn1::{PL, StructureTag};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, ResultEntry, Scope, StdStream};
use rustls::ClientConfig;

use crate::entry::{self, Attributes};

/// Connect (TLS handshake and StartTLS included) must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Each reply (a search's next entry, a bind's result) must come within this.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Entries per page of a paged search.
pub const PAGE_SIZE: i32 = 1000;

/// Entries read ahead of the work on them (about two pages): enough for
/// the server to work on the next page meanwhile, bounded so that a fast
/// server cannot fill this process's memory.
const READ_AHEAD: usize = 2 * PAGE_SIZE as usize;

/// What a fetch produces, entry by entry, in LDAP order. Entries borrow
/// from the LDAP message they came in: the sink uses them at once.
pub enum Item<'a> {
    User(User<'a>),
    Group(Group<'a>),
    Record(Record<'a>),
    Dropped { dn: &'a str, violation: Violation },
}

/// Why reading a directory failed. Any of these fails the whole update.
#[derive(Debug)]
pub enum FetchError {
    /// TCP, TLS or StartTLS setup.
    Connect(LdapError),
    /// The simple bind was refused.
    Bind { dn: String, source: LdapError },
    /// `bindext` with an authorization identity, which ldap3 cannot send.
    AuthzidUnsupported(String),
    /// The SASL EXTERNAL bind was refused.
    ExternalBind(LdapError),
    /// The user or group search failed, or a classic map's (`hosts`, …).
    Search {
        search: &'static str,
        cause: SearchError,
    },
}

/// Why one search failed.
#[derive(Debug)]
pub enum SearchError {
    /// The server's size limit ended the search early.
    SizeLimit(LdapError),
    /// An entry that is not a well-formed SearchResultEntry.
    MalformedEntry,
    /// The server did not return the rest of a ranged attribute.
    RangeIncomplete(String),
    /// Any other LDAP or transport failure.
    Ldap(LdapError),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::SizeLimit(e) => write!(
                f,
                "{e}: the server's size limit stopped the search before every entry was read; \
                 let the bind account read all of them (OpenLDAP: limits ... size.prtotal=unlimited)"
            ),
            SearchError::MalformedEntry => f.write_str("malformed entry from the server"),
            SearchError::RangeIncomplete(a) => write!(
                f,
                "the server returned attribute {a} in ranges and did not return the rest"
            ),
            SearchError::Ldap(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Connect(e) => write!(f, "connecting: {e}"),
            FetchError::Bind { dn, source } => write!(f, "bind as {dn:?} failed: {source}"),
            FetchError::AuthzidUnsupported(id) => write!(
                f,
                "bindext with an authorization identity ({id:?}) is not supported; use bindext alone"
            ),
            FetchError::ExternalBind(e) => write!(f, "SASL EXTERNAL bind failed: {e}"),
            FetchError::Search { search, cause } => write!(f, "{search} search: {cause}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Counters of one directory's fetch.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fetched {
    pub users: u64,
    pub groups: u64,
    /// Entries of the classic maps' searches.
    pub records: u64,
    pub referrals: u64,
}

/// Reads `dir` over `stream`, handing each item to `sink`. Any failure
/// (TLS, bind, search result, timeout, connection lost) fails the whole
/// directory: a half-answer must not become a map.
pub async fn fetch(
    dir: &Directory,
    tls: Option<Arc<ClientConfig>>,
    stream: TcpStream,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<Fetched, FetchError> {
    let mut ldap = open(dir, tls, stream).await?;
    let done = read(&mut ldap, dir, sink).await?;
    let _ = ldap.with_timeout(Duration::from_secs(2)).unbind().await;
    Ok(done)
}

/// Sets up the LDAP session with `dir` over `stream` (TLS, StartTLS) and
/// binds as the configuration says.
pub async fn open(
    dir: &Directory,
    tls: Option<Arc<ClientConfig>>,
    stream: TcpStream,
) -> Result<Ldap, FetchError> {
    let scheme = if dir.tls == TlsMode::Ldaps {
        "ldaps"
    } else {
        "ldap"
    };
    let host = if dir.host.contains(':') {
        format!("[{}]", dir.host)
    } else {
        dir.host.clone()
    };
    let url = format!("{scheme}://{host}:{}", dir.port);
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(CONNECT_TIMEOUT)
        .set_std_stream(StdStream::Tcp(stream))
        .set_starttls(dir.tls == TlsMode::StartTls);
    if let Some(cfg) = tls {
        settings = settings.set_config(cfg);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &url)
        .await
        .map_err(FetchError::Connect)?;
    ldap3::drive!(conn);

    match &dir.bind {
        Bind::Anonymous => {}
        Bind::Simple { dn, credential } => {
            ldap.with_timeout(OPERATION_TIMEOUT)
                .simple_bind(dn, credential)
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(|source| FetchError::Bind {
                    dn: dn.clone(),
                    source,
                })?;
        }
        Bind::External { authzid } => {
            if !authzid.is_empty() {
                return Err(FetchError::AuthzidUnsupported(authzid.clone()));
            }
            ldap.with_timeout(OPERATION_TIMEOUT)
                .sasl_external_bind()
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(FetchError::ExternalBind)?;
        }
    }
    Ok(ldap)
}

/// What one search of a directory reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Users,
    Groups,
    /// One of the directory's record searches.
    Records(&'a RecordSearch),
}

/// One search of a directory: where, what, and which attributes.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    pub target: Target<'a>,
    pub base: String,
    pub filter: String,
    pub attributes: Vec<String>,
}

impl Search<'_> {
    /// The search's name in messages: `user`, `group`, `hosts`, …
    pub fn name(&self) -> &'static str {
        match self.target {
            Target::Users => "user",
            Target::Groups => "group",
            Target::Records(rs) => rs.kind.word(),
        }
    }
}

/// Every search of `dir`, in the order they run: users, groups, then the
/// classic maps' record searches.
pub fn searches(dir: &Directory) -> Vec<Search<'_>> {
    let f = &dir.fields;
    let user_fields = [
        &f.name, &f.passwd, &f.uid, &f.gid, &f.class, &f.change, &f.expire, &f.gecos, &f.home,
        &f.shell,
    ];
    let shadow_fields = f
        .shadow
        .fields()
        .into_iter()
        .filter_map(|(_, m)| m.as_ref());
    let account_state = entry::ACCOUNT_STATE_ATTRIBUTES.map(str::to_owned);
    let group_fields = [&f.groupname, &f.grouppasswd, &f.groupgid, &f.groupmembers];
    let mut out = vec![
        Search {
            target: Target::Users,
            base: dir.basedn.clone(),
            filter: dir.passwd_filter.clone(),
            attributes: attribute_names(
                user_fields.into_iter().chain(shadow_fields),
                &account_state,
            ),
        },
        Search {
            target: Target::Groups,
            base: dir.groupdn.clone(),
            filter: dir.group_filter.clone(),
            attributes: attribute_names(group_fields.into_iter(), &f.groupmembers_also),
        },
    ];
    for rs in &dir.records {
        out.push(Search {
            target: Target::Records(rs),
            base: rs.base.clone(),
            filter: rs.filter.clone(),
            attributes: attribute_names(std::iter::empty(), &rs.attributes),
        });
    }
    out
}

/// What one entry of `target`'s search becomes.
pub fn convert<'a>(
    dir: &'a Directory,
    target: Target<'_>,
    dn: &'a str,
    attrs: &'a Attributes,
) -> Item<'a> {
    let item = match target {
        Target::Users => entry::user(dn, &dir.fields, attrs).map(Item::User),
        Target::Groups => entry::group(dn, &dir.fields, attrs).map(Item::Group),
        Target::Records(rs) => entry::record(dn, rs, attrs).map(Item::Record),
    };
    item.unwrap_or_else(|violation| Item::Dropped { dn, violation })
}

/// Every search of `dir` over `ldap`, paged, each item to `sink`.
pub async fn read(
    ldap: &mut Ldap,
    dir: &Directory,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<Fetched, FetchError> {
    let mut done = Fetched::default();
    for s in searches(dir) {
        done.referrals += search(
            ldap,
            &s.base,
            &s.filter,
            s.attributes.clone(),
            &mut |dn, attrs| {
                let item = convert(dir, s.target, dn, attrs);
                done.count(&item);
                sink(item);
            },
        )
        .await
        .map_err(|cause| FetchError::Search {
            search: s.name(),
            cause,
        })?;
    }
    Ok(done)
}

impl Fetched {
    /// Adds the counts of another read.
    pub fn add(&mut self, other: &Fetched) {
        self.users += other.users;
        self.groups += other.groups;
        self.records += other.records;
        self.referrals += other.referrals;
    }

    /// Counts an item read.
    pub fn count(&mut self, item: &Item<'_>) {
        match item {
            Item::User(_) => self.users += 1,
            Item::Group(_) => self.groups += 1,
            Item::Record(_) => self.records += 1,
            Item::Dropped { .. } => {}
        }
    }
}

/// The LDAP attributes a search reads: those its fields map (fixed fields
/// read none) and `more`, each once.
fn attribute_names<'a>(fields: impl Iterator<Item = &'a Mapping>, more: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    fields
        .filter_map(|m| match m {
            Mapping::Attribute { name } | Mapping::List { name } => Some(name.clone()),
            Mapping::Fixed { .. } => None,
        })
        .chain(more.iter().cloned())
        .filter(|n| seen.insert(n.to_ascii_lowercase()))
        .collect()
}

/// One paged subtree search; calls `each` per entry. Returns the number of
/// referrals and references skipped.
async fn search(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    each: &mut dyn FnMut(&str, &Attributes),
) -> Result<u64, SearchError> {
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> =
        vec![Box::new(PagedResults::new(PAGE_SIZE))];
    // A second handle on the connection, for the range searches made
    // while the paged search streams (ldap3 multiplexes operations).
    let mut side = ldap.clone();
    let mut stream = ldap
        .with_timeout(OPERATION_TIMEOUT)
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await
        .map_err(SearchError::Ldap)?;
    // The stream is read ahead of the work on its entries, so that the
    // next page is asked for as soon as one ends and the server prepares
    // it while this process works: without, each page would wait for the
    // work on the one before. Both halves run in this one task.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ResultEntry>(READ_AHEAD);
    let read = async {
        let mut outcome = Ok(());
        loop {
            match stream.next().await {
                Ok(Some(re)) => {
                    if tx.send(re).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome = Err(SearchError::Ldap(e));
                    break;
                }
            }
        }
        drop(tx);
        outcome
    };
    let work = async {
        let mut referrals = 0;
        let mut n: usize = 0;
        while let Some(re) = rx.recv().await {
            if re.is_ref() {
                referrals += 1;
            } else if !re.is_intermediate() {
                let Some((dn, mut attrs, ranges)) = parse_entry(re) else {
                    return Err(SearchError::MalformedEntry);
                };
                for r in ranges {
                    complete_range(&mut side, &dn, r, &mut attrs).await?;
                }
                each(&dn, &attrs);
            }
            n += 1;
            // Let the reading half forward what arrived (and ask for the
            // next page) now and then.
            if n % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(referrals)
    };
    let (read, work) = tokio::join!(read, work);
    let referrals = work?;
    read?;
    let result = stream.finish().await;
    let rc = result.rc;
    result.success().map_err(|e| {
        if rc == 4 {
            SearchError::SizeLimit(e)
        } else {
            SearchError::Ldap(e)
        }
    })?;
    Ok(referrals)
}

/// An attribute Active Directory returned only in part
/// (`member;range=0-1499`): the rest starts at value `next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub attribute: String,
    pub next: u64,
}

/// How many range searches one attribute may take (Active Directory
/// returns 1,500 values a time: 15 million values).
const MAX_RANGE_STEPS: usize = 10_000;

/// Splits `member;range=0-1499` into the attribute and its range, the end
/// `None` for `*` (the last values). Other options are left as they are.
pub fn split_range(description: &str) -> Option<(&str, u64, Option<u64>)> {
    let (attribute, options) = description.split_once(';')?;
    let range = options.split(';').find_map(|o| {
        o.get(..6)
            .filter(|p| p.eq_ignore_ascii_case("range="))
            .map(|_| &o[6..])
    })?;
    let (lo, hi) = range.split_once('-')?;
    let lo = lo.parse().ok()?;
    let hi = if hi == "*" {
        None
    } else {
        Some(hi.parse().ok()?)
    };
    if hi.is_some_and(|h| h < lo) {
        return None;
    }
    Some((attribute, lo, hi))
}

/// Fetches the rest of a ranged attribute of `dn`, one base search per
/// range (`member;range=1500-*`, …) until the server says `*`, adding
/// the values to `attrs`.
async fn complete_range(
    ldap: &mut Ldap,
    dn: &str,
    mut range: Range,
    attrs: &mut Attributes,
) -> Result<(), SearchError> {
    for _ in 0..MAX_RANGE_STEPS {
        let wanted = format!("{};range={}-*", range.attribute, range.next);
        let found = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .search(dn, Scope::Base, "(objectClass=*)", vec![wanted])
            .await
            .map_err(SearchError::Ldap)?
            .success()
            .map_err(SearchError::Ldap)?;
        let Some((_, more, next)) = found.0.into_iter().find_map(parse_entry) else {
            return Err(SearchError::RangeIncomplete(range.attribute));
        };
        // The entry without the attribute is no last range: taking it as
        // one would serve the group with the first ranges' members only.
        if !more.lists(&range.attribute) {
            return Err(SearchError::RangeIncomplete(range.attribute));
        }
        attrs.merge(more);
        match next
            .into_iter()
            .find(|r| r.attribute.eq_ignore_ascii_case(&range.attribute))
        {
            // The server must move on, or it would never end.
            Some(r) if r.next > range.next => range = r,
            Some(_) => return Err(SearchError::RangeIncomplete(range.attribute)),
            None => return Ok(()),
        }
    }
    Err(SearchError::RangeIncomplete(range.attribute))
}

/// Takes a search result entry apart without trusting its shape: ldap3's
/// own `SearchEntry::construct` panics on malformed data. Values of a
/// ranged attribute (`member;range=0-1499`) are filed under the attribute
/// (`member`), and its rest is returned as a [`Range`] to fetch.
pub(crate) fn parse_entry(re: ResultEntry) -> Option<(String, Attributes, Vec<Range>)> {
    let mut parts = re.0.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8_lossy(&parts.next()?.expect_primitive()?).into_owned();
    let mut attrs = Vec::new();
    let mut binary = Vec::new();
    let mut ranges = Vec::new();
    for pa in parts.next()?.expect_constructed()? {
        let mut pa = pa.expect_constructed()?.into_iter();
        let mut name = String::from_utf8(pa.next()?.expect_primitive()?).ok()?;
        if let Some((attribute, _, hi)) = split_range(&name) {
            let attribute = attribute.to_owned();
            if let Some(hi) = hi {
                ranges.push(Range {
                    attribute: attribute.clone(),
                    next: hi.checked_add(1)?,
                });
            }
            name = attribute;
        }
        let mut values = Vec::new();
        for v in pa.next()?.expect_constructed()? {
            match primitive(v)? {
                Ok(s) => values.push(s),
                Err(()) => binary.push(name.clone()),
            }
        }
        attrs.push((name, values));
    }
    Some((dn, Attributes::with_binary(attrs, binary), ranges))
}

/// A primitive value as UTF-8 text (`Err` when it is not text).
fn primitive(t: StructureTag) -> Option<Result<String, ()>> {
    match t.payload {
        PL::P(bytes) => Some(String::from_utf8(bytes).map_err(|_| ())),
        PL::C(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::split_range;

    #[test]
    fn range_options() {
        assert_eq!(
            split_range("member;range=0-1499"),
            Some(("member", 0, Some(1499)))
        );
        assert_eq!(
            split_range("member;Range=1500-*"),
            Some(("member", 1500, None))
        );
        assert_eq!(
            split_range("member;binary;range=3000-4499"),
            Some(("member", 3000, Some(4499)))
        );
        assert_eq!(split_range("member"), None);
        assert_eq!(split_range("member;binary"), None);
        assert_eq!(split_range("member;range=10-5"), None);
        assert_eq!(split_range("member;range=x-5"), None);
        assert_eq!(split_range("member;range=0"), None);
    }
}
