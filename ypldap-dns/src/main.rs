//! ypldap-dns's life: read its ports from the command line, adopt fd 3,
//! enter the sandbox, greet ypldapd, then answer its requests until the link
//! closes.

use std::process::ExitCode;

use ipc_proto::{Channel, DnsToParent, Level, ParentToDns, helper};

const NAME: &str = "ypldap-dns";
const USAGE: &str = "usage: ypldap-dns --connect-ports PORT[,PORT...] (started by ypldapd)";

fn main() -> ExitCode {
    privsep::ignore_terminal_signals();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ports = match args.as_slice() {
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
    let Some(mut chan) = helper::start::<ParentToDns, DnsToParent>(NAME, || {
        privsep::enter(&ypldap_dns::sandbox::confinement(&ports))
            .map(|e| e.notes)
            .map_err(|e| e.to_string())
    }) else {
        return ExitCode::FAILURE;
    };
    helper::serve(NAME, &mut chan, |chan, r| handle(chan, r.message))
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
            format!("{NAME}: received {}", ipc_proto::Message::kind(&other)),
        ),
    }
}
