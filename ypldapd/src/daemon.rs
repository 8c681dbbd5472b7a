//! ypldapd's life after the configuration is read: start the helpers, enter
//! the sandbox, then one event loop until SIGTERM or SIGINT.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ipc_proto::spawn::Stdio;
use ipc_proto::{
    ClientToParent, DnsToParent, GroupEntry, LinkError, ParentToClient, ParentToDns, PemKind,
    Received, UserEntry,
};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::fcntl::Flock;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::cli::Options;
use crate::config::{BindMode, Config, LoadOptions};
use crate::supervisor::Helper;
use crate::yp::rpcbind::Rpcbind;
use crate::yp::{AllowList, Limits, ServerConfig, Snapshot, YpServer};
use crate::{debug, error, info, logging, sandbox, warning};

const SIGNALS: Token = Token(0);
const CLIENT: Token = Token(1);
const DNS: Token = Token(2);
/// The YP server's tokens start here.
const YP_FIRST: usize = 16;

/// The most users and groups one update may bring. The LDAP reader is
/// sandboxed but not trusted: one that floods its link must not grow
/// ypldapd's memory without bound (about 1 KiB an entry at most).
pub const MAX_UPDATE_ENTRIES: usize = 4_000_000;

/// How often a failed rpcbind registration is retried.
const REGISTER_RETRY: Duration = Duration::from_secs(5);
/// How often ypldapd checks that rpcbind still has its registration (a
/// restarted rpcbind forgets it).
const REGISTRATION_CHECK: Duration = Duration::from_secs(10);

/// The most PEM text per `Pem` message, well below the message size limit
/// even after JSON escaping of line breaks.
const PEM_CHUNK: usize = 16 * 1024;

/// How long shutdown waits for the helpers to exit on their own.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The helpers' directory: set at build time by packaging
/// (`YPLDAP_HELPER_DIR`), else the directory of ypldapd's own executable.
pub fn helper_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = option_env!("YPLDAP_HELPER_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("finding ypldapd's own executable")?;
    Ok(exe
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/")))
}

struct Daemon {
    poll: Poll,
    signals: Signals,
    null: OwnedFd,
    keep_stderr: bool,
    config: Config,
    reload: Reload,
    client: Helper<ClientToParent, ParentToClient>,
    dns: Helper<DnsToParent, ParentToDns>,
    next_update: Option<Instant>,
    update_seq: u64,
    update_running: Option<u64>,
    failed_updates: u32,
    /// Users and groups of the update in progress, in arrival order.
    incoming: Incoming,
    yp: YpServer,
    /// `bind portmap`: the registration socket, bound to a reserved port as
    /// root and kept, so the UNSET at exit works from inside the sandbox.
    rpcbind: Option<Rpcbind>,
    /// `bind local`: the binding file, opened as root, filled once the
    /// first maps are loaded.
    binding: Option<Flock<File>>,
    /// Clients can find us: registered with rpcbind, or the binding file
    /// written.
    announced: bool,
    announce_retry: Option<Instant>,
    /// When to check next that rpcbind still knows us.
    registration_check: Option<Instant>,
}

/// What a reload needs: where the configuration is, how it was loaded, and
/// what the sandbox entered at start still allows.
struct Reload {
    path: PathBuf,
    options: LoadOptions,
    /// Directories holding the files read at start: Landlock lets ypldapd
    /// read beneath them (an edit usually replaces a file, and a rule on the
    /// file itself would not follow the new one).
    readable_dirs: Vec<PathBuf>,
    /// The directories' TCP ports at start: the only ones the broker, and
    /// ypldapd's sandbox inherited by a restarted broker, may connect to.
    ports: Vec<u16>,
    /// The host name MASTER answers with.
    host: String,
}

/// The parent directories of `files`, without repeats.
fn readable_dirs(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// What has arrived of an update.
#[derive(Default)]
struct Incoming {
    update: u64,
    users: Vec<UserEntry>,
    groups: Vec<GroupEntry>,
    started: Option<Instant>,
}

/// Runs the daemon. Returns when it was told to stop.
pub fn run(opts: &Options, config: Config, files: &[PathBuf]) -> anyhow::Result<()> {
    let dir = helper_dir()?;
    let client_path = dir.join("ypldap-client");
    let dns_path = dir.join("ypldap-dns");
    for p in [&client_path, &dns_path] {
        nix::unistd::access(p.as_path(), nix::unistd::AccessFlags::X_OK)
            .with_context(|| format!("helper {} is not executable", p.display()))?;
    }

    if opts.foreground {
        logging::to_stderr(true);
    } else {
        nix::unistd::daemon(true, false).context("daemon")?;
        logging::to_syslog(opts.verbose);
    }
    info!(
        "startup{}",
        if opts.foreground { " [debug mode]" } else { "" }
    );
    if config.maps.is_none() {
        info!("no \"provide map\" in the configuration: serving all seven maps");
    }

    // As root: the YP sockets on a reserved port, the rpcbind socket or the
    // binding file, and the host name MASTER answers with.
    let local = config.bind == BindMode::Local;
    let (udp, tcp) = crate::yp::bind::bind_yp_sockets(local, true)
        .context("binding the YP sockets to a reserved port")?;
    let (rpcbind, binding) = if local {
        let f = crate::yp::binding_file::open_binding_file(
            Path::new(crate::yp::binding_file::BINDING_DIR),
            &config.domain,
        )
        .context("cannot write yp binding file")?;
        (None, Some(f))
    } else {
        let r = Rpcbind::open(true).context("opening the rpcbind registration socket")?;
        (Some(r), None)
    };
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    let mut yp = YpServer::new(
        ServerConfig::new(&config.domain, &config.served_maps(), &host),
        allow_list(&config),
        udp,
        tcp,
        Limits::default(),
    )
    .context("starting the YP server")?;
    let (udp_addrs, _) = yp.local_addrs();
    info!(
        "serving domain {} on {}",
        config.domain,
        udp_addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let null = std::fs::File::open("/dev/null")
        .context("opening /dev/null")?
        .into();
    let poll = Poll::new().context("creating the event loop")?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGCHLD]).context("signals")?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    yp.register(poll.registry(), YP_FIRST)?;

    let mut ports: Vec<u16> = config.endpoints().iter().map(|e| e.port).collect();
    ports.sort_unstable();
    ports.dedup();
    let mut d = Daemon {
        poll,
        signals,
        null,
        keep_stderr: opts.foreground,
        client: Helper::new("ypldap-client", client_path.clone(), Vec::new()),
        dns: Helper::new("ypldap-dns", dns_path.clone(), dns_args(&ports)),
        config,
        reload: Reload {
            path: opts.config.clone(),
            options: LoadOptions {
                macros: opts.macros.clone(),
                verbose: opts.verbose,
            },
            readable_dirs: readable_dirs(files),
            ports: ports.clone(),
            host,
        },
        next_update: Some(Instant::now()),
        update_seq: 0,
        update_running: None,
        failed_updates: 0,
        incoming: Incoming::default(),
        yp,
        rpcbind,
        binding,
        announced: false,
        announce_retry: None,
        registration_check: None,
    };
    let now = Instant::now();
    d.start_client(now).context("starting ypldap-client")?;
    d.start_dns(now).context("starting ypldap-dns")?;

    let entered = privsep::enter(&sandbox::confinement(
        &d.reload.readable_dirs,
        &[client_path, dns_path],
        &ports,
    ))
    .context("entering the sandbox")?;
    info!("sandboxed: {}", entered.notes.join("; "));

    d.event_loop()
}

/// The configuration's `allow` networks as the YP server's allow-list.
fn allow_list(config: &Config) -> AllowList {
    AllowList {
        nets: config
            .allow
            .iter()
            .map(|n| crate::yp::Net {
                addr: n.addr,
                prefix: n.prefix,
            })
            .collect(),
    }
}

fn dns_args(ports: &[u16]) -> Vec<OsString> {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    vec!["--connect-ports".into(), list.join(",").into()]
}

impl Daemon {
    fn start_client(&mut self, now: Instant) -> anyhow::Result<()> {
        let stdio = Stdio {
            null: std::os::fd::AsFd::as_fd(&self.null),
            keep_stderr: self.keep_stderr,
        };
        self.client.start(stdio, now)?;
        self.register(CLIENT)?;
        info!(
            "started {} (pid {})",
            self.client.name,
            self.client.pid().map_or(0, |p| p.as_raw())
        );
        self.send_client_config()
            .map_err(|e| anyhow::anyhow!("sending the configuration: {e}"))
    }

    fn start_dns(&mut self, now: Instant) -> anyhow::Result<()> {
        let stdio = Stdio {
            null: std::os::fd::AsFd::as_fd(&self.null),
            keep_stderr: self.keep_stderr,
        };
        self.dns.start(stdio, now)?;
        self.register(DNS)?;
        info!(
            "started {} (pid {})",
            self.dns.name,
            self.dns.pid().map_or(0, |p| p.as_raw())
        );
        let endpoints = self.config.endpoints();
        self.dns
            .send(
                &ParentToDns::Configure {
                    directories: endpoints,
                },
                None,
            )
            .map_err(|e| anyhow::anyhow!("sending the configuration: {e}"))
    }

    fn register(&mut self, token: Token) -> anyhow::Result<()> {
        let fd = match token {
            CLIENT => self.client.link_fd(),
            _ => self.dns.link_fd(),
        }
        .map(|f| f.as_raw_fd());
        if let Some(fd) = fd {
            self.poll.registry().register(
                &mut SourceFd(&fd),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
        Ok(())
    }

    /// Sends the directory settings and TLS files to the LDAP reader.
    fn send_client_config(&mut self) -> Result<(), LinkError> {
        let dirs = self.config.directories.clone();
        self.client.send(
            &ParentToClient::ConfigBegin {
                directories: dirs.len() as u32,
                verbose: logging::debug_enabled(),
            },
            None,
        )?;
        for (i, dir) in dirs.iter().enumerate() {
            let index = i as u32;
            self.client.send(
                &ParentToClient::Directory {
                    index,
                    settings: Box::new(dir.settings.clone()),
                },
                None,
            )?;
            for (kind, pem) in [
                (PemKind::Ca, &dir.ca_pem),
                (PemKind::Cert, &dir.cert_pem),
                (PemKind::Key, &dir.key_pem),
            ] {
                let Some(pem) = pem else { continue };
                let text = String::from_utf8_lossy(pem);
                let chunks = chunk_str(&text, PEM_CHUNK);
                let n = chunks.len();
                for (j, data) in chunks.into_iter().enumerate() {
                    self.client.send(
                        &ParentToClient::Pem {
                            index,
                            kind,
                            data: data.to_owned(),
                            last: j + 1 == n,
                        },
                        None,
                    )?;
                }
            }
        }
        self.client.send(&ParentToClient::ConfigEnd, None)
    }

    fn event_loop(&mut self) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = self
                .next_deadline()
                .map(|t| t.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => bail!("event loop: {e}"),
            }
            let now = Instant::now();
            for ev in events.iter() {
                match ev.token() {
                    SIGNALS if self.handle_signals(now) => {
                        self.shut_down();
                        return Ok(());
                    }
                    CLIENT => self.client_ready(ev.is_writable(), now),
                    DNS => self.dns_ready(ev.is_writable(), now),
                    t if self.yp.owns(t) => self.yp.handle_event(self.poll.registry(), ev, now),
                    _ => {}
                }
            }
            self.run_timers(Instant::now());
            for (level, text) in self.yp.drain_logs() {
                logging::log(level, &text);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.client.deadline(),
            self.dns.deadline(),
            self.next_update,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn run_timers(&mut self, now: Instant) {
        if self.yp.next_deadline().is_some_and(|t| t <= now) {
            self.yp.on_timeout(self.poll.registry(), now);
        }
        if self.announce_retry.is_some_and(|t| t <= now) {
            self.announce(now);
        }
        if self.registration_check.is_some_and(|t| t <= now) {
            self.check_registration(now);
        }
        self.client.enforce_grace(now);
        self.dns.enforce_grace(now);
        if self.client.restart_due(now) {
            if let Err(e) = self.start_client(now) {
                error!("{e:#}");
            }
        }
        if self.dns.restart_due(now) {
            if let Err(e) = self.start_dns(now) {
                error!("{e:#}");
            }
        }
        if self.next_update.is_some_and(|t| t <= now) && self.update_running.is_none() {
            self.start_update(now);
        }
    }

    /// Returns true when ypldapd must stop.
    fn handle_signals(&mut self, now: Instant) -> bool {
        let pending: Vec<i32> = self.signals.pending().collect();
        let mut stop = false;
        for sig in pending {
            match sig {
                SIGTERM | SIGINT => {
                    info!(
                        "received {}, exiting",
                        if sig == SIGTERM { "SIGTERM" } else { "SIGINT" }
                    );
                    stop = true;
                }
                SIGHUP => self.reload_config(),
                SIGCHLD => self.reap(now),
                _ => {}
            }
        }
        stop
    }

    fn reap(&mut self, now: Instant) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    if let Some(line) = self.client.reaped(status, now) {
                        error!("{line}");
                        if self.update_running.take().is_some() {
                            self.update_failed("ypldap-client died during the update", now);
                        }
                    }
                    if let Some(line) = self.dns.reaped(status, now) {
                        error!("{line}");
                    }
                }
            }
        }
    }

    fn client_ready(&mut self, writable: bool, now: Instant) {
        let (messages, error) = self.client.drain(writable);
        for r in messages {
            self.handle_client_message(r, now);
        }
        if let Some(e) = error {
            self.client_lost(&e, now);
        }
    }

    fn dns_ready(&mut self, writable: bool, now: Instant) {
        let (messages, error) = self.dns.drain(writable);
        for r in messages {
            self.handle_dns_message(r, now);
        }
        if let Some(e) = error {
            self.dns_lost(&e, now);
        }
    }

    fn client_lost(&mut self, e: &LinkError, now: Instant) {
        let protocol = !matches!(e, LinkError::Closed);
        warning!(
            "ypldap-client: {e}{}",
            if protocol { "; killing it" } else { "" }
        );
        self.client.drop_link(now, protocol);
        if self.update_running.take().is_some() {
            self.update_failed("ypldap-client was lost during the update", now);
        }
    }

    fn dns_lost(&mut self, e: &LinkError, now: Instant) {
        let protocol = !matches!(e, LinkError::Closed);
        warning!(
            "ypldap-dns: {e}{}",
            if protocol { "; killing it" } else { "" }
        );
        self.dns.drop_link(now, protocol);
    }

    fn handle_client_message(&mut self, r: Received<ClientToParent>, now: Instant) {
        match r.message {
            ClientToParent::Hello { .. } => {}
            ClientToParent::Log { level, text } => logging::log(level, &logging::sanitize(&text)),
            ClientToParent::Connect { request, directory } => {
                let relayed = self
                    .dns
                    .send(&ParentToDns::Connect { request, directory }, None);
                if let Err(e) = relayed {
                    let _ = self.client.send(
                        &ParentToClient::ConnectFailed {
                            request,
                            directory,
                            error: format!("ypldap-dns is not available: {e}"),
                        },
                        None,
                    );
                }
            }
            ClientToParent::Users { update, entries } => {
                if self.update_running == Some(update) && self.room_for(entries.len(), now) {
                    self.incoming.users.extend(entries);
                }
            }
            ClientToParent::Groups { update, entries } => {
                if self.update_running == Some(update) && self.room_for(entries.len(), now) {
                    self.incoming.groups.extend(entries);
                }
            }
            ClientToParent::UpdateDone {
                update,
                dropped,
                referrals,
            } => {
                if self.update_running == Some(update) {
                    self.update_running = None;
                    self.failed_updates = 0;
                    self.next_update = Some(now + jittered(self.config.interval));
                    self.install(update, &dropped, referrals, now);
                }
            }
            ClientToParent::UpdateFailed { update, reason } => {
                if self.update_running == Some(update) {
                    self.update_running = None;
                    self.update_failed(&logging::sanitize(&reason), now);
                }
            }
        }
    }

    fn handle_dns_message(&mut self, r: Received<DnsToParent>, _now: Instant) {
        let mut fds = r.fds.into_iter();
        match r.message {
            DnsToParent::Hello { .. } => {}
            DnsToParent::Log { level, text } => logging::log(level, &logging::sanitize(&text)),
            DnsToParent::Connected {
                request,
                directory,
                address,
            } => {
                let msg = ParentToClient::Connected {
                    request,
                    directory,
                    address,
                };
                if let Err(e) = self.client.send(&msg, fds.next()) {
                    warning!("cannot hand the connection to ypldap-client: {e}");
                }
            }
            DnsToParent::ConnectFailed {
                request,
                directory,
                error,
            } => {
                let msg = ParentToClient::ConnectFailed {
                    request,
                    directory,
                    error,
                };
                if let Err(e) = self.client.send(&msg, None) {
                    warning!("cannot tell ypldap-client: {e}");
                }
            }
        }
    }

    fn start_update(&mut self, now: Instant) {
        if !self.client.ready() {
            // Try again once the reader is up.
            self.next_update = Some(now + Duration::from_secs(1));
            return;
        }
        self.update_seq += 1;
        let update = self.update_seq;
        match self.client.send(&ParentToClient::Update { update }, None) {
            Ok(()) => {
                self.update_running = Some(update);
                self.incoming = Incoming {
                    update,
                    started: Some(now),
                    ..Incoming::default()
                };
                self.next_update = None;
                debug!("update {update} started");
            }
            Err(e) => self.update_failed(&format!("cannot ask ypldap-client: {e}"), now),
        }
    }

    /// SIGHUP: read the configuration again; apply it if it is valid and
    /// needs no restart, else keep running on the current one.
    fn reload_config(&mut self) {
        info!("SIGHUP: reloading {}", self.reload.path.display());
        let (result, _) = crate::config::load_noting_files(&self.reload.path, &self.reload.options);
        let loaded = match result {
            Ok(l) => l,
            Err(diagnostics) => {
                let text = diagnostics.to_string();
                for line in text.lines() {
                    error!("reload: {line}");
                }
                if text.contains("Permission denied") {
                    error!(
                        "reload: ypldapd runs as {} now: the configuration and its files must be readable by it (e.g. group {0}, mode 0640)",
                        privsep::UNPRIVILEGED_USER
                    );
                }
                error!("reload failed: keeping the current configuration");
                return;
            }
        };
        for w in &loaded.warnings {
            warning!("reload: {w}");
        }
        let new = loaded.config;
        if let Some(why) = self.needs_restart(&new) {
            error!(
                "reload: {why}; restart ypldapd for this change. Keeping the current configuration"
            );
            return;
        }
        if new.maps.is_none() {
            info!("no \"provide map\" in the configuration: serving all seven maps");
        }
        self.yp.set_config(
            ServerConfig::new(&new.domain, &new.served_maps(), &self.reload.host),
            allow_list(&new),
        );
        self.config = new;
        let endpoints = self.config.endpoints();
        if let Err(e) = self.dns.send(
            &ParentToDns::Configure {
                directories: endpoints,
            },
            None,
        ) {
            debug!("ypldap-dns gets the new configuration when it restarts: {e}");
        }
        if let Err(e) = self.send_client_config() {
            debug!("ypldap-client gets the new configuration when it restarts: {e}");
        }
        info!("reloaded the configuration; it applies from the next update");
    }

    /// Why `new` cannot be applied without a restart, if it cannot.
    fn needs_restart(&self, new: &Config) -> Option<String> {
        if new.bind != self.config.bind {
            return Some("the bind mode changed".into());
        }
        if new.bind == BindMode::Local && new.domain != self.config.domain {
            return Some("the domain of a \"bind local\" server changed".into());
        }
        let unknown: Vec<String> = new
            .endpoints()
            .iter()
            .filter(|e| !self.reload.ports.contains(&e.port))
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        if !unknown.is_empty() {
            return Some(format!(
                "the sandbox entered at start allows connections to ports {:?} only, not {}",
                self.reload.ports,
                unknown.join(", ")
            ));
        }
        None
    }

    /// Whether `more` entries fit in the update; if not, the reader is
    /// dropped and the update fails.
    fn room_for(&mut self, more: usize, now: Instant) -> bool {
        let have = self.incoming.users.len() + self.incoming.groups.len();
        if have + more <= MAX_UPDATE_ENTRIES {
            return true;
        }
        warning!(
            "ypldap-client sent more than {MAX_UPDATE_ENTRIES} entries in one update; killing it"
        );
        self.client.drop_link(now, true);
        self.update_running = None;
        self.update_failed(
            &format!("more than {MAX_UPDATE_ENTRIES} users and groups"),
            now,
        );
        false
    }

    /// Builds the maps of a completed update and swaps them in.
    fn install(
        &mut self,
        update: u64,
        client_drops: &BTreeMap<String, u64>,
        referrals: u64,
        now: Instant,
    ) {
        let incoming = std::mem::take(&mut self.incoming);
        debug_assert_eq!(incoming.update, update);
        let previous_users = self
            .yp
            .snapshot()
            .map_or(0, |s| s.len(crate::maps::MapName::MasterPasswdByName));
        let (snap, report) =
            Snapshot::build_now(&self.config.domain, &incoming.users, &incoming.groups);
        let mut drops: Vec<String> = client_drops
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        drops.extend(
            report
                .drops
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str())),
        );
        for d in &report.samples {
            warning!("dropped {:?} {}: {}", d.kind, d.name, d.reason.as_str());
        }
        info!(
            "update {update}: {} directories, {} users, {} groups, dropped: {}, referrals skipped: {referrals}, {:.2} s",
            self.config.directories.len(),
            report.users_kept,
            report.groups_kept,
            if drops.is_empty() {
                "none".to_owned()
            } else {
                drops.join(", ")
            },
            incoming
                .started
                .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
        );
        if report.users_kept == 0 && previous_users > 0 {
            warning!(
                "update {update} returned no users at all, where the maps had {previous_users}: serving the empty result as the directory said"
            );
        }
        self.yp.set_snapshot(Arc::new(snap));
        if !self.announced {
            self.announce(now);
        }
    }

    /// Lets clients find the server, once the first maps are loaded:
    /// register with rpcbind, or fill the binding file.
    fn announce(&mut self, now: Instant) {
        self.announce_retry = None;
        let (udp, tcp) = self.yp.local_addrs();
        let udp_port = udp.first().map_or(0, |a| a.port());
        let tcp_port = tcp.first().map_or(0, |a| a.port());
        if let Some(f) = self.binding.as_mut() {
            match crate::yp::binding_file::fill_binding_file(
                f,
                Ipv4Addr::LOCALHOST,
                udp_port,
                tcp_port,
            ) {
                Ok(()) => {
                    self.announced = true;
                    info!("wrote the binding file for domain {}", self.config.domain);
                }
                Err(e) => error!("cannot write yp binding file: {e}"),
            }
        } else if let Some(r) = self.rpcbind.as_mut() {
            match r.register(
                crate::yp::proto::YPPROG,
                crate::yp::proto::YPVERS,
                Some(udp_port),
                Some(tcp_port),
            ) {
                Ok(()) => {
                    self.announced = true;
                    self.registration_check = Some(now + REGISTRATION_CHECK);
                    info!("registered with rpcbind: udp and tcp port {udp_port}");
                }
                Err(e) => {
                    error!(
                        "cannot register with rpcbind on 127.0.0.1: {e}; retrying in {} s",
                        REGISTER_RETRY.as_secs()
                    );
                    self.announce_retry = Some(now + REGISTER_RETRY);
                }
            }
        }
    }

    /// Registers again when rpcbind has lost the registration (restarted).
    fn check_registration(&mut self, now: Instant) {
        self.registration_check = Some(now + REGISTRATION_CHECK);
        let Some(r) = self.rpcbind.as_mut() else {
            return;
        };
        let (udp, _) = self.yp.local_addrs();
        let ours = udp.first().map_or(0, |a| u32::from(a.port()));
        let found = r.getport(
            crate::yp::proto::YPPROG,
            crate::yp::proto::YPVERS,
            crate::yp::rpcbind::IPPROTO_UDP,
        );
        match found {
            Ok(port) if port == ours => {}
            Ok(_) => {
                warning!("rpcbind no longer has our registration (restarted?); registering again");
                self.registration_check = None;
                self.announce(now);
            }
            Err(e) => warning!("cannot check the rpcbind registration: {e}"),
        }
    }

    fn update_failed(&mut self, reason: &str, now: Instant) {
        self.incoming = Incoming::default();
        self.failed_updates = self.failed_updates.saturating_add(1);
        // Retry sooner than the interval: 10 s, doubling, never beyond it.
        let retry = Duration::from_secs(10)
            .saturating_mul(1 << self.failed_updates.min(10).saturating_sub(1))
            .min(self.config.interval);
        warning!(
            "update failed: {reason}; keeping the current maps, retrying in {} s",
            retry.as_secs()
        );
        self.next_update = Some(now + retry);
    }

    fn shut_down(&mut self) {
        self.client.shut_down();
        self.dns.shut_down();
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while (self.client.pid().is_some() || self.dns.pid().is_some()) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
            self.reap(Instant::now());
        }
        self.client.force_stop();
        self.dns.force_stop();
        self.reap(Instant::now());
        if self.announced {
            if let Some(r) = self.rpcbind.as_mut() {
                if let Err(e) = r.unregister(crate::yp::proto::YPPROG, crate::yp::proto::YPVERS) {
                    warning!("cannot unregister from rpcbind: {e}");
                }
            }
        }
        info!("exiting");
    }
}

/// The interval plus up to 5 % (at most 30 s), so several servers reading
/// one directory drift apart instead of hitting it at the same moment.
fn jittered(interval: Duration) -> Duration {
    let max = (interval / 20).min(Duration::from_secs(30));
    let mut b = [0u8; 4];
    // A weak source is fine for spreading load.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    b.copy_from_slice(&nanos.to_le_bytes());
    let frac = f64::from(u32::from_le_bytes(b)) / 1e9;
    interval + max.mul_f64(frac.min(1.0))
}

/// Splits `s` into pieces of at most `max` bytes, on character boundaries.
fn chunk_str(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut cut = rest.len().min(max);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    out
}
