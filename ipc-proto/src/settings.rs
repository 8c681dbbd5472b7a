//! Settings that travel from ypldapd to its helpers.
//!
//! ypldapd parses `ypldap.conf` as root and sends each helper only what it
//! needs: the broker gets host names and ports, the LDAP reader gets the
//! directory blocks with credentials and the TLS material as bytes (it can
//! open no file itself).

use entry_rules::records::RecordKind;
use serde::{Deserialize, Serialize};

/// How a directory is reached at the transport level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain LDAP (`directory "h" { … }`).
    None,
    /// LDAP StartTLS (`directory "h" tls { … }`).
    StartTls,
    /// TLS from the first byte (`directory "h" ldaps { … }`).
    Ldaps,
}

impl TlsMode {
    /// The port used when the configuration names none: 636 for `ldaps`, else 389.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::Ldaps => 636,
            TlsMode::None | TlsMode::StartTls => 389,
        }
    }
}

/// How the LDAP reader authenticates to a directory.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Bind {
    /// No bind operation at all.
    Anonymous,
    /// LDAP simple bind (`binddn`, `bindcred`); a missing part is the empty string.
    Simple { dn: String, credential: String },
    /// SASL EXTERNAL (`bindext [id]`), normally with a TLS client certificate.
    External { authzid: String },
}

impl std::fmt::Debug for Bind {
    /// Never prints the credential: passwords stay out of every log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bind::Anonymous => f.write_str("Anonymous"),
            Bind::Simple { dn, .. } => f
                .debug_struct("Simple")
                .field("dn", dn)
                .field("credential", &"********")
                .finish(),
            Bind::External { authzid } => f
                .debug_struct("External")
                .field("authzid", authzid)
                .finish(),
        }
    }
}

/// Where one map field comes from (`attribute`, `fixed attribute`, `list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Mapping {
    /// First value of an LDAP attribute, matched case-insensitively.
    Attribute { name: String },
    /// A constant.
    Fixed { value: String },
    /// All values of an LDAP attribute, joined with `,`.
    List { name: String },
}

/// The fields a directory block maps: upstream's fourteen, in its slot
/// order, then the shadow fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMappings {
    pub name: Mapping,
    pub passwd: Mapping,
    pub uid: Mapping,
    pub gid: Mapping,
    pub class: Mapping,
    pub change: Mapping,
    pub expire: Mapping,
    pub gecos: Mapping,
    pub home: Mapping,
    pub shell: Mapping,
    pub groupname: Mapping,
    pub grouppasswd: Mapping,
    pub groupgid: Mapping,
    pub groupmembers: Mapping,
    /// More attributes whose values join `groupmembers` (further `list
    /// groupmembers` statements: `memberUid` beside `member`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groupmembers_also: Vec<String>,
    /// The shadow fields (`shadowlastchange` …), none unless configured.
    #[serde(default)]
    pub shadow: ShadowMappings,
}

/// Where the shadow fields (RFC 2307 `shadowAccount`, in days) come from;
/// a field the configuration does not map stays empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowMappings {
    #[serde(default)]
    pub lastchange: Option<Mapping>,
    #[serde(default)]
    pub min: Option<Mapping>,
    #[serde(default)]
    pub max: Option<Mapping>,
    #[serde(default)]
    pub warning: Option<Mapping>,
    #[serde(default)]
    pub inactive: Option<Mapping>,
    #[serde(default)]
    pub expire: Option<Mapping>,
    #[serde(default)]
    pub flag: Option<Mapping>,
}

impl ShadowMappings {
    /// Whether no shadow field is mapped.
    pub fn is_empty(&self) -> bool {
        *self == ShadowMappings::default()
    }

    /// Each field's configuration name and mapping, in shadow line order.
    pub fn fields(&self) -> [(&'static str, &Option<Mapping>); 7] {
        [
            ("shadowlastchange", &self.lastchange),
            ("shadowmin", &self.min),
            ("shadowmax", &self.max),
            ("shadowwarning", &self.warning),
            ("shadowinactive", &self.inactive),
            ("shadowexpire", &self.expire),
            ("shadowflag", &self.flag),
        ]
    }
}

/// One `directory` block, everything the LDAP reader needs to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// The host as written: used for resolution, TLS name checks and logs.
    pub host: String,
    /// The TCP port (already defaulted from the TLS mode).
    pub port: u16,
    pub tls: TlsMode,
    pub bind: Bind,
    pub basedn: String,
    /// Where groups are searched; `basedn` when the file has no `groupdn`.
    pub groupdn: String,
    pub passwd_filter: String,
    pub group_filter: String,
    pub fields: FieldMappings,
    /// The searches of the classic maps served (hosts, netgroups, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordSearch>,
    /// Whether the reader may keep this directory current with content
    /// synchronization (RFC 4533) when the server offers it.
    #[serde(default)]
    pub sync: SyncSetting,
}

/// `sync` in a directory block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncSetting {
    /// Content synchronization when the server offers it, else full reads.
    #[default]
    Auto,
    /// Full reads every `interval` only (`sync off`).
    Off,
    /// Content synchronization without a persistent search (`sync
    /// refreshonly`): a refreshOnly search from the cookie at each update
    /// ypldapd asks for, every `interval`, whose changes are sent as a
    /// persistent search's are.
    RefreshOnly,
}

/// One search of a classic map's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSearch {
    /// Its number among all directories' searches: the records it finds
    /// carry it ([`entry_rules::records::Record::search`]).
    pub id: u16,
    /// What the entries are, for the reader's logs.
    pub kind: RecordKind,
    pub base: String,
    pub filter: String,
    /// The attributes read, whose values a record carries in this order
    /// (one may be named twice: a site map's key and value).
    pub attributes: Vec<String>,
}

/// Which TLS file a [`crate::ParentToClient::Pem`] chunk belongs to. The files
/// are read by ypldapd as root and travel in chunks, since a CA bundle is
/// larger than one message may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PemKind {
    /// The `cafile` in force for the directory (`/etc/ssl/cert.pem` unless set).
    Ca,
    /// The client certificate (`certfile`).
    Cert,
    /// The client key (`keyfile`).
    Key,
}

/// What the network broker needs of one directory: where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}
