//! Rewrites the generated blocks of `docs/audit.md` from the code:
//! `cargo run -p tests --bin audit-doc`. With `--check`, changes nothing
//! and fails with a diff when the document is stale (what
//! `cargo test -p tests --test audit` does).

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
    let path = audit::document_path();
    let result = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
        .and_then(|doc| {
            let blocks = audit::generated()?;
            let new = audit::refresh(&doc, &blocks)?;
            Ok((doc, new))
        });
    let (doc, new) = match result {
        Ok(x) => x,
        Err(e) => {
            eprintln!("audit-doc: {e}");
            return ExitCode::FAILURE;
        }
    };
    if doc == new {
        println!("{} is up to date", path.display());
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!(
            "{} is stale:\n{}\nrefresh it with: {}",
            path.display(),
            audit::diff(&doc, &new),
            audit::REFRESH
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(&path, new) {
        eprintln!("audit-doc: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("{} refreshed", path.display());
    ExitCode::SUCCESS
}
