//! Assembling the configuration ypldapd sends: `ConfigBegin`, one
//! `Directory` per block, its `Pem` chunks, `ConfigEnd`. Pure: no I/O.
#![forbid(unsafe_code)]

use ipc_proto::{Directory, PemKind, TlsMode};

use crate::update::ReadyDirectory;

/// The most PEM text accepted per file (a system CA bundle is ~200 KiB).
pub const MAX_PEM: usize = 4 << 20;

#[derive(Default)]
struct Pending {
    settings: Option<Directory>,
    ca: String,
    cert: String,
    key: String,
}

/// A configuration being received.
pub struct Assembly {
    dirs: Vec<Pending>,
}

impl Assembly {
    /// After `ConfigBegin { directories }`.
    pub fn new(directories: u32) -> Result<Assembly, String> {
        if directories > 1024 {
            return Err(format!("{directories} directories is more than 1024"));
        }
        Ok(Assembly {
            dirs: (0..directories).map(|_| Pending::default()).collect(),
        })
    }

    fn slot(&mut self, index: u32) -> Result<&mut Pending, String> {
        self.dirs
            .get_mut(index as usize)
            .ok_or_else(|| format!("directory index {index} out of range"))
    }

    /// After `Directory { index, settings }`.
    pub fn directory(&mut self, index: u32, settings: Directory) -> Result<(), String> {
        let slot = self.slot(index)?;
        if slot.settings.is_some() {
            return Err(format!("directory {index} sent twice"));
        }
        slot.settings = Some(settings);
        Ok(())
    }

    /// After a `Pem` chunk.
    pub fn pem(&mut self, index: u32, kind: PemKind, data: &str) -> Result<(), String> {
        let slot = self.slot(index)?;
        let buf = match kind {
            PemKind::Ca => &mut slot.ca,
            PemKind::Cert => &mut slot.cert,
            PemKind::Key => &mut slot.key,
        };
        if buf.len() + data.len() > MAX_PEM {
            return Err(format!(
                "{kind:?} file of directory {index} exceeds {MAX_PEM} bytes"
            ));
        }
        buf.push_str(data);
        Ok(())
    }

    /// After `ConfigEnd`: every directory, its TLS configuration built (a
    /// failure there is kept, and fails that directory's updates).
    pub fn finish(self) -> Result<Vec<ReadyDirectory>, String> {
        self.dirs
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let settings = p
                    .settings
                    .ok_or_else(|| format!("directory {i} missing from the configuration"))?;
                let tls = match settings.tls {
                    TlsMode::None => Ok(None),
                    TlsMode::StartTls | TlsMode::Ldaps => crate::tls::client_config(
                        p.ca.as_bytes(),
                        (!p.cert.is_empty()).then_some(p.cert.as_bytes()),
                        (!p.key.is_empty()).then_some(p.key.as_bytes()),
                    )
                    .map(Some),
                };
                Ok(ReadyDirectory { settings, tls })
            })
            .collect()
    }
}
