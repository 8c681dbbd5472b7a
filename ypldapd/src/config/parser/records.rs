//! The statements of the classic maps: `map` blocks (site maps) and, in a
//! directory block, a kind's `basedn`, `filter` and `attribute … maps to`
//! (`hosts filter "(objectClass=ipHost)"`). See `super::super::records`.

use entry_rules::records::{RecordKind, SiteFormat, valid_attribute};
use yp_proto::maps::MapName;

use super::super::lexer::{Kw, Tok};
use super::super::records::{KindSettings, MAX_SEARCHES, SiteMap, resolve_searches, served_kinds};
use super::{At, DirBuilder, Failed, PResult, Parser};

impl Parser<'_> {
    /// The map a `provide map` names: one of the users' and groups', a
    /// classic or automount map, or a site map (checked against the `map`
    /// blocks once the whole file is read).
    pub(super) fn provided_map(&mut self, at: &At, name: &str) -> Option<MapName> {
        match MapName::configured(name) {
            Ok(m) => {
                if matches!(m, MapName::Other(_)) && RecordKind::of_map(name).is_none() {
                    let found = self.lx.diags.len();
                    self.provided_sites
                        .push((name.to_owned(), at.clone(), found));
                }
                Some(m)
            }
            Err(_) => {
                self.error(at, format!("unsupported map type: {name}"));
                None
            }
        }
    }

    /// `map "name" { … }`: a site map.
    pub(super) fn site_map(&mut self, at: &At) -> PResult<()> {
        let name = self.expect_string("a map name after \"map\"")?;
        let t = self.next();
        if t.kind != Tok::Char(b'{') {
            return Err(self.unexpected(t, "\"{\""));
        }
        let mut basedn = None;
        let mut filter = None;
        let mut key = None;
        let mut value: Option<(String, At)> = None;
        loop {
            let t = self.next();
            let line = At::of(&t);
            let r = match t.kind {
                Tok::Newline | Tok::Error => continue,
                Tok::Char(b'}') => break,
                Tok::Eof => {
                    self.error(at, "syntax error: map block not closed (missing \"}\")");
                    self.peeked = Some(t);
                    return Ok(());
                }
                Tok::Kw(Kw::Basedn) => self
                    .expect_string("a DN after \"basedn\"")
                    .map(|s| basedn = Some(s)),
                Tok::Kw(Kw::Filter) => self.expect_string("a quoted filter").map(|f| {
                    if let Err(e) = super::super::filter::validate_filter(&f) {
                        self.error(&line, format!("invalid filter {f:?}: {e}"));
                    }
                    filter = Some(f);
                }),
                Tok::Str { s, quoted: false } if s == "key" => self
                    .expect_string("an attribute name after \"key\"")
                    .map(|k| {
                        if !valid_attribute(&k) {
                            self.error(&line, format!("{k:?} is not an attribute name"));
                        }
                        key = Some(k);
                    }),
                Tok::Str { s, quoted: false } if s == "value" => self
                    .expect_string("an attribute or a template after \"value\"")
                    .map(|v| value = Some((v, line.clone()))),
                _ => Err(self.unexpected(t, "basedn, filter, key, value or \"}\"")),
            };
            let r = r.and_then(|()| self.expect_directive_end());
            if r.is_err() {
                self.skip_line(true);
            }
        }
        self.expect_eol()?;
        let mut missing = Vec::new();
        if filter.is_none() {
            missing.push("filter");
        }
        if key.is_none() {
            missing.push("key");
        }
        if value.is_none() {
            missing.push("value");
        }
        if !missing.is_empty() {
            self.error(at, format!("map {name:?}: no {}", missing.join(", no ")));
            return Ok(());
        }
        if RecordKind::of_map(&name).is_some()
            || name
                .parse::<MapName>()
                .is_ok_and(|m| !matches!(m, MapName::Other(_)))
        {
            self.error(
                at,
                format!(
                    "map {name:?} is a standard map; a map block defines a map of the site's own"
                ),
            );
            return Ok(());
        }
        if self.site_maps.iter().any(|m| m.name.as_str() == name) {
            self.error(at, format!("map {name:?} is defined twice"));
            return Ok(());
        }
        let Ok(map) = MapName::configured(&name) else {
            self.error(
                at,
                format!("{name:?} cannot name a map (1 to 64 printable characters, no blank, \"/\" or \"#\")"),
            );
            return Ok(());
        };
        let (Some((value, value_at)), Some(key), Some(filter)) = (value, key, filter) else {
            return Ok(());
        };
        match SiteFormat::parse(&value) {
            Ok((format, value_attributes)) => self.site_maps.push(SiteMap {
                name: map,
                basedn,
                filter,
                key,
                value,
                format,
                value_attributes,
            }),
            Err(e) => self.error(&value_at, format!("map {name:?}: value {value:?}: {e}")),
        }
        Ok(())
    }

    /// A kind's statement in a directory block, after its word:
    /// `basedn "…"`, `filter "…"` or `attribute ROLE maps to "…"`.
    pub(super) fn kind_directive(
        &mut self,
        d: &mut DirBuilder,
        at: &At,
        kind: RecordKind,
    ) -> PResult<()> {
        let t = self.next();
        let word = kind.word();
        match t.kind {
            Tok::Kw(Kw::Basedn) => {
                let dn = self.expect_string("a DN after \"basedn\"")?;
                d.kinds.entry(kind).or_default().basedn = Some(dn);
            }
            Tok::Kw(Kw::Filter) => {
                let f = self.expect_string("a quoted filter")?;
                if let Err(e) = super::super::filter::validate_filter(&f) {
                    self.error(at, format!("invalid {word} filter {f:?}: {e}"));
                    d.broken = true;
                }
                d.kinds.entry(kind).or_default().filter = Some(f);
            }
            Tok::Kw(Kw::Attribute) => {
                let t = self.next();
                let role_word = match &t.kind {
                    Tok::Str { s, quoted: false } => s.clone(),
                    Tok::Kw(k) => k.as_str().to_owned(),
                    _ => String::new(),
                };
                let roles = kind.roles();
                let Some(role) = roles.iter().position(|r| r.word == role_word) else {
                    let names: Vec<&str> = roles.iter().map(|r| r.word).collect();
                    return Err(
                        self.unexpected(t, &format!("a {word} field ({})", names.join(", ")))
                    );
                };
                self.expect_kw(Kw::Maps)?;
                self.expect_kw(Kw::To)?;
                let name = self.expect_string("a quoted LDAP attribute name")?;
                if !valid_attribute(&name) {
                    self.error(at, format!("{name:?} is not an LDAP attribute name"));
                    d.broken = true;
                    return Ok(());
                }
                let settings: &mut KindSettings = d.kinds.entry(kind).or_default();
                if settings.attributes.insert(role, name).is_some() {
                    self.error(at, format!("{word} field {role_word} is mapped twice"));
                    d.broken = true;
                }
            }
            _ => {
                return Err(self.unexpected(
                    t,
                    &format!("\"basedn\", \"filter\" or \"attribute\" after \"{word}\""),
                ));
            }
        }
        Ok(())
    }

    /// Once the whole file is read: every site map provided has its
    /// block, and each directory gets its record searches.
    pub(super) fn finish_records(&mut self, name: &str) -> Result<(), Failed> {
        // Reported where they were found among the other errors (in
        // reverse, so that each index still holds).
        for (map, at, found) in std::mem::take(&mut self.provided_sites).into_iter().rev() {
            if !self.site_maps.iter().any(|m| m.name.as_str() == map) {
                let d = super::Diagnostic {
                    file: at.file.to_string(),
                    line: at.line,
                    message: format!("unsupported map type: {map} (no map block defines it)"),
                };
                let found = found.min(self.lx.diags.len());
                self.lx.diags.insert(found, d);
            }
        }
        let mut served: Vec<MapName> = match &self.maps {
            Some(set) => set.iter().copied().collect(),
            None => MapName::ALL.to_vec(),
        };
        served.extend(self.site_maps.iter().map(|m| m.name));
        let kinds = served_kinds(&served);
        let mut first = 0;
        let settings = std::mem::take(&mut self.kind_settings);
        for (d, s) in self.directories.iter_mut().zip(&settings) {
            let searches = resolve_searches(&d.settings, s, &kinds, &self.site_maps, first);
            first += searches.len();
            d.settings.records = searches;
        }
        if first > MAX_SEARCHES {
            let at = At {
                file: name.into(),
                line: 0,
            };
            self.error(
                &at,
                format!("{first} searches of classic maps; at most {MAX_SEARCHES}"),
            );
            return Err(Failed);
        }
        Ok(())
    }
}
