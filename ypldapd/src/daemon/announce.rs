//! Letting clients find the server once the first maps are loaded:
//! rpcbind registration (kept up when rpcbind restarts) or the binding file.

use super::*;
use crate::yp::rpcbind::{Protocol, RpcbindError};
use yp_proto::rpcb::Transport;

impl Daemon {
    /// Lets clients find the server, once the first maps are loaded:
    /// register with rpcbind, or fill the binding file.
    pub(super) fn announce(&mut self, now: Instant) {
        self.announce_retry = None;
        let (udp, tcp) = self.yp.local_addrs();
        let udp_port = udp.first().map_or(0, std::net::SocketAddr::port);
        let tcp_port = tcp.first().map_or(0, std::net::SocketAddr::port);
        if let Some(f) = self.binding.as_mut() {
            match crate::yp::binding_file::fill_binding_file(
                f,
                Ipv4Addr::LOCALHOST,
                udp_port,
                tcp_port,
            ) {
                Ok(()) => {
                    self.announced = true;
                    info!("wrote the binding file for domain {}", self.config.domain);
                }
                Err(e) => error!("cannot write yp binding file: {e}"),
            }
        } else if let Some(r) = self.rpcbind.as_mut() {
            let transports = transports(&udp, &tcp);
            match r.register_transports(
                yp_proto::proto::YPPROG,
                yp_proto::proto::YPVERS,
                &transports,
            ) {
                Ok(protocol) => {
                    self.announced = true;
                    self.registered_with = Some(protocol);
                    self.registration_check = Some(now + REGISTRATION_CHECK);
                    let what: Vec<String> = match protocol {
                        Protocol::Rpcbind(_) => transports
                            .iter()
                            .map(|t| format!("{} port {}", t.netid, t.port().unwrap_or(0)))
                            .collect(),
                        Protocol::Portmap => {
                            vec![
                                format!("udp port {udp_port}"),
                                format!("tcp port {tcp_port}"),
                            ]
                        }
                    };
                    info!("registered with rpcbind ({protocol}): {}", what.join(", "));
                }
                Err(e) => {
                    error!(
                        "cannot register with rpcbind on 127.0.0.1: {e}; retrying in {} s",
                        REGISTER_RETRY.as_secs()
                    );
                    self.announce_retry = Some(now + REGISTER_RETRY);
                }
            }
        }
    }

    /// Registers again, every transport, when rpcbind has lost any of
    /// them (restarted, or a mapping removed by hand). A restarted rpcbind
    /// may speak another version: the registration starts over with 4.
    pub(super) fn check_registration(&mut self, now: Instant) {
        self.registration_check = Some(now + REGISTRATION_CHECK);
        let (Some(r), Some(protocol)) = (self.rpcbind.as_mut(), self.registered_with) else {
            return;
        };
        let (udp, tcp) = self.yp.local_addrs();
        let transports = transports(&udp, &tcp);
        let found = r.missing_transports(
            yp_proto::proto::YPPROG,
            yp_proto::proto::YPVERS,
            &transports,
            protocol,
        );
        match found {
            Ok(gone) if gone.is_empty() => {}
            Ok(gone) => {
                warning!(
                    "rpcbind no longer has our registration for {} (restarted?); registering again",
                    gone.join(", ")
                );
                self.registration_check = None;
                self.announce(now);
            }
            Err(RpcbindError::VersionUnsupported) => {
                warning!(
                    "the portmapper no longer speaks {protocol} (replaced?); registering again"
                );
                self.registration_check = None;
                self.announce(now);
            }
            Err(e) => warning!("cannot check the rpcbind registration: {e}"),
        }
    }
}

/// The transports ypldapd serves on, as rpcbind records them: one per
/// UDP socket and TCP listener.
fn transports(udp: &[std::net::SocketAddr], tcp: &[std::net::SocketAddr]) -> Vec<Transport> {
    udp.iter()
        .map(|a| Transport::of(*a, false))
        .chain(tcp.iter().map(|a| Transport::of(*a, true)))
        .collect()
}
