//! A throw-away test PKI made with the openssl command: a CA, a server
//! certificate for 127.0.0.1 and localhost, an unrelated CA, an expired
//! server certificate, and a client certificate for SASL EXTERNAL.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of a test PKI.
pub struct Pki {
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Creates the PKI in `dir` (which must exist).
    pub fn create(dir: &Path) -> Pki {
        let d = dir;
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=ypldap test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:ldap.test,IP:127.0.0.1,IP:::1\n",
        )
        .expect("ext");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-sha256",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        std::fs::write(
            d.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .expect("ext");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-keyout",
                "client.key",
                "-out",
                "client.csr",
                "-subj",
                "/CN=ypldap",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-sha256",
                "-extfile",
                "client.ext",
                "-out",
                "client.crt",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-keyout",
                "wrongca.key",
                "-out",
                "wrongca.crt",
                "-subj",
                "/CN=some other CA",
            ],
        );
        // An expired server certificate, same key: openssl ca can backdate.
        let exp = d.join("expca");
        std::fs::create_dir_all(&exp).expect("mkdir");
        std::fs::write(exp.join("index.txt"), "").expect("index");
        std::fs::write(exp.join("serial"), "1000\n").expect("serial");
        std::fs::write(
            exp.join("ca.cnf"),
            format!(
                "[ ca ]\ndefault_ca = t\n[ t ]\ndatabase = {e}/index.txt\nserial = {e}/serial\n\
                 new_certs_dir = {e}\ndefault_md = sha256\npolicy = p\ncopy_extensions = none\n\
                 [ p ]\ncommonName = supplied\n[ ext ]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
                e = exp.display()
            ),
        )
        .expect("cnf");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "server.key",
                "-out",
                "expca/exp.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "expca/ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-startdate",
                "20000101000000Z",
                "-enddate",
                "20010101000000Z",
                "-extensions",
                "ext",
                "-notext",
                "-in",
                "expca/exp.csr",
                "-out",
                "expired.crt",
            ],
        );
        for f in [
            "ca.crt",
            "server.crt",
            "server.key",
            "client.crt",
            "client.key",
            "wrongca.crt",
            "expired.crt",
        ] {
            let mode = if f.ends_with(".key") { 0o600 } else { 0o644 };
            std::fs::set_permissions(
                d.join(f),
                std::os::unix::fs::PermissionsExt::from_mode(mode),
            )
            .expect("chmod");
        }
        Pki {
            dir: d.to_path_buf(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
