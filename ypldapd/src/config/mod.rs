//! `ypldap.conf`: the OpenBSD-compatible configuration parser.
//!
//! The parser proper ([`parse_str`]) is pure: it reads included files and
//! TLS files only through an [`IncludeSource`]. [`load`] is the thin I/O
//! layer the daemon calls: it reads the real filesystem, runs the secrecy
//! check on every configuration file and looks service names up in
//! `/etc/services` (falling back to a built-in table that knows `ldap`).
//!
//! Deliberate differences from upstream (see ypldap.conf(5), COMPATIBILITY):
//! no length caps; a missing `domain`, missing filters or field mappings,
//! invalid RFC 4515 filters, a field mapped twice, two bind methods,
//! `certfile`/`keyfile` without TLS or without each other, unreadable or
//! non-PEM TLS files, `interval` < 1 and unknown services are errors.
//! Errors carry `file:line`; after an error the rest of the line is
//! skipped (inside a directory block, up to a `}`), so all are reported, up
//! to 1000. Includes nest at most 16 deep, 256 in all.

mod file;
mod filter;
mod ipnet;
mod lexer;
mod limits;
mod parser;
mod pem;
mod print;
pub mod records;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use yp_proto::maps::MapName;

pub use file::FsSource;
pub use filter::validate_filter;
pub use ipnet::{IpNet, IpNetError};
pub use limits::{ALL_RATE_GRACE, ResourceLimits};
pub use pem::{PemError, pem_labels};

/// Command-line influence on parsing.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-D name=value` macros, already split at the last `=`. A definition
    /// in the file never overrides them.
    pub macros: Vec<(String, String)>,
    /// `-v`: report unused macros as warnings.
    pub verbose: bool,
}

/// A successfully parsed configuration and its warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    /// Complete lines ready for stderr, e.g. `warning: macro 'x' not used`.
    pub warnings: Vec<String>,
}

/// One error: `file:line: message`. A `line` of 0 means the file as a whole
/// (e.g. a missing `domain`, or the secrecy check), shown as `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// Every error of a configuration, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// How the YP server makes itself known (`bind portmap` / `bind local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// Register with portmap/rpcbind (the default).
    #[default]
    Portmap,
    /// Loopback-only sockets and a binding file, no portmap.
    Local,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub domain: String,
    pub interval: Duration,
    /// `None`: the file has no `provide map`, so the eight maps of users and groups are served.
    pub maps: Option<BTreeSet<MapName>>,
    pub bind: BindMode,
    /// `allow` networks; empty means every client is answered.
    pub allow: Vec<IpNet>,
    /// `expose password hashes`: `passwd.byname` and `passwd.byuid` carry
    /// the password hash instead of `x` (off unless the file says so).
    pub expose_hashes: bool,
    /// `group nesting`: levels of nested groups whose members count.
    pub group_nesting: u32,
    /// `disabled accounts omitted`: accounts the directory marks disabled
    /// are left out (by default they are served locked and expired).
    pub omit_disabled: bool,
    pub directories: Vec<DirectoryConfig>,
    /// `map` blocks: the site's own maps, served.
    pub site_maps: Vec<records::SiteMap>,
    /// `limit` lines over the defaults.
    pub limits: ResourceLimits,
    /// `socket "path" restricted [group G]`: a second control socket that
    /// answers `ypldapctl show` only.
    pub restricted_socket: Option<RestrictedSocket>,
    /// `state` lines: where the maps' entries and the sync cookies are
    /// saved, and how old saved maps may be served.
    pub state: StateSettings,
}

/// The state directory (`state directory`, `state max-age`, `state off`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    /// `None`: `state off`, nothing saved or read.
    pub directory: Option<PathBuf>,
    /// Saved maps older than this are not served at start while the
    /// directories are unreachable; zero: never.
    pub max_age: Duration,
}

/// Where the state is kept by default: the system's place for a daemon's
/// persistent data (hier(7) on the BSDs, the FHS on Linux).
pub const DEFAULT_STATE_DIRECTORY: &str = if cfg!(target_os = "linux") {
    "/var/lib/ypldap"
} else {
    "/var/db/ypldap"
};

/// How old saved maps may be when served at start: a day.
pub const DEFAULT_STATE_MAX_AGE: Duration = Duration::from_secs(86_400);

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            directory: Some(PathBuf::from(DEFAULT_STATE_DIRECTORY)),
            max_age: DEFAULT_STATE_MAX_AGE,
        }
    }
}

/// The restricted control socket: where, and which group may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedSocket {
    pub path: PathBuf,
    /// `None`: anyone on the host (mode 0666, as bgpd's); else root and
    /// this group (mode 0660).
    pub group: Option<GroupName>,
}

/// A group as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupName {
    Id(u32),
    /// Looked up in `/etc/group` itself, before the privilege drop, never
    /// through NSS (which could ask NIS, i.e. this very server).
    Name(String),
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupName::Id(n) => write!(f, "{n}"),
            GroupName::Name(n) => f.write_str(n),
        }
    }
}

/// The gid of group `name` in the text of an `/etc/group` file. NIS
/// compatibility lines (`+`, `-`) are not followed: ypldapd must not ask
/// NIS while it starts (it may be the NIS server asked).
pub fn group_id(etc_group: &str, name: &str) -> Option<u32> {
    etc_group.lines().find_map(|line| {
        if line.starts_with(['+', '-', '#']) {
            return None;
        }
        let mut fields = line.split(':');
        let (n, _, gid) = (fields.next()?, fields.next()?, fields.next()?);
        (n == name).then(|| gid.trim().parse().ok()).flatten()
    })
}

/// One `directory` block and the TLS material it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    pub settings: ipc_proto::Directory,
    /// The CA bundle in force (TLS directories only), as read at parse time.
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
    pub cafile: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
}

/// `group nesting` when the file has none (see `yp_proto`'s reason).
pub const DEFAULT_GROUP_NESTING: u32 = yp_proto::build::DEFAULT_NESTING;

/// The most `group nesting` may be: the resolution recurses once a level.
pub const MAX_GROUP_NESTING: u32 = 64;

/// The refresh period when the file has no `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// The CA bundles tried, in order, for a TLS directory with no `cafile`.
pub const DEFAULT_CA_FILES: [&str; 2] = ["/etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"];

/// The longest socket path: what `sockaddr_un` holds on every system
/// (104 bytes on the BSDs with the terminating NUL, 108 on Linux).
pub const MAX_SOCKET_PATH: usize = 103;

/// Maximum nesting of `include` (upstream has none and recurses until it
/// runs out of descriptors).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Maximum number of `include` statements read in all (so that a file
/// including itself twice per level cannot take exponential time).
pub const MAX_INCLUDES: usize = 256;

impl Config {
    /// The maps answered: those named by `provide map` (or the users'
    /// and groups' eight when there is none), and the site maps.
    pub fn served_maps(&self) -> Vec<MapName> {
        let mut maps = match &self.maps {
            Some(set) => set.iter().copied().collect(),
            None => MapName::ALL.to_vec(),
        };
        for m in &self.site_maps {
            if !maps.contains(&m.name) {
                maps.push(m.name);
            }
        }
        maps
    }

    /// Where the network broker connects, one entry per directory.
    pub fn endpoints(&self) -> Vec<ipc_proto::Endpoint> {
        self.directories
            .iter()
            .map(|d| ipc_proto::Endpoint {
                host: d.settings.host.clone(),
                port: d.settings.port,
            })
            .collect()
    }

    /// Whether a client at `addr` may be answered (`allow`).
    pub fn allows(&self, addr: &std::net::IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(addr))
    }
}

/// Where the parser gets the bytes of included files and TLS files.
pub trait IncludeSource {
    /// An `include`d configuration file, secrecy-checked by real sources.
    /// The error is the reason, e.g. `No such file or directory`.
    fn read_config(&self, path: &str) -> Result<Vec<u8>, String>;
    /// A `cafile` or `certfile`.
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, String>;
    /// A file holding a secret (`keyfile`): the same secrecy check as a
    /// configuration file, in real sources.
    fn read_secret(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.read_config(&path.to_string_lossy())
    }
    /// Whether a file exists (for the default CA bundle).
    fn exists(&self, path: &Path) -> bool;
    /// The TCP port of a service name (`port ldap`). The default knows only
    /// the built-in table.
    fn service_port(&self, name: &str) -> Option<u16> {
        builtin_service(name)
    }
}

/// The built-in service table: `ldap` is 389. (`ldaps` is a keyword, so it
/// can never reach a service lookup.)
pub fn builtin_service(name: &str) -> Option<u16> {
    match name {
        "ldap" => Some(389),
        _ => None,
    }
}

/// An in-memory [`IncludeSource`] for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct MemSource {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl MemSource {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, path: &str, data: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_owned(), data.into());
        self
    }
}

impl IncludeSource for MemSource {
    fn read_config(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| "No such file or directory".to_owned())
    }
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.read_config(&path.to_string_lossy())
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path.to_string_lossy().as_ref())
    }
}

/// Parses configuration text. `name` is the file name used in messages.
/// Pure: every other file is read through `fs`.
pub fn parse_str(
    name: &str,
    text: &str,
    opts: &LoadOptions,
    fs: &dyn IncludeSource,
) -> Result<Loaded, Diagnostics> {
    parser::parse(name, text.as_bytes().to_vec(), opts, fs)
}

/// Parses raw bytes (the file need not be UTF-8 outside quoted values).
pub fn parse_bytes(
    name: &str,
    data: Vec<u8>,
    opts: &LoadOptions,
    fs: &dyn IncludeSource,
) -> Result<Loaded, Diagnostics> {
    parser::parse(name, data, opts, fs)
}

/// Reads, secrecy-checks and parses `path` and everything it includes.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    load_noting_files(path, opts).0
}

/// As [`load`], also returning every file it read (the configuration, its
/// includes, TLS files, `/etc/services`), whether or not it succeeded.
pub fn load_noting_files(
    path: &Path,
    opts: &LoadOptions,
) -> (Result<Loaded, Diagnostics>, Vec<std::path::PathBuf>) {
    let fs = file::Recording::new(&FsSource);
    let name = path.to_string_lossy().into_owned();
    let result = fs
        .read_config(&name)
        .map_err(|message| {
            Diagnostics(vec![Diagnostic {
                file: name.clone(),
                line: 0,
                message,
            }])
        })
        .and_then(|data| parser::parse(&name, data, opts, &fs));
    (result, fs.files())
}
