//! ypldap-dns's life: adopt fd 3, read its ports from the command line, enter
//! the sandbox, greet ypldapd, then answer its requests until the link closes.

use std::process::ExitCode;

use ipc_proto::{Channel, DnsToParent, Level, LinkError, ParentToDns, spawn::adopt_link};

const USAGE: &str = "usage: ypldap-dns --connect-ports PORT[,PORT...] (started by ypldapd)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ports = match args.as_slice() {
        [flag, ports] if flag == "--connect-ports" => match ypldap_dns::sandbox::parse_ports(ports)
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("ypldap-dns: {e}\n{USAGE}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    privsep::ignore_terminal_signals();
    let link = match adopt_link() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ypldap-dns: {e}");
            return ExitCode::FAILURE;
        }
    };
    let entered = privsep::enter(&ypldap_dns::sandbox::confinement(&ports));
    let mut chan: Channel<ParentToDns, DnsToParent> = match Channel::open(link) {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    match entered {
        Ok(e) => chan.log(
            Level::Debug,
            format!("ypldap-dns: sandboxed: {}", e.notes.join("; ")),
        ),
        Err(e) => {
            chan.log(Level::Error, format!("ypldap-dns: sandbox: {e}"));
            return ExitCode::FAILURE;
        }
    }
    loop {
        match chan.recv() {
            Ok(None) => {}
            Ok(Some(r)) => handle(&chan, r.message),
            Err(LinkError::Closed) => return ExitCode::SUCCESS,
            Err(e) => {
                chan.log(Level::Error, format!("ypldap-dns: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
}

fn handle(chan: &Channel<ParentToDns, DnsToParent>, msg: ParentToDns) {
    match msg {
        ParentToDns::Connect { request, directory } => {
            let _ = chan.send(
                &DnsToParent::ConnectFailed {
                    request,
                    directory,
                    error: "connecting to directories is not built yet".into(),
                },
                &[],
            );
        }
        other => chan.log(
            Level::Debug,
            format!("ypldap-dns: received {}", ipc_proto::Message::kind(&other)),
        ),
    }
}
