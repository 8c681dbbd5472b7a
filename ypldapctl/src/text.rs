//! The `show` answers as text for a terminal. Everything that came from
//! ypldapd, and so maybe from a directory (a DN, an address, an error a
//! directory gave), has its control characters replaced first: a DN must
//! not be able to move the cursor or recolour root's terminal.

use std::fmt::Write as _;

use ctl_proto::{
    ClientsView, DirectoriesView, DropsView, HelperState, MapsView, Summary, UpdateRecord,
};

/// `s` with every control character shown as `?`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Seconds since the epoch as a UTC date and time.
pub fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The calendar date of a day counted from 1970-01-01 (the proleptic
/// Gregorian calendar, as `gmtime` has it), for days before year 10000.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift to 0000-03-01, so a leap day ends its year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A span of seconds: `42s`, `3m05s`, `2h03m`, `4d02h`.
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs / 3600 % 24),
    }
}

/// `t` relative to `now`: "in 3m05s" or "3m05s ago".
fn relative(t: u64, now: u64) -> String {
    if t > now {
        format!("in {}", span(t - now))
    } else {
        format!("{} ago", span(now - t))
    }
}

fn millis(ms: u64) -> String {
    format!("{}.{:02} s", ms / 1000, ms % 1000 / 10)
}

fn update_lines(o: &mut String, label: &str, u: &UpdateRecord, now: u64) {
    let when = format!("{} ({})", utc(u.finished), relative(u.finished, now));
    match (&u.failure, &u.counts) {
        (Some(why), _) => {
            let _ = writeln!(
                o,
                "{label:<14}{} FAILED at {when} after {}: {}",
                u.number,
                millis(u.duration_ms),
                clean(why)
            );
        }
        (None, Some(c)) => {
            let _ = writeln!(
                o,
                "{label:<14}{} at {when}, {}: {} users, {} groups from {} director{}",
                u.number,
                millis(u.duration_ms),
                c.users,
                c.groups,
                c.directories,
                if c.directories == 1 { "y" } else { "ies" }
            );
            if !c.records.is_empty() || c.duplicate_keys > 0 {
                let mut r: Vec<String> = c
                    .records
                    .iter()
                    .map(|(k, n)| format!("{n} {}", k.word()))
                    .collect();
                if c.duplicate_keys > 0 {
                    r.push(format!("{} keys given twice", c.duplicate_keys));
                }
                let _ = writeln!(o, "{:<14}records: {}", "", r.join(", "));
            }
            let dropped: Vec<String> = c
                .dropped
                .iter()
                .map(|(r, n)| format!("{n} {}", r.as_str()))
                .collect();
            if dropped.is_empty() {
                let _ = writeln!(o, "{:<14}dropped none", "");
            } else {
                let _ = writeln!(
                    o,
                    "{:<14}dropped {}: {}",
                    "",
                    c.dropped_total,
                    dropped.join(", ")
                );
            }
            let m = c.member_dns;
            if m != ctl_proto::MemberDns::default() {
                let _ = writeln!(
                    o,
                    "{:<14}member DNs: {} resolved, {} nested groups, {} unresolved, {} nestings cut",
                    "", m.resolved, m.nested, m.unresolved, m.cut
                );
            }
            if !c.locked_passwords.is_empty() {
                let locked: Vec<String> = c
                    .locked_passwords
                    .iter()
                    .map(|(r, n)| format!("{n} {}", r.as_str()))
                    .collect();
                let _ = writeln!(
                    o,
                    "{:<14}passwords served locked: {}",
                    "",
                    locked.join(", ")
                );
            }
        }
        (None, None) => {
            let _ = writeln!(o, "{label:<14}{} at {when}", u.number);
        }
    }
}

/// `show summary`.
pub fn summary(s: &Summary) -> String {
    let mut o = String::new();
    let now = s.now;
    let _ = writeln!(
        o,
        "ypldapd {} (pid {}), domain {}, up {}",
        clean(&s.version),
        s.pid,
        clean(&s.domain),
        span(now.saturating_sub(s.started))
    );
    let loaded = match s.maps_loaded {
        Some(t) => format!("loaded {} ({})", utc(t), relative(t, now)),
        None => "none loaded yet".to_owned(),
    };
    let _ = writeln!(o, "{:<14}{} served, {loaded}", "maps:", s.maps.len());
    let a = &s.announcement;
    let _ = writeln!(
        o,
        "{:<14}{} ({})",
        "clients:",
        if a.announced {
            "can find the server"
        } else {
            "cannot find the server yet"
        },
        clean(&a.detail)
    );
    let next = match (&s.running_update, s.next_update) {
        (Some(r), _) => format!(
            "update {} running since {} ({} entries so far)",
            r.number,
            relative(r.started, now),
            r.received
        ),
        (None, Some(t)) => format!("next {}", relative(t, now)),
        (None, None) => "none scheduled".to_owned(),
    };
    let _ = writeln!(
        o,
        "{:<14}{}, every {} s; {next}",
        "updates:",
        s.update_mode.as_str(),
        s.interval_seconds
    );
    if s.directories_kept_current > 0 {
        let _ = writeln!(
            o,
            "{:<14}{} of {} director{} kept current by content synchronization, {} change{} received",
            "",
            s.directories_kept_current,
            s.directories,
            if s.directories == 1 { "y" } else { "ies" },
            s.changes_received,
            if s.changes_received == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(
        o,
        "{:<14}{} succeeded, {} failed since the start{}",
        "",
        s.updates.succeeded,
        s.updates.failed,
        if s.failures_in_a_row > 0 {
            format!(", the last {} in a row", s.failures_in_a_row)
        } else {
            String::new()
        }
    );
    match (&s.last_update, &s.last_success) {
        (None, _) => {
            let _ = writeln!(o, "{:<14}none finished yet", "last update:");
        }
        (Some(last), success) => {
            update_lines(&mut o, "last update:", last, now);
            if let Some(ok) = success.as_ref().filter(|ok| ok.number != last.number) {
                update_lines(&mut o, "last success:", ok, now);
            }
        }
    }
    for (i, h) in s.helpers.iter().enumerate() {
        let state = match h.state {
            HelperState::Restarting => format!(
                "restarting{}",
                h.next_start
                    .map(|t| format!(" ({})", relative(t, now)))
                    .unwrap_or_default()
            ),
            other => format!(
                "{}{}{}",
                other.as_str(),
                h.pid.map(|p| format!(", pid {p}")).unwrap_or_default(),
                h.since
                    .map(|t| format!(", up {}", span(now.saturating_sub(t))))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(
            o,
            "{:<14}{} {state}, {} restart{}",
            if i == 0 { "helpers:" } else { "" },
            clean(&h.name),
            h.restarts,
            if h.restarts == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(
        o,
        "{:<14}{}",
        "log:",
        if s.log_verbose { "verbose" } else { "brief" }
    );
    o
}

/// `show maps`.
pub fn maps(v: &MapsView) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<22} {:>9} {:>11} {:>11}  last change",
        "map", "entries", "bytes", "order"
    );
    let mut secret = false;
    for m in &v.maps {
        secret |= m.privileged;
        let name = format!("{}{}", clean(&m.name), if m.privileged { " *" } else { "" });
        let _ = writeln!(
            o,
            "{name:<22} {:>9} {:>11} {:>11}  {}",
            m.entries,
            m.bytes,
            m.order.map_or("-".to_owned(), |n| n.to_string()),
            m.last_change.map_or("-".to_owned(), utc)
        );
    }
    if secret {
        let _ = writeln!(o, "* answered to privileged source ports only");
    }
    o
}

/// `show directories`.
pub fn directories(v: &DirectoriesView) -> String {
    let mut o = String::new();
    if v.directories.is_empty() {
        o.push_str("no directory configured\n");
    }
    for d in &v.directories {
        let _ = writeln!(
            o,
            "directory {}: {} port {}, TLS {}, {}",
            d.index,
            clean(&d.host),
            d.port,
            d.tls.as_str(),
            d.update_mode.as_str()
        );
        match (&d.address, d.connected) {
            (Some(a), Some(t)) => {
                let _ = writeln!(o, "  address in use: {} (connected {})", clean(a), utc(t));
            }
            _ => {
                let _ = writeln!(o, "  address in use: none yet");
            }
        }
        let _ = writeln!(
            o,
            "  connections: {} made, {} failed",
            d.connections, d.connect_failures
        );
        if let Some(e) = &d.last_error {
            let _ = writeln!(o, "  last error: {}", clean(e));
        }
        if let Some(t) = d.last_change_received {
            let _ = writeln!(o, "  last change received: {}", utc(t));
        }
    }
    o
}

/// `show drops`.
pub fn drops(v: &DropsView) -> String {
    let mut o = String::new();
    let Some(update) = v.update else {
        return "no update has installed maps yet\n".to_owned();
    };
    let by: Vec<String> = v
        .by_reason
        .iter()
        .map(|(r, n)| format!("{n} {}", r.as_str()))
        .collect();
    let _ = writeln!(
        o,
        "update {update}{} left out {} entr{}{}",
        v.finished
            .map(|t| format!(" ({})", utc(t)))
            .unwrap_or_default(),
        v.total,
        if v.total == 1 { "y" } else { "ies" },
        if by.is_empty() {
            String::new()
        } else {
            format!(": {}", by.join(", "))
        }
    );
    if v.entries.is_empty() {
        return o;
    }
    let _ = writeln!(o, "{:<22} {:<14} entry", "reason", "left out by");
    for e in &v.entries {
        let kind = match e.kind {
            Some(ctl_proto::EntryKind::User) => "user ".to_owned(),
            Some(ctl_proto::EntryKind::Group) => "group ".to_owned(),
            Some(ctl_proto::EntryKind::Record(k)) => format!("{} entry ", k.word()),
            None => String::new(),
        };
        let _ = writeln!(
            o,
            "{:<22} {:<14} {kind}{}",
            e.reason.as_str(),
            e.found_by.as_str(),
            clean(&e.dn)
        );
        if !e.detail.is_empty() {
            let _ = writeln!(o, "{:<37} {}", "", clean(&e.detail));
        }
    }
    if (v.entries.len() as u64) < v.total {
        let _ = writeln!(
            o,
            "({} of {} listed; the rest are counted only)",
            v.entries.len(),
            v.total
        );
    }
    o
}

/// `show clients`.
pub fn clients(v: &ClientsView) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "TCP connections: {} open (at most {}, {} per host), {} accepted since the start",
        v.connections.len(),
        v.connections_max,
        v.connections_per_host_max,
        v.connections_accepted
    );
    for c in &v.connections {
        let _ = writeln!(
            o,
            "  {:<40} open {}, idle {}{}",
            clean(&c.peer),
            span(c.age_seconds),
            span(c.idle_seconds),
            if c.streaming_all { ", sending ALL" } else { "" }
        );
    }
    let window = v.rate_window_seconds.max(1);
    let _ = writeln!(
        o,
        "requests since the start, and per second over the last {window} s:"
    );
    let _ = writeln!(
        o,
        "  {:<14} {:>12} {:>12} {:>9}",
        "procedure", "UDP", "TCP", "per s"
    );
    for r in &v.requests {
        if r.udp == 0 && r.tcp == 0 {
            continue;
        }
        let rate = r.last_window as f64 / f64::from(window);
        let _ = writeln!(
            o,
            "  {:<14} {:>12} {:>12} {:>9.2}",
            r.procedure.as_str(),
            r.udp,
            r.tcp,
            rate
        );
    }
    let _ = writeln!(o, "refused:");
    for (r, n) in &v.refused {
        let _ = writeln!(o, "  {:<40} {n:>9}", r.as_str());
    }
    let _ = writeln!(o, "connections closed by ypldapd:");
    for (c, n) in &v.closed {
        let _ = writeln!(o, "  {:<40} {n:>9}", c.as_str());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctl_proto::sample;

    #[test]
    fn relative_times() {
        assert_eq!(relative(100, 100), "0s ago");
        assert_eq!(relative(160, 100), "in 1m00s");
        assert_eq!(relative(40, 100), "1m00s ago");
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
        assert_eq!(span(5), "5s");
        assert_eq!(span(185), "3m05s");
        assert_eq!(span(7380), "2h03m");
        assert_eq!(span(180_000), "2d02h");
    }

    #[test]
    fn summary_says_what_matters() {
        let t = summary(&sample::summary());
        for want in [
            "domain example.com",
            "registered with rpcbind version 4",
            "full read, every 600 s; next in 8m22s",
            "3 succeeded, 1 failed",
            "40 users, 12 groups from 1 directory",
            "dropped 3: 1 missing attribute, 2 invalid uid",
            "member DNs: 7 resolved, 1 nested groups, 2 unresolved, 0 nestings cut",
            "records: 5 hosts, 1 keys given twice",
            "ypldap-client running, pid 4243",
            "ypldap-dns restarting (in 4s), 2 restarts",
            "log:          brief",
        ] {
            assert!(t.contains(want), "{want:?} missing from:\n{t}");
        }
    }

    #[test]
    fn content_synchronization() {
        let mut s = sample::summary();
        s.update_mode = ctl_proto::UpdateMode::Persist;
        s.directories_kept_current = 1;
        s.changes_received = 7;
        let t = summary(&s);
        assert!(
            t.contains("content synchronization (persist), every 600 s"),
            "{t}"
        );
        assert!(
            t.contains(
                "1 of 1 directory kept current by content synchronization, 7 changes received"
            ),
            "{t}"
        );
        let mut d = sample::directories();
        d.directories[0].update_mode = ctl_proto::UpdateMode::Persist;
        d.directories[0].last_change_received = Some(0);
        let t = directories(&d);
        assert!(
            t.contains("TLS starttls, content synchronization (persist)"),
            "{t}"
        );
        assert!(
            t.contains("last change received: 1970-01-01 00:00:00 UTC"),
            "{t}"
        );
    }

    #[test]
    fn a_failed_update_and_the_last_success() {
        let mut s = sample::summary();
        let mut failed = sample::update_record();
        failed.number = 4;
        failed.failure = Some("directory 0: connection refused\u{1b}[2J".into());
        failed.counts = None;
        s.last_update = Some(failed);
        s.failures_in_a_row = 1;
        let t = summary(&s);
        assert!(t.contains("4 FAILED at"), "{t}");
        assert!(t.contains("connection refused?[2J"), "{t}");
        assert!(t.contains("last success: 3 at"), "{t}");
        assert!(t.contains("the last 1 in a row"), "{t}");
    }

    #[test]
    fn views_are_escaped_and_complete() {
        let d = drops(&sample::drops());
        assert!(d.contains("uid=bad,ou=People,dc=example,dc=com"), "{d}");
        assert!(d.contains("uidNumber is not a number"), "{d}");
        assert!(d.contains("cn=odd?[31m,dc=example,dc=com"), "{d}");
        assert!(!d.contains('\u{1b}'));
        assert!(d.contains("hosts entry cn=gw,ou=Hosts"), "{d}");
        assert!(d.contains("(3 of 5 listed"), "{d}");
        let m = maps(&sample::maps());
        assert!(m.contains("master.passwd.byname *"), "{m}");
        assert!(m.contains("privileged source ports only"), "{m}");
        let di = directories(&sample::directories());
        assert!(di.contains("address in use: 192.0.2.1:389"), "{di}");
        assert!(di.contains("TLS starttls, full read"), "{di}");
        let c = clients(&sample::clients());
        assert!(c.contains("1 open (at most 256, 32 per host)"), "{c}");
        assert!(c.contains("sending ALL"), "{c}");
        assert!(c.contains("MATCH"), "{c}");
        assert!(
            !c.contains("NULL"),
            "procedures never asked are left out:\n{c}"
        );
        assert!(c.contains("not in the allow list"), "{c}");
    }
}
