//! The real YP transport on loopback, in this process, spoken to with raw
//! RPC over UDP and TCP (no rpcbind, no client tools needed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use yp_proto::client;
use yp_proto::maps::MapName;
use yp_proto::proto::{self, YpStat};
use yp_proto::record::encode_record;
use yp_proto::rpc::encode_call;
use yp_proto::{AllowList, ServerConfig, Snapshot, testdata};
use ypldapd::yp::bind::bind_pair;
use ypldapd::yp::server::run_until;
use ypldapd::yp::{Limits, YpServer};

const DOM: &[u8] = b"testdom";

struct Running {
    udp: SocketAddr,
    tcp: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<YpServer>>,
}

impl Running {
    fn finish(mut self) -> YpServer {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn start(users: usize, groups: usize, limits: Limits) -> Running {
    let (u, g) = testdata::generate(users, groups);
    let (snap, rep) = Snapshot::build("testdom", &u, &g, 777);
    assert_eq!(rep.dropped(), 0);
    let (us, ts) = bind_pair([127, 0, 0, 1].into(), 0).unwrap();
    let cfg = ServerConfig::new("testdom", &MapName::ALL, "testhost");
    let mut server = YpServer::new(cfg, AllowList::default(), vec![us], vec![ts], limits).unwrap();
    server.set_snapshot(Arc::new(snap));
    let (ua, ta) = server.local_addrs();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = thread::spawn(move || {
        let mut poll = mio::Poll::new().unwrap();
        run_until(&mut server, &mut poll, 10, |_| s2.load(Ordering::SeqCst)).unwrap();
        server
    });
    Running {
        udp: ua[0],
        tcp: ta[0],
        stop,
        thread: Some(thread),
    }
}

fn udp_call(to: SocketAddr, xid: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&encode_call(xid, proto::YPPROG, 2, proc_, args), to)
        .unwrap();
    let mut buf = vec![0; 65536];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    client::success_body(&buf[..n], xid).unwrap().to_vec()
}

fn read_record(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let h = u32::from_be_bytes(h);
        let mut frag = vec![0; (h & 0x7fff_ffff) as usize];
        s.read_exact(&mut frag).unwrap();
        out.extend(frag);
        if h & 0x8000_0000 != 0 {
            return out;
        }
    }
}

fn tcp_connect(to: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn tcp_call(s: &mut TcpStream, xid: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    s.write_all(&encode_record(&encode_call(
        xid,
        proto::YPPROG,
        2,
        proc_,
        args,
    )))
    .unwrap();
    let rec = read_record(s);
    client::success_body(&rec, xid).unwrap().to_vec()
}

fn check_match(r: &Running) {
    let b = udp_call(
        r.udp,
        1,
        3,
        &proto::encode_key(DOM, b"passwd.byname", b"user00042"),
    );
    let (st, v) = client::resp_val(&b).unwrap();
    assert_eq!(st, YpStat::True);
    assert_eq!(
        v,
        b"user00042:x:10042:100:Test User 42:/home/user00042:/bin/sh"
    );
    let mut t = tcp_connect(r.tcp);
    let b = tcp_call(
        &mut t,
        2,
        3,
        &proto::encode_key(DOM, b"passwd.byuid", b"10042"),
    );
    assert_eq!(client::resp_val(&b).unwrap().0, YpStat::True);
}

#[test]
fn match_first_next_all() {
    let r = start(3000, 50, Limits::default());
    check_match(&r);
    // the caller is on an unprivileged port: no password hashes
    let b = udp_call(
        r.udp,
        3,
        3,
        &proto::encode_key(DOM, b"master.passwd.byname", b"user00001"),
    );
    assert_eq!(client::resp_val(&b).unwrap().0, YpStat::YpErr);
    // from a reserved port (when this test runs as root) the hashes are served
    if let Some(s) = (600..1024).find_map(|p| UdpSocket::bind(("127.0.0.1", p)).ok()) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let args = proto::encode_key(DOM, b"master.passwd.byname", b"user00001");
        s.send_to(&encode_call(9, proto::YPPROG, 2, 3, &args), r.udp)
            .unwrap();
        let mut buf = vec![0; 4096];
        let (n, _) = s.recv_from(&mut buf).unwrap();
        let (st, v) = client::resp_val(client::success_body(&buf[..n], 9).unwrap()).unwrap();
        assert_eq!(st, YpStat::True);
        assert!(v.starts_with(b"user00001:$6$salt1$hash:10001:100::0:0:"));
    }
    // FIRST/NEXT walk over UDP
    let mut keys = Vec::new();
    let mut b = udp_call(r.udp, 4, 4, &proto::encode_nokey(DOM, b"group.byname"));
    loop {
        let (st, k, _) = client::resp_key_val(&b).unwrap();
        if st == YpStat::NoMore {
            break;
        }
        assert_eq!(st, YpStat::True);
        keys.push(k.clone());
        b = udp_call(r.udp, 5, 5, &proto::encode_key(DOM, b"group.byname", &k));
    }
    assert_eq!(keys.len(), 50);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    // ALL over TCP: many fragments, then the connection is still usable
    let mut t = tcp_connect(r.tcp);
    let b = tcp_call(&mut t, 6, 8, &proto::encode_nokey(DOM, b"passwd.byname"));
    let (entries, end) = client::resp_all(&b).unwrap();
    assert_eq!(end, YpStat::NoMore);
    assert_eq!(entries.len(), 3000);
    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
    let b = tcp_call(&mut t, 7, 10, &proto::encode_nokey(DOM, b"passwd.byname"));
    assert_eq!(client::resp_order(&b).unwrap(), (YpStat::True, 777));
    // pipelined requests in one write, answered in order
    let mut data = Vec::new();
    for xid in 100..110u32 {
        data.extend(encode_record(&encode_call(
            xid,
            proto::YPPROG,
            2,
            9,
            &proto::encode_nokey(DOM, b"group.bygid"),
        )));
    }
    t.write_all(&data).unwrap();
    for xid in 100..110u32 {
        let rec = read_record(&mut t);
        let b = client::success_body(&rec, xid).unwrap();
        assert_eq!(
            client::resp_master(b).unwrap(),
            (YpStat::True, b"testhost".to_vec())
        );
    }
    let server = r.finish();
    assert!(server.stats().udp_requests >= 52);
}

#[test]
fn slow_all_reader_does_not_stall_others() {
    let r = start(20000, 10, Limits::default());
    let mut slow = tcp_connect(r.tcp);
    slow.write_all(&encode_record(&encode_call(
        1,
        proto::YPPROG,
        2,
        8,
        &proto::encode_nokey(DOM, b"master.passwd.byname"),
    )))
    .unwrap();
    let mut slow2 = tcp_connect(r.tcp);
    slow2
        .write_all(&encode_record(&encode_call(
            1,
            proto::YPPROG,
            2,
            8,
            &proto::encode_nokey(DOM, b"passwd.byuid"),
        )))
        .unwrap();
    // Both streams have begun: their first bytes are waiting.
    for s in [&slow, &slow2] {
        let mut first = [0u8; 4];
        assert!(s.peek(&mut first).unwrap() > 0, "ALL began streaming");
    }
    let t0 = Instant::now();
    for _ in 0..20 {
        check_match(&r);
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // the slow reader eventually gets everything
    let rec = read_record(&mut slow2);
    let (entries, end) = client::resp_all(client::success_body(&rec, 1).unwrap()).unwrap();
    assert_eq!((entries.len(), end), (20000, YpStat::NoMore));
    let rec = read_record(&mut slow);
    let (entries, _) = client::resp_all(client::success_body(&rec, 1).unwrap()).unwrap();
    assert!(
        entries.is_empty(),
        "unprivileged caller must get YP_YPERR, not hashes"
    );
}

#[test]
fn limits_idle_and_connections() {
    let limits = Limits {
        max_conns: 4,
        idle: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = start(100, 2, limits);
    // Four connections the server holds: each has been answered once.
    let mut held: Vec<TcpStream> = (0..4).map(|_| tcp_connect(r.tcp)).collect();
    for (xid, h) in (20u32..).zip(&mut held) {
        let b = tcp_call(h, xid, 0, &[]);
        assert!(b.is_empty(), "NULL answers nothing");
    }
    let answered = Instant::now();
    let mut extra = tcp_connect(r.tcp);
    assert_closed(&mut extra, "fifth connection");
    // idle connections are closed, once idle for 300 ms
    for h in &mut held {
        assert_closed(h, "idle connection");
    }
    assert!(answered.elapsed() >= Duration::from_millis(300));
    // an oversized record closes the connection
    let mut t = tcp_connect(r.tcp);
    t.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
    assert_closed(&mut t, "connection with an oversized record");
    check_match(&r);
    let server = r.finish();
    assert!(server.stats().conns_rejected >= 1);
    assert!(server.stats().conns_closed_idle >= 4);
    assert_eq!(server.stats().conns_closed_bad_record, 1);
}

/// Waits (at most the connection's read timeout) until the server closes
/// `s`: end of stream or a reset, never data and never a timeout.
fn assert_closed(s: &mut TcpStream, what: &str) {
    let mut b = [0u8; 4];
    match s.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: not closed by the server: {other:?}"),
    }
}

/// xorshift: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Up to `max - 1` random bytes.
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.next() % max;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn robustness_random_datagrams_and_streams() {
    let r = start(100, 5, Limits::default());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let valid = encode_call(
        5,
        proto::YPPROG,
        2,
        3,
        &proto::encode_key(DOM, b"passwd.byname", b"user00001"),
    );
    for i in 0..10_000 {
        let msg = match i % 3 {
            // pure noise
            0 => rng.bytes(1500),
            // a valid call with random corruption or truncation
            1 => {
                let mut m = valid.clone();
                for _ in 0..(1 + rng.next() % 4) {
                    let p = (rng.next() as usize) % m.len();
                    m[p] = rng.next() as u8;
                }
                m.truncate(1 + (rng.next() as usize) % m.len());
                m
            }
            // a valid header with random args and procedure
            _ => {
                let p = (rng.next() % 14) as u32;
                encode_call(9, proto::YPPROG, 2, p, &rng.bytes(200))
            }
        };
        let _ = s.send_to(&msg, r.udp);
        if i % 500 == 0 {
            // let the server catch up so the socket buffer does not drop them all
            thread::sleep(Duration::from_millis(5));
        }
    }
    for i in 0..500 {
        let Ok(mut t) = TcpStream::connect(r.tcp) else {
            continue;
        };
        let mut data = Vec::new();
        match i % 2 {
            0 => data = rng.bytes(3000),
            _ => {
                for _ in 0..(1 + rng.next() % 5) {
                    let mut m = valid.clone();
                    let p = (rng.next() as usize) % m.len();
                    m[p] = rng.next() as u8;
                    data.extend(encode_record(&m));
                }
                data.extend(rng.bytes(16));
            }
        }
        let _ = t.write_all(&data);
        // close without reading: the server must cope with resets
    }
    check_match(&r);
    let server = r.finish();
    assert!(server.stats().udp_requests > 1000);
}
