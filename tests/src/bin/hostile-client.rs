//! A hostile stand-in for ypldap-client, for failure injection the real one
//! cannot produce: started by ypldapd in its place, it floods its link with
//! log records and entries for updates that were never asked for, then
//! sends a message of a type that does not exist. ypldapd must keep its
//! memory bounded, drop the link and restart it.

use std::time::{Duration, Instant};

use ipc_proto::entry_rules::{Origin, User};
use ipc_proto::{ClientToParent, Level, codec};

fn main() {
    let Ok(link) = ipc_proto::spawn::adopt_link() else {
        eprintln!("hostile-client: no link on fd 3");
        std::process::exit(1);
    };
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
