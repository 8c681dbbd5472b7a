//! Rewrites the generated blocks of `docs/audit.md` and of the manual
//! pages from the code: `cargo run -p tests --bin audit-doc`. With
//! `--check`, changes nothing and fails with a diff when a document is
//! stale (what `cargo test -p tests --test audit` does).

use std::process::ExitCode;

use tests::audit;

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(_) => {
            eprintln!("usage: audit-doc [--check]");
            return ExitCode::FAILURE;
        }
    };
    let documents = match audit::documents() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("audit-doc: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut status = ExitCode::SUCCESS;
    for d in documents {
        let path = &d.path;
        let result = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|doc| {
                let new = audit::refresh_marked(&doc, &d.blocks, d.markers)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok((doc, new))
            });
        let (doc, new) = match result {
            Ok(x) => x,
            Err(e) => {
                eprintln!("audit-doc: {e}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        if doc == new {
            println!("{} is up to date", path.display());
        } else if check {
            eprintln!(
                "{} is stale:\n{}\nrefresh it with: {}",
                path.display(),
                audit::diff(&doc, &new),
                audit::REFRESH
            );
            status = ExitCode::FAILURE;
        } else if let Err(e) = std::fs::write(path, new) {
            eprintln!("audit-doc: {}: {e}", path.display());
            status = ExitCode::FAILURE;
        } else {
            println!("{} refreshed", path.display());
        }
    }
    status
}
