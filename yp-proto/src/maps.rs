//! The maps ypldapd can serve: the users' and groups' eight, and the
//! classic maps of other entries (`hosts.byname`, `netgroup`, `auto.*`,
//! a site's own), which `entry_rules::records` describes.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use entry_rules::records::{RecordKind, is_automount_map, valid_map_name};

/// A YP map name ypldapd knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapName {
    PasswdByName,
    PasswdByUid,
    MasterPasswdByName,
    MasterPasswdByUid,
    GroupByName,
    GroupByGid,
    NetidByName,
    ShadowByName,
    /// Any other map: a classic map (`hosts.byname`), an automount map
    /// (`auto.home`) or a site map, by name.
    Other(&'static str),
}

/// The names of automount and site maps the configurations gave, each
/// kept once for the life of the process so that [`MapName`] stays a
/// small `Copy` value: bounded by the names the configuration files ever
/// held, never by what clients ask.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn known_name(name: &str) -> Option<&'static str> {
    if let Some((kind, slot)) = RecordKind::of_map(name) {
        if let Some(&n) = kind.maps().get(usize::from(slot)) {
            return Some(n);
        }
    }
    let names = NAMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names.iter().copied().find(|&n| n == name)
}

impl MapName {
    /// Every map: upstream's seven in its table order, then the ones this
    /// project adds. A configuration without `provide map` serves them all.
    pub const ALL: [MapName; 8] = [
        MapName::PasswdByName,
        MapName::PasswdByUid,
        MapName::MasterPasswdByName,
        MapName::MasterPasswdByUid,
        MapName::GroupByName,
        MapName::GroupByGid,
        MapName::NetidByName,
        MapName::ShadowByName,
    ];

    /// The map `name` as the configuration gives it: one of the eight, a
    /// classic map, or an automount or site map (kept from now on, see
    /// [`NAMES`]). Only the configuration parser calls this; a client's
    /// request is looked up with [`str::parse`], which adds nothing.
    pub fn configured(name: &str) -> Result<MapName, UnknownMap> {
        if let Ok(m) = name.parse() {
            return Ok(m);
        }
        if !valid_map_name(name) {
            return Err(UnknownMap(name.to_owned()));
        }
        let mut names = NAMES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&n) = names.iter().find(|&&n| n == name) {
            return Ok(MapName::Other(n));
        }
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.push(kept);
        Ok(MapName::Other(kept))
    }

    /// Whether this is an automount map (`auto.master`, `auto.home`, …).
    pub fn is_automount(self) -> bool {
        matches!(self, MapName::Other(n) if is_automount_map(n))
    }

    /// The name clients ask for.
    pub fn as_str(self) -> &'static str {
        match self {
            MapName::PasswdByName => "passwd.byname",
            MapName::PasswdByUid => "passwd.byuid",
            MapName::MasterPasswdByName => "master.passwd.byname",
            MapName::MasterPasswdByUid => "master.passwd.byuid",
            MapName::GroupByName => "group.byname",
            MapName::GroupByGid => "group.bygid",
            MapName::NetidByName => "netid.byname",
            MapName::ShadowByName => "shadow.byname",
            MapName::Other(name) => name,
        }
    }

    /// Whether the map holds password hashes and is answered only to callers
    /// on a privileged port (root on the client).
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            MapName::MasterPasswdByName | MapName::MasterPasswdByUid | MapName::ShadowByName
        )
    }
}

impl fmt::Display for MapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the maps ypldapd knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMap(pub String);

impl fmt::Display for UnknownMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown map {:?}", self.0)
    }
}

impl std::error::Error for UnknownMap {}

impl FromStr for MapName {
    type Err = UnknownMap;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MapName::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .or_else(|| known_name(s).map(MapName::Other))
            .ok_or_else(|| UnknownMap(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in MapName::ALL {
            assert_eq!(m.as_str().parse::<MapName>(), Ok(m));
        }
        assert!("passwd.byfoo".parse::<MapName>().is_err());
        assert_eq!(
            "hosts.byname".parse::<MapName>(),
            Ok(MapName::Other("hosts.byname"))
        );
    }

    #[test]
    fn configured_names_are_kept_once() {
        // A client asking for a name no configuration gave finds nothing.
        assert!("auto.testonly".parse::<MapName>().is_err());
        let a = MapName::configured("auto.testonly").unwrap();
        assert!(a.is_automount());
        assert_eq!(a.as_str(), "auto.testonly");
        assert_eq!("auto.testonly".parse::<MapName>(), Ok(a));
        let b = MapName::configured("auto.testonly").unwrap();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert!(!MapName::configured("printers-test").unwrap().is_automount());
        assert_eq!(
            MapName::configured("passwd.byname"),
            Ok(MapName::PasswdByName)
        );
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            assert!(MapName::configured(bad).is_err(), "{bad:?}");
        }
    }
}
