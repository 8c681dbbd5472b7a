//! A YP load generator against the YP server registered with rpcbind on
//! 127.0.0.1 (run it inside the server's network namespace). Loopback only.
//!
//! usage: yp-load udp|tcp DOMAIN MAP [INFLIGHT [SECONDS [MAX_REQUESTS [RATE]]]]
//!        yp-load all DOMAIN MAP [TIMES]
//!
//! `udp` and `tcp` first read the map's keys with YPPROC_ALL, then send
//! MATCH requests for keys drawn at random: closed loop with INFLIGHT
//! (default 32) outstanding, or paced at RATE requests per second; they
//! stop after SECONDS (default 5) or MAX_REQUESTS (default 10 million) and
//! print requests per second, p50, p99 and p99.9 latency. `all` times
//! YPPROC_ALL over TCP.

use std::time::Duration;

use bench::load::{self, LoadSpec};

fn arg<T: std::str::FromStr>(a: &[String], i: usize, default: T) -> T {
    a.get(i)
        .map(|s| s.parse().unwrap_or_else(|_| usage()))
        .unwrap_or(default)
}

fn usage() -> ! {
    eprintln!(
        "usage: yp-load udp|tcp DOMAIN MAP [INFLIGHT [SECONDS [MAX_REQUESTS [RATE]]]]\n       yp-load all DOMAIN MAP [TIMES]"
    );
    std::process::exit(2)
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 {
        usage();
    }
    let (domain, map) = (a[1].clone(), a[2].clone());
    let (udp, tcp) = load::yp_ports().unwrap_or_else(|e| {
        eprintln!("yp-load: {e}");
        std::process::exit(1)
    });
    match a[0].as_str() {
        "all" => {
            for _ in 0..arg(&a, 3, 1u32) {
                match load::all(tcp, &domain, &map) {
                    Ok(r) => println!(
                        "all {map}: {} entries, {} bytes of keys and values, {:.1} ms",
                        r.entries,
                        r.bytes,
                        r.elapsed.as_secs_f64() * 1e3
                    ),
                    Err(e) => {
                        eprintln!("yp-load: {e}");
                        std::process::exit(1)
                    }
                }
            }
        }
        proto @ ("udp" | "tcp") => {
            let (_, entries) = load::all_entries(tcp, &domain, &map).unwrap_or_else(|e| {
                eprintln!("yp-load: reading the keys: {e}");
                std::process::exit(1)
            });
            let rate: f64 = arg(&a, 6, 0.0);
            let spec = LoadSpec {
                domain,
                map,
                keys: entries
                    .into_iter()
                    .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
                    .collect(),
                inflight: arg(&a, 3, 32),
                duration: Duration::from_secs_f64(arg(&a, 4, 5.0)),
                max_requests: arg(&a, 5, 10_000_000),
                rate: (rate > 0.0).then_some(rate),
                timeout: Duration::from_secs(1),
                stop: None,
            };
            let r = if proto == "udp" {
                load::udp_match(udp, &spec, 0x5eed)
            } else {
                load::tcp_match(tcp, &spec, 0x5eed)
            }
            .unwrap_or_else(|e| {
                eprintln!("yp-load: {e}");
                std::process::exit(1)
            });
            let l = r.latencies();
            println!(
                "{proto} MATCH, {} in flight: {:.0} req/s, p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us ({} ok, {} bad, {} lost, {:.2} s)",
                spec.inflight,
                r.rps(),
                l.q_us(0.5),
                l.q_us(0.99),
                l.q_us(0.999),
                l.max_us(),
                r.ok,
                r.bad,
                r.lost,
                r.elapsed.as_secs_f64()
            );
        }
        _ => usage(),
    }
}
