#!/usr/bin/env bash
# bench.sh: the benchmarks of docs/performance.md, in one command. Run as
# root on Debian 12 (everything runs in private namespaces on loopback;
# nothing on the host changes). Installs what it needs, builds in release,
# then runs ypldap-bench: ypldapd against Debian's ypserv (makedbm maps)
# and against ldapsearch, on the same 100,000 users and 10,000 groups
# (and 20,000 hosts and 5,000 netgroups, served in hosts.* and the
# netgroup maps and searched by ldapsearch too), peer and project
# alternating over several rounds; the same with groups whose members are
# DNs (RFC 2307bis, --member-dns); the same refreshes with a state
# directory, each full read compared with the kept entries (--state);
# then sync-propagation: how soon each
# kind of change reaches the maps under content synchronization, and
# sync-resume: how soon a lost session catches up from its cookie. Prints
# every figure and ratio. Bounded: each program is killed after
# BENCH_TIMEOUT seconds (default 600); a normal run takes about 14 minutes
# (sync-propagation alone about 4: 1,000 changes of each kind, a burst of
# 10,000, a 30 s stream and a minute of the upstream behaviour).
#
#   sudo scripts/bench.sh                      # the documented run
#   sudo scripts/bench.sh --rounds 2 --secs 2  # quicker; see --help of
#                                              # bench/src/bin/ypldap-bench.rs
#   sudo BENCH_BASELINE=OLD/target/release scripts/bench.sh
#       # also the refreshes of an older build (its ypldapd, ypldap-client
#       # and ypldap-dns in that directory), for figures such as "CPU per
#       # refresh at most half of the code before" in the same run
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "$(id -u)" == 0 ]] || { echo "bench.sh: run as root (e.g. sudo scripts/bench.sh)" >&2; exit 1; }

echo "== installing dependencies"
scripts/install-deps.sh
for p in ypserv /usr/lib/yp/makedbm ypcat slapd slapadd ldapsearch rpcbind unshare nsenter; do
    command -v "$p" >/dev/null || { echo "bench.sh: $p is missing" >&2; exit 1; }
done

echo "== building (release)"
cargo build --release --workspace --bins

echo "== machine"
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MiB"}'), kernel $(uname -r)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(dpkg-query -W -f='${Package} ${Version}; ' ypserv slapd ldap-utils 2>/dev/null)"

echo "== ypldap-bench --hosts 20000 --netgroups 5000 $*"
# Its own PID namespace: if the time limit kills it, everything it started
# (the namespaces of slapd, rpcbind, ypserv, ypldapd) dies with it.
timeout -k 10 "${BENCH_TIMEOUT:-600}" \
    unshare --pid --fork --kill-child --mount-proc \
    target/release/ypldap-bench --hosts 20000 --netgroups 5000 "$@"

echo "== ypldap-bench --member-dns --rounds 1 --refreshes 3 (RFC 2307bis groups: members as DNs)"
timeout -k 10 "${BENCH_TIMEOUT:-600}" \
    unshare --pid --fork --kill-child --mount-proc \
    target/release/ypldap-bench --member-dns --rounds 1 --refreshes 3

if [[ -n "${BENCH_BASELINE:-}" ]]; then
    echo "== ypldap-bench --rounds 1 --refreshes 3 --ypldapd-dir $BENCH_BASELINE (the older build, for comparison)"
    timeout -k 10 "${BENCH_TIMEOUT:-600}" \
        unshare --pid --fork --kill-child --mount-proc \
        target/release/ypldap-bench --rounds 1 --refreshes 3 --ypldapd-dir "$BENCH_BASELINE"
fi

echo "== ypldap-bench --state 100 --rounds 1 --refreshes 3 (a state directory: each full read compared with the kept entries)"
timeout -k 10 "${BENCH_TIMEOUT:-600}" \
    unshare --pid --fork --kill-child --mount-proc \
    target/release/ypldap-bench --state 100 --rounds 1 --refreshes 3

echo "== sync-propagation (content synchronization: how soon each change is answered)"
timeout -k 10 "${BENCH_TIMEOUT:-600}" \
    unshare --pid --fork --kill-child --mount-proc \
    target/release/sync-propagation

echo "== sync-resume (a lost session resumed from its cookie, against a full refresh)"
exec timeout -k 10 "${BENCH_TIMEOUT:-600}" \
    unshare --pid --fork --kill-child --mount-proc \
    target/release/sync-resume
