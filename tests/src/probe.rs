//! `yp-probe` (`tests/src/bin/yp-probe.rs`) run inside a world's
//! namespaces: most of all its MATCH watcher, which end-to-end tests run
//! beside a fault to show that no client request failed meanwhile.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Stdio};

use crate::expect;
use crate::program;
use crate::world::World;

/// A running `yp-probe`, its output read as it comes.
pub struct Probe {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Probe {
    /// Runs `yp-probe ARGS` in `w`'s namespaces.
    pub fn start(w: &World, args: &[&str]) -> Probe {
        let mut child =
            w.ns.command(program("yp-probe"))
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("yp-probe");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Probe { child, out }
    }

    /// Starts a MATCH of `key` in `passwd.byname` every 20 ms for
    /// `seconds`, each answer checked against the line the world expects;
    /// returns once the watcher has found the server's port.
    pub fn watch(w: &World, key: &str, seconds: u32) -> Probe {
        let want = expect::value(&w.expected_maps(), "passwd.byname", key).to_owned();
        let mut p = Probe::start(
            w,
            &[
                "watch",
                &w.domain,
                "passwd.byname",
                key,
                &want,
                &seconds.to_string(),
            ],
        );
        let mut first = String::new();
        p.out.read_line(&mut first).expect("probe output");
        assert!(first.starts_with("watch: port="), "probe said {first:?}");
        p
    }

    /// Waits for the probe to finish; its `name=value` figures.
    pub fn figures(mut self) -> BTreeMap<String, String> {
        let mut text = String::new();
        self.out.read_to_string(&mut text).expect("probe output");
        let status = self.child.wait().expect("probe");
        assert!(status.success(), "probe failed: {text}");
        text.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Waits for a watcher to finish and asserts that every MATCH was
    /// answered right, and more than `min_ok` were.
    pub fn assert_no_failure(self, what: &str, min_ok: u64) {
        assert_no_gap(&self.figures(), what, min_ok);
    }
}

/// A watcher's figures show no failed request and more than `min_ok`
/// answers.
pub fn assert_no_gap(f: &BTreeMap<String, String>, what: &str, min_ok: u64) {
    assert_eq!(
        f.get("failed").map(String::as_str),
        Some("0"),
        "{what}: {f:?}"
    );
    let ok: u64 = f.get("ok").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(ok > min_ok, "{what}: too few answers: {f:?}");
}
