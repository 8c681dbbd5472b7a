//! ypldap-client's life: adopt fd 3, enter the sandbox, greet ypldapd, then
//! serve its requests until the link closes.

use std::process::ExitCode;

use ipc_proto::{Channel, ClientToParent, Level, LinkError, ParentToClient, spawn::adopt_link};

fn main() -> ExitCode {
    privsep::ignore_terminal_signals();
    let link = match adopt_link() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ypldap-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let entered = privsep::enter(&ypldap_client::sandbox::confinement());
    let mut chan: Channel<ParentToClient, ClientToParent> = match Channel::open(link) {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    match entered {
        Ok(e) => chan.log(
            Level::Debug,
            format!("ypldap-client: sandboxed: {}", e.notes.join("; ")),
        ),
        Err(e) => {
            chan.log(Level::Error, format!("ypldap-client: sandbox: {e}"));
            return ExitCode::FAILURE;
        }
    }
    loop {
        match chan.recv() {
            Ok(None) => {}
            Ok(Some(r)) => handle(&chan, r.message),
            Err(LinkError::Closed) => return ExitCode::SUCCESS,
            Err(e) => {
                chan.log(Level::Error, format!("ypldap-client: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
}

fn handle(chan: &Channel<ParentToClient, ClientToParent>, msg: ParentToClient) {
    match msg {
        ParentToClient::Update { update } => {
            let _ = chan.send(
                &ClientToParent::UpdateFailed {
                    update,
                    reason: "reading LDAP directories is not built yet".into(),
                },
                &[],
            );
        }
        other => chan.log(
            Level::Debug,
            format!(
                "ypldap-client: received {}",
                ipc_proto::Message::kind(&other)
            ),
        ),
    }
}
