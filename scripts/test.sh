#!/usr/bin/env bash
# test.sh: every check and every test, as CI runs them. Run as root on
# Debian 12 (the end-to-end tests create namespaces; nothing on the host
# changes). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "$(id -u)" == 0 ]] || { echo "test.sh: run as root (e.g. sudo scripts/test.sh)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

step "installing test dependencies"
scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "building"
cargo build --workspace --bins

step "man pages (mandoc -T lint)"
shopt -s nullglob
pages=(man/*.[0-9])
if [[ ${#pages[@]} -gt 0 ]]; then
    mandoc -T lint -W warning "${pages[@]}"
    echo "${#pages[@]} pages clean"
else
    echo "no man pages yet"
fi

step "FreeBSD port: dist/freebsd against Cargo.lock (scripts/freebsd-port.sh --check)"
scripts/freebsd-port.sh --check

step "FreeBSD: build and link the four programs (scripts/cross-freebsd.sh)"
scripts/cross-freebsd.sh

step "OpenBSD: cargo +nightly check -Zbuild-std (best effort)"
scripts/check-openbsd.sh

step "fuzz: the targets compile, and each runs ${FUZZ_SECONDS:-10} s (scripts/fuzz-smoke.sh)"
scripts/fuzz-smoke.sh

step "tests"
cargo test --workspace --no-fail-fast
