#!/usr/bin/env bash
# demo.sh: run ypldapd end to end on the bundled sample directory.
#
# Not yet: reading LDAP directories and serving YP are still being built.
# Until then this shows what exists: ypldapd starting its two helpers, all
# three sandboxed, in a private namespace that disappears afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "$(id -u)" == 0 ]] || { echo "demo.sh: run as root (e.g. sudo scripts/demo.sh)" >&2; exit 1; }
scripts/install-deps.sh
cargo build --workspace --bins -q
work="$(mktemp -d /tmp/ypldap-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
printf 'domain "demo.example"\n' > "$work/ypldap.conf"
chmod 0600 "$work/ypldap.conf"
unshare --net --mount --uts --ipc --pid --fork --kill-child --mount-proc sh -c '
    ip link set lo up
    '"$PWD"'/target/debug/ypldapd -d -f '"$work"'/ypldap.conf 2>'"$work"'/log &
    sleep 2
    echo "--- processes (inside a private PID namespace):"
    ps -o pid,user,args --ppid "$!" -p "$!"
    for p in $(pgrep -x ypldapd) $(pgrep -x ypldap-client) $(pgrep -x ypldap-dns); do
        printf "%-14s Seccomp: %s  NoNewPrivs: %s  root: %s\n" "$(cat /proc/$p/comm)" \
            "$(awk "/^Seccomp:/{print \$2}" /proc/$p/status)" \
            "$(awk "/^NoNewPrivs:/{print \$2}" /proc/$p/status)" "$(readlink /proc/$p/root)"
    done
    kill -TERM "$!"; wait "$!" || true
    echo "--- ypldapd log:"; cat '"$work"'/log'
echo
echo "not yet: the LDAP reader and the YP server are still being built; this demo will show ypcat, ypmatch, getent and id output once they land."
