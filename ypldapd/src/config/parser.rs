//! The grammar of `ypldap.conf` (upstream parse.y 1.37 plus `allow`), as a
//! recursive-descent parser that reports every error of a file: after an
//! error it skips to the end of the line and carries on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use entry_rules::records::RecordKind;
use ipc_proto::{Bind, Directory, FieldMappings, Mapping, ShadowMappings, SyncSetting, TlsMode};

use super::records::{KindSettings, SiteMap};

use super::lexer::{Kw, Lexer, Tok, Token};
use super::{
    BindMode, Config, DEFAULT_CA_FILES, DEFAULT_GROUP_NESTING, DEFAULT_INTERVAL, Diagnostic,
    Diagnostics, DirectoryConfig, IncludeSource, IpNet, LoadOptions, Loaded, MAX_GROUP_NESTING,
    MAX_INCLUDE_DEPTH, MAX_INCLUDES,
};
use yp_proto::maps::MapName;

mod records;

/// The 14 map fields, in upstream slot order.
pub(crate) const FIELDS: [&str; 14] = [
    "name",
    "passwd",
    "uid",
    "gid",
    "class",
    "change",
    "expire",
    "gecos",
    "home",
    "shell",
    "groupname",
    "grouppasswd",
    "groupgid",
    "groupmembers",
];

/// The shadow fields (RFC 2307 `shadowAccount`, days), after the upstream
/// ones. Not reserved words: an upstream file that uses these words as
/// values keeps its meaning. Optional, unlike the upstream fields.
pub(crate) const SHADOW_FIELDS: [&str; 7] = [
    "shadowlastchange",
    "shadowmin",
    "shadowmax",
    "shadowwarning",
    "shadowinactive",
    "shadowexpire",
    "shadowflag",
];

/// Slots of the upstream fields, then of the shadow fields.
const SLOTS: usize = FIELDS.len() + SHADOW_FIELDS.len();

/// The slot of `groupmembers`, the one field several `list` lines may map.
const GROUPMEMBERS: usize = 13;

fn field_name(slot: usize) -> &'static str {
    FIELDS
        .iter()
        .chain(SHADOW_FIELDS.iter())
        .nth(slot)
        .copied()
        .unwrap_or("?")
}

fn field_slot(t: &Tok) -> Option<usize> {
    match t {
        Tok::Kw(k) => {
            let name = k.as_str();
            FIELDS.iter().position(|f| *f == name)
        }
        Tok::Str { s, quoted: false } => SHADOW_FIELDS
            .iter()
            .position(|f| f == s)
            .map(|i| FIELDS.len() + i),
        _ => None,
    }
}

/// Whether a date mapping of `master.passwd` (`change`, `expire`) gives a
/// date: an attribute, or a fixed value other than `0` and nothing.
fn gives_date(m: Option<&Mapping>) -> bool {
    match m {
        Some(Mapping::Fixed { value }) => !(value.is_empty() || value == "0"),
        Some(_) => true,
        None => false,
    }
}

/// Marker: an error was reported (or the line is to be skipped).
struct Failed;

type PResult<T> = Result<T, Failed>;

/// Where a statement began, for its messages.
#[derive(Clone)]
struct At {
    file: Rc<str>,
    line: u32,
}

impl At {
    fn of(t: &Token) -> At {
        At {
            file: t.file.clone(),
            line: t.line,
        }
    }
}

struct TlsFile {
    path: PathBuf,
    data: Vec<u8>,
}

struct DirBuilder {
    at: At,
    host: String,
    port: u16,
    tls: TlsMode,
    bind: Option<(Bind, u32)>,
    basedn: String,
    groupdn: Option<String>,
    passwd_filter: Option<String>,
    group_filter: Option<String>,
    fields: [Option<(Mapping, u32)>; SLOTS],
    /// Attributes of `list groupmembers` lines after the first.
    groupmembers_also: Vec<String>,
    /// What the block says of the classic maps' kinds.
    kinds: BTreeMap<RecordKind, KindSettings>,
    /// `sync auto` (the default) or `sync off`.
    sync: SyncSetting,
    cert: Option<TlsFile>,
    key: Option<TlsFile>,
    ca: Option<TlsFile>,
    /// Some setting failed (already reported): the block is dropped.
    broken: bool,
    /// The header failed: the block is parsed only to skip it, and its
    /// missing settings are not reported.
    dummy: bool,
}

struct Parser<'a> {
    lx: Lexer,
    peeked: Option<Token>,
    fs: &'a dyn IncludeSource,
    domain: Option<String>,
    interval: Duration,
    maps: Option<BTreeSet<MapName>>,
    bind: BindMode,
    allow: Vec<IpNet>,
    expose_hashes: bool,
    group_nesting: u32,
    omit_disabled: bool,
    cafile: Option<(PathBuf, Option<Vec<u8>>)>,
    directories: Vec<DirectoryConfig>,
    /// Per directory: what its block says of the classic maps' kinds.
    kind_settings: Vec<BTreeMap<RecordKind, KindSettings>>,
    site_maps: Vec<SiteMap>,
    /// Site maps named by `provide map`, checked at the end.
    provided_sites: Vec<(String, At, usize)>,
    includes: usize,
    limits: super::ResourceLimits,
    restricted_socket: Option<super::RestrictedSocket>,
    state: super::StateSettings,
}

pub(crate) fn parse(
    name: &str,
    data: Vec<u8>,
    opts: &LoadOptions,
    fs: &dyn IncludeSource,
) -> Result<Loaded, Diagnostics> {
    let mut lx = Lexer::new(name, data);
    for (k, v) in &opts.macros {
        lx.define(k, v, true);
    }
    let mut p = Parser {
        lx,
        peeked: None,
        fs,
        domain: None,
        interval: DEFAULT_INTERVAL,
        maps: None,
        bind: BindMode::Portmap,
        allow: Vec::new(),
        expose_hashes: false,
        group_nesting: DEFAULT_GROUP_NESTING,
        omit_disabled: false,
        cafile: None,
        directories: Vec::new(),
        kind_settings: Vec::new(),
        site_maps: Vec::new(),
        provided_sites: Vec::new(),
        includes: 0,
        limits: super::ResourceLimits::default(),
        restricted_socket: None,
        state: super::StateSettings::default(),
    };
    p.run();
    // Reported through the diagnostics.
    let _ = p.finish_records(name);
    let mut warnings = Vec::new();
    if opts.verbose {
        for (k, m) in &p.lx.macros {
            if !m.used {
                warnings.push(format!("warning: macro '{k}' not used"));
            }
        }
    }
    let domain = match p.domain.take() {
        Some(d) => d,
        None => {
            p.lx.diags.push(Diagnostic {
                file: name.to_owned(),
                line: 0,
                message: "no domain specified (add: domain \"name\")".to_owned(),
            });
            String::new()
        }
    };
    let tls_bytes: usize = p
        .directories
        .iter()
        .flat_map(|d| [&d.ca_pem, &d.cert_pem, &d.key_pem])
        .flatten()
        .map(Vec::len)
        .sum();
    if let Err(message) = p
        .limits
        .check()
        .and_then(|()| p.limits.check_tls_fits(tls_bytes))
    {
        p.lx.diags.push(Diagnostic {
            file: name.to_owned(),
            line: 0,
            message,
        });
    }
    if !p.lx.diags.is_empty() {
        return Err(Diagnostics(p.lx.diags));
    }
    Ok(Loaded {
        config: Config {
            domain,
            interval: p.interval,
            maps: p.maps,
            bind: p.bind,
            allow: p.allow,
            expose_hashes: p.expose_hashes,
            group_nesting: p.group_nesting,
            omit_disabled: p.omit_disabled,
            directories: p.directories,
            site_maps: p.site_maps,
            limits: p.limits,
            restricted_socket: p.restricted_socket,
            state: p.state,
        },
        warnings,
    })
}

impl Parser<'_> {
    fn next(&mut self) -> Token {
        match self.peeked.take() {
            Some(t) => t,
            None => self.lx.next_token(),
        }
    }

    fn peek(&mut self) -> &Token {
        if self.peeked.is_none() {
            self.peeked = Some(self.lx.next_token());
        }
        match &self.peeked {
            Some(t) => t,
            None => unreachable!("peeked was just filled"),
        }
    }

    fn error(&mut self, at: &At, message: impl Into<String>) {
        self.lx.diags.push(Diagnostic {
            file: at.file.to_string(),
            line: at.line,
            message: message.into(),
        });
    }

    /// A syntax error at token `t`; `t` stays next so that the skip can see it.
    fn unexpected(&mut self, t: Token, expected: &str) -> Failed {
        self.unexpected_hint(t, expected, false)
    }

    /// As [`Self::unexpected`]; `want_string` adds a hint to quote numbers
    /// and keywords.
    fn unexpected_hint(&mut self, t: Token, expected: &str, want_string: bool) -> Failed {
        let at = At::of(&t);
        let hint = match &t.kind {
            Tok::Num(_) if want_string => " (quote numbers used as strings)",
            Tok::Kw(_) if want_string => " (quote keywords used as strings)",
            _ => "",
        };
        let message = format!(
            "syntax error: expected {expected}, found {}{hint}",
            t.kind.describe()
        );
        if t.kind != Tok::Error {
            self.error(&at, message);
        }
        self.peeked = Some(t);
        Failed
    }

    /// Skips the rest of the line, the newline included. Inside a block a
    /// `}` also ends the skip (and stays next).
    fn skip_line(&mut self, in_block: bool) {
        loop {
            let t = self.peek();
            match t.kind {
                Tok::Eof => return,
                Tok::Char(b'}') if in_block => return,
                Tok::Newline | Tok::Error => {
                    self.next();
                    return;
                }
                _ => {
                    self.next();
                }
            }
        }
    }

    fn expect_string(&mut self, what: &str) -> PResult<String> {
        let t = self.next();
        match t.kind {
            Tok::Str { s, .. } => Ok(s),
            _ => Err(self.unexpected_hint(t, what, true)),
        }
    }

    fn expect_kw(&mut self, k: Kw) -> PResult<()> {
        let t = self.next();
        if t.kind == Tok::Kw(k) {
            Ok(())
        } else {
            Err(self.unexpected(t, &format!("\"{}\"", k.as_str())))
        }
    }

    /// The end of a top-level statement: a newline or the end of the file.
    fn expect_eol(&mut self) -> PResult<()> {
        let t = self.next();
        match t.kind {
            Tok::Newline | Tok::Error => Ok(()),
            Tok::Eof => {
                self.peeked = Some(t);
                Ok(())
            }
            _ => Err(self.unexpected(t, "end of line")),
        }
    }

    fn run(&mut self) {
        loop {
            let t = self.next();
            let at = At::of(&t);
            let r = match t.kind {
                Tok::Eof => return,
                Tok::Newline | Tok::Error => continue,
                Tok::Kw(Kw::Include) => self.include(&at),
                Tok::Kw(Kw::Domain) => self.domain(&at),
                Tok::Kw(Kw::Interval) => self.interval(&at),
                Tok::Kw(Kw::Provide) => self.provide(&at),
                Tok::Kw(Kw::Cafile) => self.cafile_stmt(&at),
                Tok::Kw(Kw::Bind) => self.bind_stmt(),
                Tok::Kw(Kw::Directory) => self.directory(&at),
                Tok::Kw(Kw::Group) => self.group_nesting(&at),
                Tok::Kw(Kw::Map) => self.site_map(&at),
                Tok::Str { s, quoted } => {
                    if !quoted && s == "allow" && self.peek().kind != Tok::Char(b'=') {
                        self.allow(&at)
                    } else if !quoted && s == "expose" && self.peek().kind != Tok::Char(b'=') {
                        self.expose()
                    } else if !quoted && s == "disabled" && self.peek().kind != Tok::Char(b'=') {
                        self.disabled_accounts()
                    } else if !quoted && s == "limit" && self.peek().kind != Tok::Char(b'=') {
                        self.limit(&at)
                    } else if !quoted && s == "socket" && self.peek().kind != Tok::Char(b'=') {
                        self.socket(&at)
                    } else if !quoted && s == "state" && self.peek().kind != Tok::Char(b'=') {
                        self.state(&at)
                    } else {
                        self.macro_def(&at, s)
                    }
                }
                _ => Err(self.unexpected(t, "a statement")),
            };
            if r.is_err() {
                self.skip_line(false);
            }
        }
    }

    fn include(&mut self, at: &At) -> PResult<()> {
        let path = self.expect_string("a file name after \"include\"")?;
        self.expect_eol()?;
        if self.lx.depth() > MAX_INCLUDE_DEPTH {
            self.error(
                at,
                format!("failed to include file {path}: nested too deeply"),
            );
            return Ok(());
        }
        self.includes += 1;
        if self.includes > MAX_INCLUDES {
            self.error(
                at,
                format!("failed to include file {path}: too many includes"),
            );
            return Ok(());
        }
        match self.fs.read_config(&path) {
            Ok(data) => self.lx.push_file(&path, data),
            Err(why) => self.error(at, format!("failed to include file {path}: {why}")),
        }
        Ok(())
    }

    fn macro_def(&mut self, at: &At, name: String) -> PResult<()> {
        let t = self.next();
        if t.kind != Tok::Char(b'=') {
            return Err(self.unexpected(t, "\"=\" (a macro definition)"));
        }
        let value = self.expect_string("a quoted macro value")?;
        self.expect_eol()?;
        if name.chars().any(|c| c.is_ascii_whitespace()) {
            self.error(at, "macro name cannot contain whitespace");
        } else {
            self.lx.define(&name, &value, false);
        }
        Ok(())
    }

    fn domain(&mut self, at: &At) -> PResult<()> {
        let d = self.expect_string("a domain name after \"domain\"")?;
        self.expect_eol()?;
        if d.is_empty() {
            self.error(at, "domain name is empty");
        } else if d.contains(['\0', '\n']) {
            self.error(at, "invalid domain name");
        }
        self.domain = Some(d);
        Ok(())
    }

    fn interval(&mut self, at: &At) -> PResult<()> {
        let t = self.next();
        let Tok::Num(n) = t.kind else {
            return Err(self.unexpected(t, "a number of seconds after \"interval\""));
        };
        self.expect_eol()?;
        if n < 1 {
            self.error(
                at,
                format!("invalid interval {n}: must be at least 1 second"),
            );
        } else {
            self.interval = Duration::from_secs(n.unsigned_abs());
        }
        Ok(())
    }

    fn provide(&mut self, at: &At) -> PResult<()> {
        self.expect_kw(Kw::Map)?;
        let m = self.expect_string("a map name after \"provide map\"")?;
        self.expect_eol()?;
        if let Some(m) = self.provided_map(at, &m) {
            self.maps.get_or_insert_with(BTreeSet::new).insert(m);
        }
        Ok(())
    }

    /// Reads and checks a TLS file; on failure reports and returns `None`.
    fn tls_file(&mut self, at: &At, what: &str, path: &str, kind: TlsKind) -> Option<Vec<u8>> {
        let read = match kind {
            TlsKind::Key => self.fs.read_secret(Path::new(path)),
            TlsKind::Certs => self.fs.read_file(Path::new(path)),
        };
        let data = match read {
            Ok(d) => d,
            Err(why) => {
                self.error(at, format!("{what} {path:?}: cannot read: {why}"));
                return None;
            }
        };
        let labels = match super::pem::pem_labels(&data) {
            Ok(l) => l,
            Err(e) => {
                self.error(at, format!("{what} {path:?}: {e}"));
                return None;
            }
        };
        let problem = match kind {
            TlsKind::Certs => (!labels.iter().any(|l| l == "CERTIFICATE"))
                .then(|| "no CERTIFICATE block".to_owned()),
            TlsKind::Key => {
                let keys = labels
                    .iter()
                    .filter(|l| {
                        matches!(
                            l.as_str(),
                            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
                        )
                    })
                    .count();
                (keys != 1).then(|| {
                    format!("expected one PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block, found {keys}")
                })
            }
        };
        match problem {
            Some(p) => {
                self.error(at, format!("{what} {path:?}: {p}"));
                None
            }
            None => Some(data),
        }
    }

    fn cafile_stmt(&mut self, at: &At) -> PResult<()> {
        let path = self.expect_string("a file name after \"cafile\"")?;
        self.expect_eol()?;
        let data = self.tls_file(at, "cafile", &path, TlsKind::Certs);
        self.cafile = Some((PathBuf::from(path), data));
        Ok(())
    }

    fn bind_stmt(&mut self) -> PResult<()> {
        let t = self.next();
        let mode = match t.kind {
            Tok::Kw(Kw::Local) => BindMode::Local,
            Tok::Kw(Kw::Portmap) => BindMode::Portmap,
            _ => return Err(self.unexpected(t, "\"local\" or \"portmap\" after \"bind\"")),
        };
        self.expect_eol()?;
        self.bind = mode;
        Ok(())
    }

    fn allow(&mut self, at: &At) -> PResult<()> {
        let net = self.expect_string("a network after \"allow\"")?;
        self.expect_eol()?;
        match net.parse::<IpNet>() {
            Ok(n) => self.allow.push(n),
            Err(e) => self.error(at, format!("allow {net:?}: {e}")),
        }
        Ok(())
    }

    /// `socket "path" restricted [group name|number]`: the restricted
    /// control socket (the control socket itself is `ypldapd -s`).
    fn socket(&mut self, at: &At) -> PResult<()> {
        let path = self.expect_string("a socket path after \"socket\"")?;
        let t = self.next();
        if !matches!(&t.kind, Tok::Str { s, quoted: false } if s == "restricted") {
            return Err(self.unexpected(
                t,
                "\"restricted\" after the socket path (the control socket itself is set with ypldapd -s)",
            ));
        }
        let group = if self.peek().kind == Tok::Kw(Kw::Group) {
            self.next();
            let t = self.next();
            match t.kind {
                Tok::Num(n) => match u32::try_from(n) {
                    Ok(n) => Some(super::GroupName::Id(n)),
                    Err(_) => {
                        self.error(at, format!("socket group {n}: not a group id"));
                        None
                    }
                },
                Tok::Str { s, .. } if !s.is_empty() && !s.contains([':', '\n', '\0']) => {
                    Some(super::GroupName::Name(s))
                }
                _ => return Err(self.unexpected(t, "a group name or number after \"group\"")),
            }
        } else {
            None
        };
        self.expect_eol()?;
        if !path.starts_with('/') {
            self.error(at, format!("socket {path:?}: the path must be absolute"));
        } else if path.len() > super::MAX_SOCKET_PATH {
            self.error(
                at,
                format!(
                    "socket {path:?}: longer than the {} bytes a socket address holds",
                    super::MAX_SOCKET_PATH
                ),
            );
        } else if self.restricted_socket.is_some() {
            self.error(at, "a second restricted socket: only one is allowed");
        } else {
            self.restricted_socket = Some(super::RestrictedSocket {
                path: PathBuf::from(path),
                group,
            });
        }
        Ok(())
    }

    /// `state directory "PATH"`, `state max-age SECONDS`, `state off`.
    fn state(&mut self, at: &At) -> PResult<()> {
        let t = self.next();
        let what = match &t.kind {
            Tok::Kw(Kw::Directory) => "directory",
            Tok::Str { s, quoted: false } if s == "max-age" => "max-age",
            Tok::Str { s, quoted: false } if s == "off" => "off",
            _ => {
                return Err(
                    self.unexpected(t, "\"directory\", \"max-age\" or \"off\" after \"state\"")
                );
            }
        };
        match what {
            "directory" => {
                let path = self.expect_string("a directory after \"state directory\"")?;
                self.expect_eol()?;
                if !path.starts_with('/') {
                    self.error(
                        at,
                        format!("state directory {path:?}: the path must be absolute"),
                    );
                } else if path.contains(['\n', '\0']) || path.split('/').any(|c| c == "..") {
                    self.error(at, format!("state directory {path:?}: not a plain path"));
                } else {
                    self.state.directory = Some(PathBuf::from(path));
                }
            }
            "max-age" => {
                let t = self.next();
                let Tok::Num(n) = t.kind else {
                    return Err(self.unexpected(t, "a number of seconds after \"state max-age\""));
                };
                self.expect_eol()?;
                match u64::try_from(n) {
                    Ok(n) => self.state.max_age = Duration::from_secs(n),
                    Err(_) => self.error(at, format!("state max-age {n}: must be 0 or more")),
                }
            }
            "off" => {
                self.expect_eol()?;
                self.state.directory = None;
            }
            _ => {}
        }
        Ok(())
    }

    /// `group nesting N`: how many levels of nested groups count.
    fn group_nesting(&mut self, at: &At) -> PResult<()> {
        let t = self.next();
        if !matches!(&t.kind, Tok::Str { s, quoted: false } if s == "nesting") {
            return Err(self.unexpected(t, "\"nesting\" after \"group\""));
        }
        let t = self.next();
        let Tok::Num(n) = t.kind else {
            return Err(self.unexpected(t, "a number of levels after \"group nesting\""));
        };
        self.expect_eol()?;
        match u32::try_from(n) {
            Ok(n) if n <= MAX_GROUP_NESTING => self.group_nesting = n,
            _ => self.error(
                at,
                format!("group nesting {n}: must be from 0 to {MAX_GROUP_NESTING}"),
            ),
        }
        Ok(())
    }

    /// `disabled accounts locked|omitted`.
    fn disabled_accounts(&mut self) -> PResult<()> {
        let t = self.next();
        if !matches!(&t.kind, Tok::Str { s, quoted: false } if s == "accounts") {
            return Err(self.unexpected(t, "\"accounts\" after \"disabled\""));
        }
        let t = self.next();
        self.omit_disabled = match &t.kind {
            Tok::Str { s, quoted: false } if s == "locked" => false,
            Tok::Str { s, quoted: false } if s == "omitted" => true,
            _ => return Err(self.unexpected(t, "\"locked\" or \"omitted\"")),
        };
        self.expect_eol()
    }

    /// `expose password hashes`: the password field of `passwd.byname`
    /// and `passwd.byuid` carries the hash instead of `x`.
    fn expose(&mut self) -> PResult<()> {
        for word in ["password", "hashes"] {
            let t = self.next();
            if !matches!(&t.kind, Tok::Str { s, quoted: false } if s == word) {
                return Err(self.unexpected(t, "\"password hashes\" after \"expose\""));
            }
        }
        self.expect_eol()?;
        self.expose_hashes = true;
        Ok(())
    }

    /// `limit NAME VALUE` (see [`super::limits`]).
    fn limit(&mut self, at: &At) -> PResult<()> {
        let name = self.expect_string("a limit's name after \"limit\"")?;
        let t = self.next();
        let Tok::Num(value) = t.kind else {
            return Err(self.unexpected(t, "a number after the limit's name"));
        };
        self.expect_eol()?;
        if let Err(e) = self.limits.set(&name, value) {
            self.error(at, e);
        }
        Ok(())
    }

    fn port(&mut self, at: &At) -> PResult<Option<u16>> {
        let t = self.next();
        match t.kind {
            Tok::Num(n) => {
                if (1..=65535).contains(&n) {
                    Ok(Some(n as u16))
                } else {
                    self.error(at, format!("invalid port: {n}"));
                    Ok(None)
                }
            }
            Tok::Str { s, .. } => {
                if let Ok(n) = s.parse::<i64>() {
                    if (1..=65535).contains(&n) {
                        return Ok(Some(n as u16));
                    }
                    self.error(at, format!("invalid port: {n}"));
                    return Ok(None);
                }
                match self.fs.service_port(&s) {
                    Some(p) if p != 0 => Ok(Some(p)),
                    _ => {
                        self.error(at, format!("port {s} is invalid (unknown service)"));
                        Ok(None)
                    }
                }
            }
            _ => Err(self.unexpected(t, "a port number or service name after \"port\"")),
        }
    }

    fn directory(&mut self, at: &At) -> PResult<()> {
        let header = self.directory_header(at);
        let mut dir = match header {
            Ok(d) => d,
            Err(Failed) => {
                // Skip the rest of the header; if it opens a block, parse the
                // block anyway so that its lines are not taken for globals.
                loop {
                    let t = self.next();
                    match t.kind {
                        Tok::Char(b'{') => break,
                        Tok::Newline | Tok::Error => return Ok(()),
                        Tok::Eof => {
                            self.peeked = Some(t);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                let mut d = DirBuilder::new(at.clone(), String::new(), 389, TlsMode::None, true);
                d.dummy = true;
                d
            }
        };
        self.directory_body(&mut dir);
        // The block ended with `}` (or the file ended); a newline must follow.
        self.expect_eol()?;
        self.finish_directory(dir);
        Ok(())
    }

    fn directory_header(&mut self, at: &At) -> PResult<DirBuilder> {
        let host = self.expect_string("a host name after \"directory\"")?;
        let mut port = None;
        let mut broken = false;
        if self.peek().kind == Tok::Kw(Kw::Port) {
            self.next();
            match self.port(at)? {
                Some(p) => port = Some(p),
                None => broken = true,
            }
        }
        let tls = match self.peek().kind {
            Tok::Kw(Kw::Tls) => {
                self.next();
                TlsMode::StartTls
            }
            Tok::Kw(Kw::Ldaps) => {
                self.next();
                TlsMode::Ldaps
            }
            _ => TlsMode::None,
        };
        let t = self.next();
        if t.kind != Tok::Char(b'{') {
            let what = if port.is_none() && !broken && tls == TlsMode::None {
                "\"port\", \"tls\", \"ldaps\" or \"{\""
            } else if tls == TlsMode::None {
                "\"tls\", \"ldaps\" or \"{\" (port comes before tls/ldaps)"
            } else {
                "\"{\""
            };
            return Err(self.unexpected(t, what));
        }
        if host.is_empty() {
            self.error(at, "directory host name is empty");
            broken = true;
        }
        let port = port.unwrap_or_else(|| tls.default_port());
        let mut d = DirBuilder::new(at.clone(), host, port, tls, broken);
        if tls != TlsMode::None {
            d.ca = self.ca_for_directory(at);
            if d.ca.is_none() {
                d.broken = true;
            }
        }
        Ok(d)
    }

    /// The CA bundle for a TLS directory: the `cafile` in force, else the
    /// first existing default bundle.
    fn ca_for_directory(&mut self, at: &At) -> Option<TlsFile> {
        if let Some((path, data)) = &self.cafile {
            // An unreadable cafile was reported at its own line.
            return data.as_ref().map(|d| TlsFile {
                path: path.clone(),
                data: d.clone(),
            });
        }
        let fs = self.fs;
        match DEFAULT_CA_FILES.iter().find(|p| fs.exists(Path::new(p))) {
            Some(p) => self
                .tls_file(at, "CA bundle", p, TlsKind::Certs)
                .map(|data| TlsFile {
                    path: PathBuf::from(p),
                    data,
                }),
            None => {
                self.error(
                    at,
                    format!(
                        "no CA bundle for a TLS directory: no cafile given and none of {} exists",
                        DEFAULT_CA_FILES.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// Parses directives up to and including `}`.
    fn directory_body(&mut self, d: &mut DirBuilder) {
        loop {
            let t = self.next();
            let at = At::of(&t);
            let r = match t.kind {
                Tok::Newline | Tok::Error => continue,
                Tok::Char(b'}') => return,
                Tok::Eof => {
                    let start = d.at.clone();
                    self.error(
                        &start,
                        "syntax error: directory block not closed (missing \"}\")",
                    );
                    self.peeked = Some(t);
                    return;
                }
                Tok::Kw(k) => self.directive(d, &at, k),
                Tok::Str { s, quoted: false } if s == "sync" => self.sync_setting(d),
                Tok::Str { s, quoted: false } if RecordKind::from_word(&s).is_some() => {
                    match RecordKind::from_word(&s) {
                        Some(kind) => self.kind_directive(d, &at, kind),
                        None => Ok(()),
                    }
                }
                _ => Err(self.unexpected(t, "a directory setting or \"}\"")),
            };
            let r = r.and_then(|()| self.expect_directive_end());
            if r.is_err() {
                self.skip_line(true);
            }
        }
    }

    /// A directive ends at a newline, or at a `}` that closes the block.
    fn expect_directive_end(&mut self) -> PResult<()> {
        let t = self.peek();
        match t.kind {
            Tok::Newline | Tok::Error => {
                self.next();
                Ok(())
            }
            Tok::Char(b'}') | Tok::Eof => Ok(()),
            _ => {
                let t = self.next();
                Err(self.unexpected(t, "end of line"))
            }
        }
    }

    fn set_bind(&mut self, d: &mut DirBuilder, at: &At, bind: Bind) {
        if let Some((_, line)) = &d.bind {
            let line = *line;
            self.error(
                at,
                format!("can't specify multiple bind types (first bind setting on line {line})"),
            );
            d.broken = true;
            return;
        }
        d.bind = Some((bind, at.line));
    }

    fn directive(&mut self, d: &mut DirBuilder, at: &At, k: Kw) -> PResult<()> {
        match k {
            Kw::Binddn => {
                let dn = self.expect_string("a DN after \"binddn\"")?;
                // Simple bind with a DN; an explicitly empty DN stays empty.
                self.set_simple(d, at, Some(dn), None);
            }
            Kw::Bindcred => {
                let cred = self.expect_string("a password after \"bindcred\"")?;
                self.set_simple(d, at, None, Some(cred));
            }
            Kw::Bindext => {
                let authzid = match &self.peek().kind {
                    Tok::Str { .. } => self.expect_string("an identity")?,
                    _ => String::new(),
                };
                self.set_bind(d, at, Bind::External { authzid });
            }
            Kw::Certfile | Kw::Keyfile => {
                let (what, kind) = if k == Kw::Certfile {
                    ("certfile", TlsKind::Certs)
                } else {
                    ("keyfile", TlsKind::Key)
                };
                let path = self.expect_string(&format!("a file name after \"{what}\""))?;
                if d.tls == TlsMode::None {
                    let noun = if k == Kw::Certfile { "cert" } else { "key" };
                    self.error(at, format!("can't set {noun} file without tls enabled"));
                    d.broken = true;
                    return Ok(());
                }
                match self.tls_file(at, what, &path, kind) {
                    Some(data) => {
                        let f = Some(TlsFile {
                            path: PathBuf::from(path),
                            data,
                        });
                        if k == Kw::Certfile {
                            d.cert = f;
                        } else {
                            d.key = f;
                        }
                    }
                    None => d.broken = true,
                }
            }
            Kw::Basedn => d.basedn = self.expect_string("a DN after \"basedn\"")?,
            Kw::Groupdn => d.groupdn = Some(self.expect_string("a DN after \"groupdn\"")?),
            Kw::Passwd | Kw::Group => {
                self.expect_kw(Kw::Filter)?;
                let f = self.expect_string("a quoted filter")?;
                let which = if k == Kw::Passwd { "passwd" } else { "group" };
                if let Err(e) = super::filter::validate_filter(&f) {
                    self.error(at, format!("invalid {which} filter {f:?}: {e}"));
                    d.broken = true;
                }
                if k == Kw::Passwd {
                    d.passwd_filter = Some(f);
                } else {
                    d.group_filter = Some(f);
                }
            }
            Kw::Attribute | Kw::List => {
                let slot = self.field()?;
                self.expect_kw(Kw::Maps)?;
                self.expect_kw(Kw::To)?;
                let name = self.expect_string("a quoted LDAP attribute name")?;
                if name.is_empty() {
                    self.error(at, "empty LDAP attribute name");
                    d.broken = true;
                    return Ok(());
                }
                let m = if k == Kw::List {
                    Mapping::List { name }
                } else {
                    Mapping::Attribute { name }
                };
                self.set_field(d, at, slot, m);
            }
            Kw::Fixed => {
                self.expect_kw(Kw::Attribute)?;
                let slot = self.field()?;
                let value = self.expect_string("a quoted value")?;
                self.set_field(d, at, slot, Mapping::Fixed { value });
            }
            _ => {
                let t = Token {
                    kind: Tok::Kw(k),
                    file: at.file.clone(),
                    line: at.line,
                };
                return Err(self.unexpected(t, "a directory setting or \"}\""));
            }
        }
        Ok(())
    }

    /// `sync auto`, `sync refreshonly` or `sync off`: whether the
    /// directory is kept current by content synchronization when its
    /// server offers it, and whether by a persistent search or by polling.
    fn sync_setting(&mut self, d: &mut DirBuilder) -> PResult<()> {
        let t = self.next();
        d.sync = match &t.kind {
            Tok::Str { s, quoted: false } if s == "auto" => SyncSetting::Auto,
            Tok::Str { s, quoted: false } if s == "refreshonly" => SyncSetting::RefreshOnly,
            Tok::Str { s, quoted: false } if s == "off" => SyncSetting::Off,
            _ => {
                return Err(
                    self.unexpected(t, "\"auto\", \"refreshonly\" or \"off\" after \"sync\"")
                );
            }
        };
        Ok(())
    }

    fn set_simple(
        &mut self,
        d: &mut DirBuilder,
        at: &At,
        dn: Option<String>,
        cred: Option<String>,
    ) {
        match &mut d.bind {
            Some((
                Bind::Simple {
                    dn: old_dn,
                    credential,
                },
                _,
            )) => {
                if let Some(dn) = dn {
                    *old_dn = dn;
                }
                if let Some(c) = cred {
                    *credential = c;
                }
            }
            _ => self.set_bind(
                d,
                at,
                Bind::Simple {
                    dn: dn.unwrap_or_default(),
                    credential: cred.unwrap_or_default(),
                },
            ),
        }
    }

    fn field(&mut self) -> PResult<usize> {
        let t = self.next();
        if let Some(slot) = field_slot(&t.kind) {
            return Ok(slot);
        }
        Err(self.unexpected(t, "a field name (name, passwd, uid, gid, class, change, expire, gecos, home, shell, groupname, grouppasswd, groupgid, groupmembers, or a shadow field: shadowlastchange, shadowmin, shadowmax, shadowwarning, shadowinactive, shadowexpire, shadowflag)"))
    }

    fn set_field(&mut self, d: &mut DirBuilder, at: &At, slot: usize, m: Mapping) {
        let Some(current) = d.fields.get_mut(slot) else {
            return;
        };
        // Several `list groupmembers` lines: the members are the union of
        // the attributes (`memberUid` names beside `member` DNs).
        if let (Some((Mapping::List { .. }, _)), Mapping::List { name }) = (&current, &m) {
            if slot == GROUPMEMBERS {
                d.groupmembers_also.push(name.clone());
                return;
            }
        }
        if let Some((_, line)) = current {
            let line = *line;
            self.error(
                at,
                format!(
                    "field {} is already mapped on line {line}",
                    field_name(slot)
                ),
            );
            d.broken = true;
            return;
        }
        *current = Some((m, at.line));
    }

    fn finish_directory(&mut self, d: DirBuilder) {
        let at = d.at.clone();
        let mut broken = d.broken;
        let mut missing = Vec::new();
        if d.passwd_filter.is_none() {
            missing.push("passwd filter");
        }
        if d.group_filter.is_none() {
            missing.push("group filter");
        }
        if !missing.is_empty() && !d.dummy {
            self.error(
                &at,
                format!("directory {:?}: no {}", d.host, missing.join(" and no ")),
            );
            broken = true;
        }
        let unmapped: Vec<&str> = FIELDS
            .iter()
            .zip(d.fields.iter().take(FIELDS.len()))
            .filter(|(_, m)| m.is_none())
            .map(|(f, _)| *f)
            .collect();
        if !unmapped.is_empty() && !d.dummy {
            self.error(
                &at,
                format!(
                    "directory {:?}: no mapping for {}",
                    d.host,
                    unmapped.join(", ")
                ),
            );
            broken = true;
        }
        let expire = d.fields[6].as_ref().map(|(m, _)| m);
        if let (true, Some((_, line))) = (gives_date(expire), &d.fields[FIELDS.len() + 5]) {
            self.error(
                &at,
                format!(
                    "directory {:?}: expire and shadowexpire (line {line}) are one date: map only one of them, the other map is derived from it",
                    d.host
                ),
            );
            broken = true;
        }
        if d.cert.is_some() != d.key.is_some() && !d.broken {
            self.error(
                &at,
                format!(
                    "directory {:?}: certfile and keyfile must be given together",
                    d.host
                ),
            );
            broken = true;
        }
        if broken {
            return;
        }
        let mut fields = d.fields.into_iter().map(|f| f.map(|(m, _)| m));
        // The upstream fields are all mapped (checked above), in slot order.
        let f = &mut fields;
        let fields = FieldMappings {
            name: upstream(f),
            passwd: upstream(f),
            uid: upstream(f),
            gid: upstream(f),
            class: upstream(f),
            change: upstream(f),
            expire: upstream(f),
            gecos: upstream(f),
            home: upstream(f),
            shell: upstream(f),
            groupname: upstream(f),
            grouppasswd: upstream(f),
            groupgid: upstream(f),
            groupmembers: upstream(f),
            groupmembers_also: d.groupmembers_also,
            shadow: ShadowMappings {
                lastchange: f.next().flatten(),
                min: f.next().flatten(),
                max: f.next().flatten(),
                warning: f.next().flatten(),
                inactive: f.next().flatten(),
                expire: f.next().flatten(),
                flag: f.next().flatten(),
            },
        };
        let groupdn = d.groupdn.unwrap_or_else(|| d.basedn.clone());
        let (ca_pem, cafile) = split(d.ca);
        let (cert_pem, certfile) = split(d.cert);
        let (key_pem, keyfile) = split(d.key);
        self.directories.push(DirectoryConfig {
            settings: Directory {
                host: d.host,
                port: d.port,
                tls: d.tls,
                bind: d.bind.map_or(Bind::Anonymous, |(b, _)| b),
                basedn: d.basedn,
                groupdn,
                passwd_filter: d.passwd_filter.unwrap_or_default(),
                group_filter: d.group_filter.unwrap_or_default(),
                fields,
                records: Vec::new(),
                sync: d.sync,
            },
            ca_pem,
            cert_pem,
            key_pem,
            cafile,
            certfile,
            keyfile,
        });
        self.kind_settings.push(d.kinds);
    }
}

/// The next upstream field's mapping (every one is present once the block
/// passed its checks).
fn upstream(slots: &mut impl Iterator<Item = Option<Mapping>>) -> Mapping {
    slots.next().flatten().unwrap_or(Mapping::Fixed {
        value: String::new(),
    })
}

fn split(f: Option<TlsFile>) -> (Option<Vec<u8>>, Option<PathBuf>) {
    match f {
        Some(f) => (Some(f.data), Some(f.path)),
        None => (None, None),
    }
}

#[derive(Clone, Copy)]
enum TlsKind {
    Certs,
    Key,
}

impl DirBuilder {
    fn new(at: At, host: String, port: u16, tls: TlsMode, broken: bool) -> Self {
        DirBuilder {
            at,
            host,
            port,
            tls,
            bind: None,
            basedn: String::new(),
            groupdn: None,
            passwd_filter: None,
            group_filter: None,
            fields: Default::default(),
            groupmembers_also: Vec::new(),
            kinds: BTreeMap::new(),
            sync: SyncSetting::Auto,
            cert: None,
            key: None,
            ca: None,
            broken,
            dummy: false,
        }
    }
}
