//! Letting clients find the server once the first maps are loaded:
//! rpcbind registration (kept up when rpcbind restarts) or the binding file.

use super::*;

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
            match r.register(
                yp_proto::proto::YPPROG,
                yp_proto::proto::YPVERS,
                Some(udp_port),
                Some(tcp_port),
            ) {
                Ok(()) => {
                    self.announced = true;
                    self.registration_check = Some(now + REGISTRATION_CHECK);
                    info!("registered with rpcbind: udp and tcp port {udp_port}");
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

    /// Registers again when rpcbind has lost the registration (restarted).
    pub(super) fn check_registration(&mut self, now: Instant) {
        self.registration_check = Some(now + REGISTRATION_CHECK);
        let Some(r) = self.rpcbind.as_mut() else {
            return;
        };
        let (udp, _) = self.yp.local_addrs();
        let ours = udp.first().map_or(0, |a| u32::from(a.port()));
        let found = r.getport(
            yp_proto::proto::YPPROG,
            yp_proto::proto::YPVERS,
            crate::yp::rpcbind::IPPROTO_UDP,
        );
        match found {
            Ok(port) if port == ours => {}
            Ok(_) => {
                warning!("rpcbind no longer has our registration (restarted?); registering again");
                self.registration_check = None;
                self.announce(now);
            }
            Err(e) => warning!("cannot check the rpcbind registration: {e}"),
        }
    }
}
