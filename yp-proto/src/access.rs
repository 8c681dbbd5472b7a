//! Access decisions that depend on the caller's address: the optional
//! securenets-style allow-list, the privileged-port rule for
//! `master.passwd.*`, and a rate limiter so a refused host cannot flood the
//! log.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A caller on a port below 1024 is root on its host (the traditional, weak
/// but expected, rule for password hashes).
pub fn is_privileged(peer: &SocketAddr) -> bool {
    peer.port() < 1024
}

/// One network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let p = u32::from(self.prefix.min(32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let p = u32::from(self.prefix.min(128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses are treated as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Client networks allowed to query. Empty means everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    pub nets: Vec<Net>,
}

impl AllowList {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.nets.is_empty() || self.nets.iter().any(|n| n.contains(ip))
    }
}

/// Decides whether a refusal for an address is logged: at most once per
/// address per interval. Memory is bounded: past `cap` addresses, expired
/// ones are forgotten, and if none are, new addresses are counted in
/// `suppressed` instead of logged.
#[derive(Debug)]
pub struct RefusalLog {
    interval: Duration,
    cap: usize,
    last: HashMap<IpAddr, Instant>,
    /// Refusals not logged because the table was full.
    pub suppressed: u64,
}

impl RefusalLog {
    pub fn new(interval: Duration, cap: usize) -> Self {
        RefusalLog {
            interval,
            cap: cap.max(1),
            last: HashMap::new(),
            suppressed: 0,
        }
    }

    /// True if a refusal from `ip` at `now` should be logged.
    pub fn should_log(&mut self, ip: IpAddr, now: Instant) -> bool {
        if let Some(t) = self.last.get_mut(&ip) {
            if now.saturating_duration_since(*t) >= self.interval {
                *t = now;
                return true;
            }
            return false;
        }
        if self.last.len() >= self.cap {
            let iv = self.interval;
            self.last
                .retain(|_, t| now.saturating_duration_since(*t) < iv);
            if self.last.len() >= self.cap {
                self.suppressed += 1;
                return false;
            }
        }
        self.last.insert(ip, now);
        true
    }
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog::new(Duration::from_secs(60), 4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets() {
        let n = Net {
            addr: "10.1.0.0".parse().unwrap(),
            prefix: 16,
        };
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let all = Net {
            addr: "::".parse().unwrap(),
            prefix: 0,
        };
        assert!(all.contains("fe80::1".parse().unwrap()));
        assert!(AllowList::default().allows("1.2.3.4".parse().unwrap()));
        let l = AllowList { nets: vec![n] };
        assert!(!l.allows("1.2.3.4".parse().unwrap()));
        assert!(is_privileged(&"1.2.3.4:1023".parse().unwrap()));
        assert!(!is_privileged(&"1.2.3.4:1024".parse().unwrap()));
    }

    /// The same rules for IPv6 callers: an IPv6 network in the allow list,
    /// IPv4 networks matching IPv4-mapped callers of an IPv6 socket, and
    /// the privileged-port rule by port alone.
    #[test]
    fn ipv6_callers() {
        let v6 = Net {
            addr: "2001:db8::".parse().unwrap(),
            prefix: 32,
        };
        let v4 = Net {
            addr: "192.0.2.0".parse().unwrap(),
            prefix: 24,
        };
        let l = AllowList { nets: vec![v6, v4] };
        assert!(l.allows("2001:db8:1::5".parse().unwrap()));
        assert!(!l.allows("2001:db9::5".parse().unwrap()));
        assert!(!l.allows("::1".parse().unwrap()));
        assert!(l.allows("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!l.allows("::ffff:192.0.3.7".parse().unwrap()));
        assert!(is_privileged(&"[::1]:1023".parse().unwrap()));
        assert!(!is_privileged(&"[::1]:1024".parse().unwrap()));
        assert!(is_privileged(&"[2001:db8::1]:600".parse().unwrap()));
    }

    #[test]
    fn rate_limit() {
        let mut r = RefusalLog::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let a: IpAddr = "1.1.1.1".parse().unwrap();
        let b: IpAddr = "2.2.2.2".parse().unwrap();
        let c: IpAddr = "3.3.3.3".parse().unwrap();
        assert!(r.should_log(a, t0));
        assert!(!r.should_log(a, t0 + Duration::from_secs(59)));
        assert!(r.should_log(a, t0 + Duration::from_secs(60)));
        assert!(r.should_log(b, t0));
        assert!(!r.should_log(c, t0 + Duration::from_secs(1)));
        assert_eq!(r.suppressed, 1);
        // b expired, so c fits again
        assert!(r.should_log(c, t0 + Duration::from_secs(61)));
    }
}
