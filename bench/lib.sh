# shellcheck shell=bash
# bench/lib.sh: the plumbing the benchmark scripts share, sourced by each
# (. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"), never run on its own.
#
# A script runs as root; its PostgreSQL 15 clusters run as an unprivileged
# user (tdetest if it exists, else postgres) in one private temporary
# directory, $work, that is removed on exit together with every cluster
# started there.  Each cluster lives in a directory BASE ($work itself, or
# a directory under it): BASE/data, BASE/wallet_root, BASE/initdb.log and
# BASE/server.log; every cluster's Unix socket is in $work (no TCP), told
# apart by its port.
#
# Typical use:
#
#   require_root "the server runs"
#   require_posint ITER
#   require_pg_bindir
#   pick_run_user
#   make_workdir tde-bench          # $work, cleanup on exit, cd "$work"
#   cluster_init "$work"
#   cluster_configure "$work" "$PORT" "tde wallet benchmark" tde [LINE...]
#   cluster_start "$work"
#   pg_psql "$PORT" postgres <<<"SELECT 1;"
#
# The caller sets PG_BINDIR first; it may set AS_USER_ENV (extra
# NAME=value words for as_user's environment).
#
# Under bench/run.sh, BENCH_FIGURES names a file: figure appends the
# figures the report's goals table needs to it, and bench_footer leaves the
# machine line out (run.sh prints it once, at the top of the report).

# shellcheck source=scripts/softhsm2.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/softhsm2.sh"

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH="/usr/sbin:/sbin:$PATH" ;;
esac

msg() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# require_root WHAT: WHAT is "the server runs" or "the servers run".
require_root() {
	[ "$(id -u)" -eq 0 ] ||
		die "must run as root (initdb refuses root, so $1 as an unprivileged user this script switches to)"
}

# require_posint VAR...: each variable named must hold a positive integer.
require_posint() {
	local v
	for v in "$@"; do
		[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not \"${!v}\""
	done
}

require_pg_bindir() {
	[ -x "$PG_BINDIR/initdb" ] || die "no PostgreSQL binaries in $PG_BINDIR"
}

# pick_run_user: set RUN_USER and RUN_HOME.
pick_run_user() {
	if id tdetest >/dev/null 2>&1; then
		RUN_USER=tdetest
	elif id postgres >/dev/null 2>&1; then
		RUN_USER=postgres
	else
		die "neither the user tdetest nor postgres exists"
	fi
	RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)
}

AS_USER_ENV=()

# Run a command as the servers' user with a clean environment (plus
# AS_USER_ENV).
as_user() {
	runuser -u "$RUN_USER" -- env -i HOME="$RUN_HOME" USER="$RUN_USER" \
		LOGNAME="$RUN_USER" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
		PATH="$PG_BINDIR:/usr/bin:/bin" "${AS_USER_ENV[@]}" "$@"
}

# install_dir DIR...: directories owned by the servers' user, mode 700.
install_dir() {
	install -d -m 700 -o "$RUN_USER" -g "$(id -gn "$RUN_USER")" "$@"
}

BENCH_CLUSTERS=()

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local rc=$? base
	for base in "${BENCH_CLUSTERS[@]}"; do
		if [ -f "$base/data/postmaster.pid" ]; then
			(cd "$work" && as_user pg_ctl -D "$base/data" -m fast -w stop) >/dev/null 2>&1 ||
				(cd "$work" && as_user pg_ctl -D "$base/data" -m immediate -w stop) >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$work"
	exit "$rc"
}

# make_workdir NAME: create the private temporary directory /tmp/NAME.XXXXXX
# as $work, owned by the servers' user, mode 700; remove it (after stopping
# its clusters) on exit; cd into it.
make_workdir() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	chown "$RUN_USER:" "$work"
	chmod 700 "$work"
	cd "$work" || exit
}

# fail_with_log MESSAGE LOG: print MESSAGE and the end of LOG, exit 1.
fail_with_log() {
	msg "$1; last lines of ${2##*/}:"
	tail -n 40 "$2" >&2
	exit 1
}

# cluster_init BASE: BASE and BASE/wallet_root, and initdb of BASE/data
# (stopped on exit once it is started).
cluster_init() {
	BENCH_CLUSTERS+=("$1")
	install_dir "$1" "$1/wallet_root"
	as_user initdb -D "$1/data" --auth-local=trust --auth-host=reject \
		>"$1/initdb.log" 2>&1 || fail_with_log "initdb failed" "$1/initdb.log"
}

# cluster_configure BASE PORT TITLE PRELOAD [LINE...]: append to
# BASE/data/postgresql.conf the settings every bench cluster has
# (shared_preload_libraries = 'PRELOAD', tde.wallet_root = BASE/wallet_root,
# the socket in $work only, PORT) under a "# --- TITLE ---" comment, then
# the LINEs.
cluster_configure() {
	local base=$1 port=$2 title=$3 preload=$4
	shift 4
	{
		cat <<EOF

# --- $title ---
shared_preload_libraries = '$preload'
tde.wallet_root = '$base/wallet_root'
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
EOF
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >>"$base/data/postgresql.conf"
}

# cluster_start BASE [NAME]: start the cluster, logging to BASE/server.log.
cluster_start() {
	as_user pg_ctl -D "$1/data" -w -l "$1/server.log" start >/dev/null 2>&1 ||
		fail_with_log "the ${2:+$2 }server did not start" "$1/server.log"
}

# pg_psql PORT DB [ARG...]: psql on the cluster at PORT, database DB; SQL
# from stdin unless ARGs say otherwise; prints unaligned tuples only and
# stops at the first error.
pg_psql() {
	local port=$1 db=$2
	shift 2
	as_user psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$work" -p "$port" -d "$db" "$@"
}

# timer_function_sql NAME COMMENT STATEMENT: the SQL creating the function
# NAME(stmt text) that runs STATEMENT and returns its server-side time in
# milliseconds.
timer_function_sql() {
	cat <<EOF
-- $2
CREATE FUNCTION $1(stmt text) RETURNS numeric
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	$3;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
END
\$\$;
EOF
}

# akm_timer_sql NAME: NAME(stmt) times tde.administer_key_management(stmt).
akm_timer_sql() {
	timer_function_sql "$1" "Server-side time of one key management statement, in milliseconds." \
		"PERFORM tde.administer_key_management(stmt)"
}

# sql_timer_sql NAME: NAME(stmt) times EXECUTE stmt.
sql_timer_sql() {
	timer_function_sql "$1" "Server-side time of one SQL statement, in milliseconds." "EXECUTE stmt"
}

# active_key_sql NAME: the SQL creating the function NAME() that returns
# the KEY_ID of the active master key (the one activated last).
active_key_sql() {
	cat <<EOF
-- The KEY_ID of the active master key: the one activated last.
CREATE FUNCTION $1() RETURNS text
LANGUAGE sql AS \$\$
	SELECT key_id FROM public."v\$encryption_keys"
	WHERE activation_time IS NOT NULL
	ORDER BY activation_time DESC LIMIT 1
\$\$;
EOF
}

# median SAMPLES...: the median, to 3 decimals.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# range FORMAT SAMPLES...: "min-max", each printed with the printf FORMAT.
range() {
	local fmt=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v f="$fmt-$fmt\n" '{ v[NR] = $1 } END { printf f, v[1], v[NR] }'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
utc_now() { date -u +%Y-%m-%dT%H:%MZ; }
openssl_version() { openssl version | awk '{ print $1, $2 }'; }

# machine_line [PART...]: "machine: CPUs, CPU model; PostgreSQL version",
# then "; PART" for each PART.
machine_line() {
	local cpu pgver line
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	pgver=$(as_user "$PG_BINDIR/postgres" --version | awk '{ print $3 }')
	line="machine: $(nproc) CPUs (nproc), ${cpu:-unknown CPU}; PostgreSQL $pgver"
	if [ $# -gt 0 ]; then line+=$(printf '; %s' "$@"); fi
	printf '%s\n' "$line"
}

# bench_footer [PART...]: the machine line with PARTs, unless the script
# runs under bench/run.sh.
bench_footer() {
	[ -n "${BENCH_FIGURES:-}" ] || machine_line "$@"
}

# figure NAME VALUE: record a figure for bench/run.sh's goals table (one
# "NAME VALUE" line in $BENCH_FIGURES; nothing when run on its own).
figure() {
	[ -z "${BENCH_FIGURES:-}" ] || printf '%s %s\n' "$1" "$2" >>"$BENCH_FIGURES"
}
