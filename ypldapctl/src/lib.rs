//! ypldapctl: shows the state of a running ypldapd and steers it, over
//! the control socket ypldapd opened as root (`ctl_proto` has the
//! protocol). The library holds what can be tested without a daemon: the
//! command line ([`cli`]), the text views ([`text`]) and the Prometheus
//! exposition ([`metrics`]); `main.rs` is the socket.

pub mod cli;
pub mod metrics;
pub mod text;

use ctl_proto::Reply;

/// What to print for a reply, and whether it means success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// For stdout.
    Out(String),
    /// For stderr; the command failed.
    Failed(String),
}

/// `reply` as the administrator reads it: text, or JSON with `json`.
pub fn render(reply: &Reply, json: bool) -> Output {
    let to_json = |v: serde_json::Result<String>| Output::Out(v.unwrap_or_default() + "\n");
    match reply {
        Reply::Error { message } => Output::Failed(text::clean(message)),
        Reply::Done { message } => Output::Out(format!("{}\n", text::clean(message))),
        Reply::Summary(s) if json => to_json(serde_json::to_string_pretty(s)),
        Reply::Maps(v) if json => to_json(serde_json::to_string_pretty(v)),
        Reply::Directories(v) if json => to_json(serde_json::to_string_pretty(v)),
        Reply::Drops(v) if json => to_json(serde_json::to_string_pretty(v)),
        Reply::Clients(v) if json => to_json(serde_json::to_string_pretty(v)),
        Reply::Metrics(v) if json => to_json(serde_json::to_string_pretty(v)),
        Reply::Summary(s) => Output::Out(text::summary(s)),
        Reply::Maps(v) => Output::Out(text::maps(v)),
        Reply::Directories(v) => Output::Out(text::directories(v)),
        Reply::Drops(v) => Output::Out(text::drops(v)),
        Reply::Clients(v) => Output::Out(text::clients(v)),
        Reply::Metrics(v) => Output::Out(metrics::render(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctl_proto::sample;

    #[test]
    fn json_is_the_view_itself() {
        let Output::Out(j) = render(&Reply::Maps(sample::maps()), true) else {
            panic!("failed");
        };
        let back: ctl_proto::MapsView = serde_json::from_str(&j).unwrap();
        assert_eq!(back, sample::maps());
        let Output::Out(j) = render(&Reply::Drops(sample::drops()), true) else {
            panic!("failed");
        };
        // JSON escapes control characters itself.
        assert!(j.contains("\\u001b[31m"), "{j}");
    }

    #[test]
    fn errors_fail() {
        assert_eq!(
            render(
                &Reply::Error {
                    message: "no\u{7}".into()
                },
                false
            ),
            Output::Failed("no?".into())
        );
        assert_eq!(
            render(
                &Reply::Done {
                    message: "update 4 started".into()
                },
                true
            ),
            Output::Out("update 4 started\n".into())
        );
    }
}
