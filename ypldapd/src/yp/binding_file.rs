//! `bind local`: the binding file `/var/yp/binding/DOMAIN.2` that tells
//! libc/libnsl clients where the server is without ypbind (reference §5.1).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Where the binding files live.
pub const BINDING_DIR: &str = "/var/yp/binding";

/// The 16 bytes upstream writes, in host layout: 2 bytes ypbind port (0),
/// `struct ypbind_resp` {int status = YPBIND_SUCC_VAL (1), in_addr (network
/// order), u_short UDP port (network order), 2 bytes padding}, then the TCP
/// port (network order). libnsl reads the first 14 and takes the address.
pub fn binding_bytes(addr: Ipv4Addr, udp_port: u16, tcp_port: u16) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[2..6].copy_from_slice(&1i32.to_ne_bytes());
    b[6..10].copy_from_slice(&addr.octets());
    b[10..12].copy_from_slice(&udp_port.to_be_bytes());
    b[14..16].copy_from_slice(&tcp_port.to_be_bytes());
    b
}

/// `DIR/DOMAIN.2`, refusing domain names that would leave the directory.
pub fn binding_path(dir: &Path, domain: &str) -> io::Result<PathBuf> {
    if domain.is_empty()
        || domain.starts_with('.')
        || domain.contains(['/', '\0'])
        || domain.len() > yp_proto::proto::YPMAXDOMAIN
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unusable domain name for a binding file: {domain:?}"),
        ));
    }
    Ok(dir.join(format!("{domain}.2")))
}

/// Creates (or empties) the binding file, creating `dir` 0755 if needed
/// and the file 0644, and takes the shared `flock` upstream holds for the
/// process's lifetime. Done as root before the sandbox; the file stays
/// empty, which clients read as "no binding", until [`fill_binding_file`]
/// writes it once the first maps are loaded. Keep the value alive.
pub fn open_binding_file(dir: &Path, domain: &str) -> io::Result<Flock<File>> {
    let path = binding_path(dir, domain)?;
    DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)?;
    let f = Flock::lock(f, FlockArg::LockSharedNonblock).map_err(|(_, e)| io::Error::from(e))?;
    f.set_len(0)?;
    Ok(f)
}

/// Writes the 16 bytes of the binding into a file from [`open_binding_file`],
/// over whatever is there (the same 16 bytes, or nothing: the file was
/// emptied when opened). No truncation: it runs inside the sandbox, which
/// does not allow `ftruncate`.
pub fn fill_binding_file(
    f: &mut Flock<File>,
    addr: Ipv4Addr,
    udp_port: u16,
    tcp_port: u16,
) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&binding_bytes(addr, udp_port, tcp_port))?;
    f.flush()
}

/// Opens and fills the binding file in one step.
pub fn write_binding_file(
    dir: &Path,
    domain: &str,
    addr: Ipv4Addr,
    udp_port: u16,
    tcp_port: u16,
) -> io::Result<Flock<File>> {
    let mut f = open_binding_file(dir, domain)?;
    fill_binding_file(&mut f, addr, udp_port, tcp_port)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let b = binding_bytes(Ipv4Addr::LOCALHOST, 0x0102, 0x0304);
        assert_eq!(&b[0..2], &[0, 0]);
        assert_eq!(i32::from_ne_bytes([b[2], b[3], b[4], b[5]]), 1);
        assert_eq!(&b[6..10], &[127, 0, 0, 1]);
        assert_eq!(&b[10..12], &[1, 2]);
        assert_eq!(&b[12..14], &[0, 0]);
        assert_eq!(&b[14..16], &[3, 4]);
    }

    #[test]
    fn write_and_refuse_bad_names() {
        let dir = std::env::temp_dir().join(format!("yp-binding-test-{}", std::process::id()));
        let f = write_binding_file(&dir, "example.org", Ipv4Addr::LOCALHOST, 700, 701).unwrap();
        let data = std::fs::read(dir.join("example.org.2")).unwrap();
        assert_eq!(data, binding_bytes(Ipv4Addr::LOCALHOST, 700, 701));
        drop(f);
        for bad in ["", "..", "a/b", ".hidden"] {
            assert!(binding_path(&dir, bad).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
