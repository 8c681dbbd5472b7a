#!/usr/bin/env bash
# install-deps.sh: what the tests and the demo need on Debian 12, installed
# without prompts and without starting any service; idempotent (only missing
# packages are installed). Also creates the _ypldap user and /var/empty.
set -euo pipefail
[[ "$(id -u)" == 0 ]] || { echo "install-deps.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

want=(slapd ldap-utils rpcbind nis libnss-nis mandoc openssl iproute2 util-linux procps libnsl-dev file pamtester
      # group-membership tests: 389 Directory Server, Samba as an AD domain
      # controller (provision needs the AD schema of samba-ad-provision and
      # ldbadd of ldb-tools), nslcd + libnss-ldapd as the reference reader
      389-ds-base samba-ad-dc samba-ad-provision ldb-tools nslcd libnss-ldapd
      # classic maps: autofs (automount -m reads the automount maps over
      # NIS), python3 (innetgr(3) through ctypes), make (Debian's
      # /var/yp/Makefile builds the reference maps)
      autofs python3 make
      # ypldapctl show metrics is parsed by Prometheus's own parser
      python3-prometheus-client)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    # The packages' install scripts would start a system slapd, rpcbind,
    # ypserv and ypbind; a policy-rc.d that says no keeps the host as it was.
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    trap '[[ $made_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d' EXIT
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    # libnss-ldapd's postinst would add ldap to the host's nsswitch.conf;
    # the tests give nslcd its own nsswitch.conf in a mount namespace.
    echo "libnss-ldapd libnss-ldapd/nsswitch multiselect" | debconf-set-selections
    echo "installing: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! getent passwd _ypldap >/dev/null; then
    adduser --system --group --no-create-home --home /var/empty \
        --shell /usr/sbin/nologin _ypldap >/dev/null 2>&1
    echo "created user _ypldap"
fi
if [[ ! -d /var/empty ]]; then
    install -d -m 0555 -o root -g root /var/empty
    echo "created /var/empty"
fi
