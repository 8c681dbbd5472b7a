//! The two helpers' links: starting a helper, sending it its
//! configuration, and handling what it sends (relaying the broker's
//! sockets to the LDAP reader).

use super::*;

/// Splits `s` into pieces of at most `max` bytes, on character boundaries.
pub(super) fn chunk_str(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut cut = rest.len().min(max);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    out
}

impl Daemon {
    pub(super) fn start_client(&mut self, now: Instant) -> anyhow::Result<()> {
        let stdio = Stdio {
            null: std::os::fd::AsFd::as_fd(&self.null),
            keep_stderr: self.keep_stderr,
        };
        self.client.start(stdio, now)?;
        self.register(CLIENT)?;
        info!(
            "started {} (pid {})",
            self.client.name,
            self.client.pid().map_or(0, nix::unistd::Pid::as_raw)
        );
        // A reader that cannot take its configuration is dropped (and
        // restarted) by the send; ypldapd itself goes on.
        if let Err(e) = self.send_client_config() {
            warning!("ypldap-client: cannot send the configuration: {e}");
        }
        Ok(())
    }

    pub(super) fn start_dns(&mut self, now: Instant) -> anyhow::Result<()> {
        let stdio = Stdio {
            null: std::os::fd::AsFd::as_fd(&self.null),
            keep_stderr: self.keep_stderr,
        };
        self.dns.start(stdio, now)?;
        self.register(DNS)?;
        info!(
            "started {} (pid {})",
            self.dns.name,
            self.dns.pid().map_or(0, nix::unistd::Pid::as_raw)
        );
        let endpoints = self.config.endpoints();
        if let Err(e) = self.dns.send(
            &ParentToDns::Configure {
                directories: endpoints,
            },
            None,
        ) {
            warning!("ypldap-dns: cannot send the configuration: {e}");
        }
        Ok(())
    }

    pub(super) fn register(&mut self, token: Token) -> anyhow::Result<()> {
        let fd = match token {
            CLIENT => self.client.link_fd(),
            _ => self.dns.link_fd(),
        }
        .map(|f| f.as_raw_fd());
        if let Some(fd) = fd {
            self.poll.registry().register(
                &mut SourceFd(&fd),
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
        }
        Ok(())
    }

    /// Sends the directory settings and TLS files to the LDAP reader.
    pub(super) fn send_client_config(&mut self) -> Result<(), LinkError> {
        let dirs = self.config.directories.clone();
        self.client.send(
            &ParentToClient::ConfigBegin {
                directories: dirs.len() as u32,
            },
            None,
        )?;
        for (i, dir) in dirs.iter().enumerate() {
            let index = i as u32;
            self.client.send(
                &ParentToClient::Directory {
                    index,
                    settings: Box::new(dir.settings.clone()),
                },
                None,
            )?;
            for (kind, pem) in [
                (PemKind::Ca, &dir.ca_pem),
                (PemKind::Cert, &dir.cert_pem),
                (PemKind::Key, &dir.key_pem),
            ] {
                let Some(pem) = pem else { continue };
                let text = String::from_utf8_lossy(pem);
                for data in chunk_str(&text, PEM_CHUNK) {
                    self.client.send(
                        &ParentToClient::Pem {
                            index,
                            kind,
                            data: data.to_owned(),
                        },
                        None,
                    )?;
                }
            }
        }
        self.client.send(&ParentToClient::ConfigEnd, None)?;
        // What a restarted reader (or the first, after a start on saved
        // state) resumes from.
        for ((directory, search), cookie) in self.live.cookies() {
            self.client.send(
                &ParentToClient::Cookie {
                    directory: directory as u32,
                    search,
                    cookie: cookie.clone(),
                },
                None,
            )?;
        }
        Ok(())
    }

    /// The reader's link is ready. While the snapshot being built has
    /// sorting to catch up on, nothing more is read (the reader waits on a
    /// full socket): each turn of the loop then stays short, and the sort
    /// keeps pace with the entries instead of being left for the end.
    pub(super) fn client_ready(&mut self, writable: bool, now: Instant) {
        let max = if self.build_busy {
            0
        } else {
            MESSAGES_PER_TURN
        };
        let (datagrams, error) = self.client.drain(writable, max);
        for d in &datagrams {
            // Decoded here, borrowing the entries' text from the datagram.
            match d.decode::<ClientToParent<'_>>() {
                Ok(m) => self.handle_client_message(m, now),
                Err(e) => return self.client_lost(&LinkError::Decode(e), now),
            }
        }
        if let Some(e) = error {
            return self.client_lost(&e, now);
        }
        // The reader just greeted while an update waits for it: no reason
        // to wait for the retry (a cold start's first maps come sooner).
        if self.update_awaits_client && self.client.ready() && self.update_running.is_none() {
            self.start_update(now);
        }
    }

    pub(super) fn dns_ready(&mut self, writable: bool, now: Instant) {
        let (datagrams, error) = self.dns.drain(writable, MESSAGES_PER_TURN);
        for mut d in datagrams {
            match d.decode::<DnsToParent>() {
                Ok(m) => self.handle_dns_message(m, std::mem::take(&mut d.fds), now),
                Err(e) => return self.dns_lost(&LinkError::Decode(e), now),
            }
        }
        if let Some(e) = error {
            self.dns_lost(&e, now);
        }
    }

    pub(super) fn client_lost(&mut self, e: &LinkError, now: Instant) {
        let protocol = !matches!(e, LinkError::Closed);
        // The error may quote what the helper sent (an unknown type's name).
        warning!(
            "ypldap-client: {}{}",
            logging::sanitize(&e.to_string()),
            if protocol { "; killing it" } else { "" }
        );
        self.client.drop_link(now, protocol);
        if self.update_running.take().is_some() {
            self.update_failed("ypldap-client was lost during the update", now);
        }
    }

    pub(super) fn dns_lost(&mut self, e: &LinkError, now: Instant) {
        let protocol = !matches!(e, LinkError::Closed);
        warning!(
            "ypldap-dns: {}{}",
            logging::sanitize(&e.to_string()),
            if protocol { "; killing it" } else { "" }
        );
        self.dns.drop_link(now, protocol);
        self.connects_lost();
    }

    /// ypldap-dns is gone: every connect request it had fails.
    pub(super) fn connects_lost(&mut self) {
        for (directory, request) in std::mem::take(&mut self.connecting) {
            let _ = self.client.send(
                &ParentToClient::ConnectFailed(ConnectFailure {
                    request,
                    directory,
                    error: "ypldap-dns was lost".into(),
                }),
                None,
            );
        }
    }

    /// Relays the reader's request for a connection to `directory`, unless
    /// one is outstanding for it already or there is no such directory:
    /// at most one connect request per directory is ever at ypldap-dns.
    fn relay_connect(&mut self, request: u64, directory: u32, now: Instant) {
        let refusal = if directory as usize >= self.config.directories.len() {
            Some(format!("there is no directory {directory}"))
        } else if self.connecting.contains_key(&directory) {
            Some(format!(
                "a connection to directory {directory} is being made already"
            ))
        } else {
            None
        };
        let error = match refusal {
            Some(why) => {
                if let Some(n) = self.connect_refusals.note(now) {
                    warning!("ypldap-client: refused {n} connect request(s): {why}");
                }
                why
            }
            None => match self
                .dns
                .send(&ParentToDns::Connect { request, directory }, None)
            {
                Ok(()) => {
                    self.connecting.insert(directory, request);
                    return;
                }
                Err(e) => format!("ypldap-dns is not available: {e}"),
            },
        };
        let _ = self.client.send(
            &ParentToClient::ConnectFailed(ConnectFailure {
                request,
                directory,
                error,
            }),
            None,
        );
    }

    pub(super) fn handle_client_message(&mut self, message: ClientToParent<'_>, now: Instant) {
        match message {
            ClientToParent::Log { level, text } => self.client_log.log(level, &text, now),
            ClientToParent::Connect { request, directory } => {
                self.relay_connect(request, directory, now);
            }
            ClientToParent::Users { update, entries } if self.rereads(update) => {
                self.reread_users(&entries, now);
            }
            ClientToParent::Groups { update, entries } if self.rereads(update) => {
                self.reread_groups(&entries, now);
            }
            ClientToParent::Records { update, entries } if self.rereads(update) => {
                self.reread_records(&entries, now);
            }
            ClientToParent::Users { update, entries } => {
                if self.update_running == Some(update) && self.room_for(entries.len(), now) {
                    if let Some(i) = self.incoming.as_mut() {
                        i.builder.add_users(&entries);
                        if let Some(k) = i.keep.as_mut() {
                            k.add_users(&entries);
                        }
                        // Sorting may be due: the next turn looks.
                        self.build_busy = true;
                    }
                }
            }
            ClientToParent::Groups { update, entries } => {
                if self.update_running == Some(update) && self.room_for(entries.len(), now) {
                    if let Some(i) = self.incoming.as_mut() {
                        i.builder.add_groups(&entries);
                        if let Some(k) = i.keep.as_mut() {
                            k.add_groups(&entries);
                        }
                        self.build_busy = true;
                    }
                }
            }
            ClientToParent::Records { update, entries } => {
                if self.update_running == Some(update) && self.room_for(entries.len(), now) {
                    if let Some(i) = self.incoming.as_mut() {
                        i.builder.add_records(&entries);
                        if let Some(k) = i.keep.as_mut() {
                            k.add_records(&entries);
                        }
                        self.build_busy = true;
                    }
                }
            }
            ClientToParent::UpdatePlan { update, modes } => self.update_plan(update, modes),
            ClientToParent::ReadBegin {
                update,
                directory,
                mode,
            } => self.read_begin(update, directory, mode, now),
            ClientToParent::Changes { directory, changes } => {
                self.apply_changes(directory, changes, now);
            }
            ClientToParent::SyncSession { directory, polls } => {
                self.record.sync_session(directory, polls.as_deref());
            }
            ClientToParent::SyncLost { directory, reason } => {
                self.sync_lost(directory, &reason, now);
            }
            ClientToParent::Cookie {
                directory,
                search,
                cookie,
            } => self.cookie(directory, search, cookie),
            ClientToParent::Dropped { update, entries } => {
                if self.update_running == Some(update) {
                    match self.incoming.as_mut() {
                        Some(i) => i.note_client_drops(&entries),
                        None => self.reread_drops(update, &entries),
                    }
                }
            }
            ClientToParent::UpdateDone {
                update,
                dropped,
                referrals,
            } => {
                if self.update_running == Some(update) {
                    self.update_running = None;
                    self.failed_updates = 0;
                    self.next_update = Some(now + jittered(self.config.interval));
                    if !self.finish_unbuilt(update, &dropped, referrals, now) {
                        self.entries_complete(dropped, referrals, now);
                    }
                }
            }
            ClientToParent::UpdateFailed { update, reason } => {
                if self.update_running == Some(update) {
                    self.update_running = None;
                    self.update_failed(&logging::sanitize(&reason), now);
                }
            }
        }
    }

    pub(super) fn handle_dns_message(
        &mut self,
        message: DnsToParent,
        fds: Vec<OwnedFd>,
        now: Instant,
    ) {
        let mut fds = fds.into_iter();
        match message {
            DnsToParent::Log { level, text } => self.dns_log.log(level, &text, now),
            // Relayed as they came: the reader checks the request number.
            DnsToParent::Connected(c) => {
                self.connecting.remove(&c.directory);
                self.record.connected(c.directory, &c.address);
                let msg = ParentToClient::Connected(c);
                if let Err(e) = self.client.send(&msg, fds.next()) {
                    warning!("cannot hand the connection to ypldap-client: {e}");
                }
            }
            DnsToParent::ConnectFailed(f) => {
                self.connecting.remove(&f.directory);
                self.record.connect_failed(f.directory, &f.error);
                if let Err(e) = self.client.send(&ParentToClient::ConnectFailed(f), None) {
                    warning!("cannot tell ypldap-client: {e}");
                }
            }
        }
    }
}
