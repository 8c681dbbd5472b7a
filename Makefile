# Building and installing ypldap.
#
#   make                       release binaries in target/release
#   make install               into $(DESTDIR)$(PREFIX)
#   make install PREFIX=/usr SYSCONFDIR=/etc DESTDIR=/tmp/stage
#
# ypldapd finds its helpers in $(LIBEXECDIR), compiled in through
# YPLDAP_HELPER_DIR; a build without it (cargo build, cargo test) looks next
# to its own executable instead. The Makefile is plain POSIX make: it works
# with GNU make and with BSD make.

PREFIX ?=	/usr/local
DESTDIR ?=
SBINDIR ?=	$(PREFIX)/sbin
LIBEXECDIR ?=	$(PREFIX)/libexec/ypldap
MANDIR ?=	$(PREFIX)/share/man
SYSCONFDIR ?=	$(PREFIX)/etc
# install-linux only: where systemd looks for units, users and tmpfiles.
SYSTEMDDIR ?=	$(PREFIX)/lib/systemd
SYSUSERSDIR ?=	$(PREFIX)/lib/sysusers.d
TMPFILESDIR ?=	$(PREFIX)/lib/tmpfiles.d

CARGO ?=	cargo
INSTALL ?=	install
CARGOFLAGS ?=	--locked
RELEASE =	target/release

PROGRAMS =	ypldapd ypldap-client ypldap-dns ypldapctl

all: build

build:
	YPLDAP_HELPER_DIR="$(LIBEXECDIR)" $(CARGO) build --release $(CARGOFLAGS) \
	    -p ypldapd -p ypldap-client -p ypldap-dns -p ypldapctl

install: build
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(LIBEXECDIR)" \
	    "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8" \
	    "$(DESTDIR)$(SYSCONFDIR)"
	$(INSTALL) -m 0555 $(RELEASE)/ypldapd "$(DESTDIR)$(SBINDIR)/ypldapd"
	$(INSTALL) -m 0555 $(RELEASE)/ypldapctl "$(DESTDIR)$(SBINDIR)/ypldapctl"
	$(INSTALL) -m 0555 $(RELEASE)/ypldap-client "$(DESTDIR)$(LIBEXECDIR)/ypldap-client"
	$(INSTALL) -m 0555 $(RELEASE)/ypldap-dns "$(DESTDIR)$(LIBEXECDIR)/ypldap-dns"
	$(INSTALL) -m 0444 man/ypldap.conf.5 "$(DESTDIR)$(MANDIR)/man5/ypldap.conf.5"
	$(INSTALL) -m 0444 man/ypldapd.8 man/ypldap-client.8 man/ypldap-dns.8 \
	    man/ypldapctl.8 "$(DESTDIR)$(MANDIR)/man8/"
	$(INSTALL) -m 0600 dist/ypldap.conf.sample "$(DESTDIR)$(SYSCONFDIR)/ypldap.conf.sample"

# The systemd unit (with this install's paths), sysusers.d and tmpfiles.d
# entries for _ypldap and /var/empty, e.g.
#   make install install-linux PREFIX=/usr SYSCONFDIR=/etc
install-linux:
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SYSTEMDDIR)/system" \
	    "$(DESTDIR)$(SYSUSERSDIR)" "$(DESTDIR)$(TMPFILESDIR)"
	sed -e 's|/usr/sbin/ypldapd|$(SBINDIR)/ypldapd|g' \
	    -e 's|/etc/ypldap.conf|$(SYSCONFDIR)/ypldap.conf|g' \
	    dist/linux/ypldapd.service > "$(DESTDIR)$(SYSTEMDDIR)/system/ypldapd.service"
	chmod 0644 "$(DESTDIR)$(SYSTEMDDIR)/system/ypldapd.service"
	$(INSTALL) -m 0644 dist/linux/sysusers.d/ypldap.conf "$(DESTDIR)$(SYSUSERSDIR)/ypldap.conf"
	$(INSTALL) -m 0644 dist/linux/tmpfiles.d/ypldap.conf "$(DESTDIR)$(TMPFILESDIR)/ypldap.conf"

uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/ypldapd" "$(DESTDIR)$(SBINDIR)/ypldapctl" \
	    "$(DESTDIR)$(LIBEXECDIR)/ypldap-client" "$(DESTDIR)$(LIBEXECDIR)/ypldap-dns" \
	    "$(DESTDIR)$(MANDIR)/man5/ypldap.conf.5" \
	    "$(DESTDIR)$(MANDIR)/man8/ypldapd.8" \
	    "$(DESTDIR)$(MANDIR)/man8/ypldap-client.8" \
	    "$(DESTDIR)$(MANDIR)/man8/ypldap-dns.8" \
	    "$(DESTDIR)$(MANDIR)/man8/ypldapctl.8" \
	    "$(DESTDIR)$(SYSCONFDIR)/ypldap.conf.sample"
	-rmdir "$(DESTDIR)$(LIBEXECDIR)"

lint-man:
	mandoc -T lint -W warning man/ypldap.conf.5 man/ypldapd.8 \
	    man/ypldap-client.8 man/ypldap-dns.8 man/ypldapctl.8

.PHONY: all build install install-linux uninstall lint-man
