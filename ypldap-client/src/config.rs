//! Assembling the configuration ypldapd sends: `ConfigBegin`, one
//! `Directory` per block, its `Pem` chunks, `ConfigEnd`. Pure: no I/O.

use std::fmt;

use ipc_proto::{Directory, PemKind, TlsMode};

use crate::update::ReadyDirectory;

/// The most PEM text accepted per file (a system CA bundle is ~200 KiB).
pub const MAX_PEM: usize = 4 << 20;

/// The most directories one configuration may have.
pub const MAX_DIRECTORIES: u32 = 1024;

/// A configuration ypldapd sent that cannot be right. The helper stops on
/// it (ypldapd restarts it): the two programs disagree about the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    TooManyDirectories(u32),
    IndexOutOfRange(u32),
    DirectoryTwice(u32),
    PemTooLarge { index: u32, kind: PemKind },
    DirectoryMissing(usize),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooManyDirectories(n) => {
                write!(f, "{n} directories is more than {MAX_DIRECTORIES}")
            }
            ConfigError::IndexOutOfRange(i) => write!(f, "directory index {i} out of range"),
            ConfigError::DirectoryTwice(i) => write!(f, "directory {i} sent twice"),
            ConfigError::PemTooLarge { index, kind } => {
                write!(
                    f,
                    "{kind:?} file of directory {index} exceeds {MAX_PEM} bytes"
                )
            }
            ConfigError::DirectoryMissing(i) => {
                write!(f, "directory {i} missing from the configuration")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

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
    pub fn new(directories: u32) -> Result<Assembly, ConfigError> {
        if directories > MAX_DIRECTORIES {
            return Err(ConfigError::TooManyDirectories(directories));
        }
        Ok(Assembly {
            dirs: (0..directories).map(|_| Pending::default()).collect(),
        })
    }

    fn slot(&mut self, index: u32) -> Result<&mut Pending, ConfigError> {
        self.dirs
            .get_mut(index as usize)
            .ok_or(ConfigError::IndexOutOfRange(index))
    }

    /// After `Directory { index, settings }`.
    pub fn directory(&mut self, index: u32, settings: Directory) -> Result<(), ConfigError> {
        let slot = self.slot(index)?;
        if slot.settings.is_some() {
            return Err(ConfigError::DirectoryTwice(index));
        }
        slot.settings = Some(settings);
        Ok(())
    }

    /// After a `Pem` chunk.
    pub fn pem(&mut self, index: u32, kind: PemKind, data: &str) -> Result<(), ConfigError> {
        let slot = self.slot(index)?;
        let buf = match kind {
            PemKind::Ca => &mut slot.ca,
            PemKind::Cert => &mut slot.cert,
            PemKind::Key => &mut slot.key,
        };
        if buf.len() + data.len() > MAX_PEM {
            return Err(ConfigError::PemTooLarge { index, kind });
        }
        buf.push_str(data);
        Ok(())
    }

    /// After `ConfigEnd`: every directory, its TLS configuration built (a
    /// failure there is kept, and fails that directory's updates).
    pub fn finish(self) -> Result<Vec<ReadyDirectory>, ConfigError> {
        self.dirs
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let settings = p.settings.ok_or(ConfigError::DirectoryMissing(i))?;
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
