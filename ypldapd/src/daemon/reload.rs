//! SIGHUP: reading the configuration again, inside the sandbox.

use super::*;

/// What a reload needs: where the configuration is, how it was loaded, and
/// what the sandbox entered at start still allows.
pub(super) struct Reload {
    pub(super) path: PathBuf,
    pub(super) options: LoadOptions,
    /// Directories holding the files read at start: Landlock lets ypldapd
    /// read beneath them (an edit usually replaces a file, and a rule on the
    /// file itself would not follow the new one).
    pub(super) readable_dirs: Vec<PathBuf>,
    /// The directories' TCP ports at start: the only ones the broker, and
    /// ypldapd's sandbox inherited by a restarted broker, may connect to.
    pub(super) ports: Vec<u16>,
    /// The host name MASTER answers with.
    pub(super) host: String,
}

/// The parent directories of `files`, without repeats.
pub(super) fn readable_dirs(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

impl Daemon {
    /// SIGHUP (or `ypldapctl reload`): read the configuration again;
    /// apply it if it is valid and needs no restart, else keep running on
    /// the current one. Returns what happened, for ypldapctl: a line on
    /// success, the errors on failure (both are logged too).
    pub(super) fn reload_config(&mut self, asked_by: &str) -> Result<String, String> {
        info!("{asked_by}: reloading {}", self.reload.path.display());
        let (result, _) = crate::config::load_noting_files(&self.reload.path, &self.reload.options);
        let loaded = match result {
            Ok(l) => l,
            Err(diagnostics) => {
                let mut text = diagnostics.to_string();
                for line in text.lines() {
                    error!("reload: {line}");
                }
                if text.contains("Permission denied") {
                    let hint = format!(
                        "ypldapd runs as {} now: the configuration and its files must be readable by it (e.g. group {0}, mode 0640)",
                        privsep::UNPRIVILEGED_USER
                    );
                    error!("reload: {hint}");
                    text.push('\n');
                    text.push_str(&hint);
                }
                error!("reload failed: keeping the current configuration");
                text.push_str("\nreload failed: keeping the current configuration");
                return Err(text);
            }
        };
        for w in &loaded.warnings {
            warning!("reload: {w}");
        }
        let new = loaded.config;
        if let Some(why) = self.needs_restart(&new) {
            let text = format!(
                "{why}; restart ypldapd for this change. Keeping the current configuration"
            );
            error!("reload: {text}");
            return Err(text);
        }
        log_config_notes(&new);
        self.yp.set_config(
            ServerConfig::new(&new.domain, &new.served_maps(), &self.reload.host),
            allow_list(&new),
        );
        self.yp.set_limits(super::yp_limits(&new.limits));
        self.client.set_queue_limit(new.limits.helper_queue);
        self.dns.set_queue_limit(new.limits.helper_queue);
        let now = std::time::Instant::now();
        self.client_log.set_rate(new.limits.helper_log_rate, now);
        self.dns_log.set_rate(new.limits.helper_log_rate, now);
        self.config = new;
        // Directories may mean other entries now: keep nothing of them,
        // and read all of them at the next update (the reader ends its
        // sessions with the new configuration).
        self.live.reset();
        if let Some(s) = self.state.as_mut() {
            s.reconfigured(&self.config);
        }
        let endpoints = self.config.endpoints();
        if let Err(e) = self.dns.send(
            &ParentToDns::Configure {
                directories: endpoints,
            },
            None,
        ) {
            debug!("ypldap-dns gets the new configuration when it restarts: {e}");
        }
        if let Err(e) = self.send_client_config() {
            debug!("ypldap-client gets the new configuration when it restarts: {e}");
        }
        self.record.configure(&self.config);
        let text = "reloaded the configuration; it applies from the next update";
        info!("{text}");
        Ok(text.to_owned())
    }

    /// Why `new` cannot be applied without a restart, if it cannot.
    pub(super) fn needs_restart(&self, new: &Config) -> Option<String> {
        if new.limits.tcp_connections != self.config.limits.tcp_connections {
            return Some("limit tcp-connections changed".into());
        }
        if new.bind != self.config.bind {
            return Some("the bind mode changed".into());
        }
        if new.restricted_socket != self.config.restricted_socket {
            return Some("the restricted control socket changed".into());
        }
        if new.bind == BindMode::Local && new.domain != self.config.domain {
            return Some("the domain of a \"bind local\" server changed".into());
        }
        let unknown: Vec<String> = new
            .endpoints()
            .iter()
            .filter(|e| !self.reload.ports.contains(&e.port))
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        if !unknown.is_empty() {
            return Some(format!(
                "the sandbox entered at start allows connections to ports {:?} only, not {}",
                self.reload.ports,
                unknown.join(", ")
            ));
        }
        None
    }
}
