//! A hostile stand-in for ypldap-client, for failure injection the real one
//! cannot produce: started by ypldapd in its place, it floods its link with
//! log records and entries for updates that were never asked for, then
//! sends a message of a type that does not exist. ypldapd must keep its
//! memory bounded, drop the link and restart it.
//!
//! A file `hostile-mode` beside the binary (readable by a restarted
//! stand-in when the configuration lives in the same directory) picks
//! another behaviour:
//! Each answers its first update with users `user00000`..`user00019`
//! (what the tests' MATCH watcher asks for), then:
//! - `log-flood`: thousands of log records with forged line breaks and
//!   terminal escapes, then a message type whose name holds a line break;
//! - `connect-burst`: 200 connect requests for directory 0 at once, then
//!   a log record counting the answers;
//! - `first-then-stall`: starts the next update and never finishes it;
//! - `first-then-deaf`: never reads again.

use std::time::{Duration, Instant};

use ipc_proto::entry_rules::{Origin, User};
use ipc_proto::{ClientToParent, Level, codec};

fn main() {
    let mode = std::env::current_exe()
        .ok()
        .and_then(|e| std::fs::read_to_string(e.with_file_name("hostile-mode")).ok())
        .map(|m| m.trim().to_owned());
    let Ok(link) = ipc_proto::spawn::adopt_link() else {
        eprintln!("hostile-client: no link on fd 3");
        std::process::exit(1);
    };
    if let Some(mode) = mode {
        if let Ok(who) = privsep::lookup_user(privsep::UNPRIVILEGED_USER) {
            let _ = who.become_user(None);
        }
        modes::run(&mode, link);
        return;
    }
    // Like the real helper, it runs as _ypldap (so ypldapd can kill it).
    if let Ok(who) = privsep::lookup_user(privsep::UNPRIVILEGED_USER) {
        let _ = who.become_user(None);
    }
    let _ = link.send_encoded(&codec::encode_hello(), &[]);
    let user = User {
        origin: Origin {
            dn: "uid=x,dc=example,dc=com".into(),
            uuid: None,
        },
        name: "x".repeat(200).into(),
        passwd: "*".into(),
        uid: 1,
        gid: 1,
        class: "".into(),
        change: "0".into(),
        expire: "0".into(),
        gecos: "y".repeat(200).into(),
        home: "/".into(),
        shell: "/bin/sh".into(),
        shadow: Default::default(),
        disabled: false,
    };
    let end = Instant::now() + Duration::from_secs(3);
    let mut sent = 0u64;
    while Instant::now() < end {
        let log = ClientToParent::Log {
            level: Level::Debug,
            text: "flood".into(),
        };
        let users = ClientToParent::Users {
            update: 999_999 + sent,
            entries: vec![user.clone(); 60],
        };
        if link.send(&log, &[]).is_err() || link.send(&users, &[]).is_err() {
            break;
        }
        sent += 1;
    }
    // A message type no version of the schema has.
    let _ = link.send_encoded(br#"{"type":"Takeover","body":{"now":true}}"#, &[]);
    std::thread::sleep(Duration::from_secs(30));
}

mod modes {
    use std::time::{Duration, Instant};

    use ipc_proto::entry_rules::{Origin, User};
    use ipc_proto::{Channel, ClientToParent, Level, Link, ParentToClient};

    type Chan = Channel<ParentToClient, ClientToParent<'static>>;

    /// The users a first update brings: `user00000` ... `user00019`, the
    /// lines the tests' MATCH watcher asks for.
    fn users() -> Vec<User<'static>> {
        (0..20u32)
            .map(|i| User {
                origin: Origin {
                    dn: format!("uid=user{i:05},dc=example,dc=com").into(),
                    uuid: None,
                },
                name: format!("user{i:05}").into(),
                passwd: "x".into(),
                uid: 10000 + i,
                gid: 100,
                class: "".into(),
                change: "0".into(),
                expire: "0".into(),
                gecos: format!("User {i}").into(),
                home: format!("/home/user{i:05}").into(),
                shell: "/bin/sh".into(),
                shadow: Default::default(),
                disabled: false,
            })
            .collect()
    }

    /// The next update ypldapd asks for.
    fn next_update(chan: &mut Chan) -> Option<u64> {
        loop {
            match chan.recv() {
                Ok(Some(r)) => {
                    if let ParentToClient::Update { update, .. } = r.message {
                        return Some(update);
                    }
                }
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }

    fn answer(chan: &mut Chan, update: u64) {
        let _ = chan.send(
            &ClientToParent::Users {
                update,
                entries: users(),
            },
            &[],
        );
        let _ = chan.send(
            &ClientToParent::UpdateDone {
                update,
                dropped: Default::default(),
                referrals: 0,
            },
            &[],
        );
    }

    pub fn run(mode: &str, link: Link) {
        let Ok(mut chan) = Chan::open(link) else {
            return;
        };
        // Every mode first loads the maps the watcher asks for.
        let Some(first) = next_update(&mut chan) else {
            return;
        };
        answer(&mut chan, first);
        match mode {
            "log-flood" => {
                for i in 0..5000 {
                    let log = ClientToParent::Log {
                        level: Level::Warning,
                        text: format!("flood {i}\nforged: line \u{1b}[31mred").into(),
                    };
                    if chan.send(&log, &[]).is_err() {
                        break;
                    }
                    if i % 100 == 99 {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                let _ = chan
                    .link()
                    .send_encoded(br#"{"type":"Take\nover: forged","body":{}}"#, &[]);
                std::thread::sleep(Duration::from_secs(30));
            }
            "connect-burst" => {
                for request in 0..200 {
                    let _ = chan.send(
                        &ClientToParent::Connect {
                            request,
                            directory: 0,
                        },
                        &[],
                    );
                }
                let (mut connected, mut refused, mut failed) = (0, 0, 0);
                let end = Instant::now() + Duration::from_secs(4);
                while Instant::now() < end {
                    match chan.recv() {
                        Ok(Some(r)) => match r.message {
                            ParentToClient::Connected { .. } => connected += 1,
                            ParentToClient::ConnectFailed(f) => {
                                if f.error.contains("being made already") {
                                    refused += 1;
                                } else {
                                    failed += 1;
                                }
                            }
                            _ => {}
                        },
                        Ok(None) => {}
                        Err(_) => return,
                    }
                    if connected + refused + failed == 200 {
                        break;
                    }
                }
                chan.log(
                    Level::Warning,
                    format!("hostile: connected={connected} refused={refused} failed={failed}"),
                );
                std::thread::sleep(Duration::from_secs(30));
            }
            "first-then-stall" => {
                let Some(second) = next_update(&mut chan) else {
                    return;
                };
                let _ = chan.send(
                    &ClientToParent::Users {
                        update: second,
                        entries: users(),
                    },
                    &[],
                );
                // Never done: keep the link open, read nothing more.
                std::thread::sleep(Duration::from_secs(600));
            }
            "first-then-deaf" => {
                std::thread::sleep(Duration::from_secs(600));
            }
            _ => eprintln!("hostile-client: unknown mode {mode}"),
        }
    }
}
