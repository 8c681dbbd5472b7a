//! ypldap-dns's life: read its ports from the command line, adopt fd 3,
//! enter the sandbox, greet ypldapd, then answer its requests until the link
//! closes.

use std::process::ExitCode;

use std::os::fd::AsFd;

use ipc_proto::{Channel, ConnectFailure, Connection, DnsToParent, Level, ParentToDns, helper};
use ypldap_dns::broker::Broker;

const NAME: &str = "ypldap-dns";
const USAGE: &str =
    "usage: ypldap-dns --connect-ports PORT[,PORT...] [--accept-no-landlock] (started by ypldapd)";

fn main() -> ExitCode {
    privsep::ignore_terminal_signals();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (args, accept_no_landlock) = match args.split_last() {
        Some((last, rest)) if last == privsep::ACCEPT_NO_LANDLOCK => (rest, true),
        _ => (args.as_slice(), false),
    };
    let ports = match args {
        [flag, ports] if flag == "--connect-ports" => {
            match ypldap_dns::sandbox::parse_ports(ports) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{NAME}: {e}\n{USAGE}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let mut broker = None;
    let Some(mut chan) = helper::start::<ParentToDns, DnsToParent>(NAME, || {
        // The resolver reads its files now, before the sandbox.
        let b = Broker::new().map_err(|e| format!("cannot start the resolver: {e}"))?;
        broker = Some(b);
        let mut confinement = ypldap_dns::sandbox::confinement(&ports);
        confinement.accept_no_landlock = accept_no_landlock;
        privsep::enter(&confinement)
            .map(|e| helper::Sandboxed {
                notes: e.notes,
                warnings: e.warnings,
            })
            .map_err(|e| e.to_string())
    }) else {
        return ExitCode::FAILURE;
    };
    let Some(mut broker) = broker else {
        return ExitCode::FAILURE;
    };
    if let Err(e) = limit_descriptors(&chan) {
        chan.log(Level::Error, format!("{NAME}: sandbox: {e}"));
        return ExitCode::FAILURE;
    }
    if let Some(note) = &broker.resolver_note {
        chan.log(Level::Warning, format!("{NAME}: {note}"));
    }
    helper::serve(NAME, &mut chan, |chan, r| {
        handle(chan, &mut broker, r.message);
    })
}

/// FreeBSD: fds 0–2 and the link limited to what the broker does with
/// them (a no-op elsewhere). Before the first message is read.
fn limit_descriptors(chan: &Channel<ParentToDns, DnsToParent>) -> Result<(), String> {
    privsep::rights::limit_stdio().map_err(|e| e.to_string())?;
    privsep::rights::limit(chan, &ypldap_dns::sandbox::LINK).map_err(|e| e.to_string())
}

fn handle(chan: &mut Channel<ParentToDns, DnsToParent>, broker: &mut Broker, msg: ParentToDns) {
    match msg {
        ParentToDns::Configure { directories } => broker.configure(directories),
        ParentToDns::Connect { request, directory } => {
            match broker
                .connect(directory)
                .map_err(|e| e.to_string())
                .and_then(|(stream, addr)| {
                    privsep::rights::limit(&stream, &ypldap_dns::sandbox::DIRECTORY_SOCKET)
                        .map(|()| (stream, addr))
                        .map_err(|e| e.to_string())
                }) {
                Ok((stream, addr)) => {
                    let _ = chan.send(
                        &DnsToParent::Connected(Connection {
                            request,
                            directory,
                            address: addr.to_string(),
                        }),
                        &[stream.as_fd()],
                    );
                }
                Err(error) => {
                    let _ = chan.send(
                        &DnsToParent::ConnectFailed(ConnectFailure {
                            request,
                            directory,
                            error,
                        }),
                        &[],
                    );
                }
            }
        }
    }
}
