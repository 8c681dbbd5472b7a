//! The command line: `ypldapctl [-j] [-s socket] command [argument ...]`.
//! Each word of a command may be shortened to any prefix that names only
//! one command (`s su` is `show summary`), as bgpctl's; `show` alone is
//! `show summary`.

use ctl_proto::Request;

pub const USAGE: &str = "usage: ypldapctl [-j] [-s socket] command [argument ...]";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-j`: print `show` answers as JSON.
    pub json: bool,
    /// `-s socket`.
    pub socket: String,
    pub request: Request,
}

/// Every command, as its words.
const COMMANDS: [(&[&str], Request); 11] = [
    (&["show"], Request::ShowSummary),
    (&["show", "summary"], Request::ShowSummary),
    (&["show", "maps"], Request::ShowMaps),
    (&["show", "directories"], Request::ShowDirectories),
    (&["show", "drops"], Request::ShowDrops),
    (&["show", "clients"], Request::ShowClients),
    (&["show", "metrics"], Request::ShowMetrics),
    (&["reload"], Request::Reload),
    (&["update"], Request::Update),
    (&["log", "verbose"], Request::Log { verbose: true }),
    (&["log", "brief"], Request::Log { verbose: false }),
];

/// The command `words` name: each word a prefix of the command's word in
/// the same place, and only one command so named. An exact word wins
/// over longer ones it is a prefix of.
pub fn command(words: &[&str]) -> Result<Request, String> {
    if words.is_empty() {
        return Err("no command given".into());
    }
    let matching: Vec<&(&[&str], Request)> = COMMANDS
        .iter()
        .filter(|(cmd, _)| {
            cmd.len() == words.len()
                && cmd
                    .iter()
                    .zip(words)
                    .all(|(c, w)| !w.is_empty() && c.starts_with(w))
        })
        .collect();
    match matching.as_slice() {
        [(_, r)] => Ok(*r),
        [] => Err(format!("unknown command: {}", words.join(" "))),
        many => {
            let names: Vec<String> = many.iter().map(|(c, _)| c.join(" ")).collect();
            Err(format!(
                "ambiguous command: {} ({})",
                words.join(" "),
                names.join(", ")
            ))
        }
    }
}

/// Parses the arguments after the program's name. The error is what to
/// print (the usage line, or why the command was not understood).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut json = false;
    let mut socket = ctl_proto::DEFAULT_SOCKET.to_owned();
    let mut args = args.into_iter().peekable();
    while let Some(a) = args.peek() {
        if a == "--" {
            args.next();
            break;
        }
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            break;
        };
        let flags = flags.to_owned();
        args.next();
        for (i, c) in flags.char_indices() {
            match c {
                'j' => json = true,
                's' => {
                    let rest = &flags[i + 1..];
                    socket = if rest.is_empty() {
                        args.next().ok_or_else(|| USAGE.to_owned())?
                    } else {
                        rest.to_owned()
                    };
                    break;
                }
                _ => return Err(USAGE.into()),
            }
        }
    }
    let words: Vec<String> = args.collect();
    if words.is_empty() {
        return Err(USAGE.into());
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let request = command(&words)?;
    Ok(Options {
        json,
        socket,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Options, String> {
        parse(a.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn commands_and_abbreviations() {
        let c = |w: &[&str]| command(w);
        assert_eq!(c(&["show", "summary"]), Ok(Request::ShowSummary));
        assert_eq!(c(&["show"]), Ok(Request::ShowSummary));
        assert_eq!(c(&["s", "su"]), Ok(Request::ShowSummary));
        assert_eq!(
            c(&["sh", "m"]),
            Err("ambiguous command: sh m (show maps, show metrics)".into())
        );
        assert_eq!(c(&["sh", "ma"]), Ok(Request::ShowMaps));
        assert_eq!(c(&["sh", "me"]), Ok(Request::ShowMetrics));
        assert_eq!(c(&["s", "dr"]), Ok(Request::ShowDrops));
        assert_eq!(c(&["s", "di"]), Ok(Request::ShowDirectories));
        assert_eq!(c(&["s", "c"]), Ok(Request::ShowClients));
        assert_eq!(c(&["rel"]), Ok(Request::Reload));
        assert_eq!(c(&["u"]), Ok(Request::Update));
        assert_eq!(c(&["log", "v"]), Ok(Request::Log { verbose: true }));
        assert_eq!(c(&["l", "b"]), Ok(Request::Log { verbose: false }));
        assert_eq!(c(&["log"]), Err("unknown command: log".into()));
        assert_eq!(
            c(&["show", "everything"]),
            Err("unknown command: show everything".into())
        );
        assert_eq!(c(&["show", ""]), Err("unknown command: show ".into()));
        assert_eq!(
            c(&["reload", "now"]),
            Err("unknown command: reload now".into())
        );
        assert!(c(&[]).is_err());
    }

    #[test]
    fn options() {
        let o = p(&["-j", "-s", "/run/y.sock", "show", "maps"]).unwrap();
        assert!(o.json);
        assert_eq!(o.socket, "/run/y.sock");
        assert_eq!(o.request, Request::ShowMaps);
        let o = p(&["-js/x", "s"]).unwrap();
        assert!(o.json);
        assert_eq!(o.socket, "/x");
        let o = p(&["reload"]).unwrap();
        assert!(!o.json);
        assert_eq!(o.socket, "/var/run/ypldapd.sock");
        assert_eq!(p(&[]), Err(USAGE.into()));
        assert_eq!(p(&["-x", "show"]), Err(USAGE.into()));
        assert_eq!(p(&["-s"]), Err(USAGE.into()));
        assert_eq!(p(&["-j"]), Err(USAGE.into()));
        assert_eq!(p(&["--", "show"]).unwrap().request, Request::ShowSummary);
    }
}
