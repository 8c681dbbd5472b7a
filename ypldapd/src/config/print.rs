//! The normalised configuration: every default spelled out, macros
//! expanded, one statement per line, re-parseable to the same [`Config`].

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use entry_rules::records::RecordKind;
use ipc_proto::{Bind, Mapping, SyncSetting, TlsMode};

use super::parser::FIELDS;
use super::{BindMode, Config};

/// Quotes `v` so that the lexer reads back exactly `v`. A backslash before
/// a quote, blank, tab or the end of the value needs care: `\\` keeps one
/// backslash and re-reads the second as an escape, and a value ending in a
/// backslash is closed with `\` + newline (a continuation). Values cannot
/// hold a newline or NUL (no parse produces one).
pub(crate) fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    let mut prev_backslash = false;
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            ' ' | '\t' if prev_backslash => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        prev_backslash = c == '\\';
    }
    if prev_backslash {
        out.push_str("\\\n");
    }
    out.push('"');
    out
}

fn mapping_line(field: &str, m: &Mapping) -> String {
    match m {
        Mapping::Attribute { name } => format!("attribute {field} maps to {}", quote(name)),
        Mapping::Fixed { value } => format!("fixed attribute {field} {}", quote(value)),
        Mapping::List { name } => format!("list {field} maps to {}", quote(name)),
    }
}

impl Config {
    /// The normalised text; `mask_secrets` replaces every `bindcred` by
    /// `********`.
    pub fn to_config_text(&self, mask_secrets: bool) -> String {
        let mut o = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut o, mask_secrets);
        o
    }

    fn write_text(&self, o: &mut String, mask: bool) -> fmt::Result {
        writeln!(o, "domain {}", quote(&self.domain))?;
        writeln!(o, "interval {}", self.interval.as_secs())?;
        let bind = match self.bind {
            BindMode::Portmap => "portmap",
            BindMode::Local => "local",
        };
        writeln!(o, "bind {bind}")?;
        for n in &self.allow {
            writeln!(o, "allow {}", quote(&n.to_string()))?;
        }
        if self.expose_hashes {
            writeln!(o, "expose password hashes")?;
        }
        writeln!(o, "group nesting {}", self.group_nesting)?;
        let disabled = if self.omit_disabled {
            "omitted"
        } else {
            "locked"
        };
        writeln!(o, "disabled accounts {disabled}")?;
        if let Some(r) = &self.restricted_socket {
            write!(o, "socket {} restricted", quote(&r.path.to_string_lossy()))?;
            match &r.group {
                Some(super::GroupName::Id(n)) => writeln!(o, " group {n}")?,
                Some(super::GroupName::Name(n)) => writeln!(o, " group {}", quote(n))?,
                None => writeln!(o)?,
            }
        }
        // The state lines, like the limits, only where they differ from
        // the defaults.
        let state = super::StateSettings::default();
        match &self.state.directory {
            Some(d) if Some(d) != state.directory.as_ref() => {
                writeln!(o, "state directory {}", quote(&d.to_string_lossy()))?;
            }
            Some(_) => {}
            None => writeln!(o, "state off")?,
        }
        if self.state.max_age != state.max_age {
            writeln!(o, "state max-age {}", self.state.max_age.as_secs())?;
        }
        // Limits only where they differ from the defaults, so an upstream
        // file's normalised text has no line it did not mean.
        let defaults = super::ResourceLimits::default().entries();
        for ((name, value), (_, default)) in self.limits.entries().into_iter().zip(defaults) {
            if value != default {
                writeln!(o, "limit {name} {value}")?;
            }
        }
        match &self.maps {
            None => writeln!(
                o,
                "# no \"provide map\": the eight maps of users and groups are served"
            )?,
            Some(maps) => {
                for m in maps {
                    writeln!(o, "provide map {}", quote(m.as_str()))?;
                }
            }
        }
        for m in &self.site_maps {
            writeln!(o)?;
            writeln!(o, "map {} {{", quote(m.name.as_str()))?;
            if let Some(b) = &m.basedn {
                writeln!(o, "\tbasedn {}", quote(b))?;
            }
            writeln!(o, "\tfilter {}", quote(&m.filter))?;
            writeln!(o, "\tkey {}", quote(&m.key))?;
            writeln!(o, "\tvalue {}", quote(&m.value))?;
            writeln!(o, "}}")?;
        }
        let mut cafile: Option<&PathBuf> = None;
        for d in &self.directories {
            let s = &d.settings;
            writeln!(o)?;
            if s.tls != TlsMode::None {
                if let Some(ca) = &d.cafile {
                    if cafile != Some(ca) {
                        writeln!(o, "cafile {}", quote(&ca.to_string_lossy()))?;
                        cafile = Some(ca);
                    }
                }
            }
            let tls = match s.tls {
                TlsMode::None => "",
                TlsMode::StartTls => " tls",
                TlsMode::Ldaps => " ldaps",
            };
            writeln!(o, "directory {} port {}{tls} {{", quote(&s.host), s.port)?;
            match &s.bind {
                Bind::Anonymous => {}
                Bind::Simple { dn, credential } => {
                    writeln!(o, "\tbinddn {}", quote(dn))?;
                    let cred = if mask { "********" } else { credential };
                    writeln!(o, "\tbindcred {}", quote(cred))?;
                }
                Bind::External { authzid } if authzid.is_empty() => writeln!(o, "\tbindext")?,
                Bind::External { authzid } => writeln!(o, "\tbindext {}", quote(authzid))?,
            }
            if let Some(p) = &d.certfile {
                writeln!(o, "\tcertfile {}", quote(&p.to_string_lossy()))?;
            }
            if let Some(p) = &d.keyfile {
                writeln!(o, "\tkeyfile {}", quote(&p.to_string_lossy()))?;
            }
            match s.sync {
                SyncSetting::Auto => {}
                SyncSetting::Off => writeln!(o, "\tsync off")?,
                SyncSetting::RefreshOnly => writeln!(o, "\tsync refreshonly")?,
            }
            writeln!(o, "\tbasedn {}", quote(&s.basedn))?;
            writeln!(o, "\tgroupdn {}", quote(&s.groupdn))?;
            writeln!(o, "\tpasswd filter {}", quote(&s.passwd_filter))?;
            writeln!(o, "\tgroup filter {}", quote(&s.group_filter))?;
            let f = &s.fields;
            let all = [
                &f.name,
                &f.passwd,
                &f.uid,
                &f.gid,
                &f.class,
                &f.change,
                &f.expire,
                &f.gecos,
                &f.home,
                &f.shell,
                &f.groupname,
                &f.grouppasswd,
                &f.groupgid,
                &f.groupmembers,
            ];
            for (name, m) in FIELDS.iter().zip(all) {
                writeln!(o, "\t{}", mapping_line(name, m))?;
            }
            for name in &f.groupmembers_also {
                writeln!(o, "\tlist groupmembers maps to {}", quote(name))?;
            }
            for (name, m) in f.shadow.fields() {
                if let Some(m) = m {
                    writeln!(o, "\t{}", mapping_line(name, m))?;
                }
            }
            // The classic maps' searches, every default spelled out (the
            // site maps' come from their blocks).
            for r in s.records.iter().filter(|r| r.kind != RecordKind::Site) {
                let word = r.kind.word();
                writeln!(o, "\t{word} basedn {}", quote(&r.base))?;
                writeln!(o, "\t{word} filter {}", quote(&r.filter))?;
                for (role, attribute) in r.kind.roles().iter().zip(&r.attributes) {
                    writeln!(
                        o,
                        "\t{word} attribute {} maps to {}",
                        role.word,
                        quote(attribute)
                    )?;
                }
            }
            writeln!(o, "}}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Config {
    /// The normalised configuration with `bindcred` masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_config_text(true))
    }
}
