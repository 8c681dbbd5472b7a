//! Samba as an Active Directory domain controller (Debian's `samba-ad-dc`
//! and `samba-ad-provision`) inside a test's namespaces: realm
//! EXAMPLE.TEST, base `DC=example,DC=test`, users and groups in
//! `CN=Users`. Its ports (389, 636, 3268, 3269) are fixed, hence one DC
//! per network namespace.
//!
//! Nothing of the host's Samba or Kerberos configuration is read or
//! written: `samba-tool domain provision --configfile=/dev/null
//! --targetdir=DIR` with every socket, pid and log path in DIR, and every
//! later `samba` or `ldbadd` told `DIR/etc/smb.conf`. The domain is loaded
//! offline with `ldbadd` (one transaction) before the first start. LDAPS
//! uses the test PKI's certificate (Samba's own has no subjectAltName,
//! which rustls rightly refuses).

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::peers::kill_entered;
use crate::pki::Pki;
use crate::{Namespace, comm};

/// The domain's base DN.
pub const BASE: &str = "DC=example,DC=test";
/// Where users and groups are.
pub const USERS: &str = "CN=Users,DC=example,DC=test";
/// The Administrator's DN and password (AD's complexity rules apply).
pub const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=example,DC=test";
pub const ADMIN_PW: &str = "Admin-Pass-123";

/// A running Samba AD DC.
pub struct SambaAd {
    child: Option<Child>,
    pub dir: PathBuf,
}

impl SambaAd {
    /// Provisions a domain in `ns`'s scratch directory `name`, loads
    /// `ldif` (entries under [`USERS`]) and starts the LDAP service with
    /// the PKI's server certificate.
    pub fn start(ns: &Namespace, name: &str, pki: &Pki, ldif: &str) -> SambaAd {
        let dir = ns.dir.path().join(name);
        let tls = dir.join("tls");
        std::fs::create_dir_all(&tls).expect("mkdir");
        for f in ["server.crt", "server.key", "ca.crt"] {
            std::fs::copy(pki.path(f), tls.join(f)).expect("copy PKI file");
        }
        // Samba refuses a key others may read.
        std::fs::set_permissions(
            tls.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        std::fs::write(dir.join("data.ldif"), ldif).expect("ldif");
        let d = dir.display();
        ns.sh(&format!(
            "set -e
mkdir -p {d}/log {d}/run
samba-tool domain provision --configfile=/dev/null --targetdir={d} \
    --realm=EXAMPLE.TEST --domain=EXAMPLE --server-role=dc --dns-backend=NONE \
    --use-rfc2307 --host-name=dc1 --adminpass={ADMIN_PW} \
    --option='interfaces=127.0.0.1' --option='bind interfaces only=yes' \
    --option='log file={d}/log/log.%m' --option='pid directory={d}/run' \
    --option='ncalrpc dir={d}/run/ncalrpc' \
    --option='winbindd socket directory={d}/run/winbindd' \
    --option='ntp signd socket directory={d}/run/ntp_signd' \
    --option='tls keyfile={d}/tls/server.key' \
    --option='tls certfile={d}/tls/server.crt' \
    --option='tls cafile={d}/tls/ca.crt' \
    > {d}/log/provision.log 2>&1 || {{ tail -20 {d}/log/provision.log >&2; exit 1; }}
ldbadd -H {d}/private/sam.ldb --configfile={d}/etc/smb.conf {d}/data.ldif \
    > {d}/log/load.log 2>&1 || {{ tail -20 {d}/log/load.log >&2; exit 1; }}"
        ));
        let mut s = SambaAd { child: None, dir };
        s.run(ns);
        s
    }

    /// Starts (again) `samba` in the foreground, LDAP only, and waits
    /// until its LDAP and LDAPS ports answer.
    pub fn run(&mut self, ns: &Namespace) {
        let log = File::create(self.dir.join("log/samba.log")).expect("log");
        let child = ns
            .command("samba")
            .args(["-F", "--debug-stdout", "-d", "1", "-s"])
            .arg(self.dir.join("etc/smb.conf"))
            .args(["--option=server services=ldap"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("samba");
        self.child = Some(child);
        let up = ns
            .command("bash")
            .arg("-c")
            .arg(
                "for i in $(seq 600); do \
                   ldapsearch -x -LLL -o nettimeout=2 -H ldap://127.0.0.1 -b '' -s base defaultNamingContext >/dev/null 2>&1 \
                   && (exec 3<>/dev/tcp/127.0.0.1/636) 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
            )
            .status()
            .expect("sh");
        assert!(
            up.success(),
            "samba did not come up:\n{}",
            std::fs::read_to_string(self.dir.join("log/samba.log")).unwrap_or_default()
        );
    }

    /// The `samba` process's host pid.
    pub fn pid(&self) -> Option<u32> {
        let n = self.child.as_ref()?.id();
        crate::children(n)
            .into_iter()
            .find(|&p| comm(p).as_deref() == Some("samba"))
    }

    /// Kills samba (and the processes it forked) and waits.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_entered(&mut c);
        }
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        self.kill();
    }
}
