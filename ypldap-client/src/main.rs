//! ypldap-client's life: adopt fd 3, build its runtime, enter the sandbox,
//! greet ypldapd, then apply configurations and run updates on request
//! until the link closes.

use std::collections::VecDeque;
use std::process::ExitCode;

use ipc_proto::{Channel, ClientToParent, Level, LinkError, ParentToClient, helper};
use ypldap_client::config::Assembly;
use ypldap_client::update::{self, ReadyDirectory};

const NAME: &str = "ypldap-client";
const USAGE: &str = "usage: ypldap-client [--accept-no-landlock] (started by ypldapd)";

struct State {
    runtime: tokio::runtime::Runtime,
    assembly: Option<Assembly>,
    dirs: Vec<ReadyDirectory>,
    next_request: u64,
    later: VecDeque<ParentToClient>,
}

fn main() -> ExitCode {
    privsep::ignore_terminal_signals();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let accept_no_landlock = match args.as_slice() {
        [] => false,
        [flag] if flag == privsep::ACCEPT_NO_LANDLOCK => true,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let mut runtime = None;
    let Some(mut chan) = helper::start::<ParentToClient, ClientToParent<'static>>(NAME, || {
        // The runtime's epoll and eventfd are made now, before the sandbox.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime = Some(rt);
        let mut confinement = ypldap_client::sandbox::confinement();
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
    let Some(runtime) = runtime else {
        return ExitCode::FAILURE;
    };
    // FreeBSD: fds 0–2 and the link limited to what the client does with
    // them (a no-op elsewhere), before the first message is read.
    if let Err(e) = privsep::rights::limit_stdio()
        .and_then(|()| privsep::rights::limit(&chan, &ypldap_client::sandbox::LINK))
    {
        chan.log(Level::Error, format!("{NAME}: sandbox: {e}"));
        return ExitCode::FAILURE;
    }
    let mut state = State {
        runtime,
        assembly: None,
        dirs: Vec::new(),
        next_request: 0,
        later: VecDeque::new(),
    };
    let mut failure = None;
    let code = helper::serve(NAME, &mut chan, |chan, r| {
        if failure.is_some() {
            return;
        }
        let mut queue = VecDeque::from([r.message]);
        while let Some(msg) = queue.pop_front() {
            if let Err(e) = handle(chan, &mut state, msg) {
                failure = Some(e);
                return;
            }
            queue.extend(state.later.drain(..));
        }
    });
    match failure {
        Some(e) => {
            chan.log(Level::Error, format!("{NAME}: {e}"));
            ExitCode::FAILURE
        }
        None => code,
    }
}

/// Handles one message. An error ends the helper (ypldapd restarts it).
fn handle(
    chan: &mut Channel<ParentToClient, ClientToParent<'static>>,
    st: &mut State,
    msg: ParentToClient,
) -> Result<(), String> {
    let protocol = |e: ypldap_client::config::ConfigError| format!("configuration: {e}");
    match msg {
        ParentToClient::ConfigBegin { directories, .. } => {
            st.assembly = Some(Assembly::new(directories).map_err(protocol)?);
        }
        ParentToClient::Directory { index, settings } => st
            .assembly
            .as_mut()
            .ok_or("Directory outside a configuration")?
            .directory(index, *settings)
            .map_err(protocol)?,
        ParentToClient::Pem { index, kind, data } => st
            .assembly
            .as_mut()
            .ok_or("Pem outside a configuration")?
            .pem(index, kind, &data)
            .map_err(protocol)?,
        ParentToClient::ConfigEnd => {
            let a = st.assembly.take().ok_or("ConfigEnd without ConfigBegin")?;
            st.dirs = a.finish().map_err(protocol)?;
            for d in &st.dirs {
                if let Err(e) = &d.tls {
                    chan.log(
                        Level::Error,
                        format!("directory {}: TLS configuration: {e}", d.settings.host),
                    );
                }
            }
        }
        ParentToClient::Update { update } => {
            update::run(
                chan,
                &st.runtime,
                &st.dirs,
                update,
                &mut st.next_request,
                &mut st.later,
            )
            .map_err(|e: LinkError| e.to_string())?;
        }
        // A late answer to an abandoned request: its socket is closed here.
        ParentToClient::Connected { .. } | ParentToClient::ConnectFailed { .. } => {}
    }
    Ok(())
}
