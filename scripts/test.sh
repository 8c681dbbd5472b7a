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

step "FreeBSD: build and link the three programs (scripts/cross-freebsd.sh)"
scripts/cross-freebsd.sh

step "OpenBSD: cargo +nightly check -Zbuild-std (best effort)"
scripts/check-openbsd.sh

step "fuzz smoke run (best effort)"
if [[ -n "${YPLDAP_SKIP_FUZZ:-}" ]]; then
    echo "skipped: YPLDAP_SKIP_FUZZ is set"
elif cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
    for t in $(cd fuzz && cargo +nightly fuzz list); do
        log="$(mktemp)"
        mkdir -p "fuzz/corpus/$t"
        seeds=()
        [[ -d "fuzz/seeds/$t" ]] && seeds=("seeds/$t")
        if ! (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
                -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1) >"$log" 2>&1; then
            tail -40 "$log"
            echo "fuzz target $t found a failure (see above)"
            exit 1
        fi
        echo "fuzz target $t: $(grep -o 'number_of_executed_units: *[0-9]*' "$log" | tail -1) in ${FUZZ_SECONDS:-10} s"
        rm -f "$log"
    done
else
    echo "skipped: nightly toolchain or cargo-fuzz not available"
fi

step "tests"
cargo test --workspace --no-fail-fast
