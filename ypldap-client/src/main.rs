//! ypldap-client's life: adopt fd 3, enter the sandbox, greet ypldapd, then
//! serve its requests until the link closes.

use std::process::ExitCode;

use ipc_proto::{Channel, ClientToParent, Level, ParentToClient, helper};

const NAME: &str = "ypldap-client";

fn main() -> ExitCode {
    privsep::ignore_terminal_signals();
    let Some(mut chan) = helper::start::<ParentToClient, ClientToParent>(NAME, || {
        privsep::enter(&ypldap_client::sandbox::confinement())
            .map(|e| e.notes)
            .map_err(|e| e.to_string())
    }) else {
        return ExitCode::FAILURE;
    };
    helper::serve(NAME, &mut chan, |chan, r| handle(chan, r.message))
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
            format!("{NAME}: received {}", ipc_proto::Message::kind(&other)),
        ),
    }
}
