//! Resolving a directory's host name and connecting to its addresses in
//! turn. The resolver is hickory's: it reads `/etc/hosts` and
//! `/etc/resolv.conf` once, at start, and never goes through NSS (which on
//! a NIS client could ask ypldapd itself).

use std::fmt;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use ipc_proto::Endpoint;

/// How long one name lookup may take, all servers and retries included.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a directory could not be reached. Its text goes to ypldapd (and the
/// log) in `ConnectFailed`.
#[derive(Debug)]
pub enum ConnectError {
    /// ypldapd named a directory it never configured.
    NoSuchDirectory(u32),
    /// The name did not resolve (`reason` says how).
    Resolve { host: String, reason: String },
    /// Every address refused or timed out, each with its error.
    Connect {
        host: String,
        port: u16,
        failures: Vec<(SocketAddr, std::io::Error)>,
    },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::NoSuchDirectory(i) => write!(f, "no directory number {i}"),
            ConnectError::Resolve { host, reason } => {
                write!(f, "could not resolve {host:?}: {reason}")
            }
            ConnectError::Connect {
                host,
                port,
                failures,
            } => {
                write!(f, "cannot connect to {host} port {port}: ")?;
                for (i, (addr, e)) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{addr}: {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// The broker's state: the resolver (built before the sandbox), the runtime
/// it runs on, and the directories ypldapd named.
pub struct Broker {
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
    directories: Vec<Endpoint>,
    /// Set when `/etc/resolv.conf` could not be read: only `/etc/hosts` and
    /// address literals resolve.
    pub resolver_note: Option<String>,
}

impl Broker {
    /// Builds the runtime and the resolver. Reads the resolver's files, so
    /// it runs before the sandbox.
    pub fn new() -> std::io::Result<Broker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (builder, resolver_note) = match TokioResolver::builder_tokio() {
            Ok(b) => (b, None),
            Err(e) => (
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], vec![]),
                    TokioRuntimeProvider::default(),
                ),
                Some(format!(
                    "no usable /etc/resolv.conf ({e}): only /etc/hosts and addresses resolve"
                )),
            ),
        };
        let mut builder = builder;
        let opts = builder.options_mut();
        opts.use_hosts_file = ResolveHosts::Always;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 2;
        let resolver = {
            let _guard = runtime.enter();
            builder.build().map_err(std::io::Error::other)?
        };
        Ok(Broker {
            runtime,
            resolver,
            directories: Vec::new(),
            resolver_note,
        })
    }

    /// Replaces the directories (a new configuration).
    pub fn configure(&mut self, directories: Vec<Endpoint>) {
        self.directories = directories;
    }

    /// Resolves directory `index` and connects to its addresses in order.
    /// Returns the connected stream and the address, or an error naming
    /// every address tried and why it failed.
    pub fn connect(&self, index: u32) -> Result<(TcpStream, SocketAddr), ConnectError> {
        let ep = self
            .directories
            .get(index as usize)
            .ok_or(ConnectError::NoSuchDirectory(index))?;
        let addrs = self.resolve(&ep.host)?;
        let mut failures = Vec::new();
        for ip in addrs {
            let addr = SocketAddr::new(ip, ep.port);
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => return Ok((s, addr)),
                Err(e) => failures.push((addr, e)),
            }
        }
        Err(ConnectError::Connect {
            host: ep.host.clone(),
            port: ep.port,
            failures,
        })
    }

    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ConnectError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let failed = |reason: String| ConnectError::Resolve {
            host: host.to_owned(),
            reason,
        };
        let lookup = self.runtime.block_on(async {
            tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.lookup_ip(host)).await
        });
        match lookup {
            Err(_) => Err(failed("timed out".into())),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Ok(Ok(l)) => {
                let mut ips: Vec<IpAddr> = l.iter().collect();
                ips.dedup();
                if ips.is_empty() {
                    Err(failed("no addresses".into()))
                } else {
                    Ok(ips)
                }
            }
        }
    }
}
