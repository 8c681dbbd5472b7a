//! The tests' one `ypldap.conf` builder: a [`Config`] is the top-level
//! statements and one [`DirectoryBlock`] per directory, rendered to the
//! text ypldapd reads. A test that needs a statement the builder does not
//! name adds it as a line ([`Config::statements`], [`DirectoryBlock::extra`]).

use std::fmt::Write;
use std::path::PathBuf;

use crate::expect::Password;
use crate::ldif::{BIND_DN, BIND_PW, SUFFIX};

/// A whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    pub domain: String,
    pub interval: u32,
    /// `cafile`: the CA that verifies the directories' certificates. A
    /// [`crate::world::World`] fills in its own PKI's CA when a block uses
    /// TLS and this is `None`.
    pub cafile: Option<PathBuf>,
    /// More top-level statements, one per line, written after `interval`
    /// (`allow "…"`, `provide map "…"`, `bind local`, …).
    pub statements: Vec<String>,
    pub directories: Vec<DirectoryBlock>,
}

impl Config {
    /// `domain` and `interval 600`, nothing else yet.
    pub fn new(domain: &str) -> Config {
        Config {
            domain: domain.to_owned(),
            interval: 600,
            cafile: None,
            statements: Vec::new(),
            directories: Vec::new(),
        }
    }

    /// Adds a top-level statement.
    pub fn statement(mut self, line: impl Into<String>) -> Config {
        self.statements.push(line.into());
        self
    }

    /// Whether any directory is read over TLS (and so needs `cafile`).
    pub fn uses_tls(&self) -> bool {
        self.directories.iter().any(|d| d.tls != Tls::None)
    }

    /// Where the password field comes from: [`Password::FromDirectory`]
    /// only if every directory maps it from `userPassword`.
    pub fn password(&self) -> Password {
        if self
            .directories
            .iter()
            .all(|d| d.password == Password::FromDirectory)
        {
            Password::FromDirectory
        } else {
            Password::Fixed
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = format!("domain \"{}\"\ninterval {}\n", self.domain, self.interval);
        if let Some(ca) = &self.cafile {
            let _ = writeln!(s, "cafile \"{}\"", ca.display());
        }
        for line in &self.statements {
            let _ = writeln!(s, "{line}");
        }
        for d in &self.directories {
            s.push_str(&d.render());
        }
        s
    }
}

/// How a directory is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    /// `tls`: StartTLS on the LDAP port.
    StartTls,
    /// `ldaps`: TLS from the first byte.
    Ldaps,
}

/// How ypldapd binds to a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Anonymous,
    /// `binddn` and `bindcred`.
    Simple {
        dn: String,
        password: String,
    },
    /// `certfile`, `keyfile` and `bindext`: SASL EXTERNAL with a client
    /// certificate (needs [`Tls::StartTls`] or [`Tls::Ldaps`]).
    External {
        cert: PathBuf,
        key: PathBuf,
    },
}

impl Bind {
    /// The tests' service account, which may read `userPassword`.
    pub fn service() -> Bind {
        Bind::Simple {
            dn: BIND_DN.to_owned(),
            password: BIND_PW.to_owned(),
        }
    }
}

/// One `directory` block, RFC 2307 schema (`posixAccount`, `posixGroup`
/// with `memberUid`) under the tests' suffix.
#[derive(Debug, Clone)]
pub struct DirectoryBlock {
    /// As written after `directory`: an address or a name.
    pub host: String,
    pub port: Option<u16>,
    pub tls: Tls,
    pub bind: Bind,
    pub password: Password,
    pub passwd_filter: String,
    pub group_filter: String,
    /// `basedn` (the users', and the classic maps' entries unless a
    /// statement says otherwise) and `groupdn`.
    pub basedn: String,
    pub groupdn: String,
    /// The attributes of `name`, `gecos`, `home` and `groupname`.
    pub name_attribute: String,
    pub gecos_attribute: String,
    pub home_attribute: String,
    pub groupname_attribute: String,
    /// One `list groupmembers maps to` line each (`memberUid`, `member`).
    pub members: Vec<String>,
    /// More lines inside the block, written after the bind lines.
    pub extra: Vec<String>,
}

impl DirectoryBlock {
    /// The directory at `host` on its default port, plain LDAP, read with
    /// the service account, passwords from `userPassword`.
    pub fn new(host: &str) -> DirectoryBlock {
        DirectoryBlock {
            host: host.to_owned(),
            port: None,
            tls: Tls::None,
            bind: Bind::service(),
            password: Password::FromDirectory,
            passwd_filter: "(objectClass=posixAccount)".into(),
            group_filter: "(objectClass=posixGroup)".into(),
            basedn: format!("ou=People,{SUFFIX}"),
            groupdn: format!("ou=Groups,{SUFFIX}"),
            name_attribute: "uid".into(),
            gecos_attribute: "gecos".into(),
            home_attribute: "homeDirectory".into(),
            groupname_attribute: "cn".into(),
            members: vec!["memberUid".into()],
            extra: Vec::new(),
        }
    }

    /// RFC 2307bis groups: `groupOfNames` with a `gidNumber`, members as
    /// `member` DNs and, where a group has them, `memberUid` names.
    pub fn rfc2307bis(mut self) -> DirectoryBlock {
        self.group_filter = "(&(objectClass=groupOfNames)(gidNumber=*))".into();
        self.members = vec!["memberUid".into(), "member".into()];
        self
    }

    /// The block's text.
    pub fn render(&self) -> String {
        let mut head = format!("\"{}\"", self.host);
        if let Some(p) = self.port {
            let _ = write!(head, " port {p}");
        }
        match self.tls {
            Tls::None => {}
            Tls::StartTls => head.push_str(" tls"),
            Tls::Ldaps => head.push_str(" ldaps"),
        }
        let mut bind = match &self.bind {
            Bind::Anonymous => String::new(),
            Bind::Simple { dn, password } => {
                format!("\tbinddn \"{dn}\"\n\tbindcred \"{password}\"\n")
            }
            Bind::External { cert, key } => format!(
                "\tcertfile \"{}\"\n\tkeyfile \"{}\"\n\tbindext\n",
                cert.display(),
                key.display()
            ),
        };
        for line in &self.extra {
            let _ = writeln!(bind, "\t{line}");
        }
        let members: String = self
            .members
            .iter()
            .map(|m| format!("\tlist groupmembers maps to \"{m}\"\n"))
            .collect();
        let passwd = match self.password {
            Password::FromDirectory => "\tattribute passwd maps to \"userPassword\"\n",
            Password::Fixed => "\tfixed attribute passwd \"*\"\n",
        };
        format!(
            "directory {head} {{\n{bind}\
             \tbasedn \"{basedn}\"\n\
             \tgroupdn \"{groupdn}\"\n\
             \tpasswd filter \"{pf}\"\n\
             \tattribute name maps to \"{name}\"\n\
             {passwd}\
             \tattribute uid maps to \"uidNumber\"\n\
             \tattribute gid maps to \"gidNumber\"\n\
             \tfixed attribute class \"\"\n\
             \tfixed attribute change \"0\"\n\
             \tfixed attribute expire \"0\"\n\
             \tattribute gecos maps to \"{gecos}\"\n\
             \tattribute home maps to \"{home}\"\n\
             \tattribute shell maps to \"loginShell\"\n\
             \tgroup filter \"{gf}\"\n\
             \tattribute groupname maps to \"{groupname}\"\n\
             \tfixed attribute grouppasswd \"*\"\n\
             \tattribute groupgid maps to \"gidNumber\"\n\
             {members}\
             }}\n",
            pf = self.passwd_filter,
            gf = self.group_filter,
            basedn = self.basedn,
            groupdn = self.groupdn,
            name = self.name_attribute,
            gecos = self.gecos_attribute,
            home = self.home_attribute,
            groupname = self.groupname_attribute,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard block is the text the tests always used.
    #[test]
    fn standard_block() {
        let b = DirectoryBlock::new("127.0.0.1").render();
        assert!(b.starts_with(
            "directory \"127.0.0.1\" {\n\tbinddn \"cn=ypldap,ou=Services,dc=example,dc=com\"\n\tbindcred \"ypldapsecret\"\n\tbasedn"
        ));
        assert!(b.contains("\tattribute passwd maps to \"userPassword\"\n"));
        assert!(b.ends_with("\tlist groupmembers maps to \"memberUid\"\n}\n"));
    }

    #[test]
    fn head_bind_and_statements() {
        let mut b = DirectoryBlock::new("ldap.test");
        b.port = Some(3389);
        b.tls = Tls::Ldaps;
        b.bind = Bind::Anonymous;
        b.password = Password::Fixed;
        let mut c = Config::new("x.test").statement("allow \"127.0.0.1\"");
        c.interval = 1;
        c.cafile = Some("/ca.crt".into());
        c.directories.push(b);
        let text = c.render();
        assert!(
            text.starts_with(
                "domain \"x.test\"\ninterval 1\ncafile \"/ca.crt\"\nallow \"127.0.0.1\"\n\
                 directory \"ldap.test\" port 3389 ldaps {\n\tbasedn"
            ),
            "{text}"
        );
        assert!(text.contains("\tfixed attribute passwd \"*\"\n"));
        assert!(c.uses_tls());
        assert_eq!(c.password(), Password::Fixed);
    }
}
