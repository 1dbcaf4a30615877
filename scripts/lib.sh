# shellcheck shell=bash
# scripts/lib.sh: helpers shared by setup.sh, test.sh and demo.sh.
# Sourced, never run.  Callers set their own shell options.

# shellcheck disable=SC2034  # used by the scripts that source this file
TDE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR=15
PG_BINDIR="/usr/lib/postgresql/${PG_MAJOR}/bin"
# shellcheck disable=SC2034
PG_CONFIG="${PG_BINDIR}/pg_config"
# initdb refuses to run as root: servers run as this unprivileged user.
TDE_TEST_USER=tdetest
TDE_TEST_HOME=/home/${TDE_TEST_USER}

# runuser and useradd live in sbin, which a non-login root shell may lack.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH="/usr/sbin:/sbin:$PATH" ;;
esac

# shellcheck source=scripts/softhsm2.sh
. "$TDE_ROOT/scripts/softhsm2.sh"

tde_msg() { printf '%s: %s\n' "${0##*/}" "$*"; }
tde_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

tde_require_root() {
	[ "$(id -u)" -eq 0 ] || tde_die "must run as root (it installs packages and creates the OS user ${TDE_TEST_USER})"
}

# Run a command as the test user, with a clean, predictable environment:
# the PostgreSQL 15 binaries first on PATH, a locale that always exists,
# and no PG* variables inherited from the caller.  The caller's working
# directory is kept, so cd somewhere the test user can read first.
tde_as_test_user() {
	local -a envv=(
		HOME="$TDE_TEST_HOME" USER="$TDE_TEST_USER" LOGNAME="$TDE_TEST_USER"
		SHELL=/bin/bash TERM="${TERM:-dumb}"
		LANG=C.UTF-8 LC_ALL=C.UTF-8
		PATH="${PG_BINDIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	)
	[ -n "${CI:-}" ] && envv+=(CI="$CI")
	[ -n "${TDE_REQUIRE_HSM:-}" ] && envv+=(TDE_REQUIRE_HSM="$TDE_REQUIRE_HSM")
	# pg_regress waits PGCTLTIMEOUT seconds for its server (valgrind runs)
	[ -n "${PGCTLTIMEOUT:-}" ] && envv+=(PGCTLTIMEOUT="$PGCTLTIMEOUT")
	# Set by test.sh for a sanitizer run (TDE_SANITIZE): the runtime to
	# preload into every server and its options.
	[ -n "${TDE_SAN_ENV+set}" ] && envv+=("${TDE_SAN_ENV[@]}")
	runuser -u "$TDE_TEST_USER" -- env -i "${envv[@]}" "$@"
}
