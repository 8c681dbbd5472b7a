//! `limit NAME VALUE`: the bounds on what a helper or a YP client can make
//! ypldapd do, each with a default (ypldapd(8), "Resource limits").
//!
//! One keyword for all of them keeps the grammar change small and the
//! names self-explaining; an upstream file never says `limit`, so its
//! meaning does not change. Pure: no I/O.

use std::fmt;
use std::time::Duration;

/// The resource limits in force. [`Default`] is what a configuration
/// without `limit` lines gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Bytes ypldapd may queue for a helper that does not read its link;
    /// beyond that the helper is killed and restarted.
    pub helper_queue: usize,
    /// How long an update (a full read or a refresh) may take before it is
    /// abandoned, the reader restarted and the current maps kept.
    pub update_time: Duration,
    /// Log records per second each helper may have written (sustained; a
    /// burst of ten times as many passes); the rest are counted and said
    /// once a second.
    pub helper_log_rate: u32,
    /// Open YP TCP connections in all.
    pub tcp_connections: usize,
    /// Open YP TCP connections from one source address; below
    /// [`Self::tcp_connections`], so one host cannot hold every slot.
    pub tcp_per_host: usize,
    /// The slowest an ALL stream may be read, in bytes per second,
    /// measured over its life once it is [`ALL_RATE_GRACE`] old.
    pub all_min_rate: u64,
    /// The longest an ALL stream may last (it keeps the snapshot it
    /// started with alive).
    pub all_lifetime: Duration,
    /// UDP answers per second to one source address outside the `allow`
    /// list (every source when there is no list); 0: not limited.
    pub udp_rate: u32,
}

/// How long an ALL stream runs before its rate is judged.
pub const ALL_RATE_GRACE: Duration = Duration::from_secs(5);

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            helper_queue: 4 << 20,
            update_time: Duration::from_secs(1800),
            helper_log_rate: 20,
            tcp_connections: 256,
            tcp_per_host: 32,
            all_min_rate: 4096,
            all_lifetime: Duration::from_secs(600),
            udp_rate: 0,
        }
    }
}

/// One `limit` name: its unit and the values it accepts.
struct Spec {
    name: &'static str,
    min: i64,
    max: i64,
    unit: &'static str,
}

/// Every name `limit` knows, in the order they are printed.
const SPECS: [Spec; 8] = [
    Spec {
        name: "helper-queue",
        min: 64 << 10,
        max: 1 << 30,
        unit: "bytes",
    },
    Spec {
        name: "update-time",
        min: 1,
        max: 7 * 86400,
        unit: "seconds",
    },
    Spec {
        name: "helper-log-rate",
        min: 1,
        max: 100_000,
        unit: "records per second",
    },
    Spec {
        name: "tcp-connections",
        min: 1,
        max: 4096,
        unit: "connections",
    },
    Spec {
        name: "tcp-per-host",
        min: 1,
        max: 4096,
        unit: "connections",
    },
    Spec {
        name: "all-min-rate",
        min: 0,
        max: 1 << 30,
        unit: "bytes per second",
    },
    Spec {
        name: "all-lifetime",
        min: 1,
        max: 86400,
        unit: "seconds",
    },
    Spec {
        name: "udp-rate",
        min: 0,
        max: 1_000_000,
        unit: "answers per second",
    },
];

impl ResourceLimits {
    /// Sets limit `name` to `value`, or says why not.
    pub fn set(&mut self, name: &str, value: i64) -> Result<(), String> {
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
            return Err(format!(
                "unknown limit {name:?} (known: {})",
                names.join(", ")
            ));
        };
        if !(spec.min..=spec.max).contains(&value) {
            return Err(format!(
                "limit {name} {value}: must be {} to {} {}",
                spec.min, spec.max, spec.unit
            ));
        }
        let n = value.unsigned_abs();
        let secs = Duration::from_secs(n);
        // The range check above keeps every value within its type.
        let count = usize::try_from(n).unwrap_or(usize::MAX);
        let rate = u32::try_from(n).unwrap_or(u32::MAX);
        match name {
            "helper-queue" => self.helper_queue = count,
            "update-time" => self.update_time = secs,
            "helper-log-rate" => self.helper_log_rate = rate,
            "tcp-connections" => self.tcp_connections = count,
            "tcp-per-host" => self.tcp_per_host = count,
            "all-min-rate" => self.all_min_rate = n,
            "all-lifetime" => self.all_lifetime = secs,
            _ => self.udp_rate = rate,
        }
        Ok(())
    }

    /// Checks the limits against each other, once all are read.
    pub fn check(&self) -> Result<(), String> {
        if self.tcp_per_host >= self.tcp_connections {
            return Err(format!(
                "limit tcp-per-host {} must be below limit tcp-connections {}",
                self.tcp_per_host, self.tcp_connections
            ));
        }
        Ok(())
    }

    /// Checks that the TLS files (`tls_bytes` in all, as sent to
    /// ypldap-client at each start and reload) fit twice in the helper
    /// queue, so that a reader that is merely slow is never taken for a
    /// stuck one.
    pub fn check_tls_fits(&self, tls_bytes: usize) -> Result<(), String> {
        if tls_bytes.saturating_mul(2) > self.helper_queue {
            return Err(format!(
                "the TLS files come to {tls_bytes} bytes: limit helper-queue must be at least twice that (it is {})",
                self.helper_queue
            ));
        }
        Ok(())
    }

    /// Each limit as `(name, value)`, for the normalised configuration.
    pub fn entries(&self) -> [(&'static str, u64); 8] {
        [
            ("helper-queue", self.helper_queue as u64),
            ("update-time", self.update_time.as_secs()),
            ("helper-log-rate", u64::from(self.helper_log_rate)),
            ("tcp-connections", self.tcp_connections as u64),
            ("tcp-per-host", self.tcp_per_host as u64),
            ("all-min-rate", self.all_min_rate),
            ("all-lifetime", self.all_lifetime.as_secs()),
            ("udp-rate", u64::from(self.udp_rate)),
        ]
    }
}

impl fmt::Display for ResourceLimits {
    /// One `limit` line per limit, as the parser reads them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.entries() {
            writeln!(f, "limit {name} {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, MemSource, parse_str};

    fn parse(text: &str) -> Result<ResourceLimits, String> {
        parse_str(
            "c.conf",
            &format!("domain \"d\"\n{text}"),
            &LoadOptions::default(),
            &MemSource::new(),
        )
        .map(|l| l.config.limits)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_without_limit_lines() {
        assert_eq!(parse(""), Ok(ResourceLimits::default()));
        let d = ResourceLimits::default();
        assert!(d.tcp_per_host < d.tcp_connections);
        assert_eq!(d.udp_rate, 0);
    }

    #[test]
    fn every_name_sets_its_limit() {
        let l = parse(
            "limit helper-queue 65536\nlimit update-time 3\nlimit helper-log-rate 5\n\
             limit tcp-connections 10\nlimit tcp-per-host 2\nlimit all-min-rate 100\n\
             limit all-lifetime 7\nlimit udp-rate 50\n",
        )
        .unwrap();
        assert_eq!(
            l,
            ResourceLimits {
                helper_queue: 65536,
                update_time: Duration::from_secs(3),
                helper_log_rate: 5,
                tcp_connections: 10,
                tcp_per_host: 2,
                all_min_rate: 100,
                all_lifetime: Duration::from_secs(7),
                udp_rate: 50,
            }
        );
        // What Display prints parses back to the same limits.
        assert_eq!(parse(&l.to_string()), Ok(l));
    }

    #[test]
    fn errors_name_the_line_and_the_range() {
        assert_eq!(
            parse("limit helper-queue 10\n"),
            Err("c.conf:2: limit helper-queue 10: must be 65536 to 1073741824 bytes".into())
        );
        assert!(
            parse("limit nonsense 1\n")
                .unwrap_err()
                .starts_with("c.conf:2: unknown limit \"nonsense\" (known: helper-queue,")
        );
        assert_eq!(
            parse("limit tcp-per-host 300\n"),
            Err("c.conf: limit tcp-per-host 300 must be below limit tcp-connections 256".into())
        );
        assert!(
            parse("limit udp-rate\n")
                .unwrap_err()
                .starts_with("c.conf:2: syntax error: expected a number after the limit's name")
        );
        assert!(ResourceLimits::default().check_tls_fits(2 << 20).is_ok());
        assert!(
            ResourceLimits::default()
                .check_tls_fits((2 << 20) + 1)
                .unwrap_err()
                .contains("at least twice")
        );
        // `limit` stays usable as a macro name, as `allow` does.
        assert_eq!(parse("limit = \"x\"\n"), Ok(ResourceLimits::default()));
    }
}
