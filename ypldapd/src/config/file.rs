//! The thin I/O layer: the real filesystem, the secrecy check upstream runs
//! on every configuration file, and `/etc/services`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{IncludeSource, builtin_service};

/// Reads the real filesystem as the calling user.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsSource;

/// Upstream's `check_file_secrecy()`: owner root or the real uid; no
/// group-write, group-execute or "other" permission bits.
pub fn check_secrecy(meta: &std::fs::Metadata, uid: u32) -> Result<(), String> {
    if meta.uid() != 0 && meta.uid() != uid {
        return Err("owner not root or current user".to_owned());
    }
    if meta.mode() & 0o037 != 0 {
        return Err("group writable or world read/writable".to_owned());
    }
    Ok(())
}

fn io_reason(e: &std::io::Error) -> String {
    // "No such file or directory (os error 2)" -> the strerror part.
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl IncludeSource for FsSource {
    fn read_config(&self, path: &str) -> Result<Vec<u8>, String> {
        let mut f = File::open(path).map_err(|e| io_reason(&e))?;
        let meta = f.metadata().map_err(|e| io_reason(&e))?;
        check_secrecy(&meta, nix::unistd::getuid().as_raw())?;
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| io_reason(&e))?;
        Ok(data)
    }

    fn read_file(&self, path: &Path) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| io_reason(&e))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    /// `/etc/services` first (as upstream's `getservbyname(name, "tcp")`),
    /// then the built-in table (`ldap` = 389).
    fn service_port(&self, name: &str) -> Option<u16> {
        std::fs::read_to_string("/etc/services")
            .ok()
            .and_then(|text| services_lookup(&text, name))
            .or_else(|| builtin_service(name))
    }
}

/// Wraps a source and notes every file read through it, so the daemon knows
/// what its sandbox must still let it read for a reload.
pub struct Recording<'a> {
    inner: &'a dyn IncludeSource,
    files: std::cell::RefCell<Vec<std::path::PathBuf>>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a dyn IncludeSource) -> Self {
        Recording {
            inner,
            files: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The files read, in order, without repeats.
    pub fn files(self) -> Vec<std::path::PathBuf> {
        let mut v = self.files.into_inner();
        let mut seen = std::collections::HashSet::new();
        v.retain(|p| seen.insert(p.clone()));
        v
    }

    fn note(&self, p: &Path) {
        self.files.borrow_mut().push(p.to_path_buf());
    }
}

impl IncludeSource for Recording<'_> {
    fn read_config(&self, path: &str) -> Result<Vec<u8>, String> {
        self.note(Path::new(path));
        self.inner.read_config(path)
    }
    fn read_file(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.note(path);
        self.inner.read_file(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn service_port(&self, name: &str) -> Option<u16> {
        self.note(Path::new("/etc/services"));
        self.inner.service_port(name)
    }
}

/// Finds `name` (or an alias) with protocol tcp in services(5) text.
pub fn services_lookup(text: &str, name: &str) -> Option<u16> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        if proto != "tcp" || (first != name && !words.any(|a| a == name)) {
            return None;
        }
        port.parse::<u16>().ok().filter(|p| *p != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn services() {
        let text = "# x\nldap\t\t389/tcp\t\t\t# LDAP\nldap 389/udp\nfoo 1234/tcp bar baz\n";
        assert_eq!(services_lookup(text, "ldap"), Some(389));
        assert_eq!(services_lookup(text, "baz"), Some(1234));
        assert_eq!(services_lookup(text, "nope"), None);
    }

    /// A `keyfile` gets the configuration's secrecy check: a key anyone
    /// may read is refused with the same words.
    #[test]
    fn keyfile_secrecy_check() {
        use super::super::pem::tests::{CERT, KEY};
        let dir = std::env::temp_dir().join(format!("ypldap-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("client.key");
        let cert = dir.join("client.crt");
        std::fs::write(&key, KEY).unwrap();
        std::fs::write(&cert, CERT).unwrap();
        std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = format!(
            "domain \"d\"\ndirectory \"h\" tls {{\n\tcertfile \"{}\"\n\tkeyfile \"{}\"\n}}\n",
            cert.display(),
            key.display()
        );
        let keyfile_errors = |mode: u32| {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            let errs = super::super::parse_str("c.conf", &text, &Default::default(), &FsSource)
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string());
            errs.lines()
                .filter(|l| l.contains("keyfile"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(keyfile_errors(0o600), Vec::<String>::new());
        assert_eq!(
            keyfile_errors(0o644),
            vec![format!(
                "c.conf:4: keyfile {:?}: cannot read: group writable or world read/writable",
                key.display().to_string()
            )]
        );
        assert_eq!(keyfile_errors(0o640), Vec::<String>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrecy_check() {
        let dir = std::env::temp_dir().join(format!("ypldap-secrecy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.conf");
        std::fs::write(&p, "domain \"x\"\n").unwrap();
        let name = p.to_string_lossy().into_owned();
        for (mode, ok) in [
            (0o600, true),
            (0o640, true),
            (0o644, false),
            (0o660, false),
            (0o610, false),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = FsSource.read_config(&name);
            assert_eq!(r.is_ok(), ok, "mode {mode:o}");
            if !ok {
                assert_eq!(r.unwrap_err(), "group writable or world read/writable");
            }
        }
        // A file owned by neither root nor the caller is refused. As root
        // (the test command) the file is handed to another uid first, so
        // the check runs whoever runs the test.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let caller = nix::unistd::getuid().as_raw();
        if caller == 0 {
            std::os::unix::fs::chown(&p, Some(12345), None).unwrap();
            assert_eq!(
                FsSource.read_config(&name).unwrap_err(),
                "owner not root or current user"
            );
        }
        let meta = std::fs::metadata(&p).unwrap();
        let stranger = if caller == 0 {
            0
        } else if meta.uid() == 12345 {
            12346
        } else {
            12345
        };
        assert_ne!(meta.uid(), 0);
        assert_eq!(
            check_secrecy(&meta, stranger).unwrap_err(),
            "owner not root or current user"
        );
        assert!(check_secrecy(&meta, meta.uid()).is_ok(), "its owner may");
        if caller == 0 {
            std::os::unix::fs::chown(&p, Some(0), None).unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = super::super::load(&p, &Default::default());
        assert!(loaded.is_ok(), "{loaded:?}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).unwrap();
        let err = super::super::load(&p, &Default::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}: group writable or world read/writable")
        );
        std::fs::write(&p, "include \"/nonexistent/x\"\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = super::super::load(&p, &Default::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{name}:1: failed to include file /nonexistent/x: No such file or directory"
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
