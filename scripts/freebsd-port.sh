#!/usr/bin/env bash
# freebsd-port.sh: bring the FreeBSD port in dist/freebsd in step with the
# workspace, as `make makesum` and `make cargo-crates` would on a FreeBSD
# host:
#
#   - dist/freebsd/Makefile.crates: CARGO_CRATES, every crate of Cargo.lock
#     that comes from the crate registry, in Cargo.lock's order;
#   - DISTVERSION, MASTER_SITES and WWW in dist/freebsd/Makefile: the
#     workspace's version and `repository` (Cargo.toml);
#   - the release tarball ypldap-rs-VERSION.tar.gz, made with `git archive`
#     of the tag vVERSION (or of HEAD, with a warning, while there is no such
#     tag) into target/freebsd-port/, as it must be published at MASTER_SITES;
#   - dist/freebsd/distinfo: SHA256 and SIZE of that tarball and of every
#     crate file, fetched from the crate registry with `cargo fetch` and
#     checked against Cargo.lock's checksums.
#
#   scripts/freebsd-port.sh          rewrite the three files
#   scripts/freebsd-port.sh --check  change nothing; fail if the crate list,
#                                    DISTVERSION or the crate lines of
#                                    distinfo are stale
#
# tests/tests/install.rs checks the same against Cargo.lock on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=dist/freebsd
PORTNAME=ypldap-rs
check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

version="$(awk -F'"' '/^\[workspace.package\]/{w=1} w && /^version *=/{print $2; exit}' Cargo.toml)"
[[ -n "$version" ]] || { echo "no version in [workspace.package] of Cargo.toml" >&2; exit 1; }

# Registry packages of Cargo.lock: "name version checksum", in file order.
registry_crates() {
    awk '
        /^\[\[package\]\]/ { if (name != "" && reg) print name, ver, sum; name = ""; ver = ""; sum = ""; reg = 0; next }
        /^name = /     { gsub(/"/, "", $3); name = $3 }
        /^version = /  { gsub(/"/, "", $3); ver = $3 }
        /^source = "registry\+/ { reg = 1 }
        /^checksum = / { gsub(/"/, "", $3); sum = $3 }
        END { if (name != "" && reg) print name, ver, sum }
    ' Cargo.lock
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
registry_crates > "$work/crates"
[[ -s "$work/crates" ]] || { echo "no registry crates in Cargo.lock" >&2; exit 1; }

# Makefile.crates, as `make cargo-crates` prints it.
awk 'BEGIN { n = 0 } { line[n++] = $1 "-" $2 }
     END {
        for (i = 0; i < n; i++) {
            printf "%s%s%s\n", (i == 0 ? "CARGO_CRATES=\t" : "\t\t"), line[i], (i < n - 1 ? " \\" : "")
        }
     }' "$work/crates" > "$work/Makefile.crates"

# Where the tarball is published: the releases of the workspace's
# `repository`, one directory per tag.
repository="$(awk -F'"' '/^\[workspace.package\]/{w=1} w && /^repository *=/{print $2; exit}' Cargo.toml)"
[[ -n "$repository" ]] || { echo "no repository in [workspace.package] of Cargo.toml" >&2; exit 1; }
sed -E -e "s|^(DISTVERSION=[[:space:]]*).*|\1$version|" \
    -e "s|^(MASTER_SITES=[[:space:]]*).*|\1$repository/releases/download/v\${DISTVERSION}/|" \
    -e "s|^(WWW=[[:space:]]*).*|\1$repository|" \
    "$PORT/Makefile" > "$work/Makefile"

# The crate lines of distinfo need each .crate file's size: fetch them all
# (every platform's, as the port's fetch does) into cargo's cache.
cargo fetch --locked --quiet
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
crate_file() {
    local f
    for f in "$cargo_home"/registry/cache/*/"$1-$2.crate"; do
        [[ -f "$f" ]] && { echo "$f"; return 0; }
    done
    return 1
}
: > "$work/crate-lines"
while read -r name ver sum; do
    f="$(crate_file "$name" "$ver")" || { echo "cargo fetch did not bring $name-$ver" >&2; exit 1; }
    got="$(sha256sum "$f" | cut -d' ' -f1)"
    if [[ "$got" != "$sum" ]]; then
        echo "$f: SHA256 $got, but Cargo.lock says $sum" >&2
        exit 1
    fi
    printf 'SHA256 (rust/crates/%s-%s.crate) = %s\nSIZE (rust/crates/%s-%s.crate) = %s\n' \
        "$name" "$ver" "$sum" "$name" "$ver" "$(stat -c %s "$f")" >> "$work/crate-lines"
done < "$work/crates"

if [[ $check == 1 ]]; then
    status=0
    cmp -s "$work/Makefile.crates" "$PORT/Makefile.crates" ||
        { echo "$PORT/Makefile.crates is stale"; status=1; }
    cmp -s "$work/Makefile" "$PORT/Makefile" ||
        { echo "DISTVERSION, MASTER_SITES or WWW in $PORT/Makefile do not follow Cargo.toml"; status=1; }
    grep '/crates/' "$PORT/distinfo" 2>/dev/null | cmp -s - "$work/crate-lines" ||
        { echo "the crate lines of $PORT/distinfo are stale"; status=1; }
    [[ $status == 0 ]] && echo "$PORT is in step with Cargo.lock ($(wc -l < "$work/crates") crates, version $version)"
    [[ $status == 0 ]] || echo "refresh it with: $0"
    exit "$status"
fi

# The release tarball: git archive of the tag, gzip without a time stamp,
# so the same tag always gives the same bytes. distinfo itself is left out
# of archives (.gitattributes), or it would have to hold its own checksum.
ref="v$version"
if ! git rev-parse -q --verify "refs/tags/$ref" >/dev/null; then
    echo "warning: no tag $ref yet: the tarball is made from HEAD ($(git rev-parse --short HEAD));" >&2
    echo "         tag the release, re-run this script and publish that tarball" >&2
    ref=HEAD
fi
distdir=target/freebsd-port
mkdir -p "$distdir"
tarball="$PORTNAME-$version.tar.gz"
git archive --format=tar --prefix="$PORTNAME-$version/" "$ref" | gzip -n -9 > "$distdir/$tarball"
timestamp="$(git log -1 --format=%ct "$ref")"

{
    echo "TIMESTAMP = $timestamp"
    echo "SHA256 ($tarball) = $(sha256sum "$distdir/$tarball" | cut -d' ' -f1)"
    echo "SIZE ($tarball) = $(stat -c %s "$distdir/$tarball")"
    cat "$work/crate-lines"
} > "$work/distinfo"

cp "$work/Makefile.crates" "$PORT/Makefile.crates"
cp "$work/Makefile" "$PORT/Makefile"
cp "$work/distinfo" "$PORT/distinfo"
echo "$PORT: $(wc -l < "$work/crates") crates, version $version, $distdir/$tarball from $ref"
