//! The real peers, started inside a test's namespaces: slapd, rpcbind,
//! and ypldapd itself.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ldif::{BIND_DN, SUFFIX};
use crate::pki::Pki;
use crate::{Namespace, alive, children, comm, status_field, wait_for};

/// How slapd is set up.
#[derive(Debug, Clone)]
pub struct SlapdOptions {
    /// The `sizelimit` line's value (`500` is OpenLDAP's default; forcing
    /// paging: `size.soft=500 size.hard=500 size.prtotal=unlimited`).
    pub size_limit: String,
    /// The server certificate file of the PKI (`server.crt`, `expired.crt`).
    pub cert: &'static str,
    /// Address to listen on (plain on 389, StartTLS too, ldaps on 636).
    pub address: String,
    /// Schema files included after core, cosine, nis and inetorgperson.
    pub schemas: Vec<PathBuf>,
    /// Entries that break the schema on purpose (an attribute their
    /// object class requires is missing, as a reader sees them when an ACL
    /// hides it), loaded after the directory's data with `slapadd -s`.
    pub unchecked_ldif: String,
    /// The syncprov overlay: content synchronization (RFC 4533) offered.
    pub sync: bool,
    /// syncprov's `syncprov-reloadhint TRUE`: a cookie older than every
    /// entry gets e-syncRefreshRequired (4096) instead of a full reload.
    pub reload_hint: bool,
    /// A replica: `syncrepl` (refreshAndPersist) from the provider at this
    /// URL, bound as the administrator; a write sent here gets a referral
    /// to it. Its own data comes from the provider: give it none.
    pub replica_of: Option<String>,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        SlapdOptions {
            size_limit: "500".into(),
            cert: "server.crt",
            address: "127.0.0.1".into(),
            schemas: Vec::new(),
            unchecked_ldif: String::new(),
            sync: false,
            reload_hint: false,
            replica_of: None,
        }
    }
}

impl SlapdOptions {
    /// Pages of at most 500 entries, but no limit on a paged search's
    /// total: a reader must page to see everything, as on a real directory.
    pub fn paged() -> SlapdOptions {
        SlapdOptions {
            size_limit: "size.soft=500 size.hard=500 size.prtotal=unlimited".into(),
            ..SlapdOptions::default()
        }
    }

    /// No size limit at all.
    pub fn unlimited() -> SlapdOptions {
        SlapdOptions {
            size_limit: "unlimited".into(),
            ..SlapdOptions::default()
        }
    }

    /// With the syncprov overlay (content synchronization offered).
    pub fn with_sync(mut self) -> SlapdOptions {
        self.sync = true;
        self
    }

    /// syncprov answers a stale cookie with e-syncRefreshRequired.
    pub fn with_reload_hint(mut self) -> SlapdOptions {
        self.reload_hint = true;
        self
    }

    /// A replica of the provider at `url` ([`SlapdOptions::replica_of`]).
    pub fn replica_of(mut self, url: &str) -> SlapdOptions {
        self.replica_of = Some(url.to_owned());
        self
    }

    /// Also the schema in `path`.
    pub fn with_schema(mut self, path: impl Into<PathBuf>) -> SlapdOptions {
        self.schemas.push(path.into());
        self
    }

    /// Also `ldif`, loaded without schema checks ([`SlapdOptions::unchecked_ldif`]).
    pub fn with_unchecked_ldif(mut self, ldif: &str) -> SlapdOptions {
        self.unchecked_ldif = format!("{}\n\n{ldif}", self.unchecked_ldif);
        self
    }
}

/// A private slapd inside a namespace.
pub struct Slapd {
    child: Option<Child>,
    pub dir: PathBuf,
    conf: PathBuf,
    /// Where ypldapd reaches it.
    urls: String,
    /// Where the tests' own tools reach it (a unix socket, which
    /// [`Slapd::run_unreachable`] keeps open alone).
    ldapi: String,
}

impl Slapd {
    /// Writes the configuration, loads `ldif` with `slapadd` (then
    /// [`SlapdOptions::unchecked_ldif`] with `slapadd -s`) and starts slapd.
    pub fn start(ns: &Namespace, name: &str, pki: &Pki, ldif: &str, opts: SlapdOptions) -> Slapd {
        let dir = ns.dir.path().join(name);
        std::fs::create_dir_all(dir.join("db")).expect("mkdir");
        let conf = dir.join("slapd.conf");
        let schemas: String = opts
            .schemas
            .iter()
            .map(|p| format!("include {}\n", p.display()))
            .collect();
        // syncprov comes after the database's indexes and ACLs.
        let (sync_module, sync_overlay) = if opts.sync {
            (
                "moduleload syncprov\n",
                format!(
                    "index entryCSN,entryUUID eq\n\
                     overlay syncprov\n\
                     syncprov-checkpoint 100 10\n\
                     syncprov-sessionlog 10000\n\
                     syncprov-reloadhint {}\n",
                    if opts.reload_hint { "TRUE" } else { "FALSE" }
                ),
            )
        } else {
            ("", String::new())
        };
        // retry every second, forever: the provider may be down a while.
        let syncrepl = opts.replica_of.as_ref().map_or(String::new(), |url| {
            format!(
                "syncrepl rid=001 provider={url} type=refreshAndPersist\n\
                 \tsearchbase=\"{SUFFIX}\" scope=sub schemachecking=off\n\
                 \tbindmethod=simple binddn=\"cn=admin,{SUFFIX}\" credentials=secret\n\
                 \tretry=\"1 +\" timeout=5 network-timeout=5\n\
                 updateref {url}\n"
            )
        });
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/nis.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 {schemas}\
                 pidfile {d}/slapd.pid\n\
                 modulepath /usr/lib/ldap\n\
                 moduleload back_mdb\n\
                 {sync_module}\
                 sizelimit {limit}\n\
                 TLSCACertificateFile {ca}\n\
                 TLSCertificateFile {cert}\n\
                 TLSCertificateKeyFile {key}\n\
                 TLSVerifyClient try\n\
                 authz-regexp \"^cn=ypldap$\" \"{BIND_DN}\"\n\
                 database mdb\n\
                 maxsize 1073741824\n\
                 suffix \"{SUFFIX}\"\n\
                 rootdn \"cn=admin,{SUFFIX}\"\n\
                 rootpw secret\n\
                 directory {d}/db\n\
                 dbnosync\n\
                 index objectClass eq\n\
                 index uid,cn,memberUid eq\n\
                 {syncrepl}\
                 access to attrs=userPassword\n\
                 \tby dn.exact=\"{BIND_DN}\" read\n\
                 \tby anonymous auth\n\
                 \tby * none\n\
                 access to * by * read\n\
                 {sync_overlay}",
                d = dir.display(),
                limit = opts.size_limit,
                ca = pki.path("ca.crt").display(),
                cert = pki.path(opts.cert).display(),
                key = pki.path("server.key").display(),
            ),
        )
        .expect("slapd.conf");
        for (file, text, flags) in [
            ("data.ldif", ldif, "-q"),
            ("unchecked.ldif", opts.unchecked_ldif.as_str(), "-qs"),
        ] {
            if text.is_empty() {
                continue;
            }
            let ldif_path = dir.join(file);
            std::fs::write(&ldif_path, text).expect("ldif");
            slapadd(ns, &conf, &ldif_path, flags);
        }
        let urls = format!(
            "ldap://{a}:389/ ldaps://{a}:636/",
            a = host_literal(&opts.address)
        );
        let ldapi = ldapi_url(&dir);
        let mut s = Slapd {
            child: None,
            dir,
            conf,
            urls,
            ldapi,
        };
        s.run(ns);
        s
    }

    /// Runs `ldapmodify` (or `ldapadd`, `ldapdelete`: `tool`) as the
    /// directory's administrator with `input` on its stdin; returns when
    /// the tool does, as an administrator's change returns.
    pub fn write(&self, ns: &Namespace, tool: &str, input: &str) {
        let admin = format!("cn=admin,{SUFFIX}");
        ldap_write(ns, tool, &self.ldapi, &admin, "secret", input);
    }

    /// Stops slapd, replaces its database with `ldif` (every entry gets a
    /// new entryUUID and entryCSN, as after a restore from LDIF) and
    /// starts it again.
    pub fn reload(&mut self, ns: &Namespace, ldif: &str) {
        self.kill();
        for f in std::fs::read_dir(self.dir.join("db"))
            .expect("db")
            .flatten()
        {
            std::fs::remove_file(f.path()).expect("rm");
        }
        let path = self.dir.join("reload.ldif");
        std::fs::write(&path, ldif).expect("ldif");
        slapadd(ns, &self.conf, &path, "-q");
        self.run(ns);
    }

    /// Its unix socket's URL (where replicas in other network namespaces
    /// reach it without a network between them).
    pub fn ldapi_url(&self) -> String {
        self.ldapi.clone()
    }

    /// Starts (again) the slapd process and waits until it accepts.
    pub fn run(&mut self, ns: &Namespace) {
        let urls = format!("{} {}", self.urls, self.ldapi);
        self.start_listening(ns, &urls);
    }

    /// Starts (again) the slapd process listening only on its unix
    /// socket: up, and changed by [`Slapd::write`], but out of ypldapd's
    /// reach.
    pub fn run_unreachable(&mut self, ns: &Namespace) {
        let urls = self.ldapi.clone();
        self.start_listening(ns, &urls);
    }

    fn start_listening(&mut self, ns: &Namespace, urls: &str) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("slapd.log"))
            .expect("log");
        let child = ns
            .command("slapd")
            .args(["-d", "0", "-f"])
            .arg(&self.conf)
            .arg("-h")
            .arg(urls)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd");
        self.child = Some(child);
        let probe = format!(
            "for i in $(seq 100); do ldapsearch -x -LLL -H '{}' -b '' -s base >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1",
            urls.split_whitespace().next().unwrap_or_default()
        );
        ns.sh(&probe);
    }

    /// The slapd process's host pid.
    pub fn pid(&self) -> Option<u32> {
        let n = self.child.as_ref()?.id();
        children(n)
            .into_iter()
            .find(|&p| comm(p).as_deref() == Some("slapd"))
    }

    /// Sends `sig` to slapd.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(p) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), sig);
        }
    }

    /// Kills slapd and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_entered(&mut c);
        }
    }
}

/// Runs `ldapmodify` (or `ldapadd`, `ldapdelete`: `tool`) against `url`
/// with a simple bind as `dn` and `input` on its stdin; returns when the
/// tool does, as an administrator's change returns. Panics when it fails.
pub fn ldap_write(ns: &Namespace, tool: &str, url: &str, dn: &str, password: &str, input: &str) {
    use std::io::Write as _;
    let mut child = ns
        .command(tool)
        .args(["-x", "-H", url, "-D", dn, "-w", password])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect(tool);
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loads `ldif` into the database of slapd configuration `conf`.
fn slapadd(ns: &Namespace, conf: &Path, ldif: &Path, flags: &str) {
    let out = ns
        .command("slapadd")
        .args([flags, "-f"])
        .arg(conf)
        .arg("-l")
        .arg(ldif)
        .output()
        .expect("slapadd");
    assert!(
        out.status.success(),
        "slapadd {flags} {}: {}: {}",
        ldif.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ldapi://` for the socket `ldapi` in `dir`, its path %-encoded.
fn ldapi_url(dir: &Path) -> String {
    format!(
        "ldapi://{}",
        dir.join("ldapi").display().to_string().replace('/', "%2F")
    )
}

fn host_literal(a: &str) -> String {
    if a.contains(':') {
        format!("[{a}]")
    } else {
        a.to_owned()
    }
}

/// A running rpcbind; stopped when dropped.
pub struct Rpcbind(Child);

impl Drop for Rpcbind {
    fn drop(&mut self) {
        kill_entered(&mut self.0);
    }
}

/// Kills a program started with [`Namespace::command`] (nsenter forks it
/// into the namespace, so it is nsenter's child) and reaps nsenter.
pub fn kill_entered(nsenter: &mut Child) {
    let killed = children(nsenter.id());
    for &p in &killed {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = nsenter.kill();
    let _ = nsenter.wait();
    // SIGKILL is not death: wait until each is gone or a zombie, so that
    // what it held (a port, a lock) is free for a successor.
    for p in killed {
        crate::wait_for(Duration::from_secs(5), || {
            let state = std::fs::read_to_string(format!("/proc/{p}/stat")).ok();
            let dead = state.as_deref().is_none_or(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            });
            dead.then_some(())
        });
    }
}

/// Starts rpcbind inside `ns` and waits until it answers.
pub fn start_rpcbind(ns: &Namespace) -> Rpcbind {
    let c = ns
        .command("rpcbind")
        .arg("-f")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rpcbind");
    let r = Rpcbind(c);
    ns.sh("for i in $(seq 100); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1");
    r
}

/// A running ypldapd (in the foreground, `-d`), its log in a file, or
/// read line by line from a pipe and time-stamped on arrival.
pub struct Ypldapd {
    pub nsenter: Child,
    pub pid: u32,
    pub log: PathBuf,
    /// With [`LogLines::Timestamped`]: each line and when it arrived.
    lines: Option<Lines>,
}

/// Log lines and their arrival times, shared with the thread reading them.
type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// How ypldapd's log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLines {
    /// In a file, written by ypldapd itself: a line is readable as soon as
    /// ypldapd wrote it, before anything it does next.
    #[default]
    File,
    /// Through a pipe, each line time-stamped when it arrives (the
    /// benchmark times steps by them). Also copied to the file.
    Timestamped,
}

impl Ypldapd {
    /// Starts `binary -d -f conf` with its log kept as `lines` says.
    pub fn launch(ns: &Namespace, binary: &Path, conf: &Path, lines: LogLines) -> Ypldapd {
        let log = ns.dir.path().join("ypldapd.log");
        let file = File::create(&log).expect("log file");
        let stderr = match lines {
            LogLines::File => Stdio::from(file.try_clone().expect("log file")),
            LogLines::Timestamped => Stdio::piped(),
        };
        let mut nsenter = ns
            .command(binary)
            .arg("-d")
            .arg("-f")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ypldapd");
        let lines = nsenter.stderr.take().map(|err| {
            let lines: Lines = Arc::new(Mutex::new(Vec::new()));
            let keep = lines.clone();
            let mut copy = file;
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    let now = Instant::now();
                    let _ = writeln!(copy, "{line}");
                    keep.lock().expect("log lock").push((now, line));
                }
            });
            lines
        });
        let npid = nsenter.id();
        let pid = wait_for(Duration::from_secs(10), || {
            children(npid)
                .into_iter()
                .find(|&p| comm(p).as_deref() == Some("ypldapd"))
        });
        let mut d = Ypldapd {
            nsenter,
            pid: pid.unwrap_or(0),
            log,
            lines,
        };
        if pid.is_none() {
            let _ = d.nsenter.kill();
            let _ = d.nsenter.wait();
            panic!("{} did not start:\n{}", binary.display(), d.log());
        }
        d
    }

    pub fn log(&self) -> String {
        match &self.lines {
            Some(lines) => lines
                .lock()
                .expect("log lock")
                .iter()
                .map(|(_, l)| format!("{l}\n"))
                .collect(),
            None => std::fs::read_to_string(&self.log).unwrap_or_default(),
        }
    }

    /// Waits until the log contains `text` (at least `count` times).
    pub fn wait_log(&self, text: &str, count: usize, limit: Duration) {
        if wait_for(limit, || {
            (self.log().matches(text).count() >= count).then_some(())
        })
        .is_none()
        {
            panic!(
                "ypldapd log never said {text:?} ({count}x):\n{}",
                self.log()
            );
        }
    }

    /// With [`LogLines::Timestamped`]: the first line from index `from` on
    /// containing `text`, its index and arrival time.
    pub fn wait_line(&self, text: &str, from: usize, limit: Duration) -> (usize, Instant) {
        let lines = self.lines.as_ref().expect("a time-stamped log");
        wait_for(limit, || {
            let l = lines.lock().expect("log lock");
            l.iter()
                .enumerate()
                .skip(from)
                .find(|(_, (_, s))| s.contains(text))
                .map(|(i, (t, _))| (i, *t))
        })
        .unwrap_or_else(|| panic!("ypldapd never logged {text:?}:\n{}", self.log()))
    }

    /// With [`LogLines::Timestamped`]: line `i`.
    pub fn line(&self, i: usize) -> String {
        let lines = self.lines.as_ref().expect("a time-stamped log");
        lines.lock().expect("log lock")[i].1.clone()
    }

    pub fn alive(&self) -> bool {
        alive(self.pid)
    }

    /// Sends `sig` to ypldapd.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), sig);
    }

    /// Sends `sig` and waits up to `limit` for ypldapd to exit; its exit
    /// status, or `None` if it still runs.
    pub fn stop(&mut self, sig: nix::sys::signal::Signal, limit: Duration) -> Option<ExitStatus> {
        self.signal(sig);
        wait_for(limit, || self.nsenter.try_wait().ok().flatten())
    }

    /// The pid of its helper `name` (not `not`) once it runs under seccomp.
    pub fn sandboxed_helper(&self, name: &str, not: Option<u32>) -> u32 {
        wait_for(Duration::from_secs(10), || {
            children(self.pid).into_iter().find(|&p| {
                Some(p) != not
                    && alive(p)
                    && comm(p).as_deref() == Some(name)
                    && status_field(p, "Seccomp").as_deref() == Some("2")
            })
        })
        .unwrap_or_else(|| panic!("{name} not running sandboxed; log:\n{}", self.log()))
    }
}

impl Drop for Ypldapd {
    fn drop(&mut self) {
        if self.nsenter.try_wait().ok().flatten().is_none() {
            self.signal(nix::sys::signal::Signal::SIGKILL);
            let _ = self.nsenter.wait();
        }
    }
}
