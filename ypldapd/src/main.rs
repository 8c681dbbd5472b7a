//! ypldapd: read the configuration, then hand over to the daemon.

use std::process::ExitCode;

use ypldapd::config::{self, LoadOptions};
use ypldapd::{cli, daemon, error};

fn main() -> ExitCode {
    privsep::memory::tune_allocator();
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    for w in &opts.warnings {
        eprintln!("{w}");
    }
    let load = LoadOptions {
        macros: opts.macros.clone(),
        verbose: opts.verbose,
    };
    let (loaded, files) = config::load_noting_files(&opts.config, &load);
    let loaded = match loaded {
        Ok(l) => l,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    if opts.check_only {
        if let Some(g) = loaded
            .config
            .restricted_socket
            .as_ref()
            .and_then(|r| r.group.as_ref())
        {
            if let Err(e) = ypldapd::control::resolve_group(g) {
                eprintln!("restricted socket: {e}");
                return ExitCode::FAILURE;
            }
        }
        if opts.verbose {
            print!("{}", loaded.config);
        }
        eprintln!("configuration OK");
        return ExitCode::SUCCESS;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("need root privileges");
        return ExitCode::FAILURE;
    }
    match daemon::run(&opts, loaded.config, &files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("fatal: {e:#}");
            ExitCode::FAILURE
        }
    }
}
