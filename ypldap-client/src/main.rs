//! ypldap-client's life: adopt fd 3, build its runtime, enter the sandbox,
//! greet ypldapd, then apply configurations and run updates on request
//! until the link closes.

use std::cell::RefCell;
use std::io;
use std::process::ExitCode;
use std::rc::Rc;

use ipc_proto::{ClientToParent, Level, LinkError, ParentToClient, helper};
use tokio::io::Interest;
use tokio::sync::mpsc;
use ypldap_client::config::Assembly;
use ypldap_client::hub::Hub;
use ypldap_client::sync::Sessions;
use ypldap_client::update::{self, ReadyDirectory};

const NAME: &str = "ypldap-client";
const USAGE: &str = "usage: ypldap-client [--accept-no-landlock] (started by ypldapd)";

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
    let Some(chan) = helper::start::<ParentToClient, ClientToParent<'static>>(NAME, || {
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
    let hub = match Hub::new(chan) {
        Ok(h) => Rc::new(h),
        Err(e) => {
            eprintln!("{NAME}: cannot use the link: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, serve(Rc::clone(&hub))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            hub.log(Level::Error, format!("{NAME}: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// The reader's life after the greeting: configurations are applied as
/// they come, updates run one at a time in their own task, and the link
/// is read whenever it is readable, so a broker's answer reaches the task
/// that waits for it while that task's update runs. Returns when ypldapd
/// closes the link; an error ends the helper (ypldapd restarts it).
async fn serve(hub: Rc<Hub>) -> Result<(), String> {
    // Readiness of the link comes through a duplicate of its descriptor
    // wrapped as a tokio socket; the link is still read (and written, with
    // its blocking sends) through the hub alone.
    let link = hub
        .link_fd()
        .map(std::os::unix::net::UnixStream::from)
        .and_then(tokio::net::UnixStream::from_std)
        .map_err(|e| format!("cannot watch the link: {e}"))?;
    let (updates, mut requested) = mpsc::unbounded_channel::<(u64, Vec<u32>)>();
    let dirs: Rc<RefCell<Rc<Vec<Rc<ReadyDirectory>>>>> = Rc::default();
    let sessions: Rc<RefCell<Sessions>> = Rc::default();
    let (failures, mut failed) = mpsc::unbounded_channel::<String>();
    // Updates in order, each with the configuration in force when it starts.
    let updater = {
        let (hub, dirs, sessions) = (Rc::clone(&hub), Rc::clone(&dirs), Rc::clone(&sessions));
        tokio::task::spawn_local(async move {
            while let Some((update, resumable)) = requested.recv().await {
                let current = Rc::clone(&dirs.borrow());
                if let Err(e) = update::run(&hub, &current, &sessions, update, &resumable).await {
                    let _ = failures.send(e.to_string());
                    return;
                }
            }
        })
    };
    let mut assembly: Option<Assembly> = None;
    let result = loop {
        tokio::select! {
            r = link.readable() => if let Err(e) = r {
                break Err(format!("waiting for the link: {e}"));
            },
            Some(e) = failed.recv() => break Err(e),
        }
        // Until nothing is left: tokio forgets the readiness when the
        // closure says `WouldBlock`.
        let received = link.try_io(Interest::READABLE, || match hub.try_recv() {
            Ok(Some(msg)) => Ok(Some(msg)),
            Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
            Err(LinkError::Closed) => Ok(None),
            Err(e) => Err(io::Error::other(e.to_string())),
        });
        match received {
            Ok(Some(msg)) => {
                if let Err(e) = handle(&hub, &mut assembly, &dirs, &sessions, &updates, msg) {
                    break Err(e);
                }
            }
            Ok(None) => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => break Err(e.to_string()),
        }
    };
    updater.abort();
    result
}

/// Handles one message. An error ends the helper.
fn handle(
    hub: &Hub,
    assembly: &mut Option<Assembly>,
    dirs: &RefCell<Rc<Vec<Rc<ReadyDirectory>>>>,
    sessions: &RefCell<Sessions>,
    updates: &mpsc::UnboundedSender<(u64, Vec<u32>)>,
    msg: ParentToClient,
) -> Result<(), String> {
    let protocol = |e: ypldap_client::config::ConfigError| format!("configuration: {e}");
    match msg {
        ParentToClient::ConfigBegin { directories, .. } => {
            *assembly = Some(Assembly::new(directories).map_err(protocol)?);
        }
        ParentToClient::Directory { index, settings } => assembly
            .as_mut()
            .ok_or("Directory outside a configuration")?
            .directory(index, *settings)
            .map_err(protocol)?,
        ParentToClient::Pem { index, kind, data } => assembly
            .as_mut()
            .ok_or("Pem outside a configuration")?
            .pem(index, kind, &data)
            .map_err(protocol)?,
        ParentToClient::ConfigEnd => {
            let a = assembly.take().ok_or("ConfigEnd without ConfigBegin")?;
            let ready = a.finish().map_err(protocol)?;
            for d in &ready {
                if let Err(e) = &d.tls {
                    hub.log(
                        Level::Error,
                        format!("directory {}: TLS configuration: {e}", d.settings.host),
                    );
                }
            }
            // Sessions were for the old configuration's directories.
            sessions.borrow_mut().clear();
            *dirs.borrow_mut() = Rc::new(ready.into_iter().map(Rc::new).collect());
        }
        ParentToClient::Cookie {
            directory,
            search,
            cookie,
        } => sessions.borrow_mut().restore(directory, search, cookie),
        ParentToClient::Update {
            update,
            mut resumable,
        } => {
            let s = sessions.borrow();
            // ypldapd keeps the entries of a session live now: one that
            // ends before the update runs (this update's poll failed) is
            // resumed by it, not read in full.
            let live: Vec<u32> = s.live().filter(|d| !resumable.contains(d)).collect();
            resumable.extend(live);
            // An interval has passed: the sessions that poll do, beside
            // the update (which leaves their directories alone).
            s.poll();
            updates
                .send((update, resumable))
                .map_err(|_| "the update task is gone".to_owned())?;
        }
        // Broker answers are routed by the hub and never come here.
        ParentToClient::Connected { .. } | ParentToClient::ConnectFailed { .. } => {}
    }
    Ok(())
}
