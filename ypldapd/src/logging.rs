//! Where ypldapd's and its helpers' log records go: stderr with `-d`,
//! otherwise syslog (facility daemon) through a socket connected before the
//! sandbox, so logging never needs to open anything later.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ipc_proto::Level;

enum Sink {
    Stderr,
    Syslog(UnixDatagram),
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Logs to stderr (foreground, `-d`). Debug records are written when `debug`.
pub fn to_stderr(debug: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    set(Sink::Stderr);
}

/// Logs to syslog through `/dev/log` (connected now, while files can still be
/// opened); falls back to stderr with a warning if there is no syslog.
pub fn to_syslog(debug: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    let sock = UnixDatagram::unbound().and_then(|s| s.connect("/dev/log").map(|()| s));
    match sock {
        Ok(s) => set(Sink::Syslog(s)),
        Err(e) => {
            set(Sink::Stderr);
            log(
                Level::Warning,
                &format!("no syslog at /dev/log ({e}); logging to stderr"),
            );
        }
    }
}

/// Limits the syslog socket, if logging goes there (Capsicum).
pub fn limit_syslog(
    rights: &privsep::rights::DescriptorRights,
) -> Result<(), privsep::SandboxError> {
    match SINK.lock().as_deref() {
        Ok(Some(Sink::Syslog(s))) => privsep::rights::limit(s, rights),
        _ => Ok(()),
    }
}

fn set(sink: Sink) {
    if let Ok(mut g) = SINK.lock() {
        *g = Some(sink);
    }
}

/// Writes debug records from now on, or stops (`ypldapctl log verbose`,
/// `log brief`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether debug records are written.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Makes text a helper sent safe to write as one log line: control
/// characters (a forged second line, terminal escapes) become `?`.
/// Everything a helper sends that reaches the log passes here, through
/// [`HelperLog`] or directly.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Writes one record. Never fails: a lost log line must not stop the daemon.
pub fn log(level: Level, text: &str) {
    if level == Level::Debug && !debug_enabled() {
        return;
    }
    let Ok(guard) = SINK.lock() else { return };
    match guard.as_ref() {
        None | Some(Sink::Stderr) => {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
        Some(Sink::Syslog(sock)) => {
            // RFC 3164 framing, as syslog(3) writes it: facility daemon (3).
            let severity = match level {
                Level::Error => 3,
                Level::Warning => 4,
                Level::Info => 6,
                Level::Debug => 7,
            };
            let line = format!(
                "<{}>ypldapd[{}]: {text}",
                3 * 8 + severity,
                std::process::id()
            );
            let _ = sock.send(line.as_bytes());
        }
    }
}

/// How often a helper's refused records are counted in the log.
const SUPPRESSED_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The log records of one helper: sanitised, and at most `limit
/// helper-log-rate` a second (bursts of ten times that), so a helper that
/// floods its link cannot flood syslog. Refused records are counted and
/// the count written once a second.
#[derive(Debug)]
pub struct HelperLog {
    name: &'static str,
    rate: u32,
    bucket: crate::rate::Bucket,
    suppressed: crate::rate::Suppressed,
}

impl HelperLog {
    pub fn new(name: &'static str, rate: u32, now: std::time::Instant) -> Self {
        HelperLog {
            name,
            rate,
            bucket: crate::rate::Bucket::new(rate, rate.saturating_mul(10), now),
            suppressed: crate::rate::Suppressed::new(SUPPRESSED_REPORT_EVERY),
        }
    }

    /// A new rate (after a reload).
    pub fn set_rate(&mut self, rate: u32, now: std::time::Instant) {
        if rate != self.rate {
            *self = HelperLog::new(self.name, rate, now);
        }
    }

    /// Writes one record the helper sent, or counts it.
    pub fn log(&mut self, level: Level, text: &str, now: std::time::Instant) {
        if level == Level::Debug && !debug_enabled() {
            return;
        }
        let passed = self.bucket.take(now);
        let report = if passed {
            self.suppressed.due(now)
        } else {
            self.suppressed.note(now)
        };
        if let Some(n) = report {
            log(
                Level::Warning,
                &format!(
                    "{}: {n} log record(s) not written: over limit helper-log-rate {}",
                    self.name, self.rate
                ),
            );
        }
        if passed {
            log(level, &sanitize(text));
        }
    }
}

#[macro_export]
macro_rules! error { ($($a:tt)*) => { $crate::logging::log(ipc_proto::Level::Error, &format!($($a)*)) } }
#[macro_export]
macro_rules! warning { ($($a:tt)*) => { $crate::logging::log(ipc_proto::Level::Warning, &format!($($a)*)) } }
#[macro_export]
macro_rules! info { ($($a:tt)*) => { $crate::logging::log(ipc_proto::Level::Info, &format!($($a)*)) } }
/// Formats nothing unless debug records are written: some are on the
/// path of every change content synchronization pushes.
#[macro_export]
macro_rules! debug { ($($a:tt)*) => { if $crate::logging::debug_enabled() { $crate::logging::log(ipc_proto::Level::Debug, &format!($($a)*)) } } }
