//! ypldapctl: one request to ypldapd's control socket, its answer printed.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::Duration;

use ctl_proto::{REPLY_CHUNK_BYTES, Reply, ReplyAssembler, Request};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, setsockopt, socket,
    sockopt,
};
use nix::sys::time::TimeVal;
use ypldapctl::{Output, cli, render};

/// How long ypldapctl waits for each part of the answer.
const WAIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let reply = match exchange(&opts.socket, opts.request) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ypldapctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    match render(&reply, opts.json) {
        Output::Out(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Output::Failed(text) => {
            eprintln!("ypldapctl: {text}");
            ExitCode::FAILURE
        }
    }
}

/// Connects to `path`, sends `request` and reads the reply to its end.
fn exchange(path: &str, request: Request) -> Result<Reply, String> {
    let sock = connect_to(path)?;
    let tv = TimeVal::new(WAIT.as_secs() as _, 0);
    setsockopt(&sock, sockopt::ReceiveTimeout, &tv).map_err(|e| format!("setsockopt: {e}"))?;
    setsockopt(&sock, sockopt::SendTimeout, &tv).map_err(|e| format!("setsockopt: {e}"))?;
    let bytes = ctl_proto::encode_request(request);
    loop {
        match send(sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => break,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(format!("{path}: sending the request: {e}")),
        }
    }
    let mut reply = ReplyAssembler::new();
    // One byte more than a datagram may hold: a larger one is cut short
    // by the kernel and seen here as too long.
    let mut buf = vec![0u8; REPLY_CHUNK_BYTES + 1];
    loop {
        match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(0) => break,
            Ok(n) => reply
                .push(&buf[..n])
                .map_err(|e| format!("{path}: the reply is refused: {e}"))?,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                return Err(format!(
                    "{path}: no answer within {} s (ypldapd busy or stuck?)",
                    WAIT.as_secs()
                ));
            }
            // ypldapd closed after its error reply, before reading more.
            Err(Errno::ECONNRESET) => break,
            Err(e) => return Err(format!("{path}: reading the reply: {e}")),
        }
    }
    reply
        .finish()
        .map_err(|e| format!("{path}: the reply is refused: {e}"))
}

fn connect_to(path: &str) -> Result<OwnedFd, String> {
    let addr = UnixAddr::new(path).map_err(|e| format!("{path}: {e}"))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    match connect(sock.as_raw_fd(), &addr) {
        Ok(()) => Ok(sock),
        Err(e @ (Errno::ENOENT | Errno::ECONNREFUSED)) => {
            Err(format!("{path}: {} (is ypldapd running?)", e.desc()))
        }
        Err(Errno::EACCES) => Err(format!(
            "{path}: permission denied (the control socket is root's; a restricted socket answers show commands to its group)"
        )),
        Err(e) => Err(format!("{path}: {}", e.desc())),
    }
}
