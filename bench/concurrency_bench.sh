#!/usr/bin/env bash
# bench/concurrency_bench.sh: pgbench clients encrypting and decrypting
# while the master key is rekeyed and the table's data key rotated and its
# rows re-encrypted (issue 11, item 4): no error, no wrong plaintext.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (bench/lib.sh) with shared_preload_libraries = 'tde',
# tde.wallet_kdf_iterations = 1000, a password wallet and an active master
# key.  Two tables: conc_t (ROWS rows of id, plaintext, ciphertext) and
# conc_w (the rows the clients insert).  Each pgbench transaction
# (-M prepared, so that plans and their per-call caches live across the
# rekeys):
#
#   1. decrypts 20 consecutive rows of conc_t and compares each with its
#      plaintext;
#   2. inserts a new value into conc_w, encrypted, and decrypts it back;
#   3. re-encrypts one row of conc_t (an UPDATE racing the data rekey's).
#
# A wrong plaintext is not an error: each is recorded as a row of conc_bad,
# and the script counts them.  Errors are pgbench's failed transactions and
# aborted clients, and the server log's ERROR lines.
#
# Phase 1, the baseline: CLIENTS clients for BASE_SECONDS with no key
# change.  Phase 2: the same for LOAD_SECONDS while a driver session runs
# REKEYS times ADMINISTER KEY MANAGEMENT SET KEY ... WITH BACKUP, evenly
# spaced, and after every REKEYS / DATA_REKEYS of them a data rekey:
# tde.rotate_relation_key('conc_t') and CALL tde.reencrypt('conc_t', 'ct',
# 250), from one session (a procedure that commits each change), each
# timed inside the server.  Then every row of
# both tables is decrypted and compared, and the script checks that every
# relation key is wrapped by the active master key.
#
# Prints Markdown tables on stdout (progress on stderr) and exits 1 if any
# error or wrong plaintext was seen, or a key change did not run while the
# clients did.
#
# Environment: CLIENTS (8), REKEYS (50), DATA_REKEYS (5), ROWS (2000),
# BASE_SECONDS (20), LOAD_SECONDS (60), PG_BINDIR
# (/usr/lib/postgresql/15/bin), PORT (54340).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENTS=${CLIENTS:-8}
REKEYS=${REKEYS:-50}
DATA_REKEYS=${DATA_REKEYS:-5}
ROWS=${ROWS:-2000}
BASE_SECONDS=${BASE_SECONDS:-20}
LOAD_SECONDS=${LOAD_SECONDS:-60}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54340}
PW=Conc_Bench_Pw1

require_root "the server runs"
require_posint CLIENTS REKEYS DATA_REKEYS ROWS BASE_SECONDS LOAD_SECONDS
[ "$DATA_REKEYS" -le "$REKEYS" ] || die "DATA_REKEYS must not exceed REKEYS"
require_pg_bindir
pick_run_user
make_workdir tde-conc-bench
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde concurrency benchmark" tde \
	"tde.wallet_kdf_iterations = 1000" "max_connections = $((CLIENTS + 20))" \
	"log_line_prefix = '%m [%p] '"
cluster_start "$work"

akm() { printf "SELECT tde.administer_key_management(\$akm\$%s\$akm\$);" "$1"; }

msg "setup: keystore, master key, $ROWS rows"
pg_psql "$PORT" postgres >/dev/null <<EOF
CREATE EXTENSION tde;
$(akm "CREATE KEYSTORE IDENTIFIED BY \"$PW\"")
$(akm "SET KEYSTORE OPEN IDENTIFIED BY \"$PW\"")
$(akm "SET KEY IDENTIFIED BY \"$PW\" WITH BACKUP")
CREATE TABLE conc_t (id int PRIMARY KEY, plain text NOT NULL, ct bytea NOT NULL);
INSERT INTO conc_t
	SELECT i, p, tde.encrypt('conc_t', p)
	FROM generate_series(1, $ROWS) i, LATERAL (SELECT md5(i::text) || repeat('x', i % 100) AS p) v;
CREATE TABLE conc_w (id bigserial PRIMARY KEY, plain text NOT NULL, ct bytea NOT NULL);
SELECT tde.encrypt('conc_w', 'first');
CREATE TABLE conc_bad (at timestamptz DEFAULT clock_timestamp(), what text, id bigint);
-- The key changes, from one session: each committed on its own, timed
-- inside the server; a data rekey is rotate_relation_key, then
-- tde.reencrypt (which commits between its batches, so CALL, not a
-- function).
CREATE TABLE conc_times (at timestamptz DEFAULT clock_timestamp(), kind text, ms numeric, late boolean);
CREATE PROCEDURE conc_drive(n int, d int, step float8, deadline timestamptz)
LANGUAGE plpgsql AS \$p\$
DECLARE
	t0 timestamptz := clock_timestamp();
	t timestamptz;
	done int := 0;
BEGIN
	FOR i IN 1..n LOOP
		PERFORM pg_sleep(greatest(0, extract(epoch FROM t0 + make_interval(secs => i * step) - clock_timestamp())));
		t := clock_timestamp();
		PERFORM tde.administer_key_management('SET KEY IDENTIFIED BY "$PW" WITH BACKUP');
		INSERT INTO conc_times (kind, ms, late)
			VALUES ('rekey', round(extract(epoch FROM clock_timestamp() - t) * 1000, 3), clock_timestamp() > deadline);
		COMMIT;
		IF i % (n / d) = 0 AND done < d THEN
			t := clock_timestamp();
			PERFORM tde.rotate_relation_key('conc_t');
			COMMIT;
			CALL tde.reencrypt('conc_t', 'ct', 250);
			INSERT INTO conc_times (kind, ms, late)
				VALUES ('data', round(extract(epoch FROM clock_timestamp() - t) * 1000, 3), clock_timestamp() > deadline);
			COMMIT;
			done := done + 1;
		END IF;
	END LOOP;
END
\$p\$;
EOF

cat >"$work/conc.sql" <<EOF
\\set id random(1, $((ROWS - 20)))
\\set n random(1, 1000000000)
BEGIN;
INSERT INTO conc_bad (what, id)
	SELECT 'read', id FROM conc_t
	WHERE id BETWEEN :id AND :id + 19 AND tde.decrypt_text('conc_t', ct) IS DISTINCT FROM plain;
INSERT INTO conc_w (plain, ct) VALUES ('v' || :n, tde.encrypt('conc_w', 'v' || :n)) RETURNING id AS w \\gset
INSERT INTO conc_bad (what, id)
	SELECT 'write', id FROM conc_w WHERE id = :w AND tde.decrypt_text('conc_w', ct) IS DISTINCT FROM plain;
UPDATE conc_t SET ct = tde.encrypt('conc_t', plain) WHERE id = :id;
END;
EOF
chown "$RUN_USER:" "$work/conc.sql"

# run_pgbench NAME SECONDS: the clients, pgbench's output in $work/NAME.out.
run_pgbench() {
	as_user pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$2" -f "$work/conc.sql" \
		-h "$work" -p "$PORT" postgres >"$work/$1.out" 2>&1 || echo "exit $?" >>"$work/$1.out"
}

# pgbench_field NAME PATTERN: the first number after PATTERN in its output.
pgbench_field() {
	sed -nE "s/^$2 *([0-9.]+).*/\1/p" "$work/$1.out" | head -n 1
}

errors_in_log() { grep -c ' ERROR: ' "$work/server.log" || true; }

# --- phase 1: the baseline ------------------------------------------------------------
msg "baseline: $CLIENTS clients, ${BASE_SECONDS} s, no key change"
log_errors0=$(errors_in_log)
run_pgbench base "$BASE_SECONDS"
log_errors1=$(errors_in_log)

# --- phase 2: the same with key changes ---------------------------------------------
msg "load: $CLIENTS clients, ${LOAD_SECONDS} s, $REKEYS rekeys and $DATA_REKEYS data rekeys"
run_pgbench load "$LOAD_SECONDS" &
bench_pid=$!
sleep 1
# the driver: one session, key change i due at i * step after it starts,
# the last well before the clients end
step=$(awk -v t="$LOAD_SECONDS" -v n="$REKEYS" 'BEGIN { printf "%.3f", (t - 6) / (n + 1) }')
pg_psql "$PORT" postgres -c "CALL conc_drive($REKEYS, $DATA_REKEYS, $step,
	clock_timestamp() + interval '$((LOAD_SECONDS - 1)) seconds')" >/dev/null
mapfile -t rekey_ms < <(pg_psql "$PORT" postgres -c "SELECT ms FROM conc_times WHERE kind = 'rekey' ORDER BY at")
mapfile -t data_ms < <(pg_psql "$PORT" postgres -c "SELECT ms FROM conc_times WHERE kind = 'data' ORDER BY at")
late=$(pg_psql "$PORT" postgres -c "SELECT count(*) FROM conc_times WHERE late")
wait "$bench_pid"
log_errors2=$(errors_in_log)

# --- the final checks ------------------------------------------------------------------
msg "checks: every row of both tables"
read -r bad_t bad_w rows_t rows_w bad_rows versions wrong_mk mkeys <<<"$(pg_psql "$PORT" postgres -F ' ' <<'EOF'
SELECT (SELECT count(*) FROM conc_t WHERE tde.decrypt_text('conc_t', ct) IS DISTINCT FROM plain),
       (SELECT count(*) FROM conc_w WHERE tde.decrypt_text('conc_w', ct) IS DISTINCT FROM plain),
       (SELECT count(*) FROM conc_t), (SELECT count(*) FROM conc_w),
       (SELECT count(*) FROM conc_bad),
       (SELECT count(*) FROM tde.relation_keys WHERE relid = 'conc_t'::regclass),
       (SELECT count(*) FROM tde.relation_keys rk
         WHERE rk.master_key_id IS DISTINCT FROM
               (SELECT key_id FROM "v$encryption_keys"
                 WHERE activation_time IS NOT NULL ORDER BY activation_time DESC LIMIT 1)),
       (SELECT count(*) FROM "v$encryption_keys");
EOF
)"

phase_row() {
	local name=$1 label=$2 secs=$3 errs=$4 tx tps lat failed aborted
	tx=$(pgbench_field "$name" 'number of transactions actually processed:')
	tps=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$work/$name.out" | head -n 1)
	lat=$(pgbench_field "$name" 'latency average =')
	failed=$(pgbench_field "$name" 'number of failed transactions:')
	aborted=$(grep -c 'aborted' "$work/$name.out" || true)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$secs" "${tx:-?}" \
		"${tps:-?}" "${lat:-?}" "${failed:-0}" "$aborted" "$errs"
	PHASE_BAD=$((${failed:-0} + aborted + errs))
	[ -n "$tx" ] || PHASE_BAD=$((PHASE_BAD + 1))
}

echo "### Concurrency: $CLIENTS pgbench clients, $REKEYS rekeys, $DATA_REKEYS data rekeys"
echo
echo "| phase | seconds | transactions | tps | latency avg (ms) | failed | aborted clients | server ERRORs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
phase_row base "baseline, no key change" "$BASE_SECONDS" $((log_errors1 - log_errors0))
bad=$PHASE_BAD
phase_row load "with the key changes" "$LOAD_SECONDS" $((log_errors2 - log_errors1))
bad=$((bad + PHASE_BAD))
echo
echo "| key change (server-side) | count | median (ms) | min-max (ms) |"
echo "|---|---:|---:|---:|"
printf '| SET KEY ... WITH BACKUP | %d | %s | %s |\n' "${#rekey_ms[@]}" \
	"$(median "${rekey_ms[@]}")" "$(range %.1f "${rekey_ms[@]}")"
printf '| rotate_relation_key + CALL reencrypt of %d rows, batches of 250 | %d | %s | %s |\n' "$ROWS" \
	"${#data_ms[@]}" "$(median "${data_ms[@]}")" "$(range %.1f "${data_ms[@]}")"
echo
wrong=$((bad_t + bad_w + bad_rows))
printf -- '- each transaction checked 21 decryptions; wrong plaintexts seen by the clients: %d\n' "$bad_rows"
printf -- '- final check: %d rows of conc_t and %d of conc_w decrypted, %d and %d wrong\n' \
	"$rows_t" "$rows_w" "$bad_t" "$bad_w"
printf -- '- master keys: %d; key versions of conc_t: %d; relation keys not under the active master key: %d\n' \
	"$mkeys" "$versions" "$wrong_mk"
printf -- '- key changes made after the clients had stopped: %d\n' "$late"
echo
bench_footer "$(openssl_version)" "load average $(loadavg)"

if [ "$bad" -gt 0 ] || [ "$wrong" -gt 0 ] || [ "$wrong_mk" -gt 0 ] || [ "$late" -gt 0 ] ||
	[ "${#rekey_ms[@]}" -ne "$REKEYS" ] || [ "${#data_ms[@]}" -ne "$DATA_REKEYS" ]; then
	msg "FAILED: errors or wrong plaintexts (see above)"
	for f in base load; do grep -E 'aborted|ERROR|error' "$work/$f.out" | head -n 5 >&2 || true; done
	grep ' ERROR: ' "$work/server.log" | head -n 10 >&2 || true
	exit 1
fi
msg "no error, no wrong plaintext"
