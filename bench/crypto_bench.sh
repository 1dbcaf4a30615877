#!/usr/bin/env bash
# bench/crypto_bench.sh: the speed of tde.encrypt and tde.decrypt against
# pgcrypto, and the cost of a relation key's first use in a session.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (tdetest if it exists, else postgres) in a temporary
# directory, with shared_preload_libraries = 'tde, pgcrypto' (both loaded
# in the postmaster, so neither pays a library load in a fresh session),
# its own tde.wallet_root, tde.wallet_kdf_iterations = 1000,
# shared_buffers = 1GB (every table stays in shared buffers),
# max_parallel_workers_per_gather = 0 (pgcrypto's functions are parallel
# safe and tde's are not: this keeps every query on one core) and jit = off,
# and a Unix socket inside that directory only (no TCP).
#
# Part 1, throughput.  N values of 100 random bytes (N = 1,000,000; the
# pgp_sym rows use PGP_N = 20,000, because every pgp_sym call runs an S2K
# key derivation), encrypted with
#
#   tde.encrypt(regclass, bytea)       AES-256-GCM under the relation key
#   encrypt_iv(data, key, iv, 'aes')   pgcrypto, AES-256-CBC (32-byte key,
#                                      16-byte iv), PKCS padding
#   pgp_sym_encrypt_bytea(data, pw, 'cipher-algo=aes256')
#                                      pgcrypto, OpenPGP with S2K (default
#                                      s2k-count)
#
# and decrypted with tde.decrypt, decrypt_iv and pgp_sym_decrypt_bytea.
# Every query is SELECT count(f(...)) FROM t, timed inside the server with
# clock_timestamp() around EXECUTE; every query runs once to warm up, then
# ITER rounds (default 3) run each query once in turn; the row gives the
# median and the range.  SELECT count(col) FROM t, the
# same scan without the function, is measured the same way and reported as
# "scan ms"; "net µs/value" subtracts it.  tde.decrypt is also run as a
# role that is not a superuser (SELECT on the table and EXECUTE granted),
# since superusers skip the ACL check.  Before timing, the script checks
# that every value decrypts back to its plaintext.
#
# Part 2, first use of a relation key.  A session's first tde.decrypt of a
# relation reads the wrapped key from tde.relation_key and unwraps it under
# the master key; later calls find it in the backend's cache.  The script
# opens SESSIONS (default 200) fresh sessions (psql \connect) and in each
# runs EXPLAIN (ANALYZE, TIMING OFF) of a one-value tde.decrypt three
# times: the "Execution Time" of the first is the first use, of the second
# and third the cached path.  The same is done for decrypt_iv in other fresh sessions, and in a
# third set of fresh sessions tde.decrypt runs after the rows it looks up
# (tde.relation_key, tde.database_identity) were read by plain SQL: that
# splits the first use into loading those tables' catalog and relation
# cache entries and the rest (planning its lookups, unwrapping).  Then
# pgbench, one client: -C (a new connection per transaction) against
# without -C, for SELECT 1, the one-value tde.decrypt and decrypt_iv
# (client-side latency, connection included with -C).
#
# Before part 2 the script probes one fresh session's first tde.decrypt on
# its own: the first build of relation keys crashed the server there (the
# database identity lookup replaced the SPI result being read), and it
# stops with a clear message if that comes back.
#
# Prints Markdown tables on stdout (progress goes to stderr) and removes
# everything it created on exit.
#
# Environment: ITER (default 3), N (default 1000000), PGP_N (default
# 20000), SESSIONS (default 200), PG_BINDIR (default
# /usr/lib/postgresql/15/bin), PORT (default 54331).
set -euo pipefail

ITER=${ITER:-3}
N=${N:-1000000}
PGP_N=${PGP_N:-20000}
SESSIONS=${SESSIONS:-200}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54331}
PW=Bench_Pw1
DB=postgres

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the server runs"
require_posint ITER N PGP_N SESSIONS
[ "$PGP_N" -le "$N" ] || die "PGP_N must not exceed N"
require_pg_bindir
[ -f "$("$PG_BINDIR/pg_config" --pkglibdir)/pgcrypto.so" ] || die "pgcrypto is not installed"
command -v openssl >/dev/null || die "openssl not found"
pick_run_user

LOAD_START=$(loadavg)
make_workdir tde-crypto-bench
data=$work/data

msg "creating a throwaway cluster in $data as $RUN_USER"
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde crypto benchmark" "tde, pgcrypto" \
	"tde.wallet_kdf_iterations = 1000" \
	"shared_buffers = 1GB" \
	"max_parallel_workers_per_gather = 0" \
	"jit = off" \
	"checkpoint_timeout = 1h" \
	"max_wal_size = 8GB"
cluster_start "$work"

# psql reading SQL from stdin; prints unaligned tuples only.
psql_in() { pg_psql "$PORT" "$DB"; }

KEY="\\x$(openssl rand -hex 32)"
IV="\\x$(openssl rand -hex 16)"
PGP_PW=pgp_$(openssl rand -hex 8)

msg "creating the keystore and a master key; $N values of 100 bytes"
{
	cat <<SQL
CREATE EXTENSION tde;
CREATE EXTENSION pgcrypto;
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW');
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $PW');
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP');
SQL
	sql_timer_sql bench_sql_ms
	cat <<SQL
CREATE TABLE plain (id int PRIMARY KEY, p bytea NOT NULL);
INSERT INTO plain SELECT i, gen_random_bytes(100) FROM generate_series(1, $N) i;
CREATE TABLE cts (id int PRIMARY KEY, ct bytea NOT NULL);
INSERT INTO cts SELECT id, tde.encrypt('cts'::regclass, p) FROM plain;
CREATE TABLE cts_iv (id int PRIMARY KEY, ct bytea NOT NULL);
INSERT INTO cts_iv SELECT id, encrypt_iv(p, '$KEY'::bytea, '$IV'::bytea, 'aes') FROM plain;
CREATE TABLE plain_pgp (id int PRIMARY KEY, p bytea NOT NULL);
INSERT INTO plain_pgp SELECT id, p FROM plain WHERE id <= $PGP_N;
CREATE TABLE cts_pgp (id int PRIMARY KEY, ct bytea NOT NULL);
INSERT INTO cts_pgp SELECT id, pgp_sym_encrypt_bytea(p, '$PGP_PW', 'cipher-algo=aes256') FROM plain_pgp;
VACUUM ANALYZE plain, cts, cts_iv, plain_pgp, cts_pgp;
CHECKPOINT;
CREATE ROLE bench_reader;
GRANT USAGE ON SCHEMA tde TO bench_reader;
GRANT EXECUTE ON FUNCTION tde.decrypt(regclass, bytea) TO bench_reader;
GRANT SELECT ON cts TO bench_reader;
SQL
} | psql_in >/dev/null || fail_with_log "setting up the bench database failed" "$work/server.log"

msg "checking that every value decrypts back"
out=$(psql_in <<SQL
SELECT count(*) FILTER (WHERE tde.decrypt('cts'::regclass, c.ct) = p.p) || ' '
	|| count(*) FILTER (WHERE length(c.ct) = 149)
FROM plain p JOIN cts c USING (id);
SELECT count(*) FROM plain p JOIN cts_iv c USING (id)
WHERE decrypt_iv(c.ct, '$KEY'::bytea, '$IV'::bytea, 'aes') = p.p;
SELECT count(*) FROM plain_pgp p JOIN cts_pgp c USING (id)
WHERE pgp_sym_decrypt_bytea(c.ct, '$PGP_PW') = p.p;
SELECT count(*) FROM tde.relation_key;
SQL
) || fail_with_log "the round-trip check failed" "$work/server.log"
expect="$N $N
$N
$PGP_N
1"
[ "$out" = "$expect" ] || die "round-trip check: expected \"$(tr '\n' ' ' <<<"$expect")\", got \"$(tr '\n' ' ' <<<"$out")\""

# sql_ms [ROLE] STATEMENT: its server-side time in ms, once.
sql_ms() {
	local role=
	if [ $# -eq 2 ]; then role="SET ROLE $1;"; shift; fi
	psql_in <<SQL || fail_with_log "statement failed: $1" "$work/server.log"
$role
SELECT bench_sql_ms(\$stmt\$$1\$stmt\$);
SQL
}

minmax() { range %.0f "$@"; }

# query LABEL N [ROLE] STATEMENT: register a query to time.
declare -A MED MM NS ROLE_OF SQL_OF SAMPLES
ORDER=()
query() {
	local label=$1
	NS[$label]=$2
	if [ $# -eq 4 ]; then ROLE_OF[$label]=$3; else ROLE_OF[$label]=; fi
	SQL_OF[$label]=${!#}
	SAMPLES[$label]=
	ORDER+=("$label")
}

# run_query LABEL: its server-side time in ms, once.
run_query() {
	local label=$1
	if [ -n "${ROLE_OF[$label]}" ]; then
		sql_ms "${ROLE_OF[$label]}" "${SQL_OF[$label]}"
	else
		sql_ms "${SQL_OF[$label]}"
	fi
}

K="'$KEY'::bytea, '$IV'::bytea, 'aes'"
query "scan plain" "$N" "SELECT count(p) FROM plain"
query "scan cts" "$N" "SELECT count(ct) FROM cts"
query "scan cts_iv" "$N" "SELECT count(ct) FROM cts_iv"
query "scan plain_pgp" "$PGP_N" "SELECT count(p) FROM plain_pgp"
query "scan cts_pgp" "$PGP_N" "SELECT count(ct) FROM cts_pgp"
query "tde.encrypt" "$N" "SELECT count(tde.encrypt('cts'::regclass, p)) FROM plain"
query "tde.decrypt" "$N" "SELECT count(tde.decrypt('cts'::regclass, ct)) FROM cts"
query "tde.decrypt (not superuser)" "$N" bench_reader "SELECT count(tde.decrypt('cts'::regclass, ct)) FROM cts"
query "encrypt_iv aes" "$N" "SELECT count(encrypt_iv(p, $K)) FROM plain"
query "decrypt_iv aes" "$N" "SELECT count(decrypt_iv(ct, $K)) FROM cts_iv"
query "pgp_sym_encrypt_bytea" "$PGP_N" "SELECT count(pgp_sym_encrypt_bytea(p, '$PGP_PW', 'cipher-algo=aes256')) FROM plain_pgp"
query "pgp_sym_decrypt_bytea" "$PGP_N" "SELECT count(pgp_sym_decrypt_bytea(ct, '$PGP_PW')) FROM cts_pgp"

# A warm-up run of each, then ITER rounds over all of them, so that a
# change in the machine's load spreads over every function alike.
msg "throughput: warm-up run of each query"
for label in "${ORDER[@]}"; do
	run_query "$label" >/dev/null
done
for ((r = 1; r <= ITER; r++)); do
	msg "throughput: round $r of $ITER"
	for label in "${ORDER[@]}"; do
		SAMPLES[$label]+=" $(run_query "$label")"
	done
done
for label in "${ORDER[@]}"; do
	# shellcheck disable=SC2086  # the samples are space-separated numbers
	MED[$label]=$(median ${SAMPLES[$label]})
	# shellcheck disable=SC2086
	MM[$label]=$(minmax ${SAMPLES[$label]})
done

declare -A SCAN_OF=(
	["tde.encrypt"]="scan plain" ["tde.decrypt"]="scan cts"
	["tde.decrypt (not superuser)"]="scan cts"
	["encrypt_iv aes"]="scan plain" ["decrypt_iv aes"]="scan cts_iv"
	["pgp_sym_encrypt_bytea"]="scan plain_pgp" ["pgp_sym_decrypt_bytea"]="scan cts_pgp"
)

# ------------------------------------------------------------------
# Part 2: first use of a relation key in a fresh session
# ------------------------------------------------------------------

CT=$(psql_in <<<"SELECT ct FROM cts WHERE id = 1;")
CT_IV=$(psql_in <<<"SELECT ct FROM cts_iv WHERE id = 1;")
DEC="SELECT tde.decrypt('cts'::regclass, '$CT'::bytea)"
DEC_IV="SELECT decrypt_iv('$CT_IV'::bytea, $K)"
RK_ID=$(psql_in <<<"SELECT key_id FROM tde.relation_key LIMIT 1;")
# what tde's key lookup reads, done first by plain SQL: loads the same
# catalog and relation cache entries
WARM="SELECT relid, master_key_id, wrapped_key FROM tde.relation_key WHERE key_id = '$RK_ID' AND key_version = 1; SELECT id FROM tde.database_identity"
EXPLAIN="EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)"

msg "probing a fresh session's first tde.decrypt"
if ! psql_in >/dev/null 2>"$work/probe.err" <<<"$DEC;"; then
	cat "$work/probe.err" >&2
	grep -q "terminated by signal" "$work/server.log" &&
		fail_with_log "BUG: a fresh session's first tde.decrypt crashed the server" "$work/server.log"
	die "a fresh session's first tde.decrypt failed"
fi

# The session script: SESSIONS fresh sessions for tde, as many for decrypt_iv.
script=$work/sessions.sql
: >"$script"
for ((s = 1; s <= SESSIONS; s++)); do
	# shellcheck disable=SC2028  # psql meta-commands, written literally
	{
		echo '\connect'
		echo '\echo tde_first'
		echo "$EXPLAIN $DEC;"
		echo '\echo tde_second'
		echo "$EXPLAIN $DEC;"
		echo '\echo tde_third'
		echo "$EXPLAIN $DEC;"
		echo '\connect'
		echo '\echo iv_first'
		echo "$EXPLAIN $DEC_IV;"
		echo '\echo iv_second'
		echo "$EXPLAIN $DEC_IV;"
		echo '\echo iv_third'
		echo "$EXPLAIN $DEC_IV;"
		echo '\connect'
		echo "$WARM;"
		echo '\echo tde_warm_first'
		echo "$EXPLAIN $DEC;"
	} >>"$script"
done
chown "$RUN_USER:" "$script"
msg "first use: $SESSIONS fresh sessions each for tde.decrypt, decrypt_iv, and tde.decrypt after warming the catalogs"
pg_psql "$PORT" "$DB" -f "$script" >"$work/sessions.out" 2>&1 || {
	tail -n 5 "$work/sessions.out" >&2
	fail_with_log "the fresh-session runs failed" "$work/server.log"
}

# stats TAG: median, p90, min, max of the Execution Time after each \echo TAG, in µs.
stats() {
	awk -v tag="$1" '
		$0 == tag { want = 1; next }
		want && /^Execution Time:/ { print $3 * 1000; want = 0 }' "$work/sessions.out" |
		sort -g | awk '{ v[NR] = $1 }
			END {
				if (NR == 0) { print "- - - - 0"; exit }
				med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				p90 = v[int(NR * 0.9 + 0.999)]
				printf "%.0f %.0f %.0f %.0f %d\n", med, p90, v[1], v[NR], NR
			}'
}

# pgbench_ms [-C] SCRIPT COUNT: average latency in ms, from pgbench.
pgbench_ms() {
	local c=
	if [ "$1" = -C ]; then c=-C; shift; fi
	local f=$work/pgbench_$RANDOM.sql
	printf '%s\n' "$1" >"$f"
	chown "$RUN_USER:" "$f"
	as_user pgbench -n $c -c 1 -t "$2" -f "$f" -h "$work" -p "$PORT" "$DB" 2>&1 |
		awk '/^latency average/ { print $4 }' | grep . ||
		fail_with_log "pgbench failed on: $1" "$work/server.log"
}

msg "pgbench: -C and without, $SESSIONS and $((SESSIONS * 10)) transactions"
pb_c_1=$(pgbench_ms -C "SELECT 1;" "$SESSIONS")
pb_c_dec=$(pgbench_ms -C "$DEC;" "$SESSIONS")
pb_c_iv=$(pgbench_ms -C "$DEC_IV;" "$SESSIONS")
pb_1=$(pgbench_ms "SELECT 1;" $((SESSIONS * 10)))
pb_dec=$(pgbench_ms "$DEC;" $((SESSIONS * 10)))
pb_iv=$(pgbench_ms "$DEC_IV;" $((SESSIONS * 10)))

# ------------------------------------------------------------------
# Output
# ------------------------------------------------------------------

ivpv=$(awk -v t="${MED[decrypt_iv aes]}" -v n="${NS[decrypt_iv aes]}" 'BEGIN { print t * 1000 / n }')
ivnet=$(awk -v t="${MED[decrypt_iv aes]}" -v s="${MED[scan cts_iv]}" -v n="${NS[decrypt_iv aes]}" 'BEGIN { print (t - s) * 1000 / n }')

echo "Throughput: SELECT count(f(...)) FROM t, 100-byte values, server-side, median of $ITER after a warm-up"
echo
echo "| function | N | total ms | µs/value | relative to decrypt_iv | scan ms | net µs/value | net relative to decrypt_iv | min-max ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for label in "${ORDER[@]}"; do
	[[ "$label" == scan* ]] && continue
	scan=${SCAN_OF[$label]}
	awk -v l="$label" -v n="${NS[$label]}" -v t="${MED[$label]}" -v s="${MED[$scan]}" \
		-v iv="$ivpv" -v ivn="$ivnet" -v mm="${MM[$label]}" \
		'BEGIN {
			pv = t * 1000 / n; net = (t - s) * 1000 / n
			printf "| %s | %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %s |\n", l, n, t, pv, pv / iv, s, net, net / ivn, mm
		}'
done
echo
echo "relative = µs/value divided by decrypt_iv's (below 1 is faster); net = minus the scan without the function (scan ms: SELECT count(col) of the same table)."
awk -v t="${MED[tde.decrypt]}" -v n="$N" -v iv="$ivpv" -v ivn="$ivnet" -v s="${MED[scan cts]}" \
	'BEGIN {
		pv = t * 1000 / n; net = (t - s) * 1000 / n
		printf "Requirement (tde.decrypt at least as fast as decrypt_iv): %.2f vs %.2f µs/value (net %.2f vs %.2f), %s.\n",
			pv, iv, net, ivn, (pv <= iv) ? "met" : "NOT met"
	}'
echo
echo "First use of a relation key: EXPLAIN (ANALYZE, TIMING OFF) \"Execution Time\" of a one-value call, $SESSIONS fresh sessions, µs"
echo
echo "| call | median µs | p90 | min | max | sessions |"
echo "|---|---:|---:|---:|---:|---:|"
for tag in tde_first tde_warm_first tde_second tde_third iv_first iv_second iv_third; do
	case $tag in
	tde_first) label="tde.decrypt, first call in the session (unwrap)" ;;
	tde_warm_first) label="tde.decrypt, first call after the same tde.relation_key and tde.database_identity reads by plain SQL" ;;
	tde_second) label="tde.decrypt, second call (cached key)" ;;
	iv_first) label="decrypt_iv, first call in the session" ;;
	iv_second) label="decrypt_iv, second call" ;;
	tde_third) label="tde.decrypt, third call" ;;
	iv_third) label="decrypt_iv, third call" ;;
	esac
	read -r a b c d e <<<"$(stats "$tag")"
	echo "| $label | $a | $b | $c | $d | $e |"
done
awk -v t="${MED[tde.decrypt]}" -v n="$N" 'BEGIN { printf "| tde.decrypt, per value in the %d-value scan above (cached) | %.2f | | | | |\n", n, t * 1000 / n }'
echo
echo "pgbench, 1 client, average latency per transaction (client side; -C opens a new connection for each)"
echo
echo "| script | -C ms ($SESSIONS transactions) | without -C ms ($((SESSIONS * 10)) transactions) | -C minus SELECT 1 -C, ms |"
echo "|---|---:|---:|---:|"
awk -v a="$pb_c_1" -v b="$pb_1" 'BEGIN { printf "| SELECT 1 | %.3f | %.3f | - |\n", a, b }'
awk -v l="tde.decrypt, one value" -v a="$pb_c_dec" -v b="$pb_dec" -v z="$pb_c_1" 'BEGIN { printf "| %s | %.3f | %.3f | %.3f |\n", l, a, b, a - z }'
awk -v a="$pb_c_iv" -v b="$pb_iv" -v z="$pb_c_1" 'BEGIN { printf "| decrypt_iv, one value | %.3f | %.3f | %.3f |\n", a, b, a - z }'
echo
machine_line "$(openssl_version)" "$(utc_now)" "load average (1, 5, 15 min) at the start $LOAD_START, at the end $(loadavg)"
