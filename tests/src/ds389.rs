//! 389 Directory Server (Debian's `389-ds-base`, FreeIPA's directory)
//! inside a test's namespaces, without systemd and without touching the
//! host's `/etc/dirsrv`, `/var/lib/dirsrv` or `/var/log/dirsrv`.
//!
//! lib389's `dscreate` wants its instance under `/etc/dirsrv` and starts it
//! with `systemctl`. With `PREFIX` set it reads its defaults from
//! `PREFIX/share/dirsrv/inf/defaults.inf` instead: a copy whose paths all
//! point into the test's directory, with `with_systemd = 0`, makes it
//! create the instance there. tmpfs mounts over the system paths (in the
//! namespace's own mount table) catch any stray write. The data is
//! imported offline (`ns-slapd ldif2db`), then `ns-slapd -d 0` runs in the
//! foreground on 127.0.0.1:389 of the namespace.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::ldif::{BIND_DN, SUFFIX};
use crate::peers::kill_entered;
use crate::{Namespace, comm};

const INSTANCE: &str = "nis";
const ROOT_DN: &str = "cn=Directory Manager";
const ROOT_PW: &str = "Secret123";

/// 389-ds has no implicit read access: anyone may read the NIS attributes,
/// the service account everything (FreeIPA's read ACIs are similar).
const ACIS: &str = "aci: (targetattr=\"uid || cn || sn || uidNumber || gidNumber || homeDirectory || loginShell || gecos || member || memberUid || objectClass || ou || o || dc || nsAccountLock\")(version 3.0; acl \"anyone reads NIS attributes\"; allow (read, search, compare) userdn=\"ldap:///anyone\";)\n";

/// A running 389 Directory Server.
pub struct Ds389 {
    child: Option<Child>,
    pub dir: PathBuf,
    config_dir: PathBuf,
}

impl Ds389 {
    /// Creates an instance in `ns`'s scratch directory `name`, imports
    /// `ldif` (the tests' RFC 2307 layout: the suffix entry, the service
    /// account, …) with the read ACIs and the service account's unlimited
    /// search limits added, and starts the server.
    pub fn start(ns: &Namespace, name: &str, ldif: &str) -> Ds389 {
        let dir = ns.dir.path().join(name);
        let root = dir.join("root");
        let config_dir = root.join(format!("etc/dirsrv/slapd-{INSTANCE}"));
        std::fs::create_dir_all(&root).expect("mkdir");
        let suffix_entry = format!("dn: {SUFFIX}\n");
        let ldif = ldif
            .replacen(
                &suffix_entry,
                &format!(
                    "{suffix_entry}{ACIS}aci: (targetattr=\"*\")(version 3.0; acl \"ypldap reads all\"; allow (read, search, compare) userdn=\"ldap:///{BIND_DN}\";)\n"
                ),
                1,
            )
            .replacen(
                &format!("dn: {BIND_DN}\n"),
                &format!(
                    "dn: {BIND_DN}\nnsSizeLimit: -1\nnsLookThroughLimit: -1\nnsPagedSizeLimit: -1\nnsIDListScanLimit: -1\n"
                ),
                1,
            );
        std::fs::write(dir.join("import.ldif"), ldif).expect("ldif");
        std::fs::write(
            dir.join("instance.inf"),
            format!(
                "[general]\nconfig_version = 2\nfull_machine_name = localhost\n\
                 strict_host_checking = False\nselinux = False\nsystemd = False\nstart = False\n\
                 [slapd]\ninstance_name = {INSTANCE}\nport = 389\nsecure_port = 0\n\
                 self_sign_cert = False\nroot_dn = {ROOT_DN}\nroot_password = {ROOT_PW}\n\
                 db_lib = bdb\n[backend-userroot]\nsuffix = {SUFFIX}\ncreate_suffix_entry = False\n"
            ),
        )
        .expect("instance.inf");
        let script = format!(
            r#"set -e
D={d}; R=$D/root
chmod 755 $D
mkdir -p $R/share/dirsrv/inf $R/etc/dirsrv $R/etc/default $R/etc/tmpfiles.d $R/tmp \
         $R/run/dirsrv $R/run/lock/dirsrv $R/var/log/dirsrv $R/var/lib/dirsrv $R/dev/shm \
         $R/usr/lib/x86_64-linux-gnu/dirsrv
cp -a /etc/dirsrv/config /etc/dirsrv/schema $R/etc/dirsrv/
awk -v R="$R" '
    /^(bin_dir|sbin_dir|lib_dir|plugin_dir|data_dir|system_schema_dir) *=/ {{ print; next }}
    /^prefix *=/       {{ print "prefix = " R; next }}
    /^with_systemd *=/ {{ print "with_systemd = 0"; next }}
    /^with_selinux *=/ {{ print "with_selinux = no"; next }}
    /^[a-z_]+ *= *\//  {{ sub(/= *\//, "= " R "/"); print; next }}
    {{ print }}' /usr/share/dirsrv/inf/defaults.inf > $R/share/dirsrv/inf/defaults.inf
chown -R dirsrv:dirsrv $R/run/dirsrv $R/run/lock/dirsrv $R/var/log/dirsrv $R/var/lib/dirsrv $R/etc/dirsrv
# In a pid namespace of its own whose init (bash) reaps: dscreate stops
# the server it started and waits until the pid is gone, which a zombie
# never is under an init that does not reap. Nothing may land in the
# system's paths: tmpfs traps over them, in that namespace only.
unshare --pid --fork --mount-proc --propagation private bash -c '
set -e
D=$1; R=$D/root
for p in /etc/dirsrv /var/lib/dirsrv /var/log/dirsrv; do mount -t tmpfs ds389-trap $p; done
PREFIX=$R dscreate from-file $D/instance.inf > $D/dscreate.log 2>&1 || {{ tail -20 $D/dscreate.log >&2; exit 1; }}
DB=$R/var/lib/dirsrv/slapd-{INSTANCE}
install -o dirsrv -g dirsrv -m 0640 $D/import.ldif $DB/ldif/import.ldif
ns-slapd ldif2db -D $2 -n userRoot -i $DB/ldif/import.ldif > $D/import.log 2>&1 || {{ tail -20 $D/import.log >&2; exit 1; }}
if [ -n "$(find /etc/dirsrv /var/lib/dirsrv /var/log/dirsrv -mindepth 1 | head -1)" ]; then
    echo "389-ds wrote into the system paths:" >&2; find /etc/dirsrv /var/lib/dirsrv /var/log/dirsrv >&2; exit 1
fi' create-ds389 $D {c}"#,
            d = dir.display(),
            c = config_dir.display(),
        );
        ns.sh(&script);
        let mut s = Ds389 {
            child: None,
            dir,
            config_dir,
        };
        s.run(ns);
        s
    }

    /// Starts (again) `ns-slapd` in the foreground and waits until it
    /// answers.
    pub fn run(&mut self, ns: &Namespace) {
        let log = File::create(self.dir.join("ns-slapd.out")).expect("log");
        let child = ns
            .command("ns-slapd")
            .arg("-D")
            .arg(&self.config_dir)
            .arg("-i")
            .arg(self.dir.join("ns-slapd.pid"))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ns-slapd");
        self.child = Some(child);
        let errors = self
            .dir
            .join(format!("root/var/log/dirsrv/slapd-{INSTANCE}/errors"));
        let up = ns
            .command("sh")
            .arg("-c")
            .arg("for i in $(seq 300); do ldapsearch -x -LLL -H ldap://127.0.0.1:389 -b '' -s base >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1")
            .status()
            .expect("sh");
        assert!(
            up.success(),
            "ns-slapd did not come up:\n{}",
            std::fs::read_to_string(errors).unwrap_or_default()
        );
    }

    /// Turns on content synchronization (RFC 4533), as FreeIPA does: the
    /// Retro Changelog plugin (with the `nsUniqueId` of deleted entries,
    /// which sync clients see as their UUID) and the Content
    /// Synchronization plugin over it. Plugins start with the server: it
    /// is restarted.
    pub fn enable_content_sync(&mut self, ns: &Namespace) {
        self.write(
            ns,
            "ldapmodify",
            &format!(
                "dn: cn=Retro Changelog Plugin,cn=plugins,cn=config\nchangetype: modify\n\
                 replace: nsslapd-pluginEnabled\nnsslapd-pluginEnabled: on\n-\n\
                 replace: nsslapd-attribute\nnsslapd-attribute: nsuniqueid:targetUniqueId\n-\n\
                 replace: nsslapd-changelogmaxage\nnsslapd-changelogmaxage: 2d\n-\n\
                 replace: nsslapd-include-suffix\nnsslapd-include-suffix: {SUFFIX}\n\n\
                 dn: cn=Content Synchronization,cn=plugins,cn=config\nchangetype: modify\n\
                 replace: nsslapd-pluginEnabled\nnsslapd-pluginEnabled: on\n"
            ),
        );
        self.restart(ns);
    }

    /// Runs `ldapmodify` (or `ldapadd`, `ldapdelete`: `tool`) as the
    /// Directory Manager with `input` on its stdin; returns when the tool
    /// does.
    pub fn write(&self, ns: &Namespace, tool: &str, input: &str) {
        crate::peers::ldap_write(ns, tool, "ldap://127.0.0.1:389", ROOT_DN, ROOT_PW, input);
    }

    /// Stops the server as an administrator does (SIGTERM: it closes its
    /// connections and databases cleanly) and starts it again.
    pub fn restart(&mut self, ns: &Namespace) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let gone = crate::wait_for(std::time::Duration::from_secs(30), || {
                (!crate::alive(pid)).then_some(())
            });
            assert!(gone.is_some(), "ns-slapd did not stop on SIGTERM");
        }
        self.kill();
        self.run(ns);
    }

    /// The server process's host pid.
    pub fn pid(&self) -> Option<u32> {
        let n = self.child.as_ref()?.id();
        crate::children(n)
            .into_iter()
            .find(|&p| comm(p).as_deref() == Some("ns-slapd"))
    }

    /// Kills the server and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_entered(&mut c);
        }
    }
}

impl Drop for Ds389 {
    fn drop(&mut self) {
        self.kill();
    }
}
