//! The netgroup reverse maps, as `revnetgroup` computes them: every
//! netgroup expanded (nested netgroups included, each once, so a cycle
//! ends), and each `user.domain` (`netgroup.byuser`) or `host.domain`
//! (`netgroup.byhost`) it reaches keyed to the netgroups that reach it.
//! An empty field is the wildcard `*`; a field starting with `-` names
//! nobody. A large directory has hundreds of thousands of such keys: they
//! are kept end to end in one buffer each, not one allocation apiece.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use entry_rules::records::{NetgroupMember, netgroup_members};

/// The reverse keys of triple `(host,user,domain)`, given to `f` with
/// their map (0: `user.domain`, by user; 1: `host.domain`, by host), as
/// revnetgroup makes them: an empty field is `*`, a field starting with
/// `-` gives none. `key` is scratch space.
pub(crate) fn triple_keys(
    host: &str,
    user: &str,
    domain: &str,
    key: &mut String,
    mut f: impl FnMut(usize, &str),
) {
    for (i, field) in [user, host].into_iter().enumerate() {
        let field = if field.is_empty() { "*" } else { field };
        if field.starts_with('-') {
            continue;
        }
        let domain = if domain.is_empty() { "*" } else { domain };
        key.clear();
        key.push_str(field);
        key.push('.');
        key.push_str(domain);
        f(i, key);
    }
}

/// Every netgroup read, and the reverse keys once expanded.
#[derive(Debug, Default)]
pub(super) struct Netgroups {
    /// Names and values, end to end.
    text: String,
    /// Per netgroup: where its name starts, where its value starts and
    /// where it ends, in `text`.
    spans: Vec<(u32, u32, u32)>,
    /// Names to netgroups (the first of a name wins).
    index: HashMap<String, u32>,
    /// Per netgroup: the last expansion it was reached in (`root + 1`).
    seen: Vec<u32>,
    stack: Vec<u32>,
    /// By user, by host.
    pub(super) reverse: [Keys; 2],
    key: String,
}

/// What expanding one netgroup costs beyond its triples, in budget steps.
const ROOT_STEPS: usize = 64;

impl Netgroups {
    /// Adds a netgroup and its `netgroup` value, unless one of that name
    /// came first.
    pub(super) fn add(&mut self, name: &str, value: &str) {
        if self.index.contains_key(name) {
            return;
        }
        let (Ok(id), Ok(start)) = (
            u32::try_from(self.spans.len()),
            u32::try_from(self.text.len()),
        ) else {
            return;
        };
        self.text.push_str(name);
        let mid = self.text.len();
        self.text.push_str(value);
        let (Ok(mid), Ok(end)) = (u32::try_from(mid), u32::try_from(self.text.len())) else {
            return;
        };
        self.spans.push((start, mid, end));
        self.index.insert(name.to_owned(), id);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The name of netgroup `i`.
    pub(super) fn name(&self, i: u32) -> &str {
        self.spans
            .get(i as usize)
            .and_then(|&(s, m, _)| self.text.get(s as usize..m as usize))
            .unwrap_or("")
    }

    /// Expands netgroups `from..` into the reverse keys, for about
    /// `budget` steps; returns where to go on (`None`: all done) and the
    /// steps used.
    pub(super) fn expand(&mut self, from: usize, budget: usize) -> (Option<usize>, usize) {
        let n = self.spans.len();
        if self.seen.len() != n {
            self.seen = vec![0; n];
        }
        let mut used = 0;
        let mut root = from;
        while root < n && used < budget {
            let Ok(r) = u32::try_from(root) else {
                break;
            };
            used += self.expand_one(r) + ROOT_STEPS;
            root += 1;
        }
        if root < n {
            (Some(root), used)
        } else {
            self.seen = Vec::new();
            (None, used)
        }
    }

    /// Every key netgroup `root` reaches; returns the steps used.
    fn expand_one(&mut self, root: u32) -> usize {
        let stamp = root + 1;
        let mut used = 0;
        self.stack.clear();
        self.stack.push(root);
        if let Some(s) = self.seen.get_mut(root as usize) {
            *s = stamp;
        }
        while let Some(g) = self.stack.pop() {
            let value = self
                .spans
                .get(g as usize)
                .and_then(|&(_, m, e)| self.text.get(m as usize..e as usize))
                .unwrap_or("");
            for m in netgroup_members(value) {
                used += 1;
                match m {
                    NetgroupMember::Triple { host, user, domain } => {
                        let (reverse, key) = (&mut self.reverse, &mut self.key);
                        triple_keys(host, user, domain, key, |i, k| {
                            if let Some(r) = reverse.get_mut(i) {
                                r.add(k, root);
                            }
                        });
                    }
                    NetgroupMember::Netgroup(name) => {
                        // A name no netgroup has is skipped, as revnetgroup does.
                        if let Some(&id) = self.index.get(name) {
                            if let Some(s) = self.seen.get_mut(id as usize) {
                                if *s != stamp {
                                    *s = stamp;
                                    self.stack.push(id);
                                }
                            }
                        }
                    }
                }
            }
        }
        used
    }

    /// The names of the netgroups reverse key `k` of map `map` leads to,
    /// joined by `,` into `out`.
    pub(super) fn reverse_value(&self, map: usize, k: usize, out: &mut String) {
        out.clear();
        let Some(keys) = self.reverse.get(map) else {
            return;
        };
        for root in keys.roots(k) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(self.name(root));
        }
    }
}

/// Reverse keys and the netgroups each leads to, in arrival order.
#[derive(Debug, Default)]
pub(super) struct Keys {
    text: String,
    /// Per key: its start and end in `text`.
    spans: Vec<(u32, u32)>,
    /// Per key: its first and last link.
    lists: Vec<(u32, u32)>,
    /// (netgroup, next link).
    links: Vec<(u32, u32)>,
    index: hashbrown::HashTable<u32>,
    hasher: RandomState,
}

const END: u32 = u32::MAX;

impl Keys {
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(super) fn key(&self, k: usize) -> &str {
        self.spans
            .get(k)
            .and_then(|&(s, e)| self.text.get(s as usize..e as usize))
            .unwrap_or("")
    }

    fn roots(&self, k: usize) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.lists.get(k).map_or(END, |l| l.0);
        std::iter::from_fn(move || {
            let &(root, next) = self.links.get(at as usize)?;
            at = next;
            Some(root)
        })
    }

    /// Notes that `root` reaches `key`; a netgroup reaching a key twice
    /// (two triples, two nested paths) counts once, since one netgroup is
    /// expanded at a time.
    fn add(&mut self, key: &str, root: u32) {
        let hash = self.hasher.hash_one(key);
        let (text, spans) = (&self.text, &self.spans);
        let found = self.index.find(hash, |&k| {
            spans
                .get(k as usize)
                .and_then(|&(s, e)| text.get(s as usize..e as usize))
                == Some(key)
        });
        let Ok(link) = u32::try_from(self.links.len()) else {
            return;
        };
        match found.copied() {
            Some(k) => {
                let Some(list) = self.lists.get_mut(k as usize) else {
                    return;
                };
                if self.links.get(list.1 as usize).is_some_and(|l| l.0 == root) {
                    return;
                }
                if let Some(last) = self.links.get_mut(list.1 as usize) {
                    last.1 = link;
                }
                list.1 = link;
                self.links.push((root, END));
            }
            None => {
                let (Ok(k), Ok(start)) = (
                    u32::try_from(self.spans.len()),
                    u32::try_from(self.text.len()),
                ) else {
                    return;
                };
                self.text.push_str(key);
                let Ok(end) = u32::try_from(self.text.len()) else {
                    return;
                };
                self.spans.push((start, end));
                self.lists.push((link, link));
                self.links.push((root, END));
                let (text, spans, hasher) = (&self.text, &self.spans, &self.hasher);
                self.index.insert_unique(hash, k, |&k| {
                    let key = spans
                        .get(k as usize)
                        .and_then(|&(s, e)| text.get(s as usize..e as usize))
                        .unwrap_or("");
                    hasher.hash_one(key)
                });
            }
        }
    }
}
