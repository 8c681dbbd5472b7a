//! A YP client for fault tests, run inside a test's namespace: it watches
//! MATCH answers while something goes wrong, or misbehaves itself.
//!
//! usage: yp-probe watch DOMAIN MAP KEY EXPECTED_PREFIX SECONDS
//!        yp-probe hold-tcp COUNT SECONDS DOMAIN MAP KEY EXPECTED_PREFIX
//!        yp-probe all-noread DOMAIN MAP SECONDS
//!        yp-probe all DOMAIN MAP
//!        yp-probe idle-tcp SECONDS
//!        yp-probe flood SECONDS
//!        yp-probe match6 DOMAIN MAP KEY any|reserved
//!
//! `match6` finds YP's `udp6` address in rpcbind's table (version 4
//! DUMP) and asks one MATCH over UDP to `[::1]` from an ordinary or a
//! reserved (privileged) source port; it prints the value, or the reason
//! and exits 1.
//!
//! `flood` sends random datagrams (bursts of 50, about 5,000 a second)
//! and a random TCP stream after each burst. The rate is bounded on
//! purpose: a flood faster than the server fills its socket buffer and the
//! kernel drops datagrams, the watcher's too, which is UDP and not the
//! server; the server's capacity is the benchmark's business
//! (`bench/`, about forty times this rate). (20,000 a second still lost
//! one watcher request in a hundred runs of the whole suite on two
//! shared cores.)

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use yp_proto::client;
use yp_proto::proto::{YPPROC_ALL, YPPROC_MATCH, YPPROG, YPVERS, YpStat};
use yp_proto::record::encode_record;
use yp_proto::rpc::encode_call;
use yp_proto::xdr::XdrWriter;
use ypldapd::yp::rpcbind::{IPPROTO_TCP, IPPROTO_UDP, Rpcbind};

fn port(prot: u32) -> u16 {
    let mut r = Rpcbind::open(false).expect("rpcbind socket");
    let p = r.getport(YPPROG, YPVERS, prot).expect("rpcbind getport");
    assert!(p != 0, "YP is not registered");
    p as u16
}

fn req_key(domain: &str, map: &str, key: &str) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.opaque(domain.as_bytes())
        .opaque(map.as_bytes())
        .opaque(key.as_bytes());
    w.into_inner()
}

/// One MATCH over UDP with a 500 ms retransmission, 1 s in all.
fn udp_match(
    sock: &UdpSocket,
    xid: u32,
    domain: &str,
    map: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let call = encode_call(
        xid,
        YPPROG,
        YPVERS,
        YPPROC_MATCH,
        &req_key(domain, map, key),
    );
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        sock.send(&call).map_err(|e| format!("send: {e}"))?;
        let _ = sock.set_read_timeout(Some(Duration::from_millis(500)));
        if let Ok(n) = sock.recv(&mut buf) {
            if let Ok(body) = client::success_body(&buf[..n], xid) {
                return match client::resp_val(body) {
                    Some((YpStat::True, v)) => Ok(v),
                    other => Err(format!("answer {other:?}")),
                };
            }
        }
    }
    Err("no answer in 1 s (sent twice)".into())
}

struct Watch {
    sock: UdpSocket,
    xid: u32,
    ok: u64,
    failed: u64,
}

impl Watch {
    fn new(udp_port: u16) -> Watch {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("udp");
        sock.connect((Ipv4Addr::LOCALHOST, udp_port))
            .expect("connect");
        Watch {
            sock,
            xid: std::process::id() << 16,
            ok: 0,
            failed: 0,
        }
    }

    fn once(&mut self, domain: &str, map: &str, key: &str, prefix: &str) {
        self.xid = self.xid.wrapping_add(1);
        match udp_match(&self.sock, self.xid, domain, map, key) {
            Ok(v) if v.starts_with(prefix.as_bytes()) => self.ok += 1,
            // Why, for the test's output.
            Ok(v) => {
                eprintln!("watch: {key}: wrong value {}", String::from_utf8_lossy(&v));
                self.failed += 1;
            }
            Err(e) => {
                eprintln!("watch: {key}: {e}");
                self.failed += 1;
            }
        }
    }
}

/// The udp6 port rpcbind has for YP (version 4 DUMP over UDP).
fn udp6_port() -> Result<u16, String> {
    let mut r = Rpcbind::open(false).map_err(|e| format!("rpcbind socket: {e}"))?;
    let table = r
        .dump(yp_proto::rpcb::RPCBVERS4)
        .map_err(|e| format!("rpcbind dump: {e}"))?;
    table
        .iter()
        .find(|e| e.prog == YPPROG && e.vers == YPVERS && e.netid == "udp6")
        .and_then(|e| yp_proto::rpcb::port_of_universal_address(&e.addr))
        .ok_or_else(|| "rpcbind has no udp6 address for YP".to_owned())
}

/// One MATCH to `[::1]` over UDP, from a reserved port when `reserved`.
fn match6(domain: &str, map: &str, key: &str, reserved: bool) -> Result<Vec<u8>, String> {
    let port = udp6_port()?;
    let sock = if reserved {
        (600..1024)
            .find_map(|p| UdpSocket::bind((Ipv6Addr::LOCALHOST, p)).ok())
            .ok_or("no reserved port free")?
    } else {
        UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?
    };
    sock.connect((Ipv6Addr::LOCALHOST, port))
        .map_err(|e| format!("connect: {e}"))?;
    udp_match(&sock, std::process::id(), domain, map, key)
}

/// Lets this process hold `n` descriptors (up to the hard limit): a
/// default soft limit of 1024 would fail connects of its own.
fn raise_open_files_limit(n: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = (n as u64).min(hard);
        if soft < want {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
        }
    }
}

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let secs = |s: &str| Duration::from_secs_f64(s.parse().expect("seconds"));
    match a.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["match6", domain, map, key, source @ ("any" | "reserved")] => {
            match match6(domain, map, key, *source == "reserved") {
                Ok(v) => println!("{}", String::from_utf8_lossy(&v)),
                Err(e) => {
                    println!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        ["watch", domain, map, key, prefix, seconds] => {
            let udp = port(IPPROTO_UDP);
            // The test may go on once the port is known (it then stops rpcbind).
            println!("watch: port={udp}");
            let _ = std::io::stdout().flush();
            let mut w = Watch::new(udp);
            let end = Instant::now() + secs(seconds);
            while Instant::now() < end {
                w.once(domain, map, key, prefix);
                std::thread::sleep(Duration::from_millis(20));
            }
            println!("watch: ok={} failed={}", w.ok, w.failed);
        }
        ["hold-tcp", count, seconds, domain, map, key, prefix] => {
            let tcp = port(IPPROTO_TCP);
            let n: usize = count.parse().expect("count");
            raise_open_files_limit(n + 64);
            let mut held = Vec::new();
            let mut refused = 0;
            for _ in 0..n {
                match TcpStream::connect_timeout(
                    &SocketAddr::from((Ipv4Addr::LOCALHOST, tcp)),
                    Duration::from_millis(200),
                ) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        if refused == 0 {
                            eprintln!("hold-tcp: connect: {e}");
                        }
                        refused += 1;
                    }
                }
            }
            let mut w = Watch::new(port(IPPROTO_UDP));
            let end = Instant::now() + secs(seconds);
            while Instant::now() < end {
                w.once(domain, map, key, prefix);
                std::thread::sleep(Duration::from_millis(20));
            }
            // How many of ours the server kept open.
            let mut open = 0;
            for s in &mut held {
                let _ = s.set_nonblocking(true);
                let mut b = [0u8; 1];
                match s.read(&mut b) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
                    _ => {}
                }
            }
            let connected = held.len();
            drop(held);
            println!(
                "hold-tcp: connected={connected} not_connected={refused} still_open={open} ok={} failed={}",
                w.ok, w.failed
            );
        }
        ["all-noread", domain, map, seconds] => {
            let tcp = port(IPPROTO_TCP);
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, tcp)).expect("connect");
            let mut w = XdrWriter::new();
            w.opaque(domain.as_bytes()).opaque(map.as_bytes());
            let call = encode_call(7, YPPROG, YPVERS, YPPROC_ALL, &w.into_inner());
            s.write_all(&encode_record(&call)).expect("send ALL");
            // Never read; just wait, then see whether the server hung up.
            std::thread::sleep(secs(seconds));
            s.set_read_timeout(Some(Duration::from_millis(200))).ok();
            let mut total = 0usize;
            let mut buf = vec![0u8; 1 << 16];
            let closed = loop {
                match s.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => total += n,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                    Err(_) => break false,
                }
            };
            println!("all-noread: closed={closed} buffered={total}");
        }
        ["all", domain, map] => {
            // Reads a whole ALL answer as fast as it comes; gives up after
            // 5 s without a byte.
            let tcp = port(IPPROTO_TCP);
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, tcp)).expect("connect");
            let mut w = XdrWriter::new();
            w.opaque(domain.as_bytes()).opaque(map.as_bytes());
            let call = encode_call(9, YPPROG, YPVERS, YPPROC_ALL, &w.into_inner());
            s.write_all(&encode_record(&call)).expect("send ALL");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let started = Instant::now();
            let mut data = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            // Walk the fragment headers as bytes arrive (cheap, so this
            // reader keeps up with the server).
            let mut next_header = 0usize;
            let complete = loop {
                match s.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(n) => {
                        data.extend_from_slice(&buf[..n]);
                        let mut done = false;
                        while let Some(h) = data.get(next_header..next_header + 4) {
                            let h = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
                            let end = next_header + 4 + (h & 0x7fff_ffff) as usize;
                            if h & 0x8000_0000 != 0 {
                                done = data.len() >= end;
                                break;
                            }
                            next_header = end;
                        }
                        if done {
                            break true;
                        }
                    }
                    Err(_) => break false,
                }
            };
            let entries = client::unframe(&data)
                .and_then(|rec| {
                    client::success_body(&rec, 9)
                        .ok()
                        .and_then(|b| client::resp_all(b).map(|(e, _)| e.len()))
                })
                .unwrap_or(0);
            println!(
                "all: complete={complete} entries={entries} bytes={} ms={}",
                data.len(),
                started.elapsed().as_millis()
            );
        }
        ["idle-tcp", seconds] => {
            // One connection that says nothing: is it closed by the server
            // within SECONDS, and after how long?
            let tcp = port(IPPROTO_TCP);
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, tcp)).expect("connect");
            let started = Instant::now();
            s.set_read_timeout(Some(secs(seconds))).ok();
            let mut b = [0u8; 1];
            let closed = match s.read(&mut b) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            };
            println!(
                "idle-tcp: closed={closed} after_ms={}",
                started.elapsed().as_millis()
            );
        }
        ["flood", seconds] => {
            let (udp, tcp) = (port(IPPROTO_UDP), port(IPPROTO_TCP));
            let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("udp");
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
            let end = Instant::now() + secs(seconds);
            let (mut datagrams, mut streams) = (0u64, 0u64);
            while Instant::now() < end {
                for _ in 0..50 {
                    let len = (rng(&mut seed) % 1200) as usize;
                    let d: Vec<u8> = (0..len).map(|_| rng(&mut seed) as u8).collect();
                    let _ = sock.send_to(&d, (Ipv4Addr::LOCALHOST, udp));
                    datagrams += 1;
                }
                if let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, tcp)) {
                    let len = (rng(&mut seed) % 5000) as usize;
                    let d: Vec<u8> = (0..len).map(|_| rng(&mut seed) as u8).collect();
                    let _ = s.write_all(&d);
                    streams += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            println!("flood: datagrams={datagrams} streams={streams}");
        }
        _ => {
            eprintln!("usage: see the source of yp-probe");
            std::process::exit(2);
        }
    }
}
