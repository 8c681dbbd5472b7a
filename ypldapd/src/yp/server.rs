//! The YP transport: UDP sockets, TCP listeners and connections driven by
//! the daemon's single mio event loop. Nothing here blocks: every socket is
//! non-blocking and drained until `WouldBlock` (mio is edge-triggered), a
//! TCP connection never holds more than one reply or one ALL fragment of
//! output, and a slow ALL reader only delays itself. Work is done in
//! bounded slices; a source with more to do asks to be called again at
//! once through [`YpServer::next_deadline`], so one busy client cannot
//! starve the loop.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc_proto::messages::Level;
use mio::event::Event;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use ctl_proto::{ClientsView, Closure, ConnectionStatus, Procedure, ProcedureCount, Refusal};

use super::counters::RequestCounters;
use super::udp_batch::{self, UdpBatch};
use crate::rate::{KeyedLimiter, Suppressed};
use yp_proto::access::{AllowList, RefusalLog, is_privileged};
use yp_proto::dispatch::{AllStream, Caller, Noted, Outcome, ServerConfig, handle_message_noted};
use yp_proto::record::{self, Reassembler};
use yp_proto::snapshot::Snapshot;

/// At most this many UDP sockets and this many TCP listeners.
pub const MAX_SOCKETS: usize = 8;
/// Tokens `first_token .. first_token + CONN_TOKEN_BASE` are the sockets;
/// connections follow.
pub const CONN_TOKEN_BASE: usize = 2 * MAX_SOCKETS;
/// Log records kept until [`YpServer::drain_logs`]; later ones are counted
/// and dropped, so a loop that forgets to drain cannot grow without bound.
const MAX_LOGS: usize = 1024;

/// Resource bounds (ypldapd(8), "Resource limits"; the daemon takes them
/// from the configuration's `limit` lines).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open TCP connections; more are accepted and closed at once.
    pub max_conns: usize,
    /// Open TCP connections from one source address; more from it are
    /// accepted and closed at once.
    pub max_conns_per_host: usize,
    /// An ALL stream read slower than this many bytes per second (over its
    /// whole life, once it is [`Self::all_rate_grace`] old) is closed.
    pub all_min_rate: u64,
    /// How long an ALL stream is given before its rate is judged.
    pub all_rate_grace: Duration,
    /// An ALL stream older than this is closed.
    pub all_lifetime: Duration,
    /// UDP answers per second to one source outside the allow-list (every
    /// source when the list is empty); 0: not limited.
    pub udp_rate: u32,
    /// A connection without progress for this long is closed.
    pub idle: Duration,
    /// Largest request record.
    pub max_record: usize,
    /// Payload bytes per ALL fragment.
    pub all_fragment: usize,
    /// Steps (datagrams, accepts, reads, records, fragments) per call before
    /// yielding to the event loop.
    pub budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_conns: 256,
            max_conns_per_host: 32,
            all_min_rate: 4096,
            all_rate_grace: Duration::from_secs(5),
            all_lifetime: Duration::from_secs(600),
            udp_rate: 0,
            idle: Duration::from_secs(30),
            max_record: record::DEFAULT_MAX_RECORD,
            all_fragment: yp_proto::dispatch::ALL_FRAGMENT,
            budget: 64,
        }
    }
}

/// Counters for the status line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub udp_requests: u64,
    pub tcp_requests: u64,
    pub refused: u64,
    pub conns_accepted: u64,
    pub conns_rejected: u64,
    pub conns_closed_bad_record: u64,
    pub conns_closed_idle: u64,
    /// Connections refused because their host held its share already.
    pub conns_rejected_per_host: u64,
    /// ALL streams closed for reading too slowly, or for lasting too long.
    pub all_closed_slow: u64,
    pub all_closed_lifetime: u64,
    /// UDP requests not answered: their source was over `udp_rate`.
    pub udp_rate_limited: u64,
    /// Secret maps refused to an unprivileged source port.
    pub unprivileged_refused: u64,
    pub logs_dropped: u64,
}

/// How often the YP server may say that it closed ALL streams or left
/// datagrams unanswered (with the counts since it last said so).
const BOUND_REPORT_EVERY: Duration = Duration::from_secs(60);

/// How many source addresses the UDP rate limiter remembers.
const UDP_RATE_SOURCES: usize = 65536;

/// An ALL stream's progress, for its rate and lifetime bounds.
struct AllProgress {
    started: Instant,
    sent: u64,
    /// When the rate is judged next.
    check_at: Instant,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    opened: Instant,
    rx: Reassembler,
    out: Vec<u8>,
    out_pos: usize,
    all: Option<AllStream>,
    /// Set while an ALL stream is being sent.
    all_progress: Option<AllProgress>,
    readable: bool,
    eof: bool,
    last_active: Instant,
    /// Work left since this time, when the budget ran out.
    pending: Option<Instant>,
}

enum Pump {
    Keep,
    Close,
    BadRecord,
}

/// Everything a request needs besides its connection.
struct Shared<'a> {
    cfg: &'a ServerConfig,
    allow: &'a AllowList,
    snap: Option<&'a Arc<Snapshot>>,
    refusals: &'a mut RefusalLog,
    logs: &'a mut Vec<(Level, String)>,
    stats: &'a mut Stats,
    limits: &'a Limits,
    requests: &'a mut RequestCounters,
}

impl Shared<'_> {
    fn log(&mut self, level: Level, text: String) {
        if self.logs.len() < MAX_LOGS {
            self.logs.push((level, text));
        } else {
            self.stats.logs_dropped += 1;
        }
    }

    /// Counts what a request was.
    fn note(&mut self, noted: Noted, tcp: bool, now: Instant) {
        let procedure = noted
            .procedure
            .map_or(Procedure::Other, Procedure::of_number);
        self.requests.note(procedure, tcp, now);
        if noted.unprivileged_refused {
            self.stats.unprivileged_refused += 1;
        }
    }

    fn caller(&mut self, peer: SocketAddr, tcp: bool, now: Instant) -> Caller {
        let allowed = self.allow.allows(peer.ip());
        if !allowed {
            self.stats.refused += 1;
            if self.refusals.should_log(peer.ip(), now) {
                self.log(
                    Level::Warning,
                    format!(
                        "refused YP request from {} (not in the allow-list)",
                        peer.ip()
                    ),
                );
            }
        }
        Caller {
            allowed,
            privileged: is_privileged(&peer),
            tcp,
        }
    }
}

/// Why an ALL stream must end now, if it must.
enum AllVerdict {
    Continue,
    TooSlow,
    TooOld,
}

impl Conn {
    /// Judges the ALL stream in progress against its bounds at `now`.
    fn judge_all(&mut self, limits: &Limits, now: Instant) -> AllVerdict {
        let Some(p) = &mut self.all_progress else {
            return AllVerdict::Continue;
        };
        let age = now.saturating_duration_since(p.started);
        if age >= limits.all_lifetime {
            return AllVerdict::TooOld;
        }
        if now >= p.check_at {
            p.check_at = now + Duration::from_secs(1);
            let floor = limits.all_min_rate as f64 * age.as_secs_f64();
            if (p.sent as f64) < floor {
                return AllVerdict::TooSlow;
            }
        }
        AllVerdict::Continue
    }

    /// When [`Self::judge_all`] must look next.
    fn all_deadline(&self, limits: &Limits) -> Option<Instant> {
        self.all_progress
            .as_ref()
            .map(|p| p.check_at.min(p.started + limits.all_lifetime))
    }

    fn pump(&mut self, sh: &mut Shared<'_>, now: Instant) -> Pump {
        let mut work = 0usize;
        let mut buf = [0u8; 4096];
        // Set again below only if the budget runs out; otherwise a write
        // blocked on the client would make the loop spin on this.
        self.pending = None;
        loop {
            while self.out_pos < self.out.len() {
                match self.stream.write(&self.out[self.out_pos..]) {
                    Ok(0) => return Pump::Close,
                    Ok(n) => {
                        self.out_pos += n;
                        self.last_active = now;
                        if let Some(p) = &mut self.all_progress {
                            p.sent += n as u64;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Pump::Keep,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Pump::Close,
                }
            }
            self.out.clear();
            self.out_pos = 0;
            if self.all.is_none() {
                self.all_progress = None;
            }
            if work >= sh.limits.budget {
                self.pending = Some(now);
                return Pump::Keep;
            }
            work += 1;
            if let Some(st) = &mut self.all {
                st.write_fragment(&mut self.out, sh.limits.all_fragment);
                if st.is_done() {
                    self.all = None;
                }
                continue;
            }
            if let Some(rec) = self.rx.pop() {
                sh.stats.tcp_requests += 1;
                let caller = sh.caller(self.peer, true, now);
                let (outcome, noted) = handle_message_noted(&rec, sh.cfg, sh.snap, caller);
                sh.note(noted, true, now);
                match outcome {
                    Outcome::Reply(r) => record::push_fragment(&mut self.out, &r, true),
                    Outcome::NoReply => {}
                    Outcome::Stream(s) => {
                        self.all = Some(s);
                        self.all_progress = Some(AllProgress {
                            started: now,
                            sent: 0,
                            check_at: now + sh.limits.all_rate_grace,
                        });
                    }
                }
                continue;
            }
            if self.eof {
                return Pump::Close;
            }
            if !self.readable {
                return Pump::Keep;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.last_active = now;
                    if self.rx.feed(&buf[..n]).is_err() {
                        return Pump::BadRecord;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Pump::Close,
            }
        }
    }
}

/// The YP server the daemon's event loop owns.
pub struct YpServer {
    cfg: ServerConfig,
    allow: AllowList,
    snap: Option<Arc<Snapshot>>,
    udp: Vec<(UdpSocket, Option<Instant>)>,
    tcp: Vec<(TcpListener, Option<Instant>)>,
    conns: Vec<Option<Conn>>,
    first: usize,
    limits: Limits,
    refusals: RefusalLog,
    logs: Vec<(Level, String)>,
    stats: Stats,
    batch: UdpBatch,
    /// `udp_rate`: one bucket per source address outside the allow-list.
    udp_limiter: KeyedLimiter<IpAddr>,
    udp_limited_report: Suppressed,
    all_closed_report: Suppressed,
    requests: RequestCounters,
}

impl YpServer {
    /// Takes the bound sockets (see [`super::bind`]); they are made
    /// non-blocking here. At most [`MAX_SOCKETS`] of each kind.
    pub fn new(
        cfg: ServerConfig,
        allow: AllowList,
        udp: Vec<std::net::UdpSocket>,
        tcp: Vec<std::net::TcpListener>,
        limits: Limits,
    ) -> io::Result<YpServer> {
        if udp.len() > MAX_SOCKETS || tcp.len() > MAX_SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many YP sockets",
            ));
        }
        let mut us = Vec::new();
        for u in udp {
            u.set_nonblocking(true)?;
            us.push((UdpSocket::from_std(u), None));
        }
        let mut ts = Vec::new();
        for t in tcp {
            t.set_nonblocking(true)?;
            ts.push((TcpListener::from_std(t), None));
        }
        let mut conns = Vec::new();
        conns.resize_with(limits.max_conns, || None);
        Ok(YpServer {
            cfg,
            allow,
            snap: None,
            udp: us,
            tcp: ts,
            conns,
            first: 0,
            limits: limits.clone(),
            refusals: RefusalLog::default(),
            logs: Vec::new(),
            stats: Stats::default(),
            batch: UdpBatch::new(),
            udp_limiter: KeyedLimiter::new(limits.udp_rate, limits.udp_rate, UDP_RATE_SOURCES),
            udp_limited_report: Suppressed::new(BOUND_REPORT_EVERY),
            all_closed_report: Suppressed::new(BOUND_REPORT_EVERY),
            requests: RequestCounters::new(Instant::now()),
        })
    }

    /// Registers the sockets; the server uses tokens `first_token ..
    /// first_token + self.token_span()`.
    pub fn register(&mut self, registry: &Registry, first_token: usize) -> io::Result<()> {
        self.first = first_token;
        for (i, (u, _)) in self.udp.iter_mut().enumerate() {
            registry.register(u, Token(first_token + i), Interest::READABLE)?;
        }
        for (i, (t, _)) in self.tcp.iter_mut().enumerate() {
            registry.register(t, Token(first_token + MAX_SOCKETS + i), Interest::READABLE)?;
        }
        Ok(())
    }

    /// Number of tokens reserved from `first_token`.
    pub fn token_span(&self) -> usize {
        CONN_TOKEN_BASE + self.limits.max_conns
    }

    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.first && token.0 - self.first < self.token_span()
    }

    /// The local addresses: UDP sockets, then TCP listeners.
    /// The UDP sockets and the TCP listeners, to limit their rights
    /// (Capsicum).
    pub fn sockets(&self) -> (Vec<BorrowedFd<'_>>, Vec<BorrowedFd<'_>>) {
        (
            self.udp.iter().map(|(s, _)| s.as_fd()).collect(),
            self.tcp.iter().map(|(s, _)| s.as_fd()).collect(),
        )
    }

    pub fn local_addrs(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let u = self
            .udp
            .iter()
            .filter_map(|(s, _)| s.local_addr().ok())
            .collect();
        let t = self
            .tcp
            .iter()
            .filter_map(|(s, _)| s.local_addr().ok())
            .collect();
        (u, t)
    }

    /// Installs a new snapshot. Requests from now on see it; ALL streams in
    /// progress finish on the one they started with.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.snap = Some(snap);
    }

    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.snap.as_ref()
    }

    /// After a reload.
    pub fn set_config(&mut self, cfg: ServerConfig, allow: AllowList) {
        self.cfg = cfg;
        self.allow = allow;
    }

    /// After a reload: every bound but the number of connections, which
    /// sizes the server's tables (a restart changes it).
    pub fn set_limits(&mut self, limits: Limits) {
        if limits.udp_rate != self.limits.udp_rate {
            self.udp_limiter =
                KeyedLimiter::new(limits.udp_rate, limits.udp_rate, UDP_RATE_SOURCES);
        }
        self.limits = Limits {
            max_conns: self.limits.max_conns,
            ..limits
        };
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Log records produced since the last call, for the daemon's logger.
    pub fn drain_logs(&mut self) -> std::vec::Drain<'_, (Level, String)> {
        self.logs.drain(..)
    }

    /// Open TCP connections.
    pub fn connections(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }

    /// What `ypldapctl show clients` reports: the open TCP connections,
    /// the requests by procedure and the refusals by reason.
    pub fn clients_view(&self, now: Instant) -> ClientsView {
        let st = &self.stats;
        let age = |t: Instant| now.saturating_duration_since(t).as_secs();
        ClientsView {
            connections: self
                .conns
                .iter()
                .flatten()
                .map(|c| ConnectionStatus {
                    peer: c.peer.to_string(),
                    age_seconds: age(c.opened),
                    idle_seconds: age(c.last_active),
                    streaming_all: c.all.is_some(),
                })
                .collect(),
            connections_max: self.limits.max_conns as u64,
            connections_per_host_max: self.limits.max_conns_per_host as u64,
            connections_accepted: st.conns_accepted,
            requests: Procedure::ALL
                .iter()
                .map(|&p| {
                    let (udp, tcp) = self.requests.total(p);
                    ProcedureCount {
                        procedure: p,
                        udp,
                        tcp,
                        last_window: self.requests.recent(p, now),
                    }
                })
                .collect(),
            rate_window_seconds: self.requests.window(now),
            refused: Refusal::ALL
                .iter()
                .map(|&r| {
                    let n = match r {
                        Refusal::AllowList => st.refused,
                        Refusal::UnprivilegedPort => st.unprivileged_refused,
                        Refusal::UdpRate => st.udp_rate_limited,
                        Refusal::TcpConnections => st.conns_rejected,
                        Refusal::TcpPerHost => st.conns_rejected_per_host,
                    };
                    (r, n)
                })
                .collect(),
            closed: Closure::ALL
                .iter()
                .map(|&c| {
                    let n = match c {
                        Closure::Idle => st.conns_closed_idle,
                        Closure::BadRecord => st.conns_closed_bad_record,
                        Closure::AllTooSlow => st.all_closed_slow,
                        Closure::AllTooOld => st.all_closed_lifetime,
                    };
                    (c, n)
                })
                .collect(),
        }
    }

    pub fn handle_event(&mut self, registry: &Registry, event: &Event, now: Instant) {
        let Some(rel) = event.token().0.checked_sub(self.first) else {
            return;
        };
        if rel < MAX_SOCKETS {
            self.drain_udp(rel, now);
        } else if rel < CONN_TOKEN_BASE {
            self.accept(registry, rel - MAX_SOCKETS, now);
        } else {
            let slot = rel - CONN_TOKEN_BASE;
            if let Some(Some(c)) = self.conns.get_mut(slot) {
                c.readable = true;
            }
            self.pump(registry, slot, now);
        }
    }

    /// When the loop must call [`Self::on_timeout`] next: now if a source
    /// has work left, else the earliest idle deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        let socks = self
            .udp
            .iter()
            .filter_map(|s| s.1)
            .chain(self.tcp.iter().filter_map(|s| s.1));
        let conns = self.conns.iter().flatten().map(|c| {
            let idle = c.pending.unwrap_or(c.last_active + self.limits.idle);
            c.all_deadline(&self.limits).map_or(idle, |t| t.min(idle))
        });
        socks.chain(conns).min()
    }

    /// Continues pending work and closes idle connections.
    pub fn on_timeout(&mut self, registry: &Registry, now: Instant) {
        for i in 0..self.udp.len() {
            if self.udp[i].1.is_some_and(|t| t <= now) {
                self.drain_udp(i, now);
            }
        }
        for i in 0..self.tcp.len() {
            if self.tcp[i].1.is_some_and(|t| t <= now) {
                self.accept(registry, i, now);
            }
        }
        for slot in 0..self.conns.len() {
            let Some(c) = &mut self.conns[slot] else {
                continue;
            };
            match c.judge_all(&self.limits, now) {
                AllVerdict::Continue => {}
                verdict => {
                    let peer = c.peer.ip();
                    if matches!(verdict, AllVerdict::TooSlow) {
                        self.stats.all_closed_slow += 1;
                    } else {
                        self.stats.all_closed_lifetime += 1;
                    }
                    self.close(registry, slot);
                    if let Some(n) = self.all_closed_report.note(now) {
                        let text = format!(
                            "closed {n} YP ALL stream(s) read slower than {} bytes/s or older than {} s (the last to {peer}; limit all-min-rate, all-lifetime)",
                            self.limits.all_min_rate,
                            self.limits.all_lifetime.as_secs()
                        );
                        let (mut sh, _) = self.shared();
                        sh.log(Level::Warning, text);
                    }
                    continue;
                }
            }
            if c.pending.is_some() {
                self.pump(registry, slot, now);
            } else if now.saturating_duration_since(c.last_active) >= self.limits.idle {
                self.stats.conns_closed_idle += 1;
                self.close(registry, slot);
            }
        }
    }

    fn shared(&mut self) -> (Shared<'_>, &mut [Option<Conn>]) {
        (
            Shared {
                cfg: &self.cfg,
                allow: &self.allow,
                snap: self.snap.as_ref(),
                refusals: &mut self.refusals,
                logs: &mut self.logs,
                stats: &mut self.stats,
                limits: &self.limits,
                requests: &mut self.requests,
            },
            &mut self.conns,
        )
    }

    fn drain_udp(&mut self, i: usize, now: Instant) {
        let budget = self.limits.budget;
        let Some((sock, pending)) = self.udp.get_mut(i) else {
            return;
        };
        let mut sh = Shared {
            cfg: &self.cfg,
            allow: &self.allow,
            snap: self.snap.as_ref(),
            refusals: &mut self.refusals,
            logs: &mut self.logs,
            stats: &mut self.stats,
            limits: &self.limits,
            requests: &mut self.requests,
        };
        let mut handled = 0;
        let mut replies = Vec::with_capacity(udp_batch::BATCH);
        while handled < budget {
            match self.batch.recv(sock) {
                Ok(0) => {
                    *pending = None;
                    return;
                }
                Ok(n) => handled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here on some systems; keep going.
                Err(_) => {
                    handled += 1;
                    continue;
                }
            }
            replies.clear();
            // Several requests at once: their lookups' memory is fetched
            // together first (one wait instead of one per request).
            if let Some(snap) = sh.snap
                && self.batch.datagrams().nth(1).is_some()
            {
                yp_proto::dispatch::warm_matches(self.batch.datagrams().map(|(m, _)| m), snap);
            }
            for (msg, peer) in self.batch.datagrams() {
                sh.stats.udp_requests += 1;
                // A source outside the allow-list (any source, without a
                // list) gets at most `udp_rate` answers a second.
                let unknown = sh.allow.nets.is_empty() || !sh.allow.allows(peer.ip());
                if sh.limits.udp_rate > 0 && unknown && !self.udp_limiter.allow(peer.ip(), now) {
                    sh.stats.udp_rate_limited += 1;
                    if let Some(n) = self.udp_limited_report.note(now) {
                        sh.log(
                            Level::Warning,
                            format!(
                                "left {n} UDP request(s) unanswered from sources over limit udp-rate {} (the last from {}); an allow list exempts known clients",
                                sh.limits.udp_rate,
                                peer.ip()
                            ),
                        );
                    }
                    continue;
                }
                let caller = sh.caller(peer, false, now);
                let (outcome, noted) = handle_message_noted(msg, sh.cfg, sh.snap, caller);
                sh.note(noted, false, now);
                if let Outcome::Reply(r) = outcome {
                    replies.push((r, peer));
                }
            }
            self.batch.send(sock, &replies);
        }
        *pending = Some(now);
    }

    fn accept(&mut self, registry: &Registry, i: usize, now: Instant) {
        let first = self.first;
        for _ in 0..self.limits.budget {
            let Some((l, _)) = self.tcp.get(i) else {
                return;
            };
            match l.accept() {
                Ok((mut stream, peer)) => {
                    let Some(slot) = self.conns.iter().position(Option::is_none) else {
                        self.stats.conns_rejected += 1;
                        drop(stream);
                        continue;
                    };
                    let from_host = self
                        .conns
                        .iter()
                        .flatten()
                        .filter(|c| c.peer.ip() == peer.ip())
                        .count();
                    if from_host >= self.limits.max_conns_per_host {
                        self.stats.conns_rejected_per_host += 1;
                        drop(stream);
                        continue;
                    }
                    let tok = Token(first + CONN_TOKEN_BASE + slot);
                    if registry
                        .register(&mut stream, tok, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    self.stats.conns_accepted += 1;
                    self.conns[slot] = Some(Conn {
                        stream,
                        peer,
                        opened: now,
                        rx: Reassembler::new(self.limits.max_record),
                        out: Vec::new(),
                        out_pos: 0,
                        all: None,
                        all_progress: None,
                        readable: true,
                        eof: false,
                        last_active: now,
                        pending: None,
                    });
                    self.pump(registry, slot, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tcp[i].1 = None;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: retry in a moment, not in a spin,
                    // and log only the first failure of a series.
                    let first_failure = self.tcp[i].1.is_none();
                    self.tcp[i].1 = Some(now + Duration::from_millis(100));
                    if first_failure {
                        let (mut sh, _) = self.shared();
                        sh.log(Level::Warning, format!("YP accept failed: {e}"));
                    }
                    return;
                }
            }
        }
        self.tcp[i].1 = Some(now);
    }

    fn pump(&mut self, registry: &Registry, slot: usize, now: Instant) {
        let (mut sh, conns) = self.shared();
        let Some(Some(c)) = conns.get_mut(slot) else {
            return;
        };
        match c.pump(&mut sh, now) {
            Pump::Keep => {}
            Pump::Close => self.close(registry, slot),
            Pump::BadRecord => {
                self.stats.conns_closed_bad_record += 1;
                self.close(registry, slot);
            }
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize) {
        if let Some(Some(mut c)) = self.conns.get_mut(slot).map(Option::take) {
            let _ = registry.deregister(&mut c.stream);
        }
    }
}

/// A minimal event loop around one [`YpServer`], for tests and the
/// example server; the daemon's own loop does the same with its other
/// sources beside it. Returns when `stop()` is true (checked at least
/// every 100 ms).
pub fn run_until(
    server: &mut YpServer,
    poll: &mut mio::Poll,
    first_token: usize,
    mut stop: impl FnMut(&mut YpServer) -> bool,
) -> io::Result<()> {
    server.register(poll.registry(), first_token)?;
    let mut events = mio::Events::with_capacity(256);
    let tick = Duration::from_millis(100);
    while !stop(server) {
        let now = Instant::now();
        let timeout = server
            .next_deadline()
            .map(|d| d.saturating_duration_since(now).min(tick))
            .unwrap_or(tick);
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        for ev in &events {
            if server.owns(ev.token()) {
                server.handle_event(poll.registry(), ev, now);
            }
        }
        server.on_timeout(poll.registry(), Instant::now());
    }
    Ok(())
}
