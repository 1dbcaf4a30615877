#!/usr/bin/env bash
# scripts/setup.sh: make a Debian 12 machine ready for tde, as root.
#
#   1. installs the packages tde builds, tests and demonstrates with (only
#      those missing, so a rerun takes seconds);
#   2. builds the extension and installs it into PostgreSQL 15;
#   3. creates the unprivileged OS user that runs test and demo servers
#      (initdb refuses to run as root).
#
# Idempotent.  Quiet on success; on failure it says what failed and shows
# the end of the log.  test.sh and demo.sh call it first.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tde_require_root

PACKAGES=(
	build-essential
	postgresql-15               # server, contrib (pgcrypto), pgbench
	postgresql-client-15
	postgresql-server-dev-15    # PGXS, pg_regress, PostgreSQL::Test::* for TAP
	libssl-dev                  # OpenSSL: PKCS#12 wallets, AES, KDF
	libp11-kit-dev              # <p11-kit/pkcs11.h> for the PKCS#11 HSM code
	openssl
	libipc-run-perl             # needed by the TAP test framework
	softhsm2                    # a PKCS#11 token for the HSM tests
	opensc                      # pkcs11-tool, to inspect tokens
	p11-kit                     # p11-kit server: a remote HSM for the outage tests
	p11-kit-modules             # p11-kit-client.so, the module that reaches it
	util-linux                  # runuser
	rsync                       # test.sh copies the tree for the test user
	locales                     # de_DE.UTF-8: redaction under translated messages
	postgresql-15-pgaudit       # an audit extension: t/008 checks its log lines are redacted
	clang                       # clang-14: make fuzz builds its harnesses with it
	libclang-rt-dev             # libFuzzer, ASan, UBSan runtimes (only recommended by clang)
	llvm                        # llvm-symbolizer: line numbers in fuzz crash reports
	valgrind                    # scripts/valgrind.sh: the pg_regress suites under memcheck
)

STATE_DIR=/var/lib/tde-setup
APT_STAMP=$STATE_DIR/apt-update.stamp
LOG=/var/tmp/tde-setup.log
: >"$LOG"

# Run a step with its output in the log; on failure show the log's end.
step() {
	local what=$1 start
	shift
	start=$(wc -l <"$LOG")
	if ! "$@" >>"$LOG" 2>&1; then
		printf '%s: error: %s failed; its last lines (all in %s):\n' "${0##*/}" "$what" "$LOG" >&2
		tail -n +"$((start + 1))" "$LOG" | tail -n 60 >&2
		exit 1
	fi
}

# --- 1. packages --------------------------------------------------------------

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

apt_update() {
	mkdir -p "$STATE_DIR"
	apt-get update && touch "$APT_STAMP"
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if [ "${#missing[@]}" -gt 0 ]; then
	tde_msg "installing ${missing[*]} (log: $LOG)"
	updated=no
	# apt-get update is slow: skip it if this script ran it within the hour.
	if [ -z "$(find "$APT_STAMP" -mmin -60 2>/dev/null)" ]; then
		step "apt-get update" apt_update
		updated=yes
	fi
	if ! apt_install "${missing[@]}" >>"$LOG" 2>&1; then
		# The package lists may have gone stale since the stamp: retry once.
		[ "$updated" = yes ] || { step "apt-get update" apt_update; updated=yes; }
		step "apt-get install ${missing[*]}" apt_install "${missing[@]}"
	fi
fi

[ -x "$PG_CONFIG" ] || tde_die "$PG_CONFIG is missing after installing postgresql-server-dev-15"

# A translated lc_messages for the redaction tests: the server's messages
# must never carry a secret, in whatever language they are written.
if ! grep -qix 'de_DE\.utf-\?8' <<<"$(locale -a 2>/dev/null)"; then
	step "generating the de_DE.UTF-8 locale" localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi

# --- 2. the unprivileged OS user for test and demo servers --------------------

if ! id -u "$TDE_TEST_USER" >/dev/null 2>&1; then
	step "creating OS user $TDE_TEST_USER" \
		useradd --system --user-group --create-home --home-dir "$TDE_TEST_HOME" \
		--shell /bin/bash --comment "tde tests and demo" "$TDE_TEST_USER"
fi
if [ ! -d "$TDE_TEST_HOME" ]; then
	install -d -o "$TDE_TEST_USER" -g "$(id -gn "$TDE_TEST_USER")" -m 755 "$TDE_TEST_HOME"
fi

# --- 3. build and install the extension ---------------------------------------

# TDE_SKIP_BUILD=1 keeps the build already installed (e.g. to rerun the
# demo while the tree is half edited).
if [ -n "${TDE_SKIP_BUILD:-}" ]; then
	[ -f "$("$PG_CONFIG" --pkglibdir)/tde.so" ] || tde_die "TDE_SKIP_BUILD is set but tde is not installed"
	tde_msg "TDE_SKIP_BUILD is set: using the tde already installed"
else
	# TDE_SANITIZE=address,undefined builds with those sanitizers (see
	# test.sh).  The build tree remembers which flavour its objects are, so
	# switching flavours rebuilds everything: PGXS knows no flag changes.
	flavour=${TDE_SANITIZE:-plain}
	stamp=$TDE_ROOT/.build-flavour
	make_args=(PG_CONFIG="$PG_CONFIG")
	if [ -n "${TDE_SANITIZE:-}" ]; then
		make_args+=(COPT="-fsanitize=$TDE_SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer -g")
	fi
	if [ "$(cat "$stamp" 2>/dev/null || true)" != "$flavour" ]; then
		step "cleaning the build tree (flavour $flavour)" make -C "$TDE_ROOT" clean PG_CONFIG="$PG_CONFIG"
		echo "$flavour" >"$stamp"
	fi
	tde_msg "building and installing tde ($flavour) into $("$PG_CONFIG" --pkglibdir)"
	step "building tde (make)" make -C "$TDE_ROOT" -j"$(nproc)" "${make_args[@]}"
	step "installing tde (make install)" make -C "$TDE_ROOT" install "${make_args[@]}"
fi

tde_msg "ready"
