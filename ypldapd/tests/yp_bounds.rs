//! The YP transport's bounds on what one client can make it do: a share
//! of the TCP connections per source address, ALL streams closed when read
//! too slowly or for too long, UDP answers to one source limited by rate.
//! Real sockets on loopback (127.0.0.1 and 127.0.0.2 as two hosts), raw
//! RPC, the server in a thread of this process.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
use yp_proto::client;
use yp_proto::maps::MapName;
use yp_proto::proto::{self, YpStat};
use yp_proto::record::encode_record;
use yp_proto::rpc::encode_call;
use yp_proto::{AllowList, Net, ServerConfig, Snapshot, testdata};
use ypldapd::yp::bind::bind_pair;
use ypldapd::yp::server::{Stats, run_until};
use ypldapd::yp::{Limits, YpServer};

const DOM: &[u8] = b"testdom";
const OTHER_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

struct Running {
    udp: SocketAddr,
    tcp: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<YpServer>>,
}

impl Running {
    fn finish(mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap().stats().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn start(users: usize, allow: AllowList, limits: Limits) -> Running {
    let (u, g) = testdata::generate(users, 2);
    let (snap, _) = Snapshot::build("testdom", &u, &g, 777);
    let (us, ts) = bind_pair([0, 0, 0, 0].into(), 0).unwrap();
    let cfg = ServerConfig::new("testdom", &MapName::ALL, "testhost");
    let mut server = YpServer::new(cfg, allow, vec![us], vec![ts], limits).unwrap();
    server.set_snapshot(Arc::new(snap));
    let (ua, ta) = server.local_addrs();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = thread::spawn(move || {
        let mut poll = mio::Poll::new().unwrap();
        run_until(&mut server, &mut poll, 10, |_| s2.load(Ordering::SeqCst)).unwrap();
        server
    });
    let lo = |a: SocketAddr| SocketAddr::from((Ipv4Addr::LOCALHOST, a.port()));
    Running {
        udp: lo(ua[0]),
        tcp: lo(ta[0]),
        stop,
        thread: Some(thread),
    }
}

/// A TCP connection to `to` from source address `from`.
fn tcp_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    // A small receive window, so that the kernel cannot take a whole ALL
    // answer off the server's hands.
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(SocketAddrV4::new(from, 0)),
    )
    .unwrap();
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(to)).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn call(xid: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    encode_call(xid, proto::YPPROG, 2, proc_, args)
}

fn match_call(xid: u32) -> Vec<u8> {
    call(
        xid,
        proto::YPPROC_MATCH,
        &proto::encode_key(DOM, b"passwd.byname", b"user00042"),
    )
}

/// One MATCH over TCP on `s`: whether it was answered TRUE.
fn tcp_match(s: &mut TcpStream, xid: u32) -> bool {
    if s.write_all(&encode_record(&match_call(xid))).is_err() {
        return false;
    }
    let mut h = [0u8; 4];
    if s.read_exact(&mut h).is_err() {
        return false;
    }
    let mut body = vec![0u8; (u32::from_be_bytes(h) & 0x7fff_ffff) as usize];
    if s.read_exact(&mut body).is_err() {
        return false;
    }
    client::success_body(&body, xid)
        .ok()
        .and_then(client::resp_val)
        .is_some_and(|(st, _)| st == YpStat::True)
}

/// Whether the server closed `s` (EOF or reset within 2 s, reading and
/// discarding whatever was still on its way).
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => {}
        }
    }
    false
}

fn start_all(s: &mut TcpStream, map: &[u8]) {
    s.write_all(&encode_record(&call(
        1,
        proto::YPPROC_ALL,
        &proto::encode_nokey(DOM, map),
    )))
    .unwrap();
}

#[test]
fn one_host_gets_its_share_of_tcp_connections_and_others_are_served() {
    let limits = Limits {
        max_conns: 8,
        max_conns_per_host: 3,
        ..Limits::default()
    };
    let r = start(100, AllowList::default(), limits);
    let mut mine: Vec<TcpStream> = (0..6)
        .map(|_| tcp_from(Ipv4Addr::LOCALHOST, r.tcp))
        .collect();
    thread::sleep(Duration::from_millis(100));
    let mut answered = 0;
    for (i, s) in mine.iter_mut().enumerate() {
        if tcp_match(s, 10 + i as u32) {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "127.0.0.1 holds 3 of 8 slots at most");
    // The other host still finds room.
    let mut other = tcp_from(OTHER_HOST, r.tcp);
    assert!(tcp_match(&mut other, 99), "127.0.0.2 must be served");
    let stats = r.finish();
    assert_eq!(stats.conns_rejected_per_host, 3, "{stats:?}");
    assert_eq!(stats.conns_rejected, 0, "{stats:?}");
}

#[test]
fn an_all_stream_read_too_slowly_is_closed() {
    let limits = Limits {
        all_min_rate: 4_000_000,
        all_rate_grace: Duration::from_millis(300),
        ..Limits::default()
    };
    // About 8 MB of answer: more than the kernel buffers between us.
    let r = start(100_000, AllowList::default(), limits);
    let mut slow = tcp_from(Ipv4Addr::LOCALHOST, r.tcp);
    start_all(&mut slow, b"passwd.byname");
    // Never read: the socket buffers fill, the rate falls to nothing.
    thread::sleep(Duration::from_millis(1500));
    let mut other = tcp_from(OTHER_HOST, r.tcp);
    assert!(tcp_match(&mut other, 5));
    assert!(closed(&mut slow), "the stalled ALL stream must be closed");
    let stats = r.finish();
    assert_eq!(stats.all_closed_slow, 1, "{stats:?}");
    // Not the idle timeout (30 s) that closed it.
    assert_eq!(stats.conns_closed_idle, 0, "{stats:?}");
}

#[test]
fn an_all_stream_past_its_lifetime_is_closed() {
    let limits = Limits {
        all_min_rate: 0,
        all_lifetime: Duration::from_secs(1),
        ..Limits::default()
    };
    let r = start(100_000, AllowList::default(), limits);
    let mut reader = tcp_from(Ipv4Addr::LOCALHOST, r.tcp);
    start_all(&mut reader, b"passwd.byname");
    // A steady reader, 40 KB/s, for 2 s: 100,000 users (about 9 MB)
    // would take minutes.
    let mut got = 0usize;
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        got += reader.read(&mut buf).unwrap_or(0);
        thread::sleep(Duration::from_millis(100));
    }
    // Cut at 1 s: what the kernel had queued still arrives, then EOF.
    reader
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut big = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut big) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("no EOF after {got} bytes: {e}"),
        }
    }
    assert!(got < 7_000_000, "read {got} bytes: the stream was not cut");
    let stats = r.finish();
    assert_eq!(stats.all_closed_lifetime, 1, "{stats:?}");
}

/// Sends `n` MATCH requests from `sock` as fast as they go and counts the
/// answers that come back within a second after.
fn udp_burst(sock: &UdpSocket, to: SocketAddr, n: u32) -> u32 {
    for xid in 0..n {
        sock.send_to(&match_call(xid), to).unwrap();
        if xid % 50 == 49 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    sock.set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut answers = 0;
    let mut buf = [0u8; 2048];
    while sock.recv(&mut buf).is_ok() {
        answers += 1;
    }
    answers
}

#[test]
fn udp_answers_to_sources_outside_the_allow_list_are_limited_by_rate() {
    let limits = Limits {
        udp_rate: 20,
        ..Limits::default()
    };
    let r = start(100, AllowList::default(), limits.clone());
    let flood = UdpSocket::bind((OTHER_HOST, 0)).unwrap();
    let answered = udp_burst(&flood, r.udp, 300);
    // A burst of 20, then 20 a second: well under 300 in about 1.2 s.
    assert!((20..=60).contains(&answered), "{answered} of 300 answered");
    // Each source has its own budget: 127.0.0.1 is answered meanwhile.
    let me = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    assert_eq!(udp_burst(&me, r.udp, 5), 5);
    let stats = r.finish();
    assert!(stats.udp_rate_limited >= 240, "{stats:?}");

    // A source in the allow list is never limited.
    let allow = AllowList {
        nets: vec![Net {
            addr: IpAddr::V4(OTHER_HOST),
            prefix: 32,
        }],
    };
    let r = start(100, allow, limits);
    let known = UdpSocket::bind((OTHER_HOST, 0)).unwrap();
    assert_eq!(udp_burst(&known, r.udp, 200), 200);
    assert_eq!(r.finish().udp_rate_limited, 0);
}
