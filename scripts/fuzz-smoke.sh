#!/usr/bin/env bash
# fuzz-smoke.sh: the fuzz targets of fuzz/ compile, and each runs for a few
# seconds from its seed corpus (FUZZ_SECONDS, default 10). scripts/test.sh
# runs it; it works on a fresh clone of a fresh machine.
#
# 1. The fuzz workspace compiles, always, with the stable toolchain (even
#    when YPLDAP_SKIP_FUZZ is set): a change that breaks a target fails here.
# 2. cargo-fuzz needs a nightly toolchain (sanitizers): the nightly
#    toolchain (minimal profile) and cargo-fuzz (pinned, with its locked
#    dependencies) are installed when missing, once; a second run installs
#    nothing. On this machine kind the install of cargo-fuzz takes about a
#    minute.
# 3. Every file of fuzz/fuzz_targets is a target cargo-fuzz lists, and
#    each runs; a crash fails. None of this is best effort: a step that
#    cannot run fails, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-10}"

fail() { echo "fuzz-smoke: $*" >&2; exit 1; }

echo "the fuzz workspace compiles (stable)"
cargo check --locked --quiet --manifest-path fuzz/Cargo.toml --bins ||
    fail "the fuzz targets do not compile"

if [[ -n "${YPLDAP_SKIP_FUZZ:-}" ]]; then
    echo "skipped: the fuzz runs (YPLDAP_SKIP_FUZZ is set)"
    exit 0
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (minimal profile)"
    rustup toolchain install nightly --profile minimal ||
        fail "cannot install the nightly toolchain cargo-fuzz needs"
fi
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    started=$SECONDS
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" ||
        fail "cannot install cargo-fuzz $CARGO_FUZZ_VERSION"
    echo "installed cargo-fuzz in $((SECONDS - started)) s"
fi

list="$(cd fuzz && cargo +nightly fuzz list)" || fail "cargo fuzz list failed"
targets=()
while read -r t; do
    [[ -n "$t" ]] && targets+=("$t")
done <<<"$list"
[[ ${#targets[@]} -gt 0 ]] || fail "cargo fuzz list names no target"
files=()
for f in fuzz/fuzz_targets/*.rs; do
    files+=("$(basename "$f" .rs)")
done
if [[ "$(printf '%s\n' "${targets[@]}" | sort)" != "$(printf '%s\n' "${files[@]}" | sort)" ]]; then
    fail "targets listed (${targets[*]}) are not the files of fuzz/fuzz_targets (${files[*]})"
fi

for t in "${targets[@]}"; do
    log="$(mktemp)"
    mkdir -p "fuzz/corpus/$t"
    seeds=()
    [[ -d "fuzz/seeds/$t" ]] && seeds=("seeds/$t")
    if ! (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
            -max_total_time="$seconds" -print_final_stats=1) >"$log" 2>&1; then
        tail -40 "$log"
        rm -f "$log"
        fail "fuzz target $t failed (see above)"
    fi
    runs="$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    rm -f "$log"
    [[ "${runs:-0}" -gt 0 ]] || fail "fuzz target $t ran no input"
    echo "fuzz target $t: $runs runs in $seconds s"
done
echo "${#targets[@]} fuzz targets ran"
