//! What a password value may be in a map (DESIGN §13, "Secrets by port").
//!
//! RFC 2307 directories store `userPassword` with a scheme prefix
//! (`{CRYPT}$6$…`, `{SSHA}…`), and OpenLDAP treats a value without one as
//! cleartext. NIS clients hand the field to crypt(3), which knows no
//! prefix: `{CRYPT}` is only a transport prefix and is taken off; a value
//! in a scheme crypt(3) cannot check, and one that is not a crypt(3) hash
//! at all, is served as a locked placeholder instead, so that neither a
//! useless hash nor a cleartext password reaches any client.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a locked password field holds: crypt(3) never produces it, so no
/// password matches (shadow(5), passwd(5)).
pub const LOCKED: &str = "*";

/// Why a password value was served as [`LOCKED`]. Counted per reason in
/// the update's summary; the value itself is never logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    /// A `{SCHEME}` other than `{CRYPT}` (`{SSHA}`, `{PBKDF2-SHA512}`, …).
    UnsupportedScheme,
    /// No scheme and not the form of a crypt(3) hash: most likely a
    /// cleartext password (or empty, which would let anyone in).
    NotAHash,
    /// The directory marks the account disabled (Active Directory's
    /// `userAccountControl`, 389-ds's `nsAccountLock`).
    Disabled,
}

impl LockReason {
    /// The reason's words in the update's summary line.
    pub fn as_str(self) -> &'static str {
        match self {
            LockReason::UnsupportedScheme => "in a scheme crypt(3) cannot check",
            LockReason::NotAHash => "not a crypt(3) hash",
            LockReason::Disabled => "disabled account",
        }
    }
}

impl fmt::Display for LockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The password field a map may carry for a stored value: the crypt(3)
/// hash (its `{CRYPT}` prefix taken off), a value that is already a lock
/// (`*…`, `!…`, or `x`, which matches nothing), or why it must be locked.
pub fn crypt_hash(stored: &str) -> Result<&str, LockReason> {
    let value = match scheme(stored) {
        Some((name, rest)) if name.eq_ignore_ascii_case("crypt") => rest,
        Some(_) => return Err(LockReason::UnsupportedScheme),
        None => stored,
    };
    if value.starts_with(['*', '!']) || value == "x" || is_crypt_form(value) {
        Ok(value)
    } else {
        Err(LockReason::NotAHash)
    }
}

/// The password field for `stored`: its hash, or [`LOCKED`].
pub fn served_password(stored: &str) -> &str {
    crypt_hash(stored).unwrap_or(LOCKED)
}

/// `{NAME}rest` → (NAME, rest) for an RFC 2307 scheme prefix.
fn scheme(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix('{')?;
    let (name, rest) = rest.split_once('}')?;
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid.then_some((name, rest))
}

/// The alphabet of crypt(3) output (`./0-9A-Za-z`).
fn crypt64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'/'
}

/// Whether `v` has the form of a crypt(3) hash: traditional DES (13
/// characters), BSDi extended DES (`_` + 19), or modular
/// (`$id$…`: MD5, bcrypt, SHA-256/512, yescrypt, scrypt, …).
pub fn is_crypt_form(v: &str) -> bool {
    let b = v.as_bytes();
    match b.first() {
        Some(b'$') => {
            let mut parts = v[1..].splitn(2, '$');
            let id = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("");
            (1..=8).contains(&id.len())
                && id
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && !rest.is_empty()
                && rest
                    .bytes()
                    .all(|c| crypt64(c) || matches!(c, b'$' | b'=' | b',' | b'+' | b'-'))
        }
        Some(b'_') => b.len() == 20 && b[1..].iter().all(|&c| crypt64(c)),
        Some(_) => b.len() == 13 && b.iter().all(|&c| crypt64(c)),
        None => false,
    }
}
