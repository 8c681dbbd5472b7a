//! `allow` networks: an address and a prefix length.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network such as `192.0.2.0/24` or `2001:db8::/32`. Host bits are
/// always zero; an IPv4-mapped IPv6 network is stored as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Why a network failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpNetError {
    BadAddress,
    BadPrefix,
    HostBitsSet,
}

impl fmt::Display for IpNetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpNetError::BadAddress => "not an IPv4 or IPv6 address",
            IpNetError::BadPrefix => "invalid prefix length",
            IpNetError::HostBitsSet => "host bits set beyond the prefix length",
        })
    }
}

impl std::error::Error for IpNetError {}

fn v4_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn v6_mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

/// An IPv4-mapped IPv6 address as IPv4, anything else unchanged.
fn unmap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl IpNet {
    /// A network; fails if `prefix` is too long or host bits are set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNet, IpNetError> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (unmap(addr), prefix - 96)
            }
            a => (a, prefix),
        };
        match addr {
            IpAddr::V4(v4) => {
                if prefix > 32 {
                    return Err(IpNetError::BadPrefix);
                }
                if u32::from(v4) & !v4_mask(prefix) != 0 {
                    return Err(IpNetError::HostBitsSet);
                }
            }
            IpAddr::V6(v6) => {
                if prefix > 128 {
                    return Err(IpNetError::BadPrefix);
                }
                if u128::from(v6) & !v6_mask(prefix) != 0 {
                    return Err(IpNetError::HostBitsSet);
                }
            }
        }
        Ok(IpNet { addr, prefix })
    }

    /// Whether `a` is inside the network (IPv4-mapped IPv6 addresses count
    /// as IPv4).
    pub fn contains(&self, a: &IpAddr) -> bool {
        match (self.addr, unmap(*a)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = v4_mask(self.prefix);
                u32::from(a) & m == u32::from(n) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = v6_mask(self.prefix);
                u128::from(a) & m == u128::from(n) & m
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;
    /// `ADDR` (a single host) or `ADDR/PREFIX`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = if let Ok(v4) = a.parse::<Ipv4Addr>() {
            IpAddr::V4(v4)
        } else if let Ok(v6) = a.parse::<Ipv6Addr>() {
            IpAddr::V6(v6)
        } else {
            return Err(IpNetError::BadAddress);
        };
        let prefix = match p {
            None => match addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            },
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IpNetError::BadPrefix);
                }
                p.parse::<u8>().map_err(|_| IpNetError::BadPrefix)?
            }
        };
        IpNet::new(addr, prefix)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let n: IpNet = "192.0.2.0/24".parse().unwrap();
        assert!(n.contains(&ip("192.0.2.77")));
        assert!(!n.contains(&ip("192.0.3.1")));
        assert!(n.contains(&ip("::ffff:192.0.2.9")));
        assert!(!n.contains(&ip("2001:db8::1")));
        let h: IpNet = "127.0.0.1".parse().unwrap();
        assert_eq!(h.prefix, 32);
        assert!(h.contains(&ip("127.0.0.1")) && !h.contains(&ip("127.0.0.2")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(&ip("2001:db8:1::5")));
        assert!(!v6.contains(&ip("2001:db9::5")));
        assert!(!v6.contains(&ip("192.0.2.1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&ip("203.0.113.1")));
        let mapped: IpNet = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped, "10.0.0.0/8".parse().unwrap());
        assert_eq!(v6.to_string(), "2001:db8::/32");
    }

    #[test]
    fn rejects() {
        assert_eq!(
            "192.0.2.1/24".parse::<IpNet>(),
            Err(IpNetError::HostBitsSet)
        );
        assert_eq!("192.0.2.0/33".parse::<IpNet>(), Err(IpNetError::BadPrefix));
        assert_eq!(
            "2001:db8::/129".parse::<IpNet>(),
            Err(IpNetError::BadPrefix)
        );
        assert_eq!(
            "2001:db8::1/32".parse::<IpNet>(),
            Err(IpNetError::HostBitsSet)
        );
        assert_eq!("10.0.0.0/".parse::<IpNet>(), Err(IpNetError::BadPrefix));
        assert_eq!("10.0.0.0/+8".parse::<IpNet>(), Err(IpNetError::BadPrefix));
        assert_eq!("host.example".parse::<IpNet>(), Err(IpNetError::BadAddress));
    }
}
