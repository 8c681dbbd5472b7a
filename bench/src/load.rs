//! YP load generators and single-shot clients, loopback only.
//!
//! Everything here talks to one server on 127.0.0.1 (the port found with
//! rpcbind in the caller's network namespace). The generators are closed
//! loop: `inflight` requests are outstanding, each answer (or a timeout)
//! frees its slot for the next request; or paced: requests are scheduled at
//! a fixed rate (at most `inflight` outstanding) and latency counts from the
//! scheduled time, so a stalled server is not hidden by a stalled client.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use yp_proto::client;
use yp_proto::proto::{YPPROC_ALL, YPPROC_MATCH, YPPROC_ORDER, YPPROG, YPVERS, YpStat};
use yp_proto::record::{Reassembler, encode_record};
use yp_proto::rpc::{ReplyStatus, encode_call, parse_reply};
use yp_proto::xdr::XdrWriter;
use ypldapd::yp::rpcbind::{IPPROTO_TCP, IPPROTO_UDP, Rpcbind};

use crate::stats::Samples;

/// ypldapd's UDP port in the namespace of `w`, from its rpcbind.
pub fn yp_udp_port(w: &tests::world::World) -> u16 {
    w.ns.spawn_in_net(yp_ports)
        .join()
        .expect("thread")
        .expect("ypldapd's ports")
        .0
}

/// The YP server's UDP and TCP ports, from rpcbind on 127.0.0.1.
pub fn yp_ports() -> io::Result<(u16, u16)> {
    let mut r = Rpcbind::open(false)?;
    let mut get = |prot| {
        r.getport(YPPROG, YPVERS, prot)
            .map_err(|e| io::Error::other(format!("rpcbind getport: {e}")))
    };
    let (u, t) = (get(IPPROTO_UDP)?, get(IPPROTO_TCP)?);
    if u == 0 || t == 0 {
        return Err(io::Error::other("YP is not registered with rpcbind"));
    }
    Ok((u as u16, t as u16))
}

/// What a load run asks for.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub domain: String,
    pub map: String,
    /// The keys to draw from, uniformly at random.
    pub keys: Vec<String>,
    /// Requests outstanding at most (closed loop: always, while running).
    pub inflight: usize,
    /// Stop sending after this long...
    pub duration: Duration,
    /// ...or after this many requests, whichever comes first.
    pub max_requests: u64,
    /// `Some(r)`: paced at `r` requests per second instead of closed loop.
    pub rate: Option<f64>,
    /// A request unanswered this long is counted lost (UDP: not resent).
    pub timeout: Duration,
    /// Stops sending early when set.
    pub stop: Option<Arc<AtomicBool>>,
}

impl LoadSpec {
    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// What a load run saw. Latencies are in nanoseconds with the send (or
/// scheduled) time as an offset from the start, for classifying by time.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub started: Option<Instant>,
    pub elapsed: Duration,
    pub sent: u64,
    pub ok: u64,
    /// Answered, but not `YP_TRUE` (or not a SUCCESS reply).
    pub bad: u64,
    pub lost: u64,
    /// (offset of the send from `started`, latency), both in ns.
    pub samples: Vec<(u64, u64)>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latencies of the requests sent in `[from, to)` (offsets from the
    /// start, ns).
    pub fn latencies_between(&self, from: u64, to: u64) -> Samples {
        Samples::new(
            self.samples
                .iter()
                .filter(|(t, _)| *t >= from && *t < to)
                .map(|(_, l)| *l)
                .collect(),
        )
    }

    pub fn latencies(&self) -> Samples {
        Samples::new(self.samples.iter().map(|(_, l)| *l).collect())
    }
}

/// A small xorshift generator: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn key_args(domain: &str, map: &str, key: &[u8]) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.opaque(domain.as_bytes())
        .opaque(map.as_bytes())
        .opaque(key);
    w.into_inner()
}

/// One MATCH call per key, xid 0 (patched before sending).
fn templates(spec: &LoadSpec) -> Vec<Vec<u8>> {
    spec.keys
        .iter()
        .map(|k| {
            encode_call(
                0,
                YPPROG,
                YPVERS,
                YPPROC_MATCH,
                &key_args(&spec.domain, &spec.map, k.as_bytes()),
            )
        })
        .collect()
}

/// Whether a reply body is a `ypresp_val` with `YP_TRUE`.
fn match_ok(reply: &[u8]) -> (Option<u32>, bool) {
    match parse_reply(reply) {
        Some((xid, ReplyStatus::Success(body))) => {
            let ok = body.len() >= 4
                && i32::from_be_bytes([body[0], body[1], body[2], body[3]]) == YpStat::True.code();
            (Some(xid), ok)
        }
        Some((xid, _)) => (Some(xid), false),
        None => (None, false),
    }
}

/// One slot of the in-flight window. The xid is `generation << 16 | slot`.
#[derive(Clone, Copy)]
struct Slot {
    xid: u32,
    /// Send (or scheduled) time, ns from the start; `None` when free.
    at: Option<u64>,
}

fn ns_since(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

/// Waits until `fds` are readable or `timeout` passes (ns precision).
fn wait_readable(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the
    // length given; `ts` lives across the call; no signal mask is passed.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Receives up to `bufs.len()` datagrams without blocking (`recvmmsg`);
/// the lengths go to `lens`.
fn recv_many(sock: &UdpSocket, bufs: &mut [Vec<u8>], lens: &mut [usize]) -> usize {
    let n = bufs.len();
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `hdrs` points at `n` initialised headers whose iovecs point at
    // live, exclusively borrowed buffers of the stated lengths.
    let got = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if got <= 0 {
        return 0;
    }
    for (i, h) in hdrs.iter().take(got as usize).enumerate() {
        lens[i] = h.msg_len as usize;
    }
    got as usize
}

/// Sends every datagram of `msgs` (`sendmmsg`, retried until all are out).
fn send_many(sock: &UdpSocket, msgs: &[&[u8]]) -> io::Result<()> {
    let mut iov: Vec<libc::iovec> = msgs
        .iter()
        .map(|m| libc::iovec {
            iov_base: m.as_ptr() as *mut libc::c_void,
            iov_len: m.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid mmsghdr.
    let mut hdrs: Vec<libc::mmsghdr> = (0..msgs.len())
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    let mut done = 0;
    while done < hdrs.len() {
        // SAFETY: the headers from `done` on are initialised and point at
        // live buffers (the kernel only reads them).
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs[done..].as_mut_ptr(),
                (hdrs.len() - done) as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::WouldBlock {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// MATCH over UDP against 127.0.0.1:`port` (one socket, batched system
/// calls so the client costs the server as little CPU as possible).
pub fn udp_match(port: u16, spec: &LoadSpec, seed: u64) -> io::Result<LoadResult> {
    assert!(spec.inflight > 0 && spec.inflight < 1 << 16 && !spec.keys.is_empty());
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    sock.connect((Ipv4Addr::LOCALHOST, port))?;
    sock.set_nonblocking(true)?;
    let tpl = templates(spec);
    let mut rng = Rng::new(seed);
    let w = spec.inflight;
    let mut slots = vec![Slot { xid: 0, at: None }; w];
    let mut generation = 1u32;
    let mut res = LoadResult::default();
    let mut bufs = vec![vec![0u8; 2048]; w];
    let mut lens = vec![0usize; w];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(w);
    let t0 = Instant::now();
    res.started = Some(t0);
    let end = spec.duration.as_nanos() as u64;
    let timeout = spec.timeout.as_nanos() as u64;
    let interval = spec.rate.map(|r| (1e9 / r) as u64);
    let mut next_due = 0u64;
    let mut free: Vec<usize> = (0..w).rev().collect();
    loop {
        let now = ns_since(t0);
        let sending = now < end && res.sent < spec.max_requests && !spec.stopped();
        // Fill free slots (closed loop: all; paced: the ones that are due).
        out.clear();
        while sending && res.sent < spec.max_requests {
            let Some(&s) = free.last() else { break };
            let at = match interval {
                None => now,
                Some(iv) => {
                    if next_due > now || next_due >= end {
                        break;
                    }
                    let at = next_due;
                    next_due += iv;
                    at
                }
            };
            free.pop();
            generation = generation.wrapping_add(1);
            let xid = (generation << 16) | s as u32;
            slots[s] = Slot { xid, at: Some(at) };
            let mut m = tpl[rng.below(tpl.len())].clone();
            m[..4].copy_from_slice(&xid.to_be_bytes());
            out.push(m);
            res.sent += 1;
        }
        if !out.is_empty() {
            let refs: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
            send_many(&sock, &refs)?;
        }
        if !sending && free.len() == w {
            break;
        }
        // Wait for answers, or until the next paced send is due.
        let mut wait = Duration::from_millis(5);
        if let (Some(_), true) = (interval, sending) {
            let now = ns_since(t0);
            if !free.is_empty() {
                wait = Duration::from_nanos(next_due.saturating_sub(now)).min(wait);
            }
        }
        let mut pfd = [libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if !wait.is_zero() {
            wait_readable(&mut pfd, wait)?;
        }
        let n = recv_many(&sock, &mut bufs, &mut lens);
        let now = ns_since(t0);
        for i in 0..n {
            let (xid, ok) = match_ok(&bufs[i][..lens[i]]);
            let Some(xid) = xid else { continue };
            let s = (xid & 0xffff) as usize;
            if s >= w || slots[s].xid != xid {
                continue; // late answer to a request counted lost
            }
            let Some(at) = slots[s].at.take() else {
                continue;
            };
            if ok {
                res.ok += 1;
                res.samples.push((at, now.saturating_sub(at)));
            } else {
                res.bad += 1;
            }
            free.push(s);
        }
        for (s, slot) in slots.iter_mut().enumerate() {
            if let Some(at) = slot.at {
                if now.saturating_sub(at) > timeout {
                    slot.at = None;
                    res.lost += 1;
                    free.push(s);
                }
            }
        }
    }
    res.elapsed = t0.elapsed();
    Ok(res)
}

/// One TCP connection of the TCP generator.
struct Conn {
    s: TcpStream,
    rx: Reassembler,
    xid: u32,
    at: Option<u64>,
}

/// MATCH over TCP: `inflight` connections, one request outstanding on each.
pub fn tcp_match(port: u16, spec: &LoadSpec, seed: u64) -> io::Result<LoadResult> {
    let tpl = templates(spec);
    let mut rng = Rng::new(seed);
    let mut conns = Vec::new();
    for _ in 0..spec.inflight {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        conns.push(Conn {
            s,
            rx: Reassembler::new(1 << 20),
            xid: 0,
            at: None,
        });
    }
    let mut res = LoadResult::default();
    let t0 = Instant::now();
    res.started = Some(t0);
    let end = spec.duration.as_nanos() as u64;
    let timeout = spec.timeout.as_nanos() as u64;
    let mut xid = 1u32;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pfds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let now = ns_since(t0);
        let sending = now < end && res.sent < spec.max_requests && !spec.stopped();
        let mut busy = 0;
        for c in &mut conns {
            if c.at.is_none() && sending && res.sent < spec.max_requests {
                xid = xid.wrapping_add(1);
                let mut m = tpl[rng.below(tpl.len())].clone();
                m[..4].copy_from_slice(&xid.to_be_bytes());
                c.s.write_all(&encode_record(&m))?;
                c.xid = xid;
                c.at = Some(ns_since(t0));
                res.sent += 1;
            }
            busy += usize::from(c.at.is_some());
        }
        if busy == 0 {
            break;
        }
        for p in &mut pfds {
            p.revents = 0;
        }
        wait_readable(&mut pfds, Duration::from_millis(5))?;
        for (i, c) in conns.iter_mut().enumerate() {
            if pfds[i].revents == 0 {
                continue;
            }
            match c.s.read(&mut buf) {
                Ok(0) => return Err(io::Error::other("server closed a TCP connection")),
                Ok(n) => {
                    c.rx.feed(&buf[..n])
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let now = ns_since(t0);
            while let Some(rec) = c.rx.pop() {
                let (x, ok) = match_ok(&rec);
                if x != Some(c.xid) {
                    continue;
                }
                if let Some(at) = c.at.take() {
                    if ok {
                        res.ok += 1;
                        res.samples.push((at, now - at));
                    } else {
                        res.bad += 1;
                    }
                }
            }
        }
        let now = ns_since(t0);
        for c in &conns {
            if c.at.is_some_and(|at| now.saturating_sub(at) > timeout) {
                return Err(io::Error::other("a TCP MATCH went unanswered"));
            }
        }
    }
    res.elapsed = t0.elapsed();
    Ok(res)
}

/// What one `YPPROC_ALL` brought.
#[derive(Debug, Clone, Copy)]
pub struct AllResult {
    /// From connecting to having the whole reply (not decoding it).
    pub elapsed: Duration,
    pub entries: usize,
    /// Sum of the lengths of every key and value.
    pub bytes: usize,
}

/// One `YPPROC_ALL` over TCP on a fresh connection, the whole reply read.
pub fn all(port: u16, domain: &str, map: &str) -> io::Result<AllResult> {
    all_entries(port, domain, map).map(|(r, _)| r)
}

/// [`all`], and the entries.
pub fn all_entries(port: u16, domain: &str, map: &str) -> io::Result<(AllResult, client::Entries)> {
    all_stall(port, domain, map, Duration::from_secs(30))
}

/// [`all_entries`], giving up (an error naming the bytes received) when no
/// byte arrives for `stall`.
pub fn all_stall(
    port: u16,
    domain: &str,
    map: &str,
    stall: Duration,
) -> io::Result<(AllResult, client::Entries)> {
    let t0 = Instant::now();
    let mut s = connect_tcp(port)?;
    s.set_read_timeout(Some(stall))?;
    let mut got = 0usize;
    let mut w = XdrWriter::new();
    w.opaque(domain.as_bytes()).opaque(map.as_bytes());
    let call = encode_call(77, YPPROG, YPVERS, YPPROC_ALL, &w.into_inner());
    s.write_all(&encode_record(&call))?;
    let mut rx = Reassembler::new(1 << 30);
    let mut buf = vec![0u8; 256 * 1024];
    let rec = loop {
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "ALL {map}: stalled: no byte for {:.1} s after {got} bytes",
                        stall.as_secs_f64()
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        got += n;
        if n == 0 {
            return Err(io::Error::other("ALL: connection closed early"));
        }
        rx.feed(&buf[..n])
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        if let Some(r) = rx.pop() {
            break r;
        }
    };
    let elapsed = t0.elapsed();
    let body = client::success_body(&rec, 77).map_err(io::Error::other)?;
    let (entries, end) =
        client::resp_all(body).ok_or_else(|| io::Error::other("ALL: undecodable"))?;
    if end != YpStat::NoMore {
        return Err(io::Error::other(format!("ALL {map}: ended with {end:?}")));
    }
    let bytes = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    Ok((
        AllResult {
            elapsed,
            entries: entries.len(),
            bytes,
        },
        entries,
    ))
}

/// A TCP connection to 127.0.0.1:`port`, from a reserved port when we
/// may bind one (root): servers give `master.passwd.*` only to those.
fn connect_tcp(port: u16) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    if nix::unistd::geteuid().is_root() {
        for local in (600..1024).rev() {
            // SAFETY: plain socket(2); the fd is owned by the TcpStream below
            // or closed here.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            if fd < 0 {
                break;
            }
            // SAFETY: `fd` is ours and open; ownership passes to the stream.
            let stream = unsafe { TcpStream::from_raw_fd(fd) };
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: (local as u16).to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: `sin` is a valid sockaddr_in of `len` bytes.
            if unsafe { libc::bind(fd, (&raw const sin).cast(), len) } != 0 {
                continue;
            }
            let mut to = sin;
            to.sin_port = port.to_be();
            // SAFETY: as above.
            if unsafe { libc::connect(fd, (&raw const to).cast(), len) } == 0 {
                return Ok(stream);
            }
        }
    }
    TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

/// A UDP socket for ORDER polls.
pub struct OrderProbe {
    sock: UdpSocket,
    call: Vec<u8>,
    xid: u32,
}

impl OrderProbe {
    pub fn new(port: u16, domain: &str, map: &str) -> io::Result<OrderProbe> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        sock.connect((Ipv4Addr::LOCALHOST, port))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut w = XdrWriter::new();
        w.opaque(domain.as_bytes()).opaque(map.as_bytes());
        let call = encode_call(0, YPPROG, YPVERS, YPPROC_ORDER, &w.into_inner());
        Ok(OrderProbe { sock, call, xid: 1 })
    }

    /// The map's ORDER number, or `None` on no (or a bad) answer.
    pub fn order(&mut self) -> Option<u32> {
        self.xid = self.xid.wrapping_add(1);
        self.call[..4].copy_from_slice(&self.xid.to_be_bytes());
        self.sock.send(&self.call).ok()?;
        let mut buf = [0u8; 512];
        loop {
            let n = self.sock.recv(&mut buf).ok()?;
            match client::success_body(&buf[..n], self.xid) {
                Ok(b) => {
                    return match client::resp_order(b) {
                        Some((YpStat::True, o)) => Some(o),
                        _ => None,
                    };
                }
                Err(_) => continue, // an older answer
            }
        }
    }
}

/// A UDP socket for MATCH polls of one map.
pub struct MatchProbe {
    sock: UdpSocket,
    domain: String,
    xid: u32,
}

impl MatchProbe {
    pub fn new(port: u16, domain: &str) -> io::Result<MatchProbe> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        sock.connect((Ipv4Addr::LOCALHOST, port))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(MatchProbe {
            sock,
            domain: domain.to_owned(),
            xid: 1,
        })
    }

    /// The value of `key` in `map`: `Some(None)` when the map has no such
    /// key, `None` on no (or a bad) answer.
    pub fn value(&mut self, map: &str, key: &str) -> Option<Option<Vec<u8>>> {
        self.xid = self.xid.wrapping_add(1);
        let call = encode_call(
            self.xid,
            YPPROG,
            YPVERS,
            YPPROC_MATCH,
            &key_args(&self.domain, map, key.as_bytes()),
        );
        self.sock.send(&call).ok()?;
        let mut buf = [0u8; 2048];
        loop {
            let n = self.sock.recv(&mut buf).ok()?;
            match client::success_body(&buf[..n], self.xid) {
                Ok(b) => {
                    return match client::resp_val(b) {
                        Some((YpStat::True, v)) => Some(Some(v)),
                        Some((YpStat::NoKey, _)) => Some(None),
                        _ => None,
                    };
                }
                Err(_) => continue, // an older answer
            }
        }
    }

    /// Polls `key` in `map` every `every` until `want` holds for its value
    /// (`None`: no such key), for at most `limit`; whether it did.
    pub fn until(
        &mut self,
        map: &str,
        key: &str,
        every: Duration,
        limit: Duration,
        want: impl Fn(Option<&[u8]>) -> bool,
    ) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(v) = self.value(map, key) {
                if want(v.as_deref()) {
                    return true;
                }
            }
            std::thread::sleep(every);
        }
        false
    }
}

/// Sends a YPPROC_NULL datagram to 127.0.0.1:`port` every `every` until
/// `stop` is set (answers are read and dropped). Any traffic wakes a server
/// whose event loop forgot pending work; this supplies some.
pub fn nudge(port: u16, every: Duration, stop: &AtomicBool) -> io::Result<u64> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    sock.connect((Ipv4Addr::LOCALHOST, port))?;
    sock.set_nonblocking(true)?;
    let mut call = encode_call(1, YPPROG, YPVERS, yp_proto::proto::YPPROC_NULL, &[]);
    let mut buf = [0u8; 512];
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        call[..4].copy_from_slice(&(n as u32).to_be_bytes());
        let _ = sock.send(&call);
        while sock.recv(&mut buf).is_ok() {}
        std::thread::sleep(every);
    }
    Ok(n)
}

/// The loopback limit: a UDP responder that answers every datagram on
/// 127.0.0.1 with one fixed MATCH reply (the request's xid copied in,
/// nothing parsed or looked up), batching with `recvmmsg`/`sendmmsg` as
/// ypldapd does. What a generator measures against it is what loopback,
/// the system calls and the generator allow. Returns the port; runs until
/// `stop` is set.
pub fn fixed_responder(stop: Arc<AtomicBool>) -> io::Result<(u16, std::thread::JoinHandle<u64>)> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = sock.local_addr()?.port();
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    // A real MATCH answer: YP_TRUE and a passwd line of typical length.
    let mut body = XdrWriter::new();
    body.i32(YpStat::True.code())
        .opaque(b"user00001:x:10001:100:Test User 1:/home/user00001:/bin/bash");
    let reply = yp_proto::rpc::success(0);
    let mut reply = reply.into_inner();
    reply.extend_from_slice(&body.into_inner());
    let h = std::thread::spawn(move || {
        const BATCH: usize = 32;
        let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; 2048]).collect();
        let mut lens = [0usize; BATCH];
        let mut peers: Vec<Option<SocketAddr>> = vec![None; BATCH];
        let mut answered = 0u64;
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
        while !stop.load(Ordering::Relaxed) {
            let n = recv_many_from(&sock, &mut bufs, &mut lens, &mut peers);
            if n == 0 {
                // Nothing waiting: block (briefly) for the next datagram.
                let mut one = [0u8; 2048];
                if let Ok((len, peer)) = sock.recv_from(&mut one) {
                    if len >= 4 {
                        let mut r = reply.clone();
                        r[..4].copy_from_slice(&one[..4]);
                        let _ = sock.send_to(&r, peer);
                        answered += 1;
                    }
                }
                continue;
            }
            out.clear();
            let mut to = Vec::with_capacity(n);
            for i in 0..n {
                if lens[i] >= 4 {
                    let mut r = reply.clone();
                    r[..4].copy_from_slice(&bufs[i][..4]);
                    out.push(r);
                    to.push(peers[i]);
                }
            }
            answered += out.len() as u64;
            send_many_to(&sock, &out, &to);
        }
        answered
    });
    Ok((port, h))
}

/// Sends each reply to its peer in one `sendmmsg` (what the kernel
/// refuses is dropped, as UDP allows).
fn send_many_to(sock: &UdpSocket, msgs: &[Vec<u8>], to: &[Option<SocketAddr>]) {
    let mut names: Vec<libc::sockaddr_in> = to
        .iter()
        .map(|p| {
            // SAFETY: all-zero is a valid sockaddr_in.
            let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            if let Some(SocketAddr::V4(a)) = p {
                s.sin_family = libc::AF_INET as libc::sa_family_t;
                s.sin_port = a.port().to_be();
                s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            }
            s
        })
        .collect();
    let mut iov: Vec<libc::iovec> = msgs
        .iter()
        .map(|m| libc::iovec {
            iov_base: m.as_ptr() as *mut libc::c_void,
            iov_len: m.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid mmsghdr.
    let mut hdrs: Vec<libc::mmsghdr> = (0..msgs.len())
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    for ((h, v), name) in hdrs.iter_mut().zip(iov.iter_mut()).zip(names.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    }
    // SAFETY: the headers are initialised and point at live buffers and
    // addresses (the kernel only reads them).
    let _ = unsafe {
        libc::sendmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            hdrs.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
}

/// [`recv_many`] keeping each datagram's sender.
fn recv_many_from(
    sock: &UdpSocket,
    bufs: &mut [Vec<u8>],
    lens: &mut [usize],
    peers: &mut [Option<SocketAddr>],
) -> usize {
    let n = bufs.len();
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut names: Vec<libc::sockaddr_in> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for ((h, v), name) in hdrs.iter_mut().zip(iov.iter_mut()).zip(names.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    }
    // SAFETY: `hdrs` points at `n` initialised headers whose iovecs and
    // names point at live, exclusively borrowed buffers of the stated sizes.
    let got = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if got <= 0 {
        return 0;
    }
    for (i, h) in hdrs.iter().take(got as usize).enumerate() {
        lens[i] = h.msg_len as usize;
        let name = names[i];
        peers[i] = Some(SocketAddr::from((
            Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
            u16::from_be(name.sin_port),
        )));
    }
    got as usize
}

/// Polls (every millisecond, at most `limit`) until a YP server
/// registered with rpcbind answers a MATCH of `key` in `map`: the moment
/// a client could first use it.
pub fn first_answer(domain: &str, map: &str, key: &str, limit: Duration) -> Option<Instant> {
    let end = Instant::now() + limit;
    let args = key_args(domain, map, key.as_bytes());
    let mut xid = 1u32;
    while Instant::now() < end {
        if let Ok(port) = Rpcbind::open(false)
            .ok()
            .map(|mut r| {
                r.timeout = Duration::from_millis(100);
                r.getport(YPPROG, YPVERS, IPPROTO_UDP)
            })
            .unwrap_or(Ok(0))
        {
            if port != 0 {
                if let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) {
                    let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
                    xid = xid.wrapping_add(1);
                    let call = encode_call(xid, YPPROG, YPVERS, YPPROC_MATCH, &args);
                    let mut buf = [0u8; 2048];
                    if sock
                        .send_to(&call, (Ipv4Addr::LOCALHOST, port as u16))
                        .is_ok()
                    {
                        if let Ok(n) = sock.recv(&mut buf) {
                            if let (Some(x), true) = match_ok(&buf[..n]) {
                                if x == xid {
                                    return Some(Instant::now());
                                }
                            }
                        }
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}
