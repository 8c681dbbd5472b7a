//! `show metrics`: the status in the Prometheus text exposition format
//! (version 0.0.4), without timestamps, so node_exporter's textfile
//! collector takes it as it is:
//!
//! ```sh
//! ypldapctl show metrics > /var/lib/node_exporter/ypldap.prom.$$ &&
//!     mv /var/lib/node_exporter/ypldap.prom.$$ /var/lib/node_exporter/ypldap.prom
//! ```
//!
//! Names follow the Prometheus conventions: the `ypldap_` prefix, base
//! units in the name (`_seconds`, `_bytes`), `_total` on counters,
//! `_timestamp_seconds` for times since the epoch, `_info` for a constant
//! 1 carrying labels. Every metric is listed in ypldapctl(8).

use std::fmt::Write as _;

use ctl_proto::{HelperState, Procedure, Status};
use entry_rules::DropReason;

/// One metric family being written: its HELP and TYPE lines go out with
/// its first sample, so a family without samples (no directory, no
/// record) is left out rather than written empty.
struct Family<'a> {
    out: &'a mut String,
    header: Option<String>,
}

/// A label value escaped as the format says (`\`, `"`, newline), other
/// control characters shown as `?`.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c if c.is_control() => s.push('?'),
            c => s.push(c),
        }
    }
    s
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        if let Some(h) = self.header.take() {
            self.out.push_str(&h);
        }
        let _ = write!(self.out, "{name}");
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Starts a family: its HELP and TYPE lines.
fn family<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
    Family {
        out,
        header: Some(format!("# HELP {name} {help}\n# TYPE {name} {kind}\n")),
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Every metric, names and help, in the order written: what ypldapctl(8)
/// lists (a test checks the page against this).
pub const METRICS: [&str; 37] = [
    "ypldap_info",
    "ypldap_start_time_seconds",
    "ypldap_announced",
    "ypldap_maps_loaded_timestamp_seconds",
    "ypldap_update_running",
    "ypldap_next_update_timestamp_seconds",
    "ypldap_updates_total",
    "ypldap_update_failures_in_a_row",
    "ypldap_directories_kept_current",
    "ypldap_sync_changes_total",
    "ypldap_last_update_success",
    "ypldap_last_update_timestamp_seconds",
    "ypldap_last_update_duration_seconds",
    "ypldap_last_success_timestamp_seconds",
    "ypldap_last_success_users",
    "ypldap_last_success_groups",
    "ypldap_last_success_records",
    "ypldap_last_success_dropped_entries",
    "ypldap_last_success_member_dns",
    "ypldap_helper_up",
    "ypldap_helper_restarts_total",
    "ypldap_map_entries",
    "ypldap_map_bytes",
    "ypldap_map_order",
    "ypldap_directory_info",
    "ypldap_directory_connections_total",
    "ypldap_directory_connect_failures_total",
    "ypldap_directory_connected_timestamp_seconds",
    "ypldap_directory_last_change_received_timestamp_seconds",
    "ypldap_yp_requests_total",
    "ypldap_yp_refused_total",
    "ypldap_yp_tcp_connections",
    "ypldap_yp_tcp_connections_max",
    "ypldap_yp_tcp_connections_accepted_total",
    "ypldap_yp_tcp_connections_closed_total",
    "ypldap_yp_requests_last_window",
    "ypldap_yp_rate_window_seconds",
];

/// The whole exposition.
pub fn render(st: &Status) -> String {
    let mut o = String::new();
    let s = &st.summary;
    family(
        &mut o,
        "ypldap_info",
        "gauge",
        "The running ypldapd: its version and NIS domain (always 1).",
    )
    .sample(
        "ypldap_info",
        &[("version", &s.version), ("domain", &s.domain)],
        1,
    );
    family(
        &mut o,
        "ypldap_start_time_seconds",
        "gauge",
        "When ypldapd started, in seconds since the epoch.",
    )
    .sample("ypldap_start_time_seconds", &[], s.started);
    family(
        &mut o,
        "ypldap_announced",
        "gauge",
        "1 when clients can find the server (registered with rpcbind, or the binding file written).",
    )
    .sample("ypldap_announced", &[], u8::from(s.announcement.announced));
    if let Some(t) = s.maps_loaded {
        family(
            &mut o,
            "ypldap_maps_loaded_timestamp_seconds",
            "gauge",
            "When the maps in service were installed.",
        )
        .sample("ypldap_maps_loaded_timestamp_seconds", &[], t);
    }
    family(
        &mut o,
        "ypldap_update_running",
        "gauge",
        "1 while an update reads the directories.",
    )
    .sample(
        "ypldap_update_running",
        &[],
        u8::from(s.running_update.is_some()),
    );
    if let Some(t) = s.next_update {
        family(
            &mut o,
            "ypldap_next_update_timestamp_seconds",
            "gauge",
            "When the next update starts.",
        )
        .sample("ypldap_next_update_timestamp_seconds", &[], t);
    }
    let mut f = family(
        &mut o,
        "ypldap_updates_total",
        "counter",
        "Updates finished since the start, by result.",
    );
    f.sample(
        "ypldap_updates_total",
        &[("result", "success")],
        s.updates.succeeded,
    );
    f.sample(
        "ypldap_updates_total",
        &[("result", "failure")],
        s.updates.failed,
    );
    family(
        &mut o,
        "ypldap_update_failures_in_a_row",
        "gauge",
        "Updates failed since the last success.",
    )
    .sample("ypldap_update_failures_in_a_row", &[], s.failures_in_a_row);
    family(
        &mut o,
        "ypldap_directories_kept_current",
        "gauge",
        "Directories kept current by content synchronization (RFC 4533).",
    )
    .sample(
        "ypldap_directories_kept_current",
        &[],
        s.directories_kept_current,
    );
    family(
        &mut o,
        "ypldap_sync_changes_total",
        "counter",
        "Changes content synchronization sessions pushed since the start.",
    )
    .sample("ypldap_sync_changes_total", &[], s.changes_received);
    if let Some(u) = &s.last_update {
        family(
            &mut o,
            "ypldap_last_update_success",
            "gauge",
            "1 when the last update finished installed its maps, 0 when it failed.",
        )
        .sample(
            "ypldap_last_update_success",
            &[],
            u8::from(u.failure.is_none()),
        );
        family(
            &mut o,
            "ypldap_last_update_timestamp_seconds",
            "gauge",
            "When the last update finished, whatever its result.",
        )
        .sample("ypldap_last_update_timestamp_seconds", &[], u.finished);
        family(
            &mut o,
            "ypldap_last_update_duration_seconds",
            "gauge",
            "How long the last update took.",
        )
        .sample(
            "ypldap_last_update_duration_seconds",
            &[],
            seconds(u.duration_ms),
        );
    }
    if let Some(u) = &s.last_success {
        family(
            &mut o,
            "ypldap_last_success_timestamp_seconds",
            "gauge",
            "When the last update that installed its maps finished.",
        )
        .sample("ypldap_last_success_timestamp_seconds", &[], u.finished);
        if let Some(c) = &u.counts {
            family(
                &mut o,
                "ypldap_last_success_users",
                "gauge",
                "Users in the maps of the last successful update.",
            )
            .sample("ypldap_last_success_users", &[], c.users);
            family(
                &mut o,
                "ypldap_last_success_groups",
                "gauge",
                "Groups in the maps of the last successful update.",
            )
            .sample("ypldap_last_success_groups", &[], c.groups);
            let mut f = family(
                &mut o,
                "ypldap_last_success_records",
                "gauge",
                "Entries of the classic maps in the last successful update, by kind.",
            );
            for (kind, n) in &c.records {
                f.sample("ypldap_last_success_records", &[("kind", kind.word())], n);
            }
            let mut f = family(
                &mut o,
                "ypldap_last_success_dropped_entries",
                "gauge",
                "Entries the last successful update left out, by reason.",
            );
            for r in DropReason::ALL {
                let label = serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let n = c.dropped.get(&r).copied().unwrap_or(0);
                f.sample(
                    "ypldap_last_success_dropped_entries",
                    &[("reason", &label)],
                    n,
                );
            }
            let m = c.member_dns;
            let mut f = family(
                &mut o,
                "ypldap_last_success_member_dns",
                "gauge",
                "Group members given as DNs in the last successful update, by what became of them.",
            );
            for (state, n) in [
                ("resolved", m.resolved),
                ("nested", m.nested),
                ("unresolved", m.unresolved),
                ("cut", m.cut),
            ] {
                f.sample("ypldap_last_success_member_dns", &[("state", state)], n);
            }
        }
    }
    let mut f = family(
        &mut o,
        "ypldap_helper_up",
        "gauge",
        "1 when the helper process runs and speaks the protocol.",
    );
    for h in &s.helpers {
        f.sample(
            "ypldap_helper_up",
            &[("helper", &h.name)],
            u8::from(h.state == HelperState::Running),
        );
    }
    let mut f = family(
        &mut o,
        "ypldap_helper_restarts_total",
        "counter",
        "Times the helper was started again since ypldapd started.",
    );
    for h in &s.helpers {
        f.sample(
            "ypldap_helper_restarts_total",
            &[("helper", &h.name)],
            h.restarts,
        );
    }
    for (name, help) in [
        ("ypldap_map_entries", "Keys in the map."),
        (
            "ypldap_map_bytes",
            "Bytes of the map's keys and values, as a client reading it whole receives them.",
        ),
        ("ypldap_map_order", "The map's YP order number."),
    ] {
        let mut f = family(&mut o, name, "gauge", help);
        for m in &st.maps.maps {
            let value = match name {
                "ypldap_map_entries" => m.entries,
                "ypldap_map_bytes" => m.bytes,
                _ => m.order.map_or(0, u64::from),
            };
            f.sample(name, &[("map", &m.name)], value);
        }
    }
    let dirs = &st.directories.directories;
    let mut f = family(
        &mut o,
        "ypldap_directory_info",
        "gauge",
        "A configured directory, how it is reached and read (always 1).",
    );
    for d in dirs {
        f.sample(
            "ypldap_directory_info",
            &[
                ("directory", &d.index.to_string()),
                ("host", &d.host),
                ("port", &d.port.to_string()),
                ("tls", d.tls.as_str()),
                ("mode", d.update_mode.label()),
                ("address", d.address.as_deref().unwrap_or("")),
            ],
            1,
        );
    }
    for (name, kind, help) in [
        (
            "ypldap_directory_connections_total",
            "counter",
            "Connections ypldap-dns made to the directory.",
        ),
        (
            "ypldap_directory_connect_failures_total",
            "counter",
            "Connects to the directory that failed on every address.",
        ),
    ] {
        let mut f = family(&mut o, name, kind, help);
        for d in dirs {
            let n = if name == "ypldap_directory_connections_total" {
                d.connections
            } else {
                d.connect_failures
            };
            f.sample(name, &[("directory", &d.index.to_string())], n);
        }
    }
    let mut f = family(
        &mut o,
        "ypldap_directory_connected_timestamp_seconds",
        "gauge",
        "When the last connection to the directory was made.",
    );
    for d in dirs {
        if let Some(t) = d.connected {
            f.sample(
                "ypldap_directory_connected_timestamp_seconds",
                &[("directory", &d.index.to_string())],
                t,
            );
        }
    }
    let mut f = family(
        &mut o,
        "ypldap_directory_last_change_received_timestamp_seconds",
        "gauge",
        "When the directory's content synchronization session last pushed a change.",
    );
    for d in dirs {
        if let Some(t) = d.last_change_received {
            f.sample(
                "ypldap_directory_last_change_received_timestamp_seconds",
                &[("directory", &d.index.to_string())],
                t,
            );
        }
    }
    let c = &st.clients;
    let mut f = family(
        &mut o,
        "ypldap_yp_requests_total",
        "counter",
        "YP requests answered or dropped, by procedure and transport.",
    );
    for r in &c.requests {
        for (transport, n) in [("udp", r.udp), ("tcp", r.tcp)] {
            f.sample(
                "ypldap_yp_requests_total",
                &[("procedure", r.procedure.label()), ("transport", transport)],
                n,
            );
        }
    }
    let mut f = family(
        &mut o,
        "ypldap_yp_refused_total",
        "counter",
        "YP requests and connections refused, by reason.",
    );
    for (r, n) in &c.refused {
        f.sample("ypldap_yp_refused_total", &[("reason", r.label())], n);
    }
    family(
        &mut o,
        "ypldap_yp_tcp_connections",
        "gauge",
        "Open YP TCP connections.",
    )
    .sample("ypldap_yp_tcp_connections", &[], c.connections.len());
    family(
        &mut o,
        "ypldap_yp_tcp_connections_max",
        "gauge",
        "Open YP TCP connections allowed (limit tcp-connections).",
    )
    .sample("ypldap_yp_tcp_connections_max", &[], c.connections_max);
    family(
        &mut o,
        "ypldap_yp_tcp_connections_accepted_total",
        "counter",
        "YP TCP connections accepted.",
    )
    .sample(
        "ypldap_yp_tcp_connections_accepted_total",
        &[],
        c.connections_accepted,
    );
    let mut f = family(
        &mut o,
        "ypldap_yp_tcp_connections_closed_total",
        "counter",
        "YP TCP connections ypldapd closed itself, by reason.",
    );
    for (r, n) in &c.closed {
        f.sample(
            "ypldap_yp_tcp_connections_closed_total",
            &[("reason", r.label())],
            n,
        );
    }
    let mut f = family(
        &mut o,
        "ypldap_yp_requests_last_window",
        "gauge",
        "YP requests over the last ypldap_yp_rate_window_seconds, by procedure (both transports).",
    );
    for r in &c.requests {
        f.sample(
            "ypldap_yp_requests_last_window",
            &[("procedure", r.procedure.label())],
            r.last_window,
        );
    }
    family(
        &mut o,
        "ypldap_yp_rate_window_seconds",
        "gauge",
        "The span ypldap_yp_requests_last_window covers (60, less just after the start).",
    )
    .sample("ypldap_yp_rate_window_seconds", &[], c.rate_window_seconds);
    debug_assert!(Procedure::ALL.len() == c.requests.len() || c.requests.is_empty());
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctl_proto::sample;

    /// The families in the order written.
    fn families(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, k)| (n.to_owned(), k.to_owned()))
            .collect()
    }

    #[test]
    fn every_metric_is_listed_and_named_by_the_conventions() {
        let text = render(&sample::status());
        let got: Vec<String> = families(&text).into_iter().map(|(n, _)| n).collect();
        assert_eq!(got, METRICS.to_vec(), "METRICS lists the families in order");
        for (name, kind) in families(&text) {
            assert!(name.starts_with("ypldap_"), "{name}");
            assert_eq!(name.ends_with("_total"), kind == "counter", "{name} {kind}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
        // No timestamps: every sample line is NAME[{LABELS}] VALUE.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let before = &line[..line.len() - value.len() - 1];
            assert!(
                before.ends_with('}') || !before.contains(' '),
                "a timestamp or a space: {line}"
            );
        }
    }

    #[test]
    fn families_without_samples_are_left_out() {
        let mut st = sample::status();
        st.directories.directories.clear();
        let text = render(&st);
        assert!(!text.contains("ypldap_directory_info"), "{text}");
        assert!(text.contains("ypldap_map_entries"), "{text}");
    }

    #[test]
    fn values_and_labels() {
        let text = render(&sample::status());
        for want in [
            "ypldap_info{version=\"0.1.0\",domain=\"example.com\"} 1",
            "ypldap_updates_total{result=\"success\"} 3",
            "ypldap_last_success_dropped_entries{reason=\"invalid_uid\"} 2",
            "ypldap_last_success_dropped_entries{reason=\"line_too_long\"} 0",
            "ypldap_last_update_duration_seconds 1.530",
            "ypldap_helper_up{helper=\"ypldap-dns\"} 0",
            "ypldap_helper_restarts_total{helper=\"ypldap-dns\"} 2",
            "ypldap_map_entries{map=\"passwd.byname\"} 40",
            "ypldap_yp_requests_total{procedure=\"match\",transport=\"udp\"} 30",
            "ypldap_yp_refused_total{reason=\"unprivileged_port\"} 1",
            "ypldap_yp_tcp_connections 1",
            "ypldap_directory_info{directory=\"0\",host=\"ldap.example.com\",port=\"389\",tls=\"starttls\",mode=\"full_read\",address=\"192.0.2.1:389\"} 1",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd\u{1b}"), "a\\\"b\\\\c\\nd?");
    }
}

#[cfg(test)]
mod manual {
    /// ypldapctl(8) names every metric `show metrics` writes.
    #[test]
    fn the_manual_lists_every_metric() {
        let page =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../man/ypldapctl.8"))
                .expect("man/ypldapctl.8");
        for name in super::METRICS {
            assert!(
                page.contains(&format!("Li {name}")),
                "{name} is not in ypldapctl.8"
            );
        }
        // And every label value a metric can carry.
        let reasons = entry_rules::DropReason::ALL.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        });
        let labels = reasons
            .iter()
            .map(String::as_str)
            .chain(ctl_proto::Procedure::ALL.map(ctl_proto::Procedure::label))
            .chain(ctl_proto::Refusal::ALL.map(ctl_proto::Refusal::label))
            .chain(ctl_proto::Closure::ALL.map(ctl_proto::Closure::label));
        for label in labels {
            assert!(
                page.contains(&format!(".Li {label} ")) || page.contains(&format!(".Li {label}\n")),
                "label {label} is not in ypldapctl.8"
            );
        }
    }
}
