#!/usr/bin/env bash
# demo.sh: ypldapd end to end on the bundled sample directories.
#
# Installs what is missing (scripts/install-deps.sh), builds, then starts in
# private namespaces (network, mount, UTS, PID): a slapd loaded with
# examples/sample/sample.ldif, rpcbind, and ypldapd with
# examples/sample/ypldap.conf. It then shows what the ordinary NIS clients,
# glibc (through libnss-nis) and autofs see: users, groups, passwords, a
# PAM login, netgroups (getent, innetgr) and automount maps, and an
# ldapmodify reaching ypmatch as it is made (the demo's slapd offers content
# synchronization, RFC 4533, with the syncprov overlay). Then the same
# with the RFC 2307bis sample (examples/sample-rfc2307bis: groups whose
# members are DNs, nested groups), and stops everything. Nothing runs
# afterwards, the scratch directory is removed, and the host's network,
# /etc/nsswitch.conf, /var/yp and NIS domain name are never touched: every
# change is made inside the namespaces, which vanish with their first process.
#
# Run as root on Debian 12:  sudo scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "$(id -u)" == 0 ]] || { echo "demo.sh: run as root (e.g. sudo scripts/demo.sh)" >&2; exit 1; }

scripts/install-deps.sh
echo "building (cargo build --workspace --bins)..."
cargo build --workspace --bins -q
bin="$PWD/target/debug"

work="$(mktemp -d /tmp/ypldap-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # _ypldap must reach the configuration file
mkdir "$work/db"
install -m 0600 examples/sample/ypldap.conf "$work/ypldap.conf"
cp examples/sample/sample.ldif "$work/sample.ldif"
mkdir "$work/db2"
install -m 0600 examples/sample-rfc2307bis/ypldap.conf "$work/ypldap-bis.conf"
cp examples/sample-rfc2307bis/sample.ldif "$work/sample-bis.ldif"
cat >"$work/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $work/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
database mdb
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw secret
directory $work/db
dbnosync
index objectClass,uid,cn,memberUid eq
index entryCSN,entryUUID eq
access to attrs=userPassword
	by dn.exact="cn=ypldap,ou=Services,dc=example,dc=com" read
	by anonymous auth
	by * none
access to * by * read
# Content synchronization (RFC 4533): ypldapd's searches stay open and
# slapd pushes each change as it is made.
overlay syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 1000
EOF

# What runs inside the namespaces. Its shell is PID 1 there: when it exits,
# the kernel kills whatever is left inside.
cat >"$work/inside.sh" <<'EOF'
set -euo pipefail
work="$1" bin="$2"
domain=example.com
ip link set lo up
mount -t tmpfs -o mode=0755 demo-run /run        # private /run: rpcbind's socket and lock
mkdir -p /run/rpcbind /run/lock /run/varyp
# A private copy of /var/yp (binding files go there); it keeps ypcat's
# nicknames (passwd -> passwd.byname). /var/yp comes with the nis package.
[[ -d /var/yp ]] || { echo "demo.sh: /var/yp is missing (is the nis package installed?)" >&2; exit 1; }
cp -a /var/yp/. /run/varyp/
mount --bind /run/varyp /var/yp
mkdir -p /var/yp/binding
hostname ypldap-demo
domainname "$domain"

wait_until() { # wait_until SECONDS COMMAND...
    local n=$(($1 * 10)); shift
    until "$@" >/dev/null 2>&1; do
        ((n-- > 0)) || return 1
        sleep 0.1
    done
}
fail() { echo "demo.sh: $*" >&2; for f in slapd.log ypldapd.log; do [[ -s "$work/$f" ]] && tail -20 "$work/$f" >&2; done; exit 1; }
show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; eval "$*" 2>&1 || true; }

slapadd -q -f "$work/slapd.conf" -l "$work/sample.ldif" 2>"$work/slapd.log" || fail "slapadd failed"
slapd -d 0 -f "$work/slapd.conf" -h ldap://127.0.0.1:389/ </dev/null >/dev/null 2>>"$work/slapd.log" &
slapd=$!
wait_until 15 ldapsearch -x -LLL -H ldap://127.0.0.1 -b '' -s base || fail "slapd did not start"
rpcbind -f </dev/null >/dev/null 2>&1 &
wait_until 10 rpcinfo -p 127.0.0.1 || fail "rpcbind did not start"
"$bin/ypldapd" -d -f "$work/ypldap.conf" </dev/null >/dev/null 2>"$work/ypldapd.log" &
ypldapd=$!
registered() { rpcinfo -p 127.0.0.1 | grep -qw 100004; }
wait_until 30 registered || fail "ypldapd did not register with rpcbind"

echo "slapd, rpcbind and ypldapd are running in a private namespace (host name ypldap-demo, NIS domain $domain)."
echo "ypldapd's log so far:"
sed 's/^/    /' "$work/ypldapd.log"

printf '\n\033[1m== rpcbind: ypldapd registered the YP program (100004) on reserved ports\033[0m\n'
show rpcinfo -p 127.0.0.1

printf '\n\033[1m== ypldapctl: the running server, through its control socket (root only)\033[0m\n'
show "$bin/ypldapctl" show summary
show "$bin/ypldapctl" show maps

printf '\n\033[1m== ypcat and yppoll ask the server directly (-h)\033[0m\n'
show "ypcat -h 127.0.0.1 -d $domain passwd | head -4"
show ypcat -k -h 127.0.0.1 -d "$domain" group.bygid
show "ypcat -k -h 127.0.0.1 -d $domain netid.byname | sort | head -4"
show yppoll -h 127.0.0.1 -d "$domain" passwd.byname

# libnsl-based clients (ypmatch, ypwhich, glibc NSS) need a binding: the
# file ypbind would write, pointing at 127.0.0.1.
printf '\000\000\001\000\000\000\177\000\000\001\000\000\000\000' > "/var/yp/binding/$domain.2"
printf '\n\033[1m== ypmatch and ypwhich through the binding file /var/yp/binding/%s.2\033[0m\n' "$domain"
show ypmatch alice passwd
show ypmatch 5006 passwd.byuid
show ypmatch admins group
show ypwhich -m

# glibc through libnss-nis: inside this mount namespace only, a copy of
# /etc/nsswitch.conf that says "files nis" (and "nis" for netgroups and
# automount maps) is mounted over the real one.
sed -e 's/^passwd:.*/passwd: files nis/' -e 's/^group:.*/group: files nis/' \
    -e 's/^shadow:.*/shadow: files nis/' -e 's/^netgroup:.*/netgroup: nis/' \
    -e 's/^automount:.*/automount: nis/' /etc/nsswitch.conf >"$work/nsswitch.conf"
grep -q '^shadow:' "$work/nsswitch.conf" || echo 'shadow: files nis' >>"$work/nsswitch.conf"
grep -q '^netgroup:' "$work/nsswitch.conf" || echo 'netgroup: nis' >>"$work/nsswitch.conf"
grep -q '^automount:' "$work/nsswitch.conf" || echo 'automount: nis' >>"$work/nsswitch.conf"
mount --bind "$work/nsswitch.conf" /etc/nsswitch.conf
printf '\n\033[1m== glibc (getent, id) through libnss-nis, nsswitch.conf "passwd: files nis"\033[0m\n'
echo "(passwd.* carry x, never a hash: glibc reads the hash from shadow.byname)"
show getent passwd alice
show getent passwd 5029
show getent group engineering
show id alice
show id mallory
show "getent passwd | tail -4"
show "getent group | tail -4"

printf '\n\033[1m== password hashes: only to root on a client (a privileged port), without {CRYPT}\033[0m\n'
show getent shadow alice
echo "(as an ordinary user, from an unprivileged port: nothing)"
show setpriv --reuid=65534 --regid=65534 --clear-groups getent shadow alice
show setpriv --reuid=65534 --regid=65534 --clear-groups ypmatch alice shadow.byname

# A login through NIS: pam_unix reads passwd and shadow through NSS. A
# private /etc/pam.d with one service, in this mount namespace only.
mkdir -p "$work/pam.d"
printf 'auth required pam_unix.so\naccount required pam_unix.so\n' >"$work/pam.d/ypldap-demo"
mount --bind "$work/pam.d" /etc/pam.d
printf '\n\033[1m== a PAM login (pam_unix) through NIS: alice'"'"'s sample password is "changeme"\033[0m\n'
show "echo changeme | pamtester ypldap-demo alice authenticate"
show "echo wrong-password | pamtester ypldap-demo alice authenticate"

# Netgroups: the sample's ssh-users holds the netgroups sysadmins and
# developers. glibc reads the netgroup map ("netgroup: nis") and expands
# nested netgroups itself; innetgr(3) is what access rules call.
cat >"$work/innetgr.py" <<'PY'
import ctypes
libc = ctypes.CDLL("libc.so.6")
for group, host, user in [("ssh-users", None, "alice"), ("ssh-users", None, "dave"),
                          ("ssh-users", None, "bob"), ("servers", "web1.example.com", None),
                          ("servers", "laptop.example.com", None)]:
    found = libc.innetgr(group.encode(), host and host.encode(), user and user.encode(), None)
    print(f"innetgr({group}, host={host or '*'}, user={user or '*'}) = {found}")
PY
printf '\n\033[1m== netgroups: who may log in where (nsswitch.conf "netgroup: nis")\033[0m\n'
show getent netgroup ssh-users
show getent netgroup servers
show python3 "$work/innetgr.py"
echo "(BSD libc also reads the reverse maps ypldapd computes, as revnetgroup does:)"
show ypcat -k netgroup.byuser

# Automount: auto.master names auto.home; autofs reads both through
# nsswitch.conf ("automount: nis"). automount -m only dumps the maps.
printf '\n\033[1m== automount maps, as ypcat and autofs (automount -m, which mounts nothing) read them\033[0m\n'
show ypcat -k auto.master
show ypcat -k auto.home
show "automount -m auto.master | sed -n '/^Mount point/,\$p'"

# Content synchronization: the directory offers it (the Sync Request
# control in its root DSE), so ypldapd's searches stayed open after the
# first read, and slapd pushes every change to them as it is made.
printf '\n\033[1m== a change in LDAP reaches the NIS clients as it is made (content synchronization, RFC 4533)\033[0m\n'
grep -E 'kept current by content synchronization' "$work/ypldapd.log" | head -1 | sed 's/^/    /'
show ypmatch alice passwd
show yppoll -h 127.0.0.1 -d "$domain" passwd.byname
cat >"$work/alice-shell.ldif" <<'LDIF'
dn: uid=alice,ou=People,dc=example,dc=com
changetype: modify
replace: loginShell
loginShell: /bin/zsh
LDIF
printf '\n\033[1m$ ldapmodify -x -H ldap://127.0.0.1 -D cn=admin,dc=example,dc=com -w secret -f alice-shell.ldif\033[0m   (loginShell: /bin/zsh)\n'
started=$EPOCHREALTIME
ldapmodify -x -H ldap://127.0.0.1 -D cn=admin,dc=example,dc=com -w secret -f "$work/alice-shell.ldif" || fail "ldapmodify failed"
returned=$EPOCHREALTIME
# ypmatch as fast as it can run, until it answers the new shell (5 s at most).
tries=0
until ypmatch alice passwd 2>/dev/null | grep -q ':/bin/zsh$'; do
    tries=$((tries + 1))
    ((tries < 500)) || fail "ypmatch never answered the new shell"
    sleep 0.01
done
answered=$EPOCHREALTIME
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
runs="the first ypmatch after it"; ((tries == 0)) || runs="ypmatch run $((tries + 1)) after it"
echo "ldapmodify took $(ms "$started" "$returned") ms; ypmatch answered the new shell $(ms "$returned" "$answered") ms after it returned ($runs)"
show ypmatch alice passwd
show yppoll -h 127.0.0.1 -d "$domain" passwd.byname
grep -E 'changes served at once' "$work/ypldapd.log" | tail -1 | sed 's/^/    ypldapd: /'

kill -TERM "$ypldapd"
wait "$ypldapd" || true
printf '\n\033[1m== ypldapd stopped (SIGTERM); its last log lines:\033[0m\n'
tail -3 "$work/ypldapd.log" | sed 's/^/    /'

# The second sample: RFC 2307bis groups (groupOfNames, members as DNs,
# nested groups), on a fresh slapd, read with its own ypldap.conf.
kill -TERM "$slapd"
wait "$slapd" || true
sed "s|$work/db|$work/db2|; s|$work/slapd.pid|$work/slapd2.pid|" "$work/slapd.conf" >"$work/slapd-bis.conf"
slapadd -q -f "$work/slapd-bis.conf" -l "$work/sample-bis.ldif" 2>>"$work/slapd.log" || fail "slapadd (RFC 2307bis sample) failed"
slapd -d 0 -f "$work/slapd-bis.conf" -h ldap://127.0.0.1:389/ </dev/null >/dev/null 2>>"$work/slapd.log" &
wait_until 15 ldapsearch -x -LLL -H ldap://127.0.0.1 -b '' -s base || fail "slapd (RFC 2307bis sample) did not start"
"$bin/ypldapd" -d -f "$work/ypldap-bis.conf" </dev/null >/dev/null 2>"$work/ypldapd-bis.log" &
ypldapd=$!
wait_until 30 registered || { cat "$work/ypldapd-bis.log" >&2; fail "ypldapd (RFC 2307bis sample) did not register"; }

printf '\n\033[1m== the RFC 2307bis sample: groups are groupOfNames whose members are DNs\033[0m\n'
show "ldapsearch -x -LLL -H ldap://127.0.0.1 -b ou=Groups,dc=example,dc=com '(cn=oncall)' member memberUid"
show "ldapsearch -x -LLL -H ldap://127.0.0.1 -b ou=Groups,dc=example,dc=com '(cn=admins)' member memberUid"
echo "ypldapd resolves each DN to a user name, follows nested groups, and says what it left out:"
grep -E 'names no user|^update 1:' "$work/ypldapd-bis.log" | sed 's/^/    /'
show ypcat -k -h 127.0.0.1 -d "$domain" group.byname
show "ypcat -k -h 127.0.0.1 -d $domain netid.byname | sort"
printf '\n\033[1m== id through NIS: alice is in oncall through admins, two levels down\033[0m\n'
show id alice
show id dave
show getent group oncall

kill -TERM "$ypldapd"
wait "$ypldapd" || true
EOF

start=$(date +%s)
unshare --net --mount --uts --ipc --pid --fork --kill-child --mount-proc --propagation private \
    bash "$work/inside.sh" "$work" "$bin"
echo
echo "done in $(($(date +%s) - start)) s: the namespaces are gone with everything that ran in them,"
echo "and $work is removed. Try the tests next: sudo scripts/test.sh"
