//! TEMPORARY minimal configuration reader (domain and interval only), with
//! the API of the full parser that replaces it.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::maps::MapName;

pub struct LoadOptions {
    pub macros: Vec<(String, String)>,
    pub verbose: bool,
}

pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{}:{}: {}", d.file.display(), d.line, d.message)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    Portmap,
    Local,
}

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    pub settings: ipc_proto::Directory,
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub domain: String,
    pub interval: Duration,
    pub maps: Option<std::collections::BTreeSet<MapName>>,
    pub bind: BindMode,
    pub allow: Vec<IpNet>,
    pub directories: Vec<DirectoryConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Config {
    pub fn served_maps(&self) -> Vec<MapName> {
        match &self.maps {
            Some(m) => m.iter().copied().collect(),
            None => MapName::ALL.to_vec(),
        }
    }
    pub fn endpoints(&self) -> Vec<ipc_proto::Endpoint> {
        self.directories
            .iter()
            .map(|d| ipc_proto::Endpoint {
                host: d.settings.host.clone(),
                port: d.settings.port,
            })
            .collect()
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "domain {:?}", self.domain)?;
        writeln!(f, "interval {}", self.interval.as_secs())
    }
}

pub fn load(path: &Path, _opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let diag = |line, message: String| {
        Diagnostics(vec![Diagnostic {
            file: path.to_owned(),
            line,
            message,
        }])
    };
    let text = std::fs::read_to_string(path).map_err(|e| diag(0, e.to_string()))?;
    let mut domain = None;
    let mut interval = 600;
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["domain", d] => domain = Some(d.trim_matches('"').to_owned()),
            ["interval", n] => {
                interval = n.parse().map_err(|_| diag(i + 1, "syntax error".into()))?
            }
            _ => return Err(diag(i + 1, "syntax error".into())),
        }
    }
    let domain = domain.ok_or_else(|| diag(0, "no domain".into()))?;
    Ok(Loaded {
        config: Config {
            domain,
            interval: Duration::from_secs(interval),
            maps: None,
            bind: BindMode::Portmap,
            allow: Vec::new(),
            directories: Vec::new(),
        },
        warnings: Vec::new(),
    })
}
