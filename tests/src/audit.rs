//! The mechanical parts of `docs/audit.md`, generated from the code.
//!
//! The audit document is written by hand around blocks that are generated
//! here from the programs' real policies: each program's seccomp allow-list
//! ([`privsep::linux::seccomp::Policy::describe`] of the policy function
//! its `sandbox.rs` uses), its confinement (Landlock paths and ports,
//! chroot, pledge, Capsicum), the messages it accepts and sends (the
//! variant names of `ipc-proto`'s enums, as serde itself lists them), and
//! its dependency tree (`cargo tree`). A block sits between
//!
//! ```text
//! <!-- BEGIN GENERATED: name -->
//! <!-- END GENERATED: name -->
//! ```
//!
//! The manual pages' SECURITY CONSIDERATIONS carry the Capsicum rights the
//! same way, between `.\" BEGIN GENERATED: name` and `.\" END GENERATED:
//! name` comment lines.
//!
//! `cargo run -p tests --bin audit-doc` rewrites the blocks in place;
//! `cargo test -p tests --test audit` fails, with a diff, when they are
//! stale. The seccomp lists depend on the architecture: the document is
//! generated on x86_64 Linux.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use privsep::Confinement;

/// The three programs, in the order the document treats them.
pub const PROGRAMS: [&str; 3] = ["ypldapd", "ypldap-client", "ypldap-dns"];

/// Crates the audit reports as linked or not, per program.
pub const WATCHED_CRATES: [&str; 5] = ["ldap3", "rustls", "tokio", "hickory-resolver", "ring"];

/// Example arguments for the policies that depend on the configuration.
pub const EXAMPLE_CONFIG: &str = "/etc/ypldap.conf";
pub const EXAMPLE_HELPER_DIR: &str = "/usr/local/libexec/ypldap";
pub const EXAMPLE_PORTS: [u16; 2] = [389, 636];

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The audit document's path.
pub fn document_path() -> PathBuf {
    workspace_root().join("docs").join("audit.md")
}

/// The state directory's descriptor number in the examples.
pub const EXAMPLE_STATE_FD: i32 = 9;

/// The command that refreshes the document.
pub const REFRESH: &str = "cargo run -p tests --bin audit-doc";

/// A program's confinement as its `sandbox.rs` builds it, with the example
/// configuration for ypldapd and ypldap-dns.
pub fn confinement(program: &str) -> Confinement {
    let ports = EXAMPLE_PORTS;
    match program {
        "ypldapd" => ypldapd::sandbox::confinement(
            // The directories of the files the configuration was read from.
            &[Path::new(EXAMPLE_CONFIG)
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf()],
            &[
                Path::new(EXAMPLE_HELPER_DIR).join("ypldap-client"),
                Path::new(EXAMPLE_HELPER_DIR).join("ypldap-dns"),
            ],
            &ports,
            // The default state directory; its descriptor's number as the
            // daemon would have it.
            Some((
                Path::new(ypldapd::config::DEFAULT_STATE_DIRECTORY).to_path_buf(),
                EXAMPLE_STATE_FD,
            )),
        ),
        "ypldap-client" => ypldap_client::sandbox::confinement(),
        "ypldap-dns" => ypldap_dns::sandbox::confinement(&ports),
        other => panic!("unknown program {other}"),
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        "none".to_owned()
    } else {
        paths
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The confinement table of `program`.
pub fn confinement_block(program: &str) -> String {
    let c = confinement(program);
    let mut s = String::new();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(s, "| setting | value |");
    let _ = writeln!(s, "|---|---|");
    let _ = writeln!(
        s,
        "| change root to (when started as root) | {} |",
        c.chroot
            .as_ref()
            .map_or("no chroot".to_owned(), |p| format!("`{}`", p.display()))
    );
    let _ = writeln!(
        s,
        "| empty network namespace (Linux, when started as root) | {} |",
        yes_no(c.empty_netns)
    );
    let _ = writeln!(s, "| Landlock: read | {} |", list_paths(&c.read_paths));
    let _ = writeln!(
        s,
        "| Landlock: read and execute | {} |",
        list_paths(&c.exec_paths)
    );
    let _ = writeln!(
        s,
        "| Landlock: create, write, rename and remove regular files beneath | {} |",
        list_paths(&c.write_dirs)
    );
    let ports = if c.tcp_connect_ports.is_empty() {
        "none".to_owned()
    } else {
        c.tcp_connect_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "| Landlock: TCP connect to ports | {ports} |");
    let _ = writeln!(s, "| Landlock: TCP bind | none |");
    let _ = writeln!(
        s,
        "| Landlock: signals to processes outside its domain | {} |",
        if c.scope_signals {
            "forbidden"
        } else {
            "allowed"
        }
    );
    let _ = writeln!(
        s,
        "| Landlock: abstract unix sockets outside its domain | forbidden |"
    );
    let _ = writeln!(s, "| OpenBSD `pledge` | `\"{}\"` |", c.pledge);
    let _ = writeln!(
        s,
        "| FreeBSD capability mode (`cap_enter`) | {} |",
        yes_no(c.capability_mode)
    );
    s
}

/// The Capsicum rights of `program`'s descriptors (FreeBSD), as its
/// `sandbox.rs` lists them, and the descriptors it leaves unlimited.
pub fn descriptor_rights(
    program: &str,
) -> (
    Vec<privsep::rights::DescriptorRights>,
    Vec<(&'static str, &'static str)>,
) {
    match program {
        "ypldapd" => (
            ypldapd::sandbox::DESCRIPTOR_RIGHTS.to_vec(),
            ypldapd::sandbox::UNLIMITED_DESCRIPTORS.to_vec(),
        ),
        "ypldap-client" => (
            ypldap_client::sandbox::DESCRIPTOR_RIGHTS.to_vec(),
            ypldap_client::sandbox::UNLIMITED_DESCRIPTORS.to_vec(),
        ),
        "ypldap-dns" => (
            ypldap_dns::sandbox::DESCRIPTOR_RIGHTS.to_vec(),
            ypldap_dns::sandbox::UNLIMITED_DESCRIPTORS.to_vec(),
        ),
        other => panic!("unknown program {other}"),
    }
}

/// The Capsicum table of `program` for `docs/audit.md`.
pub fn capsicum_block(program: &str) -> String {
    let (limited, unlimited) = descriptor_rights(program);
    let mut s = format!(
        "Capability mode: {}.\n\n",
        if confinement(program).capability_mode {
            "**yes** (`cap_enter`)"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        s,
        "| descriptor | rights (`cap_rights_limit`; `fcntl`/`ioctl` commands allowed) |"
    );
    let _ = writeln!(s, "|---|---|");
    for r in &limited {
        let _ = writeln!(s, "| {} | {} |", r.descriptor, r.describe());
    }
    for (d, why) in &unlimited {
        let _ = writeln!(s, "| {d} | not limited: {why} |");
    }
    s
}

/// Markdown's backticks and dashes as mdoc writes them.
fn roff_text(s: &str) -> String {
    s.replace('`', "").replace('–', "\\(en")
}

/// The Capsicum list of `program` for its manual page (mdoc).
pub fn capsicum_man_block(program: &str) -> String {
    let (limited, unlimited) = descriptor_rights(program);
    let mut s = String::from(".Bl -tag -width Ds\n");
    for r in &limited {
        let _ = writeln!(s, ".It {}", roff_text(r.descriptor));
        if r.rights.is_empty() {
            s.push_str("No right: it can only be closed.\n");
            continue;
        }
        let names: Vec<String> = r
            .rights
            .iter()
            .map(|x| match x {
                privsep::rights::Right::Fcntl => format!(
                    "{} Pq {}",
                    x.name(),
                    r.fcntls
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                privsep::rights::Right::Ioctl => format!(
                    "{} Pq {}",
                    x.name(),
                    r.ioctls
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                _ => x.name().to_owned(),
            })
            .collect();
        let _ = writeln!(s, ".Dv {}", names.join(" , "));
    }
    for (d, why) in &unlimited {
        let _ = writeln!(s, ".It {}", roff_text(d));
        let _ = writeln!(s, "Not limited: {}.", roff_text(why));
    }
    s.push_str(".El\n");
    s
}

/// The seccomp allow-list of `program`, one call per line.
#[cfg(target_os = "linux")]
pub fn seccomp_block(program: &str) -> String {
    let c = confinement(program);
    let lines = c.syscalls.describe();
    let mut s = format!(
        "{} system calls; any other fails with `EPERM`:\n\n```text\n",
        lines.len()
    );
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    s.push_str("```\n");
    s
}

/// The variant names of a message enum, as serde lists them when it meets
/// an unknown `"type"`: the real enum, not a copy of its source.
pub fn variants<T: serde::Deserialize<'static>>() -> Vec<String> {
    let err = match serde_json::from_str::<T>(r#"{"type":"\u0000"}"#) {
        Ok(_) => panic!("a message with an empty type decoded"),
        Err(e) => e.to_string(),
    };
    // "expected `A` or `B`", or "expected one of `A`, `B`, `C`".
    let list = err
        .split_once(", expected ")
        .map(|(_, l)| l)
        .unwrap_or_else(|| panic!("unexpected serde error: {err}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn message_line(s: &mut String, dir: &str, ty: &str, names: &[String]) {
    let _ = writeln!(
        s,
        "- {dir} (`ipc_proto::{ty}`): {}",
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn control_line(s: &mut String, dir: &str, ty: &str, names: &[String]) {
    let _ = writeln!(
        s,
        "- {dir} (`ctl_proto::{ty}`): {}",
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The messages `program` accepts and sends.
pub fn messages_block(program: &str) -> String {
    use ipc_proto::{ClientToParent, DnsToParent, ParentToClient, ParentToDns};
    let mut s = String::new();
    match program {
        "ypldapd" => {
            message_line(
                &mut s,
                "accepts from ypldap-client",
                "ClientToParent",
                &variants::<ClientToParent<'static>>(),
            );
            message_line(
                &mut s,
                "accepts from ypldap-dns",
                "DnsToParent",
                &variants::<DnsToParent>(),
            );
            message_line(
                &mut s,
                "sends to ypldap-client",
                "ParentToClient",
                &variants::<ParentToClient>(),
            );
            message_line(
                &mut s,
                "sends to ypldap-dns",
                "ParentToDns",
                &variants::<ParentToDns>(),
            );
            control_line(
                &mut s,
                "accepts on its control sockets (the restricted one: the `Show` ones only)",
                "Request",
                &variants::<ctl_proto::Request>(),
            );
            control_line(
                &mut s,
                "answers on them",
                "Reply",
                &variants::<ctl_proto::Reply>(),
            );
        }
        "ypldap-client" => {
            message_line(
                &mut s,
                "accepts from ypldapd",
                "ParentToClient",
                &variants::<ParentToClient>(),
            );
            message_line(
                &mut s,
                "sends to ypldapd",
                "ClientToParent",
                &variants::<ClientToParent<'static>>(),
            );
        }
        "ypldap-dns" => {
            message_line(
                &mut s,
                "accepts from ypldapd",
                "ParentToDns",
                &variants::<ParentToDns>(),
            );
            message_line(
                &mut s,
                "sends to ypldapd",
                "DnsToParent",
                &variants::<DnsToParent>(),
            );
        }
        other => panic!("unknown program {other}"),
    }
    s
}

/// The packages `program` links on this host, from
/// `cargo tree -e normal -p PROGRAM --prefix none`: "name vX.Y.Z" each,
/// deduplicated (the program itself included).
pub fn dependency_tree(program: &str) -> Result<BTreeSet<String>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree", "--locked", "-e", "normal", "-p", program, "--prefix", "none",
        ])
        .output()
        .map_err(|e| format!("running cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree -p {program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect())
}

/// Whether the package `name` is in `tree`.
pub fn links(tree: &BTreeSet<String>, name: &str) -> bool {
    tree.iter().any(|p| p.split(' ').next() == Some(name))
}

/// The dependency summary of `program`.
pub fn dependencies_block(program: &str) -> Result<String, String> {
    let tree = dependency_tree(program)?;
    let mut s = format!(
        "{} packages, the program included (`cargo tree -e normal -p {program} --prefix none`, \
         repeated packages counted once; Linux target).\n\n",
        tree.len()
    );
    let _ = writeln!(s, "| crate | linked |");
    let _ = writeln!(s, "|---|---|");
    for c in WATCHED_CRATES {
        let _ = writeln!(
            s,
            "| `{c}` | {} |",
            if links(&tree, c) { "**yes**" } else { "no" }
        );
    }
    Ok(s)
}

/// Every generated block: (name, content).
pub fn generated() -> Result<Vec<(String, String)>, String> {
    let mut v = Vec::new();
    for p in PROGRAMS {
        v.push((format!("{p}-confinement"), confinement_block(p)));
        v.push((format!("{p}-capsicum"), capsicum_block(p)));
        #[cfg(target_os = "linux")]
        v.push((format!("{p}-seccomp"), seccomp_block(p)));
        v.push((format!("{p}-messages"), messages_block(p)));
        v.push((format!("{p}-dependencies"), dependencies_block(p)?));
    }
    Ok(v)
}

/// How a document marks its generated blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markers {
    /// `<!-- BEGIN GENERATED: name -->` (Markdown).
    Markdown,
    /// `.\" BEGIN GENERATED: name` (roff comment lines).
    Roff,
}

impl Markers {
    fn begin(self, name: &str) -> String {
        match self {
            Markers::Markdown => format!("<!-- BEGIN GENERATED: {name} -->"),
            Markers::Roff => format!(".\\\" BEGIN GENERATED: {name}"),
        }
    }

    fn end(self, name: &str) -> String {
        match self {
            Markers::Markdown => format!("<!-- END GENERATED: {name} -->"),
            Markers::Roff => format!(".\\\" END GENERATED: {name}"),
        }
    }
}

/// A document with generated blocks: its path, its marker style and the
/// blocks it must hold.
pub struct Document {
    pub path: PathBuf,
    pub markers: Markers,
    pub blocks: Vec<(String, String)>,
}

/// Every document with generated blocks: `docs/audit.md` and the three
/// programs' manual pages.
pub fn documents() -> Result<Vec<Document>, String> {
    let mut v = vec![Document {
        path: document_path(),
        markers: Markers::Markdown,
        blocks: generated()?,
    }];
    for p in PROGRAMS {
        v.push(Document {
            path: workspace_root().join("man").join(format!("{p}.8")),
            markers: Markers::Roff,
            blocks: vec![("capsicum".to_owned(), capsicum_man_block(p))],
        });
    }
    Ok(v)
}

/// `doc` with every block replaced by `blocks`. Fails when a block's
/// markers are missing, doubled or out of order, or when the document has a
/// block nobody generates.
pub fn refresh(doc: &str, blocks: &[(String, String)]) -> Result<String, String> {
    refresh_marked(doc, blocks, Markers::Markdown)
}

/// [`refresh`] for a document with `markers`.
pub fn refresh_marked(
    doc: &str,
    blocks: &[(String, String)],
    markers: Markers,
) -> Result<String, String> {
    let mut out = doc.to_owned();
    for (name, content) in blocks {
        let (b, e) = (markers.begin(name), markers.end(name));
        if out.matches(&b).count() != 1 || out.matches(&e).count() != 1 {
            return Err(format!(
                "the document must hold exactly one `{b}` and one `{e}`"
            ));
        }
        let start = out.find(&b).expect("counted") + b.len();
        let stop = out.find(&e).expect("counted");
        if stop < start {
            return Err(format!("`{e}` comes before `{b}`"));
        }
        out.replace_range(start..stop, &format!("\n{content}"));
    }
    let known: BTreeSet<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    let (prefix, suffix) = match markers {
        Markers::Markdown => ("<!-- BEGIN GENERATED: ", " -->"),
        Markers::Roff => (".\\\" BEGIN GENERATED: ", ""),
    };
    for line in out.lines() {
        if let Some(name) = line
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
        {
            if !known.contains(name) {
                return Err(format!("the document has a block nobody generates: {name}"));
            }
        }
    }
    Ok(out)
}

/// A line diff of `old` against `new` (longest common subsequence), only
/// the changed lines and one line of context each side.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    if ops.is_empty() {
        return String::new();
    }
    let near = |k: usize| {
        let lo = k.saturating_sub(1);
        let hi = (k + 1).min(ops.len() - 1);
        (lo..=hi).any(|x| ops[x].0 != ' ')
    };
    let mut s = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near(k) {
            if skipped {
                s.push_str("...\n");
                skipped = false;
            }
            let _ = writeln!(s, "{op} {line}");
        } else {
            skipped = true;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_replaces_between_markers() {
        let doc = "a\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\nb\n";
        let got = refresh(doc, &[("x".into(), "new\n".into())]).unwrap();
        assert_eq!(
            got,
            "a\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\nb\n"
        );
        assert!(refresh(doc, &[("y".into(), String::new())]).is_err());
        assert!(refresh(doc, &[]).is_err(), "unknown block");
    }

    #[test]
    fn diff_shows_changes() {
        let d = diff("a\nb\nc\nd\ne\n", "a\nb\nX\nd\ne\n");
        assert_eq!(d, "...\n  b\n- c\n+ X\n  d\n");
        assert_eq!(diff("", ""), "");
    }

    #[test]
    fn serde_lists_variants() {
        assert_eq!(
            variants::<ipc_proto::ParentToDns>(),
            vec!["Configure", "Connect"]
        );
    }
}
