#!/usr/bin/env bash
# bench/rekey_profile.sh: where a rekey's time goes at 50,000 and at
# 1,000,000 relation keys, against a plain UPDATE of the same rows, from
# perf profiles (issue 10: why the rekey's cost per key rises with N).
#
# As root, with perf (Debian's linux-perf) installed (a quiet machine for
# the times):
# a throwaway cluster as in rekey_bench.sh (tde.wallet_kdf_iterations =
# 1000, checkpoint_timeout = 1h, max_wal_size = 8GB), the keys made with
# tde.rotate_relation_key (KEYS_PER_TABLE versions per table).  At each N
# (SIZES), after VACUUM and CHECKPOINT, each of
#
#   rekey  ADMINISTER KEY MANAGEMENT SET KEY ... WITH BACKUP
#   plain  UPDATE tde.relation_key SET rewrapped_at = now()
#
# runs once with `perf record -g -p` on its backend (call graphs; after a
# pg_sleep(1) that gives perf time to attach), timed inside the server.
# Prints for each run the statement's time, then the share of the
# backend's samples by shared object and by symbol (self time, the top
# PERCENT_LIMIT and more), and the statement's WAL volume and buffer reads
# and writes (pg_stat_wal, pg_stat_database before and after).
#
# Environment: SIZES (default "50000 1000000", ascending multiples of
# KEYS_PER_TABLE), KEYS_PER_TABLE (1000), PERCENT_LIMIT (1.5), KEEP_PERF (a
# directory to keep the perf.data files in, for perf report), PG_BINDIR
# (/usr/lib/postgresql/15/bin), PORT (54332).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES=${SIZES:-"50000 1000000"}
KEYS_PER_TABLE=${KEYS_PER_TABLE:-1000}
PERCENT_LIMIT=${PERCENT_LIMIT:-1.5}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54332}
PW=Profile_Pw1

require_root "the server runs"
require_posint KEYS_PER_TABLE
command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
require_pg_bindir
pick_run_user
make_workdir tde-rekey-profile
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde rekey profile" tde \
	"tde.wallet_kdf_iterations = 1000" "checkpoint_timeout = 1h" "max_wal_size = 8GB"
cluster_start "$work"

q() { pg_psql "$PORT" postgres "$@"; }

q >/dev/null <<EOF
CREATE EXTENSION tde;
SELECT tde.administer_key_management(\$s\$CREATE KEYSTORE IDENTIFIED BY "$PW"\$s\$);
SELECT tde.administer_key_management(\$s\$SET KEYSTORE OPEN IDENTIFIED BY "$PW"\$s\$);
SELECT tde.administer_key_management(\$s\$SET KEY IDENTIFIED BY "$PW" WITH BACKUP\$s\$);
$(akm_timer_sql akm_ms)
$(sql_timer_sql sql_ms)
EOF

# make_keys N: add tables of KEYS_PER_TABLE key versions until there are N.
tables=0
make_keys() {
	local want=$(($1 / KEYS_PER_TABLE)) from
	while [ "$tables" -lt "$want" ]; do
		from=$((tables + 1))
		tables=$((tables + 50 > want ? want : tables + 50))
		q >/dev/null <<EOF
DO \$\$
BEGIN
	FOR t IN $from..$tables LOOP
		EXECUTE format('CREATE TABLE rk_%s (c bytea)', t);
		FOR v IN 1..$KEYS_PER_TABLE LOOP
			PERFORM tde.rotate_relation_key(format('rk_%s', t)::regclass);
		END LOOP;
	END LOOP;
END
\$\$;
EOF
	done
}

counters_sql="SELECT (SELECT wal_bytes FROM pg_stat_wal) || ' ' || blks_read || ' ' || blks_hit
	FROM pg_stat_database WHERE datname = current_database()"

# profile LABEL SQL: run SQL (one statement returning its ms) with perf
# recording its backend alone (perf record -p), so that other work on the
# machine does not enter the profile (it still stretches the times).
profile() {
	local label=$1 sql=$2 data=$work/$1.perf before after ms psql_pid perf_pid pid i
	q >/dev/null <<<"VACUUM tde.relation_key; CHECKPOINT; SELECT pg_stat_force_next_flush();"
	before=$(q -c "$counters_sql")
	as_user env PGAPPNAME=tde_profile "$PG_BINDIR/psql" -X -q -A -t -h "$work" -p "$PORT" \
		-d postgres -c "SELECT pg_sleep(1)" -c "$sql" >"$work/$label.out" 2>&1 &
	psql_pid=$!
	pid=
	for ((i = 0; i < 100; i++)); do
		pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'tde_profile'")
		[ -z "$pid" ] || break
		sleep 0.02
	done
	[ -n "$pid" ] || die "the profiled session did not show up"
	perf record -q --call-graph "${PERF_CALLGRAPH:-fp}" -F 999 -p "$pid" -o "$data" 2>/dev/null &
	perf_pid=$!
	wait "$psql_pid" || fail_with_log "$label failed" "$work/$label.out"
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	ms=$(tail -n 1 "$work/$label.out")
	[ -z "${KEEP_PERF:-}" ] || cp "$data" "$KEEP_PERF/"
	q >/dev/null <<<"SELECT pg_stat_force_next_flush();"
	sleep 0.6
	after=$(q -c "$counters_sql")
	echo "#### $label: $ms ms"
	echo
	awk -v b="$before" -v a="$after" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		printf "WAL %.1f MB; blocks read %d, hit %d\n\n", (y[1] - x[1]) / 1048576, y[2] - x[2], y[3] - x[3] }'
	echo '```'
	perf report -i "$data" --no-children --sort dso --stdio -g none \
		--percent-limit "$PERCENT_LIMIT" 2>/dev/null | grep -E '^ +[0-9]' | head -n 12
	echo
	perf report -i "$data" --no-children --sort symbol --stdio -g none \
		--percent-limit "$PERCENT_LIMIT" 2>/dev/null | grep -E '^ +[0-9]' | head -n 30
	echo '```'
	echo
}

for n in $SIZES; do
	msg "making $n keys"
	make_keys "$n"
	echo "### N = $n"
	echo
	profile "rekey-$n" "SELECT akm_ms(\$s\$SET KEY IDENTIFIED BY \"$PW\" WITH BACKUP\$s\$)"
	profile "plain-$n" "SELECT sql_ms('UPDATE tde.relation_key SET rewrapped_at = now()')"
done
bench_footer "$(openssl_version)" "perf $(perf --version | awk '{ print $3 }')"
