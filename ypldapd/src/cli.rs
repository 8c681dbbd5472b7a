//! The command line: `ypldapd [-dnv] [-D macro=value] [-f file]`, as
//! upstream, `-s socket` for the control socket (as ospfd's and ldapd's),
//! and one long option of our own, `--accept-no-landlock`.

use std::path::PathBuf;

/// The usage line printed for any error on the command line.
pub const USAGE: &str =
    "usage: ypldapd [-dnv] [--accept-no-landlock] [-D macro=value] [-f file] [-s socket]";

/// The default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/ypldap.conf";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-d`: stay in the foreground, log to stderr, debug records on.
    pub foreground: bool,
    /// `-n`: check the configuration and exit.
    pub check_only: bool,
    /// `-v`: verbose (unused-macro warnings; `-n -v` prints the config).
    pub verbose: bool,
    /// `-D name=value`, split at the last `=`.
    pub macros: Vec<(String, String)>,
    /// `-f file`.
    pub config: PathBuf,
    /// `-s socket`: the control socket ypldapctl talks to.
    pub control_socket: PathBuf,
    /// Warnings about the command line (a `-D` without `=`), as upstream.
    pub warnings: Vec<String>,
    /// `--accept-no-landlock` ([`privsep::ACCEPT_NO_LANDLOCK`]): run on a
    /// Linux kernel that enforces no Landlock file-system rule, and tell
    /// the helpers so.
    pub accept_no_landlock: bool,
}

/// Parses the arguments after the program name, getopt-style: flags may be
/// combined (`-dv`) and option values attached (`-ffile`) or separate.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut o = Options {
        foreground: false,
        check_only: false,
        verbose: false,
        macros: Vec::new(),
        config: PathBuf::from(DEFAULT_CONFIG),
        control_socket: PathBuf::from(ctl_proto::DEFAULT_SOCKET),
        warnings: Vec::new(),
        accept_no_landlock: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == privsep::ACCEPT_NO_LANDLOCK {
            o.accept_no_landlock = true;
            continue;
        }
        if arg == "--" {
            if args.next().is_some() {
                return Err(USAGE.into());
            }
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(USAGE.into());
        };
        for (i, c) in flags.char_indices() {
            match c {
                'd' => o.foreground = true,
                'n' => o.check_only = true,
                'v' => o.verbose = true,
                'D' | 'f' | 's' => {
                    let rest = &flags[i + 1..];
                    let value = if rest.is_empty() {
                        args.next().ok_or_else(|| USAGE.to_string())?
                    } else {
                        rest.to_owned()
                    };
                    if c == 'f' {
                        o.config = PathBuf::from(value);
                    } else if c == 's' {
                        o.control_socket = PathBuf::from(value);
                    } else {
                        match value.rsplit_once('=') {
                            Some((name, v)) if !name.is_empty() => {
                                o.macros.push((name.to_owned(), v.to_owned()));
                            }
                            _ => o
                                .warnings
                                .push(format!("could not parse macro definition {value}")),
                        }
                    }
                    break;
                }
                _ => return Err(USAGE.into()),
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Options, String> {
        parse(a.iter().map(std::string::ToString::to_string))
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o.config, PathBuf::from("/etc/ypldap.conf"));
        assert_eq!(o.control_socket, PathBuf::from("/var/run/ypldapd.sock"));
        assert!(!o.foreground && !o.check_only && !o.verbose);
    }

    #[test]
    fn combined_and_attached() {
        let o = p(&[
            "-dnv",
            "-fconf",
            "-D",
            "a=b=c",
            "-Dx=1",
            "-s",
            "/run/c.sock",
        ])
        .unwrap();
        assert_eq!(o.control_socket, PathBuf::from("/run/c.sock"));
        assert!(o.foreground && o.check_only && o.verbose);
        assert_eq!(o.config, PathBuf::from("conf"));
        assert_eq!(
            o.macros,
            vec![("a=b".into(), "c".into()), ("x".into(), "1".into())]
        );
    }

    #[test]
    fn accept_no_landlock() {
        let o = p(&["-d", "--accept-no-landlock", "-f", "x"]).unwrap();
        assert!(o.accept_no_landlock && o.foreground);
        assert!(!p(&["-d"]).unwrap().accept_no_landlock);
        assert_eq!(p(&["--accept-no-landlocks"]), Err(USAGE.into()));
    }

    #[test]
    fn errors() {
        assert_eq!(p(&["-x"]), Err(USAGE.into()));
        assert_eq!(p(&["extra"]), Err(USAGE.into()));
        assert_eq!(p(&["-f"]), Err(USAGE.into()));
        assert_eq!(p(&["-"]), Err(USAGE.into()));
        let o = p(&["-D", "novalue"]).unwrap();
        assert_eq!(o.warnings, vec!["could not parse macro definition novalue"]);
    }
}
