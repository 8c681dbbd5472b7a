//! ypldap-client: the LDAP reader. It opens no file and no socket; it speaks
//! LDAP over connected sockets the broker hands it through ypldapd, and
//! streams users and groups back to ypldapd.

pub mod config;
pub mod content_sync;
pub mod entry;
pub mod fetch;
pub mod hub;
pub mod sandbox;
pub mod sync;
pub mod sync_progress;
pub mod tls;
pub mod update;
