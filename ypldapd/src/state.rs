//! The state file: the entries ypldapd keeps and the content
//! synchronization cookies that describe them, saved so that a restart
//! resumes each session from its cookie instead of reading the directory
//! again, and serves the saved maps while the directories cannot be
//! reached (DESIGN §14). Encoding and checks only; the file is written and
//! read by `daemon::state`.
//!
//! One JSON value per line: a header (format version, domain, a
//! fingerprint of the configuration that shapes the entries, when it was
//! written), the ORDER number of each map served, the cookies, every entry
//! by directory in order, and an end line that counts the lines before it,
//! so that a file cut short is refused. The maps built from a saved state
//! take ORDER numbers above the saved ones: `yppoll` sees them increase
//! across a restart even when changes had run them ahead of the clock
//! (several in one second each take the next number). Every entry read back goes through the same rules as one from
//! ypldap-client when the maps are built from it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use entry_rules::records::Record;
use entry_rules::{Group, User};
use ipc_proto::{MAX_COOKIE, SearchRef};
use serde::{Deserialize, Serialize};
use yp_proto::store::EntryStore;

use crate::config::Config;

/// The format's version: a file of another is refused.
pub const VERSION: u32 = 2;

/// The version before, read too: it has no ORDER numbers (a restart on
/// it numbers the maps by the clock, as before).
const VERSION_WITHOUT_ORDERS: u32 = 1;

/// The state file's name in the state directory.
pub const FILE: &str = "state";

/// The most maps a state file names (a configuration has a few dozen).
const MAX_MAPS: usize = 4096;

/// The name it is written under before it replaces [`FILE`].
pub const NEW_FILE: &str = "state.new";

/// The largest state file read (4,000,000 entries of a kilobyte are far
/// less).
pub const MAX_BYTES: u64 = 8 << 30;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line<'a> {
    Header {
        version: u32,
        #[serde(borrow)]
        domain: Cow<'a, str>,
        configuration: String,
        written: u64,
    },
    /// The ORDER number of each map served, by name.
    Orders {
        maps: BTreeMap<String, u32>,
    },
    Cookie {
        directory: u32,
        search: SearchRef,
        cookie: Vec<u8>,
    },
    User {
        directory: u32,
        #[serde(borrow)]
        entry: User<'a>,
    },
    Group {
        directory: u32,
        #[serde(borrow)]
        entry: Group<'a>,
    },
    Record {
        directory: u32,
        #[serde(borrow)]
        entry: Record<'a>,
    },
    End {
        lines: u64,
    },
}

/// What a state file holds.
#[derive(Debug, Default)]
pub struct Saved {
    /// Seconds since 1970 when it was written.
    pub written: u64,
    pub store: EntryStore,
    /// By directory and search.
    pub cookies: Vec<((usize, SearchRef), Vec<u8>)>,
    /// The ORDER number of each map served when it was written, by name.
    pub orders: BTreeMap<String, u32>,
}

impl Saved {
    /// The newest ORDER number saved (0 without any): the maps built from
    /// this state are numbered above it.
    pub fn newest_order(&self) -> u32 {
        self.orders.values().copied().max().unwrap_or(0)
    }
}

/// Why a state file is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Written by another version of the format.
    Version(u32),
    /// Written for another domain.
    Domain(String),
    /// Written for another configuration of the directories.
    Configuration,
    /// It ends before its end line.
    Truncated,
    /// A line that is not what the format has there.
    Malformed { line: u64, why: String },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Version(v) => {
                write!(
                    f,
                    "format version {v}, this ypldapd reads versions {VERSION_WITHOUT_ORDERS} and {VERSION}"
                )
            }
            StateError::Domain(d) => write!(f, "saved for domain {d:?}"),
            StateError::Configuration => f.write_str(
                "saved for another configuration of the directories (hosts, bases, filters or attributes changed)",
            ),
            StateError::Truncated => f.write_str("cut short (no end line)"),
            StateError::Malformed { line, why } => write!(f, "line {line}: {why}"),
        }
    }
}

impl std::error::Error for StateError {}

/// What the saved entries depend on: the domain, and per directory where
/// and how its entries are searched and mapped. (Credentials, TLS and the
/// `sync` setting change how a directory is read, not what it holds.)
pub fn fingerprint(config: &Config) -> String {
    #[derive(Serialize)]
    struct Shape<'a> {
        host: &'a str,
        port: u16,
        basedn: &'a str,
        groupdn: &'a str,
        passwd_filter: &'a str,
        group_filter: &'a str,
        fields: &'a ipc_proto::FieldMappings,
        records: &'a [ipc_proto::RecordSearch],
    }
    let shapes: Vec<Shape<'_>> = config
        .directories
        .iter()
        .map(|d| {
            let s = &d.settings;
            Shape {
                host: &s.host,
                port: s.port,
                basedn: &s.basedn,
                groupdn: &s.groupdn,
                passwd_filter: &s.passwd_filter,
                group_filter: &s.group_filter,
                fields: &s.fields,
                records: &s.records,
            }
        })
        .collect();
    // Serialising our own plain data cannot fail.
    let text = serde_json::to_vec(&(&config.domain, shapes)).unwrap_or_default();
    format!("{:016x}", fnv1a(&text))
}

/// FNV-1a, 64 bits: a fingerprint to tell configurations apart, not a
/// defence (the file is the daemon's own, mode 0600).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a state file is written from: the kept entries, their cookies
/// and the ORDER numbers of the maps served.
#[derive(Debug, Clone, Copy)]
pub struct ToSave<'a> {
    pub store: &'a EntryStore,
    /// By directory and search.
    pub cookies: &'a [((usize, SearchRef), Vec<u8>)],
    /// By map name.
    pub orders: &'a BTreeMap<String, u32>,
}

/// The state file's text: `what` for `domain` with the configuration
/// `fingerprint`, written at `written`.
pub fn encode(domain: &str, fingerprint: &str, written: u64, what: ToSave<'_>) -> Vec<u8> {
    let ToSave {
        store,
        cookies,
        orders,
    } = what;
    let mut out = Vec::new();
    let mut lines = 0u64;
    let mut put = |line: &Line<'_>| put_line(&mut out, &mut lines, line);
    put(&Line::Header {
        version: VERSION,
        domain: Cow::Borrowed(domain),
        configuration: fingerprint.to_owned(),
        written,
    });
    put(&Line::Orders {
        maps: orders.clone(),
    });
    for ((d, search), cookie) in cookies {
        put(&Line::Cookie {
            directory: *d as u32,
            search: *search,
            cookie: cookie.clone(),
        });
    }
    for d in 0..store.directories() {
        let Some(entries) = store.get(d) else {
            continue;
        };
        let directory = d as u32;
        for u in entries.users() {
            put(&Line::User {
                directory,
                entry: u.clone(),
            });
        }
        for g in entries.groups() {
            put(&Line::Group {
                directory,
                entry: g.clone(),
            });
        }
        for r in entries.records() {
            put(&Line::Record {
                directory,
                entry: r.clone(),
            });
        }
    }
    let end = Line::End { lines };
    put_line(&mut out, &mut lines, &end);
    out
}

/// Appends one line and counts it.
fn put_line(out: &mut Vec<u8>, lines: &mut u64, line: &Line<'_>) {
    // Serialising our own plain data cannot fail.
    if serde_json::to_writer(&mut *out, line).is_ok() {
        out.push(b'\n');
        *lines += 1;
    }
}

/// Reads a state file's text, refusing one written for another format,
/// domain or configuration (`fingerprint`, `directories` of them), and one
/// cut short or damaged.
pub fn decode(
    bytes: &[u8],
    domain: &str,
    fingerprint: &str,
    directories: usize,
) -> Result<Saved, StateError> {
    let mut saved = Saved::default();
    let mut count = 0u64;
    let mut ended = false;
    let mut orders_read = false;
    for (i, text) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i as u64 + 1;
        if text.is_empty() && ended {
            continue;
        }
        if ended {
            return Err(malformed(n, "a line after the end line"));
        }
        let line: Line<'_> = match serde_json::from_slice(text) {
            Ok(l) => l,
            // A last line cut in the middle.
            Err(e) if e.is_eof() => return Err(StateError::Truncated),
            Err(e) => return Err(malformed(n, &e.to_string())),
        };
        let dir = |d: u32| -> Result<usize, StateError> {
            let d = d as usize;
            if d < directories {
                Ok(d)
            } else {
                Err(malformed(n, "a directory the configuration does not have"))
            }
        };
        match line {
            Line::Header {
                version,
                domain: d,
                configuration,
                written,
            } if n == 1 => {
                if version != VERSION && version != VERSION_WITHOUT_ORDERS {
                    return Err(StateError::Version(version));
                }
                if d != domain {
                    return Err(StateError::Domain(d.into_owned()));
                }
                if configuration != fingerprint {
                    return Err(StateError::Configuration);
                }
                saved.written = written;
            }
            _ if n == 1 => return Err(malformed(n, "no header")),
            Line::Header { .. } => return Err(malformed(n, "a second header")),
            Line::Orders { .. } if orders_read || n != 2 => {
                return Err(malformed(n, "ORDER numbers not right after the header"));
            }
            Line::Orders { maps } => {
                if maps.len() > MAX_MAPS {
                    return Err(malformed(n, &format!("more than {MAX_MAPS} maps")));
                }
                saved.orders = maps;
                orders_read = true;
            }
            Line::Cookie {
                directory,
                search,
                cookie,
            } => {
                if cookie.len() > MAX_COOKIE {
                    return Err(malformed(
                        n,
                        &format!("a cookie longer than {MAX_COOKIE} bytes"),
                    ));
                }
                saved.cookies.push(((dir(directory)?, search), cookie));
            }
            Line::User { directory, entry } => {
                saved
                    .store
                    .directory(dir(directory)?)
                    .upsert_user(entry.into_owned());
            }
            Line::Group { directory, entry } => {
                saved
                    .store
                    .directory(dir(directory)?)
                    .upsert_group(entry.into_owned());
            }
            Line::Record { directory, entry } => {
                saved
                    .store
                    .directory(dir(directory)?)
                    .upsert_record(entry.into_owned());
            }
            Line::End { lines } => {
                if lines != count {
                    return Err(malformed(
                        n,
                        &format!("the end line counts {lines} lines, the file has {count}"),
                    ));
                }
                ended = true;
            }
        }
        count += 1;
    }
    if ended {
        Ok(saved)
    } else {
        Err(StateError::Truncated)
    }
}

fn malformed(line: u64, why: &str) -> StateError {
    StateError::Malformed {
        line,
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yp_proto::testdata;

    fn store() -> EntryStore {
        let mut s = EntryStore::default();
        let mut u = testdata::user("ann", 1000, 100);
        u.origin.uuid = Some("u1".into());
        s.directory(0).upsert_user(u);
        s.directory(0).upsert_user(testdata::user("ben", 1001, 100));
        s.directory(1)
            .upsert_group(testdata::group("staff", 100, &["ann", "ben"]));
        s
    }

    fn cookies() -> Vec<((usize, SearchRef), Vec<u8>)> {
        vec![((0, SearchRef::Users), b"rid=000,csn=1".to_vec())]
    }

    fn orders() -> BTreeMap<String, u32> {
        [
            ("passwd.byname", 1_800_000_123),
            ("group.byname", 1_800_000_100),
        ]
        .into_iter()
        .map(|(m, o)| (m.to_owned(), o))
        .collect()
    }

    fn encoded(store: &EntryStore) -> Vec<u8> {
        let (cookies, orders) = (cookies(), orders());
        encode(
            "d",
            "f",
            42,
            ToSave {
                store,
                cookies: &cookies,
                orders: &orders,
            },
        )
    }

    #[test]
    fn what_is_written_is_read_back() {
        let text = encoded(&store());
        let saved = decode(&text, "d", "f", 2).expect("decode");
        assert_eq!(saved.written, 42);
        assert_eq!(saved.cookies, cookies());
        assert_eq!(saved.orders, orders());
        assert_eq!(saved.newest_order(), 1_800_000_123);
        let names: Vec<&str> = saved
            .store
            .get(0)
            .expect("directory 0")
            .users()
            .map(|u| &*u.name)
            .collect();
        assert_eq!(names, ["ann", "ben"]);
        assert!(
            saved
                .store
                .get(0)
                .expect("0")
                .contains(yp_proto::store::Search::Users, "u1")
        );
        assert_eq!(saved.store.get(1).expect("1").groups().count(), 1);
        // And again, byte for byte.
        assert_eq!(encoded(&saved.store), text);
    }

    #[test]
    fn a_file_cut_anywhere_is_refused() {
        let text = encoded(&store());
        for cut in 0..text.len() - 1 {
            let r = decode(&text[..cut], "d", "f", 2);
            assert!(r.is_err(), "cut at {cut} of {} was accepted", text.len());
        }
    }

    #[test]
    fn another_version_domain_or_configuration_is_refused() {
        let text = encoded(&store());
        assert_eq!(
            decode(&text, "other", "f", 2).err(),
            Some(StateError::Domain("d".into()))
        );
        assert_eq!(
            decode(&text, "d", "g", 2).err(),
            Some(StateError::Configuration)
        );
        let v9 = String::from_utf8(text.clone()).expect("utf8").replacen(
            "\"version\":2",
            "\"version\":9",
            1,
        );
        assert_eq!(
            decode(v9.as_bytes(), "d", "f", 2).err(),
            Some(StateError::Version(9))
        );
        // A directory beyond the configuration's.
        assert!(matches!(
            decode(&text, "d", "f", 1),
            Err(StateError::Malformed { .. })
        ));
    }

    #[test]
    fn a_file_of_the_version_before_is_read_without_order_numbers() {
        let text = String::from_utf8(encoded(&store())).expect("utf8");
        let v1: String = text
            .replacen("\"version\":2", "\"version\":1", 1)
            .lines()
            .filter(|l| !l.starts_with("{\"orders\""))
            .map(|l| format!("{l}\n"))
            .collect();
        // The end line counts one line fewer.
        let lines = v1.lines().count() - 1;
        let v1 = v1.replace(
            &format!("{{\"end\":{{\"lines\":{}}}}}", lines + 1),
            &format!("{{\"end\":{{\"lines\":{lines}}}}}"),
        );
        let saved = decode(v1.as_bytes(), "d", "f", 2).expect("version 1");
        assert!(saved.orders.is_empty());
        assert_eq!(saved.newest_order(), 0);
        assert_eq!(saved.store.len(), 3);
    }

    #[test]
    fn order_numbers_elsewhere_than_after_the_header_are_refused() {
        let text = String::from_utf8(encoded(&store())).expect("utf8");
        let mut lines: Vec<&str> = text.lines().collect();
        let orders = lines.remove(1);
        lines.insert(2, orders);
        let moved: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            decode(moved.as_bytes(), "d", "f", 2),
            Err(StateError::Malformed { line: 3, .. })
        ));
    }

    #[test]
    fn damaged_lines_are_refused() {
        let text = String::from_utf8(encoded(&store())).expect("utf8");
        let damaged = text.replacen("\"ann\"", "\"ann", 1);
        assert!(decode(damaged.as_bytes(), "d", "f", 2).is_err());
        let extra = format!("{text}{{\"end\":{{\"lines\":1}}}}\n");
        assert!(decode(extra.as_bytes(), "d", "f", 2).is_err());
        let no_header: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert!(decode(no_header.as_bytes(), "d", "f", 2).is_err());
    }

    #[test]
    fn the_fingerprint_follows_what_shapes_the_entries() {
        let text = include_str!("../../examples/sample/ypldap.conf");
        let parse = |t: &str| {
            crate::config::parse_str(
                "t",
                t,
                &crate::config::LoadOptions::default(),
                &crate::config::MemSource::new(),
            )
            .expect("config")
            .config
        };
        let a = fingerprint(&parse(text));
        assert_eq!(
            a,
            fingerprint(&parse(&text.replace("ypldapsecret", "other"))),
            "a credential is not part of it"
        );
        assert_ne!(
            a,
            fingerprint(&parse(&text.replace("ou=People,", "ou=Staff,")))
        );
        assert_ne!(
            a,
            fingerprint(&parse(
                &text.replace("domain \"example.com\"", "domain \"e\"")
            ))
        );
    }
}
