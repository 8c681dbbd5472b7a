//! The first steps every helper takes, in this order: adopt fd 3, enter
//! its sandbox, greet ypldapd, report how the sandbox went.

use std::process::ExitCode;

use crate::channel::{Channel, LogMessage};
use crate::link::{LinkError, Received};
use crate::messages::{Level, Message};
use crate::spawn::adopt_link;

/// How a helper's sandbox went, for ypldapd's log: notes (debug level) and
/// what is confined less than the policy says (warning level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sandboxed {
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

/// Adopts the link (closing every other inherited descriptor), calls
/// `enter_sandbox` (which opens what the helper needs, enters the sandbox
/// and says how it went, or why it failed), then opens the channel. Before
/// any message is read.
/// Returns `None` after reporting a failure (on stderr when there is no link
/// yet, otherwise to ypldapd); the helper then exits with failure.
pub fn start<I: Message, O: LogMessage>(
    name: &str,
    enter_sandbox: impl FnOnce() -> Result<Sandboxed, String>,
) -> Option<Channel<I, O>> {
    let link = match adopt_link() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: {e}");
            return None;
        }
    };
    let entered = enter_sandbox();
    let chan = Channel::<I, O>::open(link).ok()?;
    match entered {
        Ok(report) => {
            chan.log(
                Level::Debug,
                format!("{name}: sandboxed: {}", report.notes.join("; ")),
            );
            for w in report.warnings {
                chan.log(Level::Warning, w);
            }
            Some(chan)
        }
        Err(e) => {
            chan.log(Level::Error, format!("{name}: sandbox: {e}"));
            None
        }
    }
}

/// Receives messages and hands each to `handle` until the link closes
/// (success) or breaks the protocol (failure, reported to ypldapd).
pub fn serve<I: Message + serde::de::DeserializeOwned, O: LogMessage>(
    name: &str,
    chan: &mut Channel<I, O>,
    mut handle: impl FnMut(&mut Channel<I, O>, Received<I>),
) -> ExitCode {
    loop {
        match chan.recv() {
            Ok(None) => {}
            Ok(Some(r)) => handle(chan, r),
            Err(LinkError::Closed) => return ExitCode::SUCCESS,
            Err(e) => {
                chan.log(Level::Error, format!("{name}: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
}
