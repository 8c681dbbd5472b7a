//! ypldapd's life after the configuration is read: bind the YP sockets and
//! start the helpers as root, enter the sandbox, then one event loop until
//! SIGTERM or SIGINT. The loop's concerns each have a file: [`links`] (the
//! helpers' links), [`update`] (updates and snapshots), [`announce`]
//! (rpcbind or the binding file) and [`reload`] (SIGHUP).

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
    ClientToParent, ConnectFailure, DnsToParent, LinkError, ParentToClient, ParentToDns, PemKind,
};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::fcntl::Flock;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::cli::Options;
use crate::config::{BindMode, Config, LoadOptions};
use crate::control::{ControlServer, Pending};
use crate::supervisor::Helper;
use crate::yp::rpcbind::Rpcbind;
use crate::yp::{Limits, YpServer};
use crate::{debug, error, info, logging, sandbox, warning};
use yp_proto::build::now_order;
use yp_proto::{AllowList, ServerConfig, SnapshotBuilder, Step};

mod announce;
mod links;
mod reload;
mod reread;
mod state;
mod status;
mod sync;
mod update;

use reload::{Reload, readable_dirs};
use update::{Incoming, jittered, next_order_after};

const SIGNALS: Token = Token(0);
const CLIENT: Token = Token(1);
const DNS: Token = Token(2);
/// The control sockets' tokens start here (and end before [`YP_FIRST`]).
const CONTROL_FIRST: usize = 3;
/// The YP server's tokens start here.
const YP_FIRST: usize = 16;

/// Messages taken from one helper link per turn of the event loop: a batch
/// of entries is about 8 KiB of JSON (32 KiB at most), and YP requests are
/// answered between batches.
const MESSAGES_PER_TURN: usize = 1;

/// Steps of snapshot building per turn of the event loop (see
/// [`crate::yp::SnapshotBuilder::step`]): some tens of microseconds.
const BUILD_STEPS_PER_TURN: usize = 512;

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

/// What an administrator should know of a configuration in force, at
/// every start and reload.
fn log_config_notes(config: &Config) {
    if config.maps.is_none() {
        let names: Vec<&str> = yp_proto::MapName::ALL.iter().map(|m| m.as_str()).collect();
        info!(
            "no \"provide map\" in the configuration: serving {} (master.passwd.* and shadow.byname to privileged ports only)",
            names.join(", ")
        );
    }
    if config.expose_hashes {
        warning!(
            "\"expose password hashes\" is set: passwd.byname and passwd.byuid carry password hashes that any host reaching this server can read"
        );
    }
}

struct Daemon {
    poll: Poll,
    signals: Signals,
    null: OwnedFd,
    keep_stderr: bool,
    config: Config,
    reload: Reload,
    client: Helper<ClientToParent<'static>, ParentToClient>,
    dns: Helper<DnsToParent, ParentToDns>,
    next_update: Option<Instant>,
    /// An update is due but the reader has not greeted yet.
    update_awaits_client: bool,
    update_seq: u64,
    update_running: Option<u64>,
    failed_updates: u32,
    /// The maps of the update in progress, being built as entries arrive
    /// (or built again from the kept entries after changes).
    incoming: Option<Incoming>,
    /// Content synchronization: the kept entries and the live sessions.
    live: sync::Live,
    /// The state directory, when there is one.
    state: Option<state::StateDir>,
    /// When the saved state this run started from was written (until
    /// the first maps are served).
    saved_at: Option<u64>,
    /// The newest ORDER number of the maps saved in the state this run
    /// started from: every map built is numbered above it, so `yppoll`
    /// sees the numbers increase across a restart.
    order_floor: u32,
    yp: YpServer,
    /// `bind portmap`: the registration socket, bound to a reserved port as
    /// root and kept, so the UNSET at exit works from inside the sandbox.
    rpcbind: Option<Rpcbind>,
    /// The protocol the current rpcbind registration was made with.
    registered_with: Option<crate::yp::rpcbind::Protocol>,
    /// `bind local`: the binding file, opened as root, filled once the
    /// first maps are loaded.
    binding: Option<Flock<File>>,
    /// Clients can find us: registered with rpcbind, or the binding file
    /// written.
    announced: bool,
    /// The snapshot being built has work left for the next turn.
    build_busy: bool,
    announce_retry: Option<Instant>,
    /// When to check next that rpcbind still knows us.
    registration_check: Option<Instant>,
    /// Directories with a connect request at ypldap-dns: at most one each.
    /// (directory → the reader's request number.)
    connecting: BTreeMap<u32, u64>,
    /// Requests refused for that, counted for the log.
    connect_refusals: crate::rate::Suppressed,
    /// Each helper's log records: sanitised and rate-limited.
    client_log: logging::HelperLog,
    dns_log: logging::HelperLog,
    /// The control sockets and their connections (ypldapctl).
    control: ControlServer,
    /// What ypldapctl is told about updates, drops and directories.
    record: status::Record,
}

/// Runs the daemon. Returns when it was told to stop.
pub fn run(opts: &Options, config: Config, files: &[PathBuf]) -> anyhow::Result<()> {
    // Before anything is bound or started: a kernel without Landlock's
    // file-system rules is refused unless the administrator accepted it.
    #[cfg(target_os = "linux")]
    privsep::linux::landlock::check_filesystem_rules(
        privsep::linux::landlock::kernel_abi(),
        opts.accept_no_landlock,
    )?;
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
    log_config_notes(&config);

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
        yp_limits(&config.limits),
    )
    .context("starting the YP server")?;
    let control = ControlServer::new(
        crate::control::open_sockets(&opts.control_socket, config.restricted_socket.as_ref())
            .context("opening the control sockets")?,
    );
    match &config.restricted_socket {
        Some(r) => info!(
            "control socket {}, restricted socket {} ({})",
            opts.control_socket.display(),
            r.path.display(),
            r.group
                .as_ref()
                .map_or("anyone".to_owned(), |g| format!("group {g}"))
        ),
        None => info!("control socket {}", opts.control_socket.display()),
    }
    let (udp_addrs, _) = yp.local_addrs();
    info!(
        "serving domain {} on {}",
        config.domain,
        udp_addrs
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A restarted helper's fds 0 to 2: written to as well (a helper's
    // last words before its link exists go to stderr).
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("opening /dev/null")?
        .into();
    let poll = Poll::new().context("creating the event loop")?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGCHLD]).context("signals")?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    yp.register(poll.registry(), YP_FIRST)?;
    let mut control = control;
    control.register(poll.registry(), CONTROL_FIRST)?;
    debug_assert!(CONTROL_FIRST + control.token_span() <= YP_FIRST);
    let record = status::Record::new(&config);
    // As root: the state directory, and what was saved there.
    let owner = privsep::lookup_user(privsep::UNPRIVILEGED_USER)
        .context("looking up the unprivileged user")?;
    let (state_dir, saved) = state::open_state(&config, owner);
    let mut live = sync::Live::default();
    let mut order_floor = 0;
    let saved_at = saved.map(|s| {
        let entries = s.store.len();
        let (at, newest_order) = state::apply_saved(&mut live, s, config.directories.len());
        order_floor = newest_order;
        info!(
            "state: {entries} entries saved {} s ago; resuming the directories' sessions from their cookies",
            status::unix_now().saturating_sub(at)
        );
        at
    });

    let limits = config.limits;
    let mut ports: Vec<u16> = config.endpoints().iter().map(|e| e.port).collect();
    ports.sort_unstable();
    ports.dedup();
    let mut d = Daemon {
        poll,
        signals,
        null,
        keep_stderr: opts.foreground,
        client: Helper::new(
            "ypldap-client",
            client_path.clone(),
            client_args(opts.accept_no_landlock),
        ),
        dns: Helper::new(
            "ypldap-dns",
            dns_path.clone(),
            dns_args(&ports, opts.accept_no_landlock),
        ),
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
        update_awaits_client: false,
        update_seq: 0,
        update_running: None,
        failed_updates: 0,
        incoming: None,
        live,
        state: state_dir,
        saved_at,
        order_floor,
        yp,
        rpcbind,
        registered_with: None,
        binding,
        announced: false,
        build_busy: false,
        announce_retry: None,
        registration_check: None,
        connecting: BTreeMap::new(),
        connect_refusals: crate::rate::Suppressed::new(Duration::from_secs(60)),
        client_log: logging::HelperLog::new(
            "ypldap-client",
            limits.helper_log_rate,
            Instant::now(),
        ),
        dns_log: logging::HelperLog::new("ypldap-dns", limits.helper_log_rate, Instant::now()),
        control,
        record,
    };
    d.client.set_queue_limit(limits.helper_queue);
    d.dns.set_queue_limit(limits.helper_queue);
    let now = Instant::now();
    d.start_client(now).context("starting ypldap-client")?;
    d.start_dns(now).context("starting ypldap-dns")?;

    d.limit_descriptors()
        .context("limiting the descriptors' rights")?;
    let state_dir = d
        .state
        .as_ref()
        .map(|s| (s.path().to_path_buf(), s.raw_fd()));
    let mut confinement = sandbox::confinement(
        &d.reload.readable_dirs,
        &[client_path, dns_path],
        &ports,
        state_dir,
    );
    confinement.accept_no_landlock = opts.accept_no_landlock;
    let entered = privsep::enter(&confinement).context("entering the sandbox")?;
    info!("sandboxed: {}", entered.notes.join("; "));
    for w in &entered.warnings {
        warning!("{w}");
    }

    d.event_loop()
}

/// The configuration's `limit` lines as the YP server's bounds.
fn yp_limits(l: &crate::config::ResourceLimits) -> Limits {
    Limits {
        max_conns: l.tcp_connections,
        max_conns_per_host: l.tcp_per_host,
        all_min_rate: l.all_min_rate,
        all_rate_grace: crate::config::ALL_RATE_GRACE,
        all_lifetime: l.all_lifetime,
        udp_rate: l.udp_rate,
        ..Limits::default()
    }
}

/// The configuration's `allow` networks as the YP server's allow-list.
fn allow_list(config: &Config) -> AllowList {
    AllowList {
        nets: config
            .allow
            .iter()
            .map(|n| yp_proto::Net {
                addr: n.addr,
                prefix: n.prefix,
            })
            .collect(),
    }
}

/// The client's arguments: only the Landlock flag, when given.
fn client_args(accept_no_landlock: bool) -> Vec<OsString> {
    accept_no_landlock
        .then(|| privsep::ACCEPT_NO_LANDLOCK.into())
        .into_iter()
        .collect()
}

fn dns_args(ports: &[u16], accept_no_landlock: bool) -> Vec<OsString> {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut args: Vec<OsString> = vec!["--connect-ports".into(), list.join(",").into()];
    args.extend(client_args(accept_no_landlock));
    args
}

impl Daemon {
    /// FreeBSD: limits every descriptor ypldapd holds to what it does with
    /// it ([`sandbox::DESCRIPTOR_RIGHTS`]); elsewhere this does nothing.
    /// The helpers' links are limited as they are opened.
    fn limit_descriptors(&self) -> Result<(), privsep::SandboxError> {
        use privsep::rights::{limit, limit_raw, limit_stdio};
        limit_stdio()?;
        let (udp, tcp) = self.yp.sockets();
        for s in udp {
            limit(&s, &sandbox::YP_UDP)?;
        }
        for s in tcp {
            limit(&s, &sandbox::YP_TCP)?;
        }
        if let Some(r) = &self.rpcbind {
            limit(&r.socket(), &sandbox::RPCBIND)?;
        }
        if let Some(f) = &self.binding {
            limit(&**f, &sandbox::BINDING_FILE)?;
        }
        for s in self.control.sockets() {
            limit(&s, &sandbox::CONTROL_SOCKET)?;
        }
        limit(&self.null, &sandbox::DEV_NULL)?;
        logging::limit_syslog(&sandbox::SYSLOG)?;
        limit_raw(&self.poll, &sandbox::EVENT_QUEUE)
    }

    fn event_loop(&mut self) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            // Work left over: look at the sockets and come straight back
            // (a deadline of "now" would be rounded up to a millisecond).
            let work_left = self.client.backlog()
                || self.dns.backlog()
                || self.build_busy
                || self.live.folding.is_some()
                || self.members_unprepared();
            let timeout = if work_left {
                Some(Duration::ZERO)
            } else {
                self.next_deadline()
                    .map(|t| t.saturating_duration_since(now))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => bail!("event loop: {e}"),
            }
            let now = Instant::now();
            // The helpers' links after the requests of this turn: a MATCH
            // that arrived with a change is answered before the change is
            // applied, not after. Signals last: a helper's last messages
            // are read before its death is handled.
            let (mut client, mut dns, mut signals) = (None, None, false);
            for ev in &events {
                match ev.token() {
                    SIGNALS => signals = true,
                    CLIENT => client = Some(ev.is_writable() || client == Some(true)),
                    DNS => dns = Some(ev.is_writable() || dns == Some(true)),
                    t if self.yp.owns(t) => self.yp.handle_event(self.poll.registry(), ev, now),
                    t if self.control.owns(t) => {
                        let pending = self.control.handle_event(self.poll.registry(), t, now);
                        self.answer_pending(pending, now);
                    }
                    _ => {}
                }
            }
            if let Some(writable) = client {
                self.client_ready(writable, Instant::now());
            }
            if let Some(writable) = dns {
                self.dns_ready(writable, Instant::now());
            }
            if signals && self.handle_signals(Instant::now()) {
                self.shut_down();
                return Ok(());
            }
            self.run_timers(Instant::now());
            // One piece of background work per turn, so a request that
            // arrives meanwhile waits for at most one: a slice of the
            // snapshot build, else the reader's next message.
            if self.build_busy {
                self.build_step(BUILD_STEPS_PER_TURN, Instant::now());
            } else if self.client.backlog() {
                self.client_ready(false, Instant::now());
            }
            // Besides, a step of a fold and of the index of member DNs,
            // if under way: a backlog of changes does not hold them back
            // (the changed keys a fold folds grow meanwhile).
            self.fold_step(Instant::now());
            self.members_step();
            if self.dns.backlog() {
                self.dns_ready(false, Instant::now());
            }
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
            self.update_deadline(),
            self.state_deadline(),
            self.yp.next_deadline(),
            self.announce_retry,
            self.registration_check,
            self.control.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Answers the control requests the sockets gave.
    fn answer_pending(&mut self, pending: Vec<Pending>, now: Instant) {
        for p in pending {
            let reply = self.answer_control(p.request, now);
            self.control
                .answer(self.poll.registry(), p.slot, &reply, Instant::now());
        }
    }

    fn run_timers(&mut self, now: Instant) {
        if self.control.next_deadline().is_some_and(|t| t <= now) {
            let pending = self.control.on_timeout(self.poll.registry(), now);
            self.answer_pending(pending, now);
        }
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
        if self.update_deadline().is_some_and(|t| t <= now) {
            self.update_overdue(now);
        }
        if self.next_update.is_some_and(|t| t <= now) && self.update_running.is_none() {
            self.start_update(now);
        }
        self.save_state(now, false);
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
                SIGHUP => {
                    // Logged; nobody to tell the result to.
                    let _ = self.reload_config("SIGHUP");
                }
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
                    if self.state_writer_reaped(status, now) {
                        continue;
                    }
                    if let Some(line) = self.client.reaped(status, now) {
                        error!("{line}");
                        self.reader_gone(now);
                        if self.update_running.take().is_some() {
                            self.update_failed("ypldap-client died during the update", now);
                        }
                    }
                    if let Some(line) = self.dns.reaped(status, now) {
                        error!("{line}");
                        self.connects_lost();
                    }
                }
            }
        }
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
        if self.state.is_some() {
            self.save_state(Instant::now(), true);
        }
        if let (Some(r), Some(protocol)) = (self.rpcbind.as_mut(), self.registered_with) {
            if let Err(e) =
                r.unregister_transports(yp_proto::proto::YPPROG, yp_proto::proto::YPVERS, protocol)
            {
                warning!("cannot unregister from rpcbind: {e}");
            }
        }
        info!("exiting");
    }
}
