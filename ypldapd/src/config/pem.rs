//! A small PEM checker: every `-----BEGIN X-----` block has a matching
//! `-----END X-----` line and a valid base64 body. Text between blocks
//! (comments, `Bag Attributes`) is ignored, as OpenSSL does.

use std::fmt;

/// What is wrong with a PEM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// No BEGIN line at all.
    NoBlocks,
    /// A BEGIN line whose END line is missing.
    Unterminated { line: usize, label: String },
    /// An END line with another label, or a stray one.
    Mismatch { line: usize },
    /// A malformed BEGIN/END line.
    BadBoundary { line: usize },
    /// The body of the block starting at `line` is not base64.
    BadBase64 { line: usize },
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NoBlocks => f.write_str("not a PEM file (no BEGIN line)"),
            PemError::Unterminated { line, label } => {
                write!(f, "PEM block {label:?} of line {line} has no END line")
            }
            PemError::Mismatch { line } => write!(f, "unexpected PEM END line at line {line}"),
            PemError::BadBoundary { line } => {
                write!(f, "malformed PEM BEGIN/END line at line {line}")
            }
            PemError::BadBase64 { line } => {
                write!(f, "PEM block of line {line} is not valid base64")
            }
        }
    }
}

impl std::error::Error for PemError {}

/// `Some(Some(label))` for a well-formed `-----BEGIN label-----` (or END)
/// line, `Some(None)` for a malformed one, `None` for any other line.
fn boundary<'a>(line: &'a str, kind: &str) -> Option<Option<&'a str>> {
    let rest = line.strip_prefix("-----")?.strip_prefix(kind)?;
    Some(
        rest.strip_prefix(' ')
            .and_then(|r| r.strip_suffix("-----"))
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with([' ', '-'])
                    && !l.ends_with([' ', '-'])
                    && l.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
            }),
    )
}

fn valid_base64(body: &[u8]) -> bool {
    if body.is_empty() || body.len() % 4 != 0 {
        return false;
    }
    let pad = body.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2 {
        return false;
    }
    body[..body.len() - pad]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// The labels of all blocks (`CERTIFICATE`, `PRIVATE KEY`, …), in order.
pub fn pem_labels(data: &[u8]) -> Result<Vec<String>, PemError> {
    let mut labels = Vec::new();
    let mut open: Option<(usize, String, Vec<u8>)> = None;
    for (i, raw) in data.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        match open.take() {
            None => {
                if let Some(b) = boundary(line, "BEGIN") {
                    let Some(label) = b else {
                        return Err(PemError::BadBoundary { line: n });
                    };
                    open = Some((n, label.to_owned(), Vec::new()));
                } else if line.starts_with("-----END") {
                    return Err(PemError::Mismatch { line: n });
                }
            }
            Some((start, label, mut body)) => {
                if let Some(b) = boundary(line, "END") {
                    if b != Some(label.as_str()) {
                        return Err(PemError::Mismatch { line: n });
                    }
                    if !valid_base64(&body) {
                        return Err(PemError::BadBase64 { line: start });
                    }
                    labels.push(label);
                } else if line.starts_with("-----") {
                    return Err(PemError::BadBoundary { line: n });
                } else {
                    body.extend_from_slice(line.as_bytes());
                    open = Some((start, label, body));
                }
            }
        }
    }
    if let Some((line, label, _)) = open {
        return Err(PemError::Unterminated { line, label });
    }
    if labels.is_empty() {
        return Err(PemError::NoBlocks);
    }
    Ok(labels)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CERT: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2==\n-----END CERTIFICATE-----\n";
    pub(crate) const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA+v\n-----END PRIVATE KEY-----\n";

    #[test]
    fn good_files() {
        assert_eq!(pem_labels(CERT.as_bytes()).unwrap(), vec!["CERTIFICATE"]);
        let bundle = format!("# comment\n{CERT}\nsome text\r\n{CERT}");
        assert_eq!(pem_labels(bundle.as_bytes()).unwrap().len(), 2);
        let ec = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEE\r\n-----END EC PRIVATE KEY-----";
        assert_eq!(
            pem_labels(ec.as_bytes()).unwrap(),
            vec!["EC PARAMETERS", "EC PRIVATE KEY"]
        );
        assert_eq!(pem_labels(KEY.as_bytes()).unwrap(), vec!["PRIVATE KEY"]);
    }

    #[test]
    fn bad_files() {
        assert_eq!(pem_labels(b"hello"), Err(PemError::NoBlocks));
        assert_eq!(pem_labels(b""), Err(PemError::NoBlocks));
        assert_eq!(
            pem_labels(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Err(PemError::Unterminated {
                line: 1,
                label: "CERTIFICATE".into()
            })
        );
        assert_eq!(
            pem_labels(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END KEY-----\n"),
            Err(PemError::Mismatch { line: 3 })
        );
        assert_eq!(
            pem_labels(b"-----BEGIN CERTIFICATE-----\nAA*A\n-----END CERTIFICATE-----\n"),
            Err(PemError::BadBase64 { line: 1 })
        );
        assert_eq!(
            pem_labels(b"-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"),
            Err(PemError::BadBase64 { line: 1 })
        );
        assert_eq!(
            pem_labels(b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"),
            Err(PemError::BadBase64 { line: 1 })
        );
        assert_eq!(
            pem_labels(b"-----BEGIN -----\nAAAA\n-----END -----\n"),
            Err(PemError::BadBoundary { line: 1 })
        );
    }
}
