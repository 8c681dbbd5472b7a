//! A YP server with generated maps, for end-to-end tests with real NIS
//! clients (ypcat, ypmatch, yppoll, getent through libnss-nis) inside a
//! test namespace, and for benchmarks.
//!
//! ```text
//! yp-testserver [--users N] [--groups M] [--domain D] [--local]
//!               [--binding-dir DIR] [--no-register] [--seconds S] [--stdin-stop]
//! ```
//!
//! Binds reserved ports when allowed (root), else any ports; registers with
//! rpcbind on 127.0.0.1:111 (retrying for up to 10 s) unless `--local` (then
//! binds 127.0.0.1 only and writes DIR/DOMAIN.2, default /var/yp/binding)
//! or `--no-register`. Prints `ready udp=PORT tcp=PORT` on stdout once it
//! serves, logs on stderr. Stops after S seconds, on stdin EOF with
//! `--stdin-stop`, or when killed; UNSETs its registration when it stops
//! by itself.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use yp_proto::maps::MapName;
use yp_proto::{AllowList, ServerConfig, Snapshot, proto, testdata};
use ypldapd::yp::rpcbind::{Rpcbind, RpcbindError};
use ypldapd::yp::{Limits, YpServer, bind, binding_file, server};

struct Args {
    users: usize,
    groups: usize,
    domain: String,
    local: bool,
    binding_dir: PathBuf,
    register: bool,
    seconds: Option<u64>,
    stdin_stop: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        users: 1000,
        groups: 100,
        domain: "ypldap.test".into(),
        local: false,
        binding_dir: PathBuf::from(binding_file::BINDING_DIR),
        register: true,
        seconds: None,
        stdin_stop: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--users" => a.users = val()?.parse().map_err(|e| format!("--users: {e}"))?,
            "--groups" => a.groups = val()?.parse().map_err(|e| format!("--groups: {e}"))?,
            "--domain" => a.domain = val()?,
            "--local" => a.local = true,
            "--binding-dir" => a.binding_dir = val()?.into(),
            "--no-register" => a.register = false,
            "--seconds" => a.seconds = Some(val()?.parse().map_err(|e| format!("--seconds: {e}"))?),
            "--stdin-stop" => a.stdin_stop = true,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(a)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("yp-testserver: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let t0 = Instant::now();
    let (users, groups) = testdata::generate(args.users, args.groups);
    let (snap, rep) = Snapshot::build_now(&args.domain, &users, &groups);
    eprintln!(
        "yp-testserver: {} users, {} groups, {} netid, {} KiB, built in {:?}",
        rep.users_kept,
        rep.groups_kept,
        rep.netid_entries,
        snap.memory_bytes() / 1024,
        t0.elapsed()
    );

    let (udp, tcp) = match bind::bind_yp_sockets(args.local, true) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            eprintln!("yp-testserver: not root: using unreserved ports");
            bind::bind_yp_sockets(args.local, false)?
        }
        r => r?,
    };
    let udp_port = udp[0].local_addr()?.port();
    let tcp_port = tcp[0].local_addr()?.port();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let cfg = ServerConfig::new(&args.domain, &MapName::ALL, &host);
    let mut srv = YpServer::new(cfg, AllowList::default(), udp, tcp, Limits::default())?;
    srv.set_snapshot(Arc::new(snap));

    let mut _binding = None;
    let mut rpcb = None;
    if args.local {
        _binding = Some(binding_file::write_binding_file(
            &args.binding_dir,
            &args.domain,
            std::net::Ipv4Addr::LOCALHOST,
            udp_port,
            tcp_port,
        )?);
    } else if args.register {
        let mut rb = match Rpcbind::open(true) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Rpcbind::open(false)?,
            r => r?,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rb.register(proto::YPPROG, proto::YPVERS, Some(udp_port), Some(tcp_port)) {
                Ok(()) => break,
                Err(e @ (RpcbindError::NotRunning | RpcbindError::Timeout))
                    if Instant::now() < deadline =>
                {
                    eprintln!("yp-testserver: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e.into()),
            }
        }
        rpcb = Some(rb);
    }
    println!("ready udp={udp_port} tcp={tcp_port}");
    io::stdout().flush()?;

    let stop = Arc::new(AtomicBool::new(false));
    if args.stdin_stop {
        let s = stop.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while io::stdin()
                .lock()
                .read_line(&mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                line.clear();
            }
            s.store(true, Ordering::SeqCst);
        });
    }
    let end = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut poll = mio::Poll::new()?;
    server::run_until(&mut srv, &mut poll, 0, |s| {
        for (level, text) in s.drain_logs() {
            eprintln!("yp-testserver: {level:?}: {text}");
        }
        stop.load(Ordering::SeqCst) || end.is_some_and(|e| Instant::now() >= e)
    })?;
    if let Some(mut rb) = rpcb {
        rb.unregister(proto::YPPROG, proto::YPVERS)?;
    }
    eprintln!("yp-testserver: stopped; {:?}", srv.stats());
    Ok(())
}
