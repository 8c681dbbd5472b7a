#!/usr/bin/env bash
# check-openbsd.sh: type-check the four programs for x86_64-unknown-openbsd
# (pledge, unveil and the rest of the OpenBSD-only code) with a nightly
# toolchain building the standard library from source (-Zbuild-std), as
# rustup ships no prebuilt standard library for OpenBSD. Nothing is linked:
# no OpenBSD libc is available here.
#
# Best effort: when the nightly toolchain or its rust-src component cannot
# be installed, it says why and exits 0. A check that runs and fails, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-openbsd

skip() { echo "skipped: $*"; exit 0; }

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (minimal profile)"
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 ||
        skip "the nightly toolchain cannot be installed here"
fi
if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "adding rust-src to the nightly toolchain"
    rustup component add rust-src --toolchain nightly >/dev/null 2>&1 ||
        skip "the rust-src component of the nightly toolchain cannot be installed here"
fi
echo "checking for $TARGET with $(rustc +nightly --version)"
cargo +nightly check -Zbuild-std --locked --target "$TARGET" \
    -p ypldapd -p ypldap-client -p ypldap-dns -p ypldapctl
