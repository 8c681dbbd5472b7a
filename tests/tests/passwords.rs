//! Secrets by port, as a user checks it: the sample directory (every
//! user's password "changeme", stored as `{CRYPT}$6$…`) plus users whose
//! stored value crypt(3) cannot check, served by ypldapd with the sample
//! configuration (`attribute passwd maps to "userPassword"`).
//!
//! - `ypcat passwd` (any user, any host) shows `x`, never a hash;
//! - as root, glibc through libnss-nis (`shadow: files nis`) finds alice's
//!   hash in `shadow.byname`, without the `{CRYPT}` prefix; as any other
//!   user (an unprivileged source port) nothing;
//! - a real PAM login through NIS (`pamtester`, pam_unix) accepts alice's
//!   password and refuses a wrong one, and refuses the users whose values
//!   are served locked;
//! - `expose password hashes` puts the hash in `passwd.*` and says so in
//!   the log at start.

use tests::Namespace;
use tests::nis::{nss_on, pam_unix_service, run};
use tests::world::{Data, Directory, World};

const DOMAIN: &str = "passwords.test";

/// Two users beside the sample's: one stored in a scheme crypt(3) cannot
/// check, one in cleartext (what OpenLDAP assumes without a scheme).
const EXTRA: &str = "
dn: uid=sasha,ou=People,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: posixAccount
uid: sasha
cn: Sasha SSHA
gecos: Sasha SSHA
sn: SSHA
uidNumber: 6001
gidNumber: 5000
homeDirectory: /home/sasha
loginShell: /bin/sh
userPassword: {SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=

dn: uid=clara,ou=People,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: posixAccount
uid: clara
cn: Clara Cleartext
gecos: Clara Cleartext
sn: Cleartext
uidNumber: 6002
gidNumber: 5000
homeDirectory: /home/clara
loginShell: /bin/sh
userPassword: changeme
";

/// Alice's hash as the sample stores it after `{CRYPT}`.
const ALICE_HASH: &str = "$6$s5001$x4imEzsPxUz28A5DJZpVHFbh2kLczRvYodnWi6uPc.J23AFWZ.cYAmkMjjNsTxbxabR4s8/FlGC28bg4YOXPY0";

/// The sample directory with [`EXTRA`], the sample configuration with
/// `statements`, ypldapd registered; libnsl and glibc bound to it.
fn start(statements: &[&str]) -> World {
    let mut b = World::builder(DOMAIN)
        .directory(Directory::slapd(Data::sample().with_ldif(EXTRA)))
        .sample_config();
    for s in statements {
        b = b.statement(*s);
    }
    let w = b.start();
    w.bind_clients();
    nss_on(&w.ns);
    w
}

/// `args` run inside the namespace as nobody (so from unprivileged ports).
fn as_nobody<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    a.extend_from_slice(args);
    a
}

/// A PAM authentication of `user` with `password` through pam_unix.
fn pam_login(ns: &Namespace, user: &str, password: &str) -> tests::nis::Run {
    let out = ns
        .command("sh")
        .args([
            "-c",
            &format!("printf '%s\\n' '{password}' | pamtester ypldap-test {user} authenticate"),
        ])
        .output()
        .expect("pamtester");
    tests::nis::Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn hashes_only_to_privileged_callers_and_a_nis_login_works() {
    let s = start(&[]);
    let ns = &s.ns;
    let log = s.log();
    assert!(
        log.contains(&format!(
            "update 1: 1 directories, 35 users, 12 groups, {}, dropped: none, passwords served locked: 1 in a scheme crypt(3) cannot check, 1 not a crypt(3) hash",
            tests::nis::sample_records()
        )),
        "{log}"
    );
    assert!(
        !log.contains("W6ph5Mm5Pz8"),
        "a stored value was logged:\n{log}"
    );
    assert!(!log.contains("expose password hashes"), "{log}");

    // passwd.*: x for everyone, whoever asks.
    for map in ["passwd.byname", "passwd.byuid"] {
        let cat = run(
            ns,
            &as_nobody(&["ypcat", "-h", "127.0.0.1", "-d", DOMAIN, map]),
        );
        assert!(cat.ok, "{cat:?}");
        assert_eq!(cat.stdout.lines().count(), 35);
        for line in cat.stdout.lines() {
            assert_eq!(line.split(':').nth(1), Some("x"), "{map}: {line}");
        }
    }
    let alice = run(ns, &as_nobody(&["getent", "passwd", "alice"]));
    assert_eq!(
        alice.stdout,
        "alice:x:5001:5000:Alice Liddell,Room 101,555-0101,:/home/alice:/bin/bash\n"
    );

    // shadow.byname: the hash, {CRYPT} taken off, to root only.
    let root = run(ns, &["getent", "shadow", "alice"]);
    assert_eq!(
        root.stdout,
        format!("alice:{ALICE_HASH}:::::::\n"),
        "{root:?}"
    );
    let nobody = run(ns, &as_nobody(&["getent", "shadow", "alice"]));
    assert!(!nobody.ok && nobody.stdout.is_empty(), "{nobody:?}");
    let nobody = run(
        ns,
        &as_nobody(&["ypmatch", "-d", DOMAIN, "alice", "shadow.byname"]),
    );
    assert!(!nobody.ok && nobody.stdout.is_empty(), "{nobody:?}");
    let nobody = run(
        ns,
        &as_nobody(&["ypcat", "-h", "127.0.0.1", "-d", DOMAIN, "shadow.byname"]),
    );
    assert!(nobody.stdout.is_empty(), "{nobody:?}");
    // The values crypt(3) cannot check are served locked.
    for user in ["sasha", "clara"] {
        let line = run(ns, &["getent", "shadow", user]).stdout;
        assert_eq!(line, format!("{user}:*:::::::\n"));
    }

    // A real login through NIS: pam_unix reads shadow through libnss-nis.
    pam_unix_service(ns, "ypldap-test");
    let good = pam_login(ns, "alice", "changeme");
    assert!(good.ok, "alice with her password: {good:?}");
    let bad = pam_login(ns, "alice", "wrong-password");
    assert!(!bad.ok, "alice with a wrong password: {bad:?}");
    // clara's cleartext "changeme" must not become a way in.
    for (user, password) in [("clara", "changeme"), ("sasha", "changeme")] {
        let r = pam_login(ns, user, password);
        assert!(!r.ok, "{user} is served locked: {r:?}");
    }
}

#[test]
fn expose_password_hashes_is_an_explicit_loud_opt_in() {
    let s = start(&["expose password hashes"]);
    let log = s.log();
    assert!(
        log.contains("\"expose password hashes\" is set: passwd.byname and passwd.byuid carry password hashes"),
        "{log}"
    );
    let alice = run(
        &s.ns,
        &as_nobody(&["ypmatch", "-d", DOMAIN, "alice", "passwd.byname"]),
    );
    assert_eq!(
        alice.stdout,
        format!(
            "alice:{ALICE_HASH}:5001:5000:Alice Liddell,Room 101,555-0101,:/home/alice:/bin/bash\n"
        ),
        "{alice:?}"
    );
    // Still only a hash crypt(3) can check: the locked ones stay locked.
    let sasha = run(&s.ns, &["ypmatch", "-d", DOMAIN, "sasha", "passwd.byname"]);
    assert_eq!(sasha.stdout.split(':').nth(1), Some("*"), "{sasha:?}");
    // And shadow.byname is still answered to root only.
    let nobody = run(&s.ns, &as_nobody(&["getent", "shadow", "alice"]));
    assert!(nobody.stdout.is_empty(), "{nobody:?}");
}
