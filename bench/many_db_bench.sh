#!/usr/bin/env bash
# bench/many_db_bench.sh: how long the background re-wrap takes to reach
# every database of a cluster that has many, at tde.rewrap_workers = 1, 2
# and 4, with a client doing a plain UPDATE in each database as the
# baseline.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (tdetest if it exists, else postgres) in a temporary
# directory, with shared_preload_libraries = 'tde', its own tde.wallet_root,
# tde.wallet_kdf_iterations = 1000, max_worker_processes = 16,
# autovacuum = off (with a thousand databases the launcher would start a
# worker every few tens of milliseconds and take cores from the re-wrap)
# and a Unix socket inside that directory only (no TCP).
#
# The databases.  A relation key is wrapped with its database's identity
# (tde.database_identity, made with the database's first relation key), so
# a database copied from a template that already has keys would share the
# template's identity and its keys.  The script therefore makes a template,
# tmpl_md, with the extension and one table k but no relation key (it checks
# that tde.database_identity and tde.relation_key are empty), copies DBS
# databases md_0001 ... from it (default 1000), and in each one makes KEYS
# relation keys (default 100) with tde.rotate_relation_key('k') and a
# canary value; it checks that every database has KEYS rows and its own
# identity (DBS distinct ones).
#
# The measurement, ITER times (default 3) for each value of WORKERS
# (default "1 2 4", set with ALTER SYSTEM and a reload): SET KEY ... WITH
# BACKUP in the database postgres (which has the extension and no relation
# key), then, from tde.rewrap_progress, the time from SET KEY returning (the
# first statement after it in the same session) until the last database
# re-wrapped to the new key finished (max(finished) over its rows).  The
# script checks that every md_ database is done with KEYS keys; at the end
# it checks, in the first, middle and last database, that every relation
# key names the active master key and that the canary decrypts.  The
# baseline, ITER times: one client session that \connects to each md_
# database in turn and runs UPDATE tde.relation_key SET rewrapped_at =
# now() (the same rows, no cryptography; wall clock).
#
# Prints Markdown tables on stdout (progress goes to stderr) and removes
# everything it created on exit.
#
# Environment: DBS (default 1000, at most 4000), KEYS (default 100), ITER
# (default 3), WORKERS (default "1 2 4"), PG_BINDIR (default
# /usr/lib/postgresql/15/bin), PORT (default 54333).
set -euo pipefail

DBS=${DBS:-1000}
KEYS=${KEYS:-100}
ITER=${ITER:-3}
WORKERS=${WORKERS:-"1 2 4"}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54333}
KDF=1000
PW=Bench_Pw1
TEMPLATE=tmpl_md
WAIT_S=900

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the server runs"
require_posint DBS KEYS ITER
# tde tracks at most 4096 databases (TDE_MAX_DATABASES)
[ "$DBS" -le 4000 ] || die "DBS must be at most 4000"
for w in $WORKERS; do
	if ! [[ "$w" =~ ^[1-9][0-9]*$ ]] || [ "$w" -gt 12 ]; then
		die "WORKERS must be integers from 1 to 12, not \"$WORKERS\""
	fi
done
require_pg_bindir
pick_run_user

LOAD_START=$(loadavg)
make_workdir tde-manydb-bench

msg "creating a throwaway cluster in $work/data as $RUN_USER"
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde many-databases benchmark" tde \
	"tde.wallet_kdf_iterations = $KDF" \
	"max_worker_processes = 16" \
	"autovacuum = off" \
	"checkpoint_timeout = 1h" \
	"max_wal_size = 2GB"
cluster_start "$work"

# psql_db DB: psql reading SQL from stdin; prints unaligned tuples only.
psql_db() { pg_psql "$PORT" "$1"; }

# run_file FILE: a psql script over several databases (\connect), from
# postgres; its output on stdout.
run_file() {
	chown "$RUN_USER:" "$1"
	pg_psql "$PORT" postgres -f "$1"
}

db_name() { printf 'md_%04d' "$1"; }

{
	echo "CREATE EXTENSION tde;"
	akm_timer_sql bench_akm_ms
	active_key_sql bench_active_key
	cat <<'SQL'
-- Waits (polling the shared-memory progress, up to timeout_s) until no
-- database is pending or running and at least want md_ databases are done
-- under the key target; returns false on a timeout.
CREATE FUNCTION bench_wait(target text, want integer, timeout_s integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
BEGIN
	LOOP
		IF NOT EXISTS (SELECT FROM tde.rewrap_progress WHERE state IN ('pending', 'running'))
			AND (SELECT count(*) FROM tde.rewrap_progress
				 WHERE target_key_id = target AND datname LIKE 'md\_%' AND state = 'done') >= want THEN
			RETURN true;
		END IF;
		IF clock_timestamp() > deadline THEN
			RETURN false;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SQL
} | psql_db postgres >/dev/null || fail_with_log "setting up the database postgres failed" "$work/server.log"

# akm STATEMENT: run it in postgres, untimed.
akm() {
	psql_db postgres >/dev/null <<SQL || fail_with_log "statement failed: ${1%% IDENTIFIED*} ..." "$work/server.log"
SELECT tde.administer_key_management(\$stmt\$$1\$stmt\$);
SQL
}

# wait_idle WHAT: until no re-wrap is pending or running.
wait_idle() {
	[ "$(psql_db postgres <<<"SELECT bench_wait('', 0, $WAIT_S);")" = t ] ||
		die "the background re-wrap still runs $WAIT_S s after $1"
}

msg "keystore (kdf iterations $KDF), first master key"
akm "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW"
akm "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $PW"
akm "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP USING 'first'"
wait_idle "the first SET KEY"

msg "template $TEMPLATE: the extension and table k, no relation key"
psql_db postgres >/dev/null <<<"CREATE DATABASE $TEMPLATE;" ||
	fail_with_log "CREATE DATABASE $TEMPLATE failed" "$work/server.log"
out=$(psql_db "$TEMPLATE" <<'SQL'
CREATE EXTENSION tde;
CREATE TABLE k (c bytea);
SELECT (SELECT count(*) FROM tde.database_identity) || ' ' || (SELECT count(*) FROM tde.relation_key);
SQL
) || fail_with_log "setting up $TEMPLATE failed" "$work/server.log"
[ "$out" = "0 0" ] || die "$TEMPLATE: (identities, relation keys) = $out, expected none"

msg "creating $DBS databases from $TEMPLATE"
sql=$work/create.sql
for ((i = 1; i <= DBS; i++)); do
	echo "CREATE DATABASE $(db_name "$i") TEMPLATE $TEMPLATE;"
done >"$sql"
t0=$(date +%s%N)
run_file "$sql" >/dev/null || fail_with_log "creating the databases failed" "$work/server.log"
t1=$(date +%s%N)
CREATE_S=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e9 }')

msg "making $KEYS relation keys and a canary in each database"
sql=$work/keys.sql
for ((i = 1; i <= DBS; i++)); do
	# shellcheck disable=SC2028  # a psql meta-command, written literally
	printf '%s\n' "\\connect $(db_name "$i")" \
		"SELECT count(tde.rotate_relation_key('k')) FROM generate_series(1, $KEYS) \\g /dev/null" \
		"INSERT INTO k VALUES (tde.encrypt('k', 'canary $(db_name "$i")'::text));" \
		"SELECT (SELECT count(*) FROM tde.relation_key) || ' ' || (SELECT id FROM tde.database_identity);"
done >"$sql"
t0=$(date +%s%N)
out=$(run_file "$sql") || fail_with_log "making the relation keys failed" "$work/server.log"
t1=$(date +%s%N)
KEYS_S=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e9 }')
got=$(awk -v k="$KEYS" '$1 == k { n++ } END { print n + 0 }' <<<"$out")
[ "$got" = "$DBS" ] || die "only $got of $DBS databases have $KEYS relation keys"
IDENTITIES=$(awk '{ print $2 }' <<<"$out" | sort -u | wc -l)
[ "$IDENTITIES" = "$DBS" ] || die "$DBS databases have $IDENTITIES distinct database identities"
psql_db postgres >/dev/null <<<"CHECKPOINT;" || fail_with_log "CHECKPOINT failed" "$work/server.log"

# set_workers W: tde.rewrap_workers = W for every new process.
set_workers() {
	local i
	psql_db postgres >/dev/null <<SQL || fail_with_log "setting tde.rewrap_workers failed" "$work/server.log"
ALTER SYSTEM SET tde.rewrap_workers = $1;
SELECT pg_reload_conf();
SQL
	for ((i = 0; i < 100; i++)); do
		[ "$(psql_db postgres <<<"SHOW tde.rewrap_workers;")" = "$1" ] && return 0
		sleep 0.05
	done
	die "tde.rewrap_workers did not become $1 after a reload"
}

# rewrap_run ID: one SET KEY in postgres and the wait for every database;
# prints "SET_KEY_ms all_done_s first_start_ms".
rewrap_run() {
	local out ms t_ret key res
	psql_db postgres >/dev/null <<<"CHECKPOINT;" || fail_with_log "CHECKPOINT failed" "$work/server.log"
	out=$(psql_db postgres <<SQL
SELECT bench_akm_ms(\$stmt\$ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP USING '$1'\$stmt\$);
-- the next statement: SET KEY has returned and committed
SELECT extract(epoch FROM clock_timestamp());
SELECT bench_active_key();
SQL
	) || fail_with_log "SET KEY failed" "$work/server.log"
	{ read -r ms; read -r t_ret; read -r key; } <<<"$out"
	[ "$(psql_db postgres <<<"SELECT bench_wait('$key', $DBS, $WAIT_S);")" = t ] ||
		die "$1: not every database was re-wrapped within $WAIT_S s"
	res=$(psql_db postgres <<SQL
SELECT count(*) FILTER (WHERE datname LIKE 'md\_%' AND state = 'done' AND keys_done = $KEYS)
	|| ' ' || extract(epoch FROM max(finished)) || ' ' || extract(epoch FROM min(started))
	|| ' ' || coalesce(string_agg(datname || ': ' || state || ' ' || coalesce(error, ''), '; ')
		FILTER (WHERE state NOT IN ('done', 'no extension')), '-')
FROM tde.rewrap_progress WHERE target_key_id = '$key';
SQL
	) || fail_with_log "reading tde.rewrap_progress failed" "$work/server.log"
	local done_ fin start bad
	read -r done_ fin start bad <<<"$res"
	[ "$bad" = - ] || die "$1: databases not re-wrapped: $bad"
	[ "$done_" = "$DBS" ] || die "$1: $done_ of $DBS databases re-wrapped with $KEYS keys each"
	awk -v ms="$ms" -v r="$t_ret" -v f="$fin" -v s="$start" \
		'BEGIN { printf "%s %.3f %.1f\n", ms, f - r, (s - r) * 1000 }'
}

# The baseline script: every md_ database, a plain UPDATE of its keys.
base_sql=$work/baseline.sql
for ((i = 1; i <= DBS; i++)); do
	printf '%s\n' "\\connect $(db_name "$i")" "UPDATE tde.relation_key SET rewrapped_at = now();"
done >"$base_sql"

declare -A DONE_S START_MS SETKEY_MS
BASE_S=()
for ((r = 1; r <= ITER; r++)); do
	msg "round $r of $ITER: baseline (a client, \\connect + UPDATE in each database)"
	t0=$(date +%s%N)
	run_file "$base_sql" >/dev/null || fail_with_log "the baseline failed" "$work/server.log"
	t1=$(date +%s%N)
	BASE_S+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')")
	for w in $WORKERS; do
		msg "round $r of $ITER: tde.rewrap_workers = $w, SET KEY and the re-wrap of $DBS databases"
		set_workers "$w"
		read -r ms s st <<<"$(rewrap_run "w${w}_$r")"
		SETKEY_MS[$w]+=" $ms"
		DONE_S[$w]+=" $s"
		START_MS[$w]+=" $st"
	done
done

msg "checking the first, middle and last database"
active=$(psql_db postgres <<<"SELECT bench_active_key();")
for i in 1 $(((DBS + 1) / 2)) "$DBS"; do
	db=$(db_name "$i")
	out=$(psql_db "$db" <<SQL
SELECT count(*) FILTER (WHERE master_key_id = '$active') || ' ' || count(*)
	|| ' ' || (SELECT tde.decrypt_text('k', c) FROM k)
FROM tde.relation_keys;
SQL
	) || fail_with_log "checking $db failed" "$work/server.log"
	[ "$out" = "$KEYS $KEYS canary $db" ] ||
		die "$db: (keys on the active key, keys, canary) = $out, expected $KEYS $KEYS canary $db"
done

# row LABEL SAMPLES...: the columns of one row of the table below.
row() {
	local label=$1
	shift
	awk -v l="$label" -v m="$(median "$@")" -v mm="$(range %.2f "$@")" -v d="$DBS" -v k="$KEYS" -v reps="$#" \
		'BEGIN { printf "| %s | %d | %d | %.2f | %s | %.0f | %.1f | %d |", l, d, k, m, mm, d / m, m * 1e6 / (d * k), reps }'
}

echo "Re-wrap of every database: SET KEY ... WITH BACKUP in the database postgres (no relation key of its own), then the background workers re-wrap $DBS databases of $KEYS relation keys each; seconds from SET KEY returning until the last database is done in tde.rewrap_progress, median (min-max)"
echo
echo "| re-wrapped by | databases | keys per database | all done, s | min-max s | databases/s | µs per key | reps | first worker started, ms after SET KEY returned | SET KEY ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for w in $WORKERS; do
	# shellcheck disable=SC2086  # the samples are space-separated numbers
	printf '%s %.1f | %.1f |\n' "$(row "tde.rewrap_workers = $w" ${DONE_S[$w]})" \
		"$(median ${START_MS[$w]})" "$(median ${SETKEY_MS[$w]})"
	# shellcheck disable=SC2086
	figure "manydb_s_$w" "$(median ${DONE_S[$w]})"
done
printf '%s - | - |\n' "$(row "baseline: one client, \\\\connect + plain UPDATE tde.relation_key in each database" "${BASE_S[@]}")"
echo
echo "Setup: $DBS databases created from $TEMPLATE (extension and table, no relation key) in $CREATE_S s; $KEYS relation keys and a canary made in each in $KEYS_S s (one psql session, \\connect to each); $IDENTITIES distinct database identities; after the last round, in databases 1, $(((DBS + 1) / 2)) and $DBS, every key names the active master key and the canary decrypts."
figure manydb_dbs "$DBS"
figure manydb_keys "$KEYS"
echo
bench_footer "$(utc_now)" "load average (1, 5, 15 min) at the start $LOAD_START, at the end $(loadavg)"
