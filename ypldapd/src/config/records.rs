//! The classic maps of a configuration (hosts, netgroups, automount, site
//! maps, …): which record searches each directory makes for the maps
//! served, and how ypldapd's builder turns their records into maps.
//!
//! A kind is searched in a directory when one of its maps is served: under
//! the directory's `basedn` with the kind's object class and standard
//! attributes (`entry_rules::records`), unless the directory block says
//! otherwise (`hosts basedn`, `hosts filter`, `hosts attribute address
//! maps to "…"`). A `map` block defines a site map and serves it.

use std::collections::BTreeMap;

use entry_rules::records::{RecordKind, SiteFormat};
use ipc_proto::RecordSearch;
use yp_proto::build::{RecordPlan, SearchPlan};
use yp_proto::maps::MapName;

use super::{Config, DirectoryConfig};

/// What a directory block says of one kind; `None`: the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindSettings {
    pub basedn: Option<String>,
    pub filter: Option<String>,
    /// Per role of the kind (`RecordKind::roles`), the attribute read.
    pub attributes: BTreeMap<usize, String>,
}

/// A `map` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteMap {
    pub name: MapName,
    /// Where its entries are searched; the directory's `basedn` if `None`.
    pub basedn: Option<String>,
    pub filter: String,
    /// The attribute whose values are the keys.
    pub key: String,
    /// The `value` as written: an attribute, or a template.
    pub value: String,
    pub format: SiteFormat,
    /// The attributes the value reads, in the order the format uses.
    pub value_attributes: Vec<String>,
}

/// The most record searches all directories together may make: a
/// record names its search in 16 bits.
pub const MAX_SEARCHES: usize = u16::MAX as usize;

/// The kinds whose maps `served` holds, in the documented order.
pub fn served_kinds(served: &[MapName]) -> Vec<RecordKind> {
    RecordKind::CLASSIC
        .into_iter()
        .filter(|k| {
            served.iter().any(|m| match m {
                MapName::Other(name) => RecordKind::of_map(name).is_some_and(|(mk, _)| mk == *k),
                _ => false,
            })
        })
        .collect()
}

/// The searches of one directory: its served kinds with its settings,
/// then the site maps; numbered from `first`.
pub fn resolve_searches(
    dir: &ipc_proto::Directory,
    settings: &BTreeMap<RecordKind, KindSettings>,
    kinds: &[RecordKind],
    sites: &[SiteMap],
    first: usize,
) -> Vec<RecordSearch> {
    let mut out = Vec::new();
    for &kind in kinds {
        let s = settings.get(&kind);
        let attributes = kind
            .roles()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                s.and_then(|s| s.attributes.get(&i))
                    .cloned()
                    .unwrap_or_else(|| r.attribute.to_owned())
            })
            .collect();
        out.push(RecordSearch {
            id: search_id(first + out.len()),
            kind,
            base: s
                .and_then(|s| s.basedn.clone())
                .unwrap_or_else(|| dir.basedn.clone()),
            filter: s
                .and_then(|s| s.filter.clone())
                .unwrap_or_else(|| kind.default_filter().to_owned()),
            attributes,
        });
    }
    for site in sites {
        out.push(RecordSearch {
            id: search_id(first + out.len()),
            kind: RecordKind::Site,
            base: site.basedn.clone().unwrap_or_else(|| dir.basedn.clone()),
            filter: site.filter.clone(),
            attributes: std::iter::once(site.key.clone())
                .chain(site.value_attributes.iter().cloned())
                .collect(),
        });
    }
    out
}

/// A search's number (the parser refuses configurations with more than
/// [`MAX_SEARCHES`]).
fn search_id(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl Config {
    /// How the records of every directory's searches feed the served
    /// maps, for ypldapd's builder.
    pub fn record_plan(&self) -> RecordPlan {
        let served = self.served_maps();
        let automount: Vec<MapName> = served
            .iter()
            .copied()
            .filter(|m| m.is_automount())
            .collect();
        let searches = self
            .directories
            .iter()
            .flat_map(|d: &DirectoryConfig| d.settings.records.iter())
            .map(|s| {
                let slots = match s.kind {
                    RecordKind::Automount => automount.iter().copied().map(Some).collect(),
                    RecordKind::Site => {
                        let site = self.site_for(s);
                        vec![site.map(|m| m.name)]
                    }
                    kind => kind
                        .maps()
                        .iter()
                        .map(|name| name.parse::<MapName>().ok().filter(|m| served.contains(m)))
                        .collect(),
                };
                SearchPlan {
                    kind: s.kind,
                    attributes: s.attributes.clone(),
                    site: self.site_for(s).map(|m| m.format.clone()),
                    slots,
                }
            })
            .collect();
        RecordPlan { searches }
    }

    /// The `map` block a site search comes from.
    fn site_for(&self, s: &RecordSearch) -> Option<&SiteMap> {
        if s.kind != RecordKind::Site {
            return None;
        }
        // Each directory lists the site maps in block order after its
        // kinds, so the search's place among its directory's site
        // searches is the block's.
        let dir = self
            .directories
            .iter()
            .find(|d| d.settings.records.iter().any(|r| r.id == s.id))?;
        let nth = dir
            .settings
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Site)
            .position(|r| r.id == s.id)?;
        self.site_maps.get(nth)
    }
}

#[cfg(test)]
mod tests;
