//! Benchmark programs for ypldapd (issue 8): a YP load generator and the
//! orchestration that runs ypldapd, Debian's ypserv and ldapsearch on the
//! same data, each in its own namespaces (the `tests` harness), and prints
//! every figure and ratio. See `docs/performance.md`.

pub mod classic;
pub mod load;
pub mod member_dns;
pub mod process;
pub mod stats;

use tests::expect::password_field;
use tests::ldif::{Group, User};
use tests::nis::{Ypserv, group_file, passwd_file, shadow_file};
use tests::world::World;

/// The peer: Debian's ypserv in a world of its own (no directory, no
/// ypldapd), serving `users` and `groups` from maps `makedbm` built, with
/// the password fields ypldapd serves.
pub fn ypserv_world(domain: &str, users: &[User], groups: &[Group]) -> (World, Ypserv) {
    let world = World::builder(domain).without_ypldapd().start();
    let ypserv = Ypserv::start(
        &world.ns,
        domain,
        &passwd_file(users, |u| password_field("passwd.byname", &u.password)),
        &shadow_file(users, |u| password_field("shadow.byname", &u.password)),
        &group_file(groups),
    );
    (world, ypserv)
}
