#!/usr/bin/env bash
# cross-freebsd.sh: build and link ypldapd, ypldap-client, ypldap-dns and ypldapctl for
# x86_64-unknown-freebsd (FreeBSD 14, the oldest release Zig links for) on
# this Linux machine, then check that each result is a FreeBSD executable.
#
#   scripts/cross-freebsd.sh            debug build (what scripts/test.sh runs)
#   scripts/cross-freebsd.sh --release  release build
#
# The binaries land in target/x86_64-unknown-freebsd/{debug,release}/.
#
# How: rustup's standard library for the target, and Zig as the C compiler
# and linker against FreeBSD's libc (Zig ships its headers and link stubs),
# driven by cargo-zigbuild. Zig and cargo-zigbuild come from the Python
# package index, pinned, into a virtual environment under the cache
# directory, once: a second run installs nothing. The FreeBSD-only code
# (Capsicum) is also linted here with clippy, as the Linux build cannot see it.
#
# What this proves and what it does not: see "FreeBSD" in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-freebsd
ZIGLANG_VERSION=0.17.1
ZIGBUILD_VERSION=0.24.1
PROGRAMS=(ypldapd ypldap-client ypldap-dns ypldapctl)
cache="${YPLDAP_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ypldap-cross}"
venv="$cache/zig-$ZIGLANG_VERSION-zigbuild-$ZIGBUILD_VERSION"

profile=debug
build_args=()
case "${1:-}" in
    "") ;;
    --release) profile=release; build_args+=(--release) ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

if ! rustup target list --installed | grep -qx "$TARGET"; then
    echo "adding the Rust standard library for $TARGET"
    rustup target add "$TARGET"
fi

if [[ ! -e "$venv/.complete" ]]; then
    echo "installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION into $venv"
    if ! python3 -m venv --help >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION"
    touch "$venv/.complete"
fi
# cargo-zigbuild finds Zig as `python3 -m ziglang` of the venv's python.
export PATH="$venv/bin:$PATH"

pkgs=()
for p in "${PROGRAMS[@]}"; do pkgs+=(-p "$p"); done

echo "clippy for $TARGET (the FreeBSD-only code)"
cargo-zigbuild clippy --locked --target "$TARGET" "${pkgs[@]}" -p privsep -p ipc-proto -p ctl-proto \
    -- -D warnings

echo "building and linking for $TARGET ($profile)"
cargo-zigbuild zigbuild --locked --target "$TARGET" "${build_args[@]}" "${pkgs[@]}"

status=0
for p in "${PROGRAMS[@]}"; do
    bin="${CARGO_TARGET_DIR:-target}/$TARGET/$profile/$p"
    what="$(file -b "$bin" 2>&1 || true)"
    if [[ "$what" == *"ELF 64-bit"*"x86-64"*"FreeBSD"* && "$what" == *executable* ]]; then
        echo "$bin: $what"
    else
        echo "$bin is not a FreeBSD x86-64 executable: $what" >&2
        status=1
    fi
done
exit "$status"
