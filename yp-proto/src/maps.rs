//! The seven maps ypldapd can serve.

use std::fmt;
use std::str::FromStr;

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
}

impl MapName {
    /// Every map, in upstream's table order.
    pub const ALL: [MapName; 7] = [
        MapName::PasswdByName,
        MapName::PasswdByUid,
        MapName::MasterPasswdByName,
        MapName::MasterPasswdByUid,
        MapName::GroupByName,
        MapName::GroupByGid,
        MapName::NetidByName,
    ];

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
        }
    }

    /// Whether the map holds password hashes and is answered only to callers
    /// on a privileged port.
    pub fn is_master(self) -> bool {
        matches!(
            self,
            MapName::MasterPasswdByName | MapName::MasterPasswdByUid
        )
    }
}

impl fmt::Display for MapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the seven maps.
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
    }
}
