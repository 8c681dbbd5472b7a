//! ypldap-dns: the network broker. Told the directories by ypldapd, it
//! resolves their names (never through NSS, which could ask NIS, i.e.
//! ypldapd itself) and connects to them, handing the connected sockets back.
//! It can connect nowhere else.

pub mod broker;
pub mod sandbox;
