//! The maps ypldapd can serve.

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
    ShadowByName,
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
