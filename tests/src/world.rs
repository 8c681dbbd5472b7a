//! The one end-to-end fixture. A [`World`] is one set of private
//! namespaces holding what a test asked for: directory servers loaded
//! with known data, rpcbind, and ypldapd reading those directories with a
//! configuration built from the same description, started and waited for
//! until it is as ready as the test needs.
//!
//! ```no_run
//! use tests::world::{Data, Directory, World};
//! // slapd with 40 users and 12 groups, rpcbind, ypldapd registered:
//! let w = World::builder("plain.test").directory(Directory::slapd(Data::generated(40, 12))).start();
//! w.assert_maps();
//! ```
//!
//! Each part is optional, and each is added rather than rewritten: more
//! directories (each its own [`Server`] kind, its own block in the
//! configuration), more top-level statements ([`WorldBuilder::statement`]),
//! a configuration written by hand ([`WorldBuilder::config_text`]), no
//! ypldapd yet ([`WorldBuilder::without_ypldapd`], then
//! [`World::start_ypldapd`] after the test's own set-up), several worlds
//! side by side (each has its own namespaces).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use yp_proto::maps::MapName;

use crate::config::{Bind, Config, DirectoryBlock, Tls};
use crate::ds389::Ds389;
use crate::expect::{self, Maps, Password};
use crate::ldif::{self, Group, User};
use crate::peers::{LogLines, Rpcbind, Slapd, SlapdOptions, Ypldapd, start_rpcbind};
use crate::pki::Pki;
use crate::samba_ad::{self, SambaAd};
use crate::{Namespace, nis, program, wait_for, yp_registered};

/// How long [`World::start_ypldapd`] waits for [`Ready`] at most.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// What a directory holds: the LDIF it is loaded with, and the users and
/// groups of it the maps must show. Entries meant to be dropped are in the
/// LDIF only ([`Data::with_ldif`]).
#[derive(Debug, Clone)]
pub struct Data {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub ldif: String,
}

impl Data {
    /// [`ldif::generate`]'s `users` and `groups`.
    pub fn generated(users: usize, groups: usize) -> Data {
        let (u, g) = ldif::generate(users, groups);
        Data::of(u, g)
    }

    /// A directory holding exactly `users` and `groups`.
    pub fn of(users: Vec<User>, groups: Vec<Group>) -> Data {
        let ldif = ldif::ldif(&users, &groups);
        Data {
            users,
            groups,
            ldif,
        }
    }

    /// The bundled sample directory (`examples/sample/sample.ldif`).
    pub fn sample() -> Data {
        let ldif = nis::sample_ldif();
        let (users, groups) = nis::parse_ldif(&ldif);
        Data {
            users,
            groups,
            ldif,
        }
    }

    /// More users and groups, which the maps must show too.
    pub fn with_entries(mut self, users: Vec<User>, groups: Vec<Group>) -> Data {
        self.ldif = format!("{}\n\n{}", self.ldif, ldif::entries(&users, &groups));
        self.users.extend(users);
        self.groups.extend(groups);
        self
    }

    /// More LDIF entries that are not in [`Data::users`] or
    /// [`Data::groups`]: entries ypldapd must leave out, or whose lines a
    /// test spells out itself.
    pub fn with_ldif(mut self, ldif: &str) -> Data {
        self.ldif = format!("{}\n\n{ldif}", self.ldif);
        self
    }
}

/// A kind of directory server. OpenLDAP's slapd is the first; another
/// kind is another variant, started and stopped in [`RunningServer`].
#[derive(Debug, Clone)]
pub enum Server {
    Slapd(SlapdOptions),
    /// 389 Directory Server on 127.0.0.1:389 ([`Ds389`]).
    Ds389,
    /// Samba as an Active Directory DC ([`SambaAd`]).
    SambaAd,
}

/// One directory: which server, what it holds, how ypldapd reads it.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Its own directory in the namespace's scratch directory.
    pub name: String,
    pub server: Server,
    pub data: Data,
    /// Its block in the configuration; `None` leaves it out.
    pub block: Option<DirectoryBlock>,
}

impl Directory {
    /// slapd on 127.0.0.1 holding `data`, read with the service account.
    pub fn slapd(data: Data) -> Directory {
        Directory::slapd_with(data, SlapdOptions::default())
    }

    /// slapd set up as `options` say, read at its address.
    pub fn slapd_with(data: Data, options: SlapdOptions) -> Directory {
        Directory {
            name: "slapd".into(),
            block: Some(DirectoryBlock::new(&options.address)),
            server: Server::Slapd(options),
            data,
        }
    }

    /// 389 Directory Server on 127.0.0.1 holding `data` (with read ACIs
    /// and the service account's limits added), read with the service
    /// account.
    pub fn ds389(data: Data) -> Directory {
        Directory {
            name: "ds389".into(),
            block: Some(DirectoryBlock::new("127.0.0.1")),
            server: Server::Ds389,
            data,
        }
    }

    /// Samba as an Active Directory domain controller holding `data`
    /// (entries under [`samba_ad::USERS`]), read as the man page's Active
    /// Directory example says: LDAPS with the test CA, the Administrator's
    /// bind, users by `objectCategory`, names from `sAMAccountName`,
    /// members from `member` DNs, no password hashes.
    pub fn samba_ad(data: Data) -> Directory {
        let mut b = DirectoryBlock::new("127.0.0.1");
        b.tls = Tls::Ldaps;
        b.bind = Bind::Simple {
            dn: samba_ad::ADMIN_DN.into(),
            password: samba_ad::ADMIN_PW.into(),
        };
        b.password = Password::Fixed;
        b.basedn = samba_ad::USERS.into();
        b.groupdn = samba_ad::USERS.into();
        b.passwd_filter = "(&(objectCategory=person)(uidNumber=*))".into();
        b.group_filter = "(&(objectClass=group)(gidNumber=*))".into();
        b.name_attribute = "sAMAccountName".into();
        b.home_attribute = "unixHomeDirectory".into();
        b.groupname_attribute = "sAMAccountName".into();
        b.members = vec!["member".into()];
        Directory {
            name: "samba".into(),
            block: Some(b),
            server: Server::SambaAd,
            data,
        }
    }

    /// Names it (each directory of a world needs its own name).
    pub fn named(mut self, name: &str) -> Directory {
        self.name = name.to_owned();
        self
    }

    /// Changes how ypldapd reads it.
    pub fn read(mut self, f: impl FnOnce(&mut DirectoryBlock)) -> Directory {
        if let Some(b) = self.block.as_mut() {
            f(b);
        }
        self
    }
}

/// A directory server running in a world.
pub enum RunningServer {
    Slapd(Slapd),
    Ds389(Ds389),
    SambaAd(SambaAd),
}

impl RunningServer {
    fn start(ns: &Namespace, pki: &Pki, d: &Directory) -> RunningServer {
        match &d.server {
            Server::Slapd(o) => {
                RunningServer::Slapd(Slapd::start(ns, &d.name, pki, &d.data.ldif, o.clone()))
            }
            Server::Ds389 => RunningServer::Ds389(Ds389::start(ns, &d.name, &d.data.ldif)),
            Server::SambaAd => {
                RunningServer::SambaAd(SambaAd::start(ns, &d.name, pki, &d.data.ldif))
            }
        }
    }

    /// slapd, if this is one.
    pub fn slapd(&mut self) -> &mut Slapd {
        match self {
            RunningServer::Slapd(s) => s,
            RunningServer::Ds389(_) | RunningServer::SambaAd(_) => {
                panic!("this directory is not slapd")
            }
        }
    }

    /// 389 Directory Server, if this is one.
    pub fn ds389(&mut self) -> &mut Ds389 {
        match self {
            RunningServer::Ds389(s) => s,
            RunningServer::Slapd(_) | RunningServer::SambaAd(_) => {
                panic!("this directory is not 389-ds")
            }
        }
    }

    /// Kills the server and waits for it to be gone.
    pub fn kill(&mut self) {
        match self {
            RunningServer::Slapd(s) => s.kill(),
            RunningServer::Ds389(s) => s.kill(),
            RunningServer::SambaAd(s) => s.kill(),
        }
    }

    /// Starts it again on the data it has.
    pub fn run(&mut self, ns: &Namespace) {
        match self {
            RunningServer::Slapd(s) => s.run(ns),
            RunningServer::Ds389(s) => s.run(ns),
            RunningServer::SambaAd(s) => s.run(ns),
        }
    }

    pub fn signal(&self, sig: Signal) {
        if let Some(p) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), sig);
        }
    }

    /// The server process's host pid.
    pub fn pid(&self) -> Option<u32> {
        match self {
            RunningServer::Slapd(s) => s.pid(),
            RunningServer::Ds389(s) => s.pid(),
            RunningServer::SambaAd(s) => s.pid(),
        }
    }
}

/// How far [`World::start_ypldapd`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The process runs.
    Started,
    /// The first update's summary is in the log.
    FirstMaps,
    /// rpcbind lists YP (ypldapd registers only once it has maps).
    Registered,
}

/// What [`World::builder`] is told before [`WorldBuilder::start`].
pub struct WorldBuilder {
    domain: String,
    hostname: Option<String>,
    directories: Vec<Directory>,
    rpcbind: bool,
    ypldapd: bool,
    program: Option<PathBuf>,
    interval: u32,
    statements: Vec<String>,
    source: Source,
    reloadable: bool,
    log_lines: LogLines,
    ready: Option<Ready>,
}

/// Where the configuration's text comes from.
#[derive(Debug, Clone)]
enum Source {
    /// [`World::config`], rendered.
    Built,
    /// `examples/sample/ypldap.conf`, its domain replaced by the world's,
    /// the builder's statements after it.
    Sample,
    /// Exactly this text.
    Text(String),
}

impl WorldBuilder {
    /// A directory (in the configuration too, unless its block is `None`).
    pub fn directory(mut self, d: Directory) -> Self {
        self.directories.push(d);
        self
    }

    /// The namespace's host name (what YPPROC_MASTER answers).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = Some(name.to_owned());
        self
    }

    /// No rpcbind (start one later with [`World::start_rpcbind`]).
    pub fn without_rpcbind(mut self) -> Self {
        self.rpcbind = false;
        self
    }

    /// Do not start ypldapd yet: [`World::start_ypldapd`] does.
    pub fn without_ypldapd(mut self) -> Self {
        self.ypldapd = false;
        self
    }

    /// Nothing but the namespaces: no directory, rpcbind or ypldapd.
    pub fn bare(self) -> Self {
        self.without_rpcbind().without_ypldapd()
    }

    /// Runs this ypldapd (its helpers are found next to it) instead of the
    /// workspace's build.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// `interval` (600 unless told).
    pub fn interval(mut self, seconds: u32) -> Self {
        self.interval = seconds;
        self
    }

    /// A top-level statement (`allow "…"`, `provide map "…"`, `bind local`).
    pub fn statement(mut self, line: impl Into<String>) -> Self {
        self.statements.push(line.into());
        self
    }

    /// The configuration file's whole text, instead of the one built from
    /// the directories ([`World::expected_maps`] then assumes passwords
    /// from the directory).
    pub fn config_text(mut self, text: impl Into<String>) -> Self {
        self.source = Source::Text(text.into());
        self
    }

    /// The bundled sample configuration (`examples/sample/ypldap.conf`,
    /// which reads 127.0.0.1 with the service account), for the world's
    /// domain, with the builder's statements after `domain`: tests on it
    /// keep the sample and what the demo shows honest.
    pub fn sample_config(mut self) -> Self {
        self.source = Source::Sample;
        self
    }

    /// The configuration owned by root, group `_ypldap`, mode 0640, as a
    /// package installs it: ypldapd can read it again on SIGHUP after it
    /// dropped root. (Otherwise root's, mode 0600.)
    pub fn reloadable(mut self) -> Self {
        self.reloadable = true;
        self
    }

    /// ypldapd's log read through a pipe, each line time-stamped.
    pub fn timestamped_log(mut self) -> Self {
        self.log_lines = LogLines::Timestamped;
        self
    }

    /// How far to wait for ypldapd. The default: [`Ready::Registered`]
    /// with rpcbind, else [`Ready::FirstMaps`] with a directory, else
    /// [`Ready::Started`].
    pub fn ready(mut self, ready: Ready) -> Self {
        self.ready = Some(ready);
        self
    }

    /// Creates the namespaces, starts the directories (after a PKI for
    /// their certificates), rpcbind and ypldapd, and waits.
    pub fn start(self) -> World {
        let ns = Namespace::new(&self.domain);
        if let Some(h) = &self.hostname {
            ns.sh(&format!("hostname '{h}'"));
        }
        let pki = (!self.directories.is_empty()).then(|| Pki::create(ns.dir.path()));
        let servers = self
            .directories
            .iter()
            .map(|d| RunningServer::start(&ns, pki.as_ref().expect("pki"), d))
            .collect();
        let rpcbind = self.rpcbind.then(|| start_rpcbind(&ns));
        let config = Config {
            domain: self.domain.clone(),
            interval: self.interval,
            cafile: None,
            statements: self.statements,
            directories: self
                .directories
                .iter()
                .filter_map(|d| d.block.clone())
                .collect(),
        };
        let ready = self.ready.unwrap_or(if self.rpcbind {
            Ready::Registered
        } else if !self.directories.is_empty() {
            Ready::FirstMaps
        } else {
            Ready::Started
        });
        let mut w = World {
            domain: self.domain,
            config,
            source: self.source,
            program: self.program,
            reloadable: self.reloadable,
            log_lines: self.log_lines,
            ready,
            data: self.directories.into_iter().map(|d| d.data).collect(),
            ypldapd: None,
            rpcbind,
            servers,
            pki,
            ns,
        };
        if self.ypldapd {
            w.start_ypldapd();
        }
        w
    }
}

/// One test's namespaces and what runs in them. Fields drop in order:
/// ypldapd and the peers before the namespaces.
pub struct World {
    pub domain: String,
    /// The configuration [`World::start_ypldapd`] writes (unless
    /// [`WorldBuilder::config_text`] was given).
    pub config: Config,
    source: Source,
    /// The ypldapd that [`World::start_ypldapd`] runs (`None`: the
    /// workspace's build).
    pub program: Option<PathBuf>,
    reloadable: bool,
    log_lines: LogLines,
    /// How far [`World::start_ypldapd`] waits.
    pub ready: Ready,
    /// What each directory holds, in the order they were added.
    data: Vec<Data>,
    ypldapd: Option<Ypldapd>,
    rpcbind: Option<Rpcbind>,
    servers: Vec<RunningServer>,
    pki: Option<Pki>,
    /// Last: dropping it kills everything left inside.
    pub ns: Namespace,
}

impl World {
    /// A world for NIS domain `domain` (also the namespace's domain name):
    /// by default rpcbind and ypldapd with `interval 600`, waited for
    /// until registered; add directories with [`WorldBuilder::directory`].
    pub fn builder(domain: &str) -> WorldBuilder {
        WorldBuilder {
            domain: domain.to_owned(),
            hostname: None,
            directories: Vec::new(),
            rpcbind: true,
            ypldapd: true,
            program: None,
            interval: 600,
            statements: Vec::new(),
            source: Source::Built,
            reloadable: false,
            log_lines: LogLines::File,
            ready: None,
        }
    }

    /// The running ypldapd.
    pub fn ypldapd(&self) -> &Ypldapd {
        self.ypldapd.as_ref().expect("ypldapd is not running")
    }

    /// The running ypldapd, mutably (to wait for its exit).
    pub fn ypldapd_mut(&mut self) -> &mut Ypldapd {
        self.ypldapd.as_mut().expect("ypldapd is not running")
    }

    /// ypldapd's log so far.
    pub fn log(&self) -> String {
        self.ypldapd().log()
    }

    /// Waits until ypldapd's log says `text` (`count` times in all).
    pub fn wait_log(&self, text: &str, count: usize, limit: Duration) {
        self.ypldapd().wait_log(text, count, limit);
    }

    /// The test PKI (made when the world has a directory).
    pub fn pki(&self) -> &Pki {
        self.pki
            .as_ref()
            .expect("a world with a directory has a PKI")
    }

    /// Directory `i`'s server.
    pub fn server(&mut self, i: usize) -> &mut RunningServer {
        &mut self.servers[i]
    }

    /// Directory `i`'s server and the namespaces it runs in (what its
    /// own tools need to reach it).
    pub fn server_in_ns(&mut self, i: usize) -> (&mut RunningServer, &Namespace) {
        (&mut self.servers[i], &self.ns)
    }

    /// The first directory's slapd.
    pub fn slapd(&mut self) -> &mut Slapd {
        self.servers[0].slapd()
    }

    /// An administrator's change to the first directory (slapd):
    /// `ldapmodify`, `ldapadd` or `ldapdelete` with `input`; returns when
    /// the tool does.
    pub fn change_directory(&mut self, tool: &str, input: &str) {
        let ns = &self.ns;
        self.servers[0].slapd().write(ns, tool, input);
    }

    /// Starts directory `i`'s server again (after a kill).
    pub fn restart_server(&mut self, i: usize) {
        self.servers[i].run(&self.ns);
    }

    /// Restarts the first directory (slapd) out of ypldapd's reach: it
    /// runs and [`World::change_directory`] changes it, but only through
    /// its unix socket.
    pub fn cut_off_directory(&mut self) {
        let ns = &self.ns;
        let s = self.servers[0].slapd();
        s.kill();
        s.run_unreachable(ns);
    }

    /// Restarts the first directory (slapd) where ypldapd reaches it.
    pub fn reconnect_directory(&mut self) {
        let ns = &self.ns;
        let s = self.servers[0].slapd();
        s.kill();
        s.run(ns);
    }

    /// Replaces the first directory's (slapd's) database with `ldif`
    /// ([`Slapd::reload`]).
    pub fn reload_directory(&mut self, ldif: &str) {
        let ns = &self.ns;
        self.servers[0].slapd().reload(ns, ldif);
    }

    /// The most bytes received on one open TCP connection to `port` in the
    /// namespace (`ss -ti`): how far a reader got into a directory's answer.
    pub fn bytes_received_from(&self, port: u16) -> u64 {
        let out = self
            .ns
            .command("ss")
            .args(["-Htin", "state", "established"])
            .arg(format!("( dport = :{port} )"))
            .output()
            .expect("ss");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("bytes_received:")?.parse().ok())
            .max()
            .unwrap_or(0)
    }

    /// Kills directory `i`'s server (listening on `port`) in the middle of
    /// an answer: once a reader has received `min_bytes` on one connection
    /// to it, which is still open.
    pub fn kill_server_mid_search(&mut self, i: usize, port: u16, min_bytes: u64) {
        if wait_for(READY_LIMIT, || {
            (self.bytes_received_from(port) >= min_bytes).then_some(())
        })
        .is_none()
        {
            panic!(
                "no reader got {min_bytes} bytes from port {port}:\n{}",
                self.log()
            );
        }
        self.servers[i].signal(Signal::SIGKILL);
        self.servers[i].kill();
    }

    /// Every directory's users, in order.
    pub fn users(&self) -> Vec<User> {
        self.data.iter().flat_map(|d| d.users.clone()).collect()
    }

    /// Every directory's groups, in order.
    pub fn groups(&self) -> Vec<Group> {
        self.data.iter().flat_map(|d| d.groups.clone()).collect()
    }

    /// The configuration's text as [`World::start_ypldapd`] writes it: the
    /// CA of the world's PKI is added when a directory uses TLS.
    pub fn config_text(&self) -> String {
        match &self.source {
            Source::Built => {
                let mut c = self.config.clone();
                if c.cafile.is_none() && c.uses_tls() {
                    c.cafile = Some(self.pki().path("ca.crt"));
                }
                c.render()
            }
            Source::Sample => {
                let mut head = format!("domain \"{}\"", self.domain);
                for line in &self.config.statements {
                    head.push('\n');
                    head.push_str(line);
                }
                let text = nis::sample_conf().replace("domain \"example.com\"", &head);
                assert!(text.contains(&head), "the sample's domain line changed");
                text
            }
            Source::Text(t) => t.clone(),
        }
    }

    /// Writes `text` as the configuration file (see
    /// [`WorldBuilder::reloadable`]) and returns its path.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.ns.dir.path().join("ypldap.conf");
        if self.reloadable {
            install_reloadable(&path, text);
        } else {
            self.ns.write_file("ypldap.conf", text);
        }
        path
    }

    /// Writes the configuration and starts ypldapd on it, then waits as
    /// [`World::ready`] says.
    pub fn start_ypldapd(&mut self) {
        assert!(self.ypldapd.is_none(), "ypldapd runs already");
        let path = self.write_config(&self.config_text());
        let binary = self.program.clone().unwrap_or_else(|| program("ypldapd"));
        self.ypldapd = Some(Ypldapd::launch(&self.ns, &binary, &path, self.log_lines));
        match self.ready {
            Ready::Started => {}
            Ready::FirstMaps => self.wait_log("update 1: ", 1, READY_LIMIT),
            Ready::Registered => self.wait_registered(READY_LIMIT),
        }
    }

    /// Stops ypldapd with `sig` and returns its exit status; panics if it
    /// is still running after 10 s.
    pub fn stop_ypldapd(&mut self, sig: Signal) -> ExitStatus {
        let mut d = self.ypldapd.take().expect("ypldapd is not running");
        let status = d.stop(sig, Duration::from_secs(10));
        status.unwrap_or_else(|| panic!("ypldapd did not stop on {sig}:\n{}", d.log()))
    }

    /// SIGTERM (ypldapd unregisters), then starts it again on
    /// [`World::config`].
    pub fn restart_ypldapd(&mut self) {
        let status = self.stop_ypldapd(Signal::SIGTERM);
        assert!(status.success(), "ypldapd exited with {status}");
        self.start_ypldapd();
    }

    /// Starts rpcbind (again).
    pub fn start_rpcbind(&mut self) {
        assert!(self.rpcbind.is_none(), "rpcbind runs already");
        self.rpcbind = Some(start_rpcbind(&self.ns));
    }

    /// Kills rpcbind.
    pub fn stop_rpcbind(&mut self) {
        drop(self.rpcbind.take());
    }

    /// Whether rpcbind lists YP.
    pub fn registered(&self) -> bool {
        yp_registered(&self.ns)
    }

    /// Waits until rpcbind lists YP; panics with ypldapd's log if not.
    pub fn wait_registered(&self, limit: Duration) {
        if wait_for(limit, || self.registered().then_some(())).is_none() {
            panic!("ypldapd never registered with rpcbind:\n{}", self.log());
        }
    }

    /// `ypldapctl ARGS` run inside the namespaces, as root unless `user`
    /// gives `setpriv` arguments: its exit status, stdout and stderr.
    pub fn ypldapctl(&self, user: Option<&[&str]>, args: &[&str]) -> std::process::Output {
        let mut c = match user {
            None => self.ns.command(program("ypldapctl")),
            Some(u) => {
                let mut c = self.ns.command("setpriv");
                c.args(u).arg(program("ypldapctl"));
                c
            }
        };
        c.args(args).output().expect("run ypldapctl")
    }

    /// ypldapd's control socket at its default place, as the test sees
    /// it from outside the namespaces.
    pub fn control_socket(&self) -> PathBuf {
        self.ns.path_inside("/run/ypldapd.sock")
    }

    /// The YP port (UDP and TCP): the first address of ypldapd's
    /// "serving domain D on ADDR:PORT, ..." line (IPv4 first).
    pub fn yp_port(&self) -> u16 {
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.starts_with("serving domain "))
            .unwrap_or_else(|| panic!("no \"serving domain\" line:\n{log}"));
        line.split_once(" on ")
            .and_then(|(_, a)| a.split(',').next())
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    }

    /// What every map must hold: the directories' users and groups, with
    /// passwords as the configuration maps them.
    pub fn expected_maps(&self) -> Maps {
        let password = match self.source {
            Source::Built => self.config.password(),
            Source::Sample | Source::Text(_) => Password::FromDirectory,
        };
        expect::maps(&self.users(), &self.groups(), &self.domain, password)
    }

    /// `ypcat -k -h 127.0.0.1` of `map`: the (key, value) pairs, sorted.
    pub fn ypcat(&self, map: &str) -> Result<Vec<(String, String)>, String> {
        crate::ypcat(&self.ns, &self.domain, map)
    }

    /// `ypmatch -d DOMAIN key map` (needs a binding: [`World::bind_clients`]).
    /// Polls `ypmatch key map` until `want` holds for its answer (`None`:
    /// the server says "no such key"; any other failure never satisfies
    /// it); returns the time since `since`, or panics after `limit` with
    /// what it saw and the log.
    pub fn ypmatch_until(
        &self,
        since: Instant,
        key: &str,
        map: &str,
        want: &dyn Fn(Option<&str>) -> bool,
        limit: Duration,
    ) -> Duration {
        let mut last = None;
        let seen = wait_for(limit, || {
            let r = self.ypmatch(key, map);
            let ok = match &r {
                Ok(line) => want(Some(line)),
                Err(e) => e.contains("No such key") && want(None),
            };
            last = Some(r);
            ok.then(|| since.elapsed())
        });
        seen.unwrap_or_else(|| {
            panic!(
                "ypmatch {key} {map} never changed as expected (last: {last:?}):\n{}",
                self.log()
            )
        })
    }

    pub fn ypmatch(&self, key: &str, map: &str) -> Result<String, String> {
        let r = nis::run(&self.ns, &["ypmatch", "-d", &self.domain, key, map]);
        if r.ok {
            Ok(r.stdout)
        } else {
            Err(format!("ypmatch {key} {map}: {}{}", r.stderr, r.stdout))
        }
    }

    /// Lets libnsl clients (ypmatch, NSS) find the server: a binding file
    /// for 127.0.0.1, as ypbind would write it.
    pub fn bind_clients(&self) {
        nis::write_binding_file(&self.ns, &self.domain);
    }

    /// Every map, as `ypcat -k` shows it, is [`World::expected_maps`].
    pub fn assert_maps(&self) {
        let want = self.expected_maps();
        for map in MapName::ALL.map(MapName::as_str) {
            let got = self.ypcat(map).unwrap_or_else(|e| panic!("{e}"));
            let w = &want[map];
            assert_eq!(got.len(), w.len(), "{map}: number of entries");
            assert_eq!(&got, w, "{map}");
        }
    }
}

/// Writes `text` to `path` by replacing the file (as editors do), owned by
/// root, group _ypldap, mode 0640: readable by ypldapd after it dropped root.
pub fn install_reloadable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    let gid = nix::unistd::Group::from_name(privsep::UNPRIVILEGED_USER)
        .ok()
        .flatten()
        .expect("group _ypldap")
        .gid;
    nix::unistd::chown(&tmp, Some(nix::unistd::Uid::from_raw(0)), Some(gid)).expect("chown");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A value several tests of one binary share (a world, a reference
/// server): made by the first test that asks while no other holds it,
/// dropped (its namespaces with it) when the last test holding it is done.
/// Tests that run at the same time share one; a test that starts after
/// every holder finished makes it again.
pub struct Shared<T> {
    slot: std::sync::Mutex<std::sync::Weak<T>>,
}

impl<T> Shared<T> {
    pub const fn new() -> Shared<T> {
        Shared {
            slot: std::sync::Mutex::new(std::sync::Weak::new()),
        }
    }

    /// The shared value, made by `make` if no test holds it now.
    pub fn get(&self, make: impl FnOnce() -> T) -> std::sync::Arc<T> {
        // A test that panicked while making it leaves no value: make again.
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = slot.upgrade() {
            return v;
        }
        let v = std::sync::Arc::new(make());
        *slot = std::sync::Arc::downgrade(&v);
        v
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared::new()
    }
}
