#!/usr/bin/env bash
# bench/crypto_bench.sh: the speed of tde.encrypt and tde.decrypt against
# pgcrypto's encrypt_iv/decrypt_iv, against a raw OpenSSL loop, and the
# cost of a relation key's first use in a session.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (tdetest if it exists, else postgres) in a temporary
# directory, with shared_preload_libraries = 'tde, pgcrypto' (neither pays
# a library load in a fresh session), its own tde.wallet_root,
# tde.wallet_kdf_iterations = 1000, shared_buffers = 2GB (the tables of one
# value size stay in shared buffers), every other setting at its default
# (max_parallel_workers_per_gather = 2 and jit = on included), and a Unix
# socket inside that directory only (no TCP).
#
# Part "throughput", for each value size S of SIZES (default 16, 100, 1024
# and 8192 bytes), on ROWS(S) = min(N, BYTES / S) rows of random bytes
# (N = 1,000,000, BYTES = 200,000,000): a table p_S of plaintexts, t_S of
# tde.encrypt('t_S', p) ciphertexts (AES-256-GCM) and t2_S of
# encrypt_iv(p, key32, iv16, 'aes') ones (pgcrypto, AES-256-CBC); every
# value is first checked to decrypt back.  The queries timed are
#
#   decrypt  SELECT sum(length(tde.decrypt('t_S', c))) FROM t_S
#            SELECT sum(length(decrypt_iv(c, key, iv, 'aes'))) FROM t2_S
#            each with parallel query on (max_parallel_workers_per_gather
#            = 2, the default) and off (= 0)
#   encrypt  SELECT sum(length(tde.encrypt('t_S', p))) FROM p_S
#            SELECT sum(length(encrypt_iv(p, key, iv, 'aes'))) FROM p_S
#            parallel off only: tde.encrypt is VOLATILE and not parallel
#            safe, so a parallel plan never uses it
#   scans    SELECT sum(get_byte(c, 0)) FROM each table, parallel off: the
#            same rows read without the cipher (get_byte detoasts every
#            value, as the ciphers do; length() would read only the TOAST
#            pointer of an 8 KB value)
#   and, at 100 bytes, tde.decrypt with parallel off as a role that is not
#   a superuser (superusers skip the ACL check).
#
# Each query is timed inside the server (clock_timestamp() around EXECUTE
# in PL/pgSQL, a new session per run); it first runs once as EXPLAIN
# ANALYZE, which warms up and reports the parallel workers launched and
# whether JIT compiled the plan; then
# ITER rounds (default 5) run each query of the size once in turn, so that
# a change in the machine's load hits every query alike.  Rows give the
# median, min-max and the repetitions; "net" subtracts the scan's median.
# If OPENSSL_LOOP names the binary of bench/openssl_loop.c (bench/run.sh
# builds it), every round also runs it once on ROWS(S) values of S bytes
# (at least RAW_MIN = 200,000, so that a pass lasts long enough to time):
# tde's per-value OpenSSL calls with nothing around them, the physical
# limit.
#
# Part "firstuse": tables fu_t (tde) and fu_t2 (decrypt_iv) of 1000 rows of
# 100 bytes with a primary key id.  SESSIONS fresh sessions (default 200)
# each, by psql \connect, run EXPLAIN (ANALYZE, TIMING OFF) of
#   SELECT tde.decrypt('fu_t', c) FROM fu_t WHERE id = 1
# either as the session's first statement (cold), or right after
# SELECT c FROM fu_t WHERE id = 1 (the row read by plain SQL first, so the
# table is in the backend's caches), and the same for decrypt_iv on fu_t2;
# plus the cached second call and the plain read itself.  The
# "Execution Time" is the call without connecting and planning.  Before
# the sessions, one fresh session's first tde.decrypt is probed alone: the
# first build of relation keys crashed the server there, and the script
# says so if that comes back.
#
# PARTS (default "throughput firstuse") chooses the parts.  Prints Markdown
# tables on stdout (progress goes to stderr) and removes everything it
# created on exit.
#
# Environment: PARTS, SIZES, N, BYTES, ITER, SESSIONS, OPENSSL_LOOP,
# PG_BINDIR (default /usr/lib/postgresql/15/bin), PORT (default 54331).
set -euo pipefail

PARTS=${PARTS:-"throughput firstuse"}
SIZES=${SIZES:-"16 100 1024 8192"}
N=${N:-1000000}
BYTES=${BYTES:-200000000}
ITER=${ITER:-5}
SESSIONS=${SESSIONS:-200}
OPENSSL_LOOP=${OPENSSL_LOOP:-}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54331}
PW=Bench_Pw1
DB=postgres
FU_ROWS=1000
RAW_MIN=200000

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the server runs"
require_posint N BYTES ITER SESSIONS
for s in $SIZES; do
	[[ "$s" =~ ^[1-9][0-9]*$ ]] || die "SIZES must be positive integers, not \"$SIZES\""
done
for p in $PARTS; do
	case $p in throughput | firstuse) ;; *) die "unknown part \"$p\" (throughput, firstuse)" ;; esac
done
[ -z "$OPENSSL_LOOP" ] || [ -x "$OPENSSL_LOOP" ] || die "OPENSSL_LOOP=$OPENSSL_LOOP is not executable"
require_pg_bindir
[ -f "$("$PG_BINDIR/pg_config" --pkglibdir)/pgcrypto.so" ] || die "pgcrypto is not installed"
command -v openssl >/dev/null || die "openssl not found"
pick_run_user

LOAD_START=$(loadavg)
make_workdir tde-crypto-bench

msg "creating a throwaway cluster in $work/data as $RUN_USER"
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde crypto benchmark" "tde, pgcrypto" \
	"tde.wallet_kdf_iterations = 1000" \
	"shared_buffers = 2GB" \
	"checkpoint_timeout = 1h" \
	"max_wal_size = 8GB"
cluster_start "$work"

# psql reading SQL from stdin; prints unaligned tuples only.
psql_in() { pg_psql "$PORT" "$DB"; }

KEY="\\x$(openssl rand -hex 32)"
IV="\\x$(openssl rand -hex 16)"
K="'$KEY'::bytea, '$IV'::bytea, 'aes'"

msg "creating the keystore and a master key"
{
	cat <<SQL
CREATE EXTENSION tde;
CREATE EXTENSION pgcrypto;
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW');
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $PW');
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP');
CREATE ROLE bench_reader;
GRANT USAGE ON SCHEMA tde TO bench_reader;
GRANT EXECUTE ON FUNCTION tde.decrypt(regclass, bytea) TO bench_reader;
SQL
	sql_timer_sql bench_sql_ms
	cat <<'SQL'

-- n random bytes (gen_random_bytes gives at most 1024 at a time)
CREATE FUNCTION bench_random(n integer) RETURNS bytea
LANGUAGE sql VOLATILE AS $$
	SELECT substring(string_agg(gen_random_bytes(1024), ''::bytea), 1, n)
	FROM generate_series(1, (n + 1023) / 1024)
$$;

-- Runs stmt once under EXPLAIN ANALYZE (so through the same SPI path as
-- bench_sql_ms); returns the parallel workers it launched, then "jit" if
-- JIT compiled the plan, else "-".
CREATE FUNCTION bench_plan(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	plan jsonb;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || stmt INTO plan;
	RETURN coalesce((SELECT sum(w::integer) FROM jsonb_path_query(plan, '$.**."Workers Launched"') w), 0)
		|| CASE WHEN jsonb_path_exists(plan, '$[*].JIT') THEN ' jit' ELSE ' -' END;
END
$$;
SQL
} | psql_in >/dev/null || fail_with_log "setting up the bench database failed" "$work/server.log"

has_part() { [[ " $PARTS " == *" $1 "* ]]; }

# make_tables S ROWS: p_S, t_S and t2_S, checked to decrypt back.
make_tables() {
	local s=$1 rows=$2 out gen="bench_random($1)"
	# gen_random_bytes gives up to 1024 bytes, and faster than bench_random
	[ "$s" -gt 1024 ] || gen="gen_random_bytes($s)"
	msg "$s bytes: $rows values: plaintexts, tde.encrypt, encrypt_iv"
	psql_in >/dev/null <<SQL || fail_with_log "creating the $s-byte tables failed" "$work/server.log"
CREATE TABLE p_$s (id int NOT NULL, p bytea NOT NULL);
INSERT INTO p_$s SELECT i, $gen FROM generate_series(1, $rows) i;
CREATE TABLE t_$s (id int NOT NULL, c bytea NOT NULL);
INSERT INTO t_$s SELECT id, tde.encrypt('t_$s'::regclass, p) FROM p_$s;
CREATE TABLE t2_$s (id int NOT NULL, c bytea NOT NULL);
INSERT INTO t2_$s SELECT id, encrypt_iv(p, $K) FROM p_$s;
GRANT SELECT ON t_$s TO bench_reader;
VACUUM ANALYZE p_$s, t_$s, t2_$s;
CHECKPOINT;
SQL
	out=$(psql_in <<SQL
SELECT count(*) FILTER (WHERE tde.decrypt('t_$s'::regclass, t.c) = p.p)
	|| ' ' || count(*) FILTER (WHERE decrypt_iv(t2.c, $K) = p.p)
	|| ' ' || count(*) FILTER (WHERE length(t.c) = $s + 49)
FROM p_$s p JOIN t_$s t USING (id) JOIN t2_$s t2 USING (id);
SQL
	) || fail_with_log "the $s-byte round-trip check failed" "$work/server.log"
	[ "$out" = "$rows $rows $rows" ] ||
		die "$s bytes: of $rows values, (tde round trips, decrypt_iv round trips, 49-byte overhead) = $out"
}

drop_tables() {
	psql_in >/dev/null <<SQL || fail_with_log "dropping the $1-byte tables failed" "$work/server.log"
DROP TABLE p_$1, t_$1, t2_$1;
SQL
}

# run_sql PARALLEL ROLE STATEMENT FUNCTION: FUNCTION(STATEMENT) in a new
# session with max_parallel_workers_per_gather = PARALLEL, as ROLE if one
# is given.
run_sql() {
	local role=
	[ -z "$2" ] || role="SET ROLE $2;"
	psql_in <<SQL || fail_with_log "statement failed: $3" "$work/server.log"
SET max_parallel_workers_per_gather = $1;
$role
SELECT $4(\$stmt\$$3\$stmt\$);
SQL
}

# The queries of one size: label -> "parallel|role|statement".
declare -A Q SAMPLES WORKERS MED MM
QORDER=()
query() {
	Q[$1]=$2
	SAMPLES[$1]=
	QORDER+=("$1")
}

# minmax SAMPLES...: "min-max" in whole milliseconds.
minmax() { range %.0f "$@"; }

# per_value_ns MS ROWS: nanoseconds per value.
per_value_ns() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.0f", t * 1e6 / n }'; }

DEC_ROWS=()
JIT_USED=()
HEADLINE=
NET_ROWS=()
RAW_ROWS=()

# The table rows of one size; called from bench_size, whose s, rows, MED,
# MM and WORKERS they read.

# dec_row OPERATION PARALLEL TDE_LABEL PGCRYPTO_LABEL: a whole-query row.
dec_row() {
	awk -v s="$s" -v rows="$rows" -v op="$1" -v par="$2" -v wt="${WORKERS[$3]}" -v wp="${WORKERS[$4]}" \
		-v t="${MED[$3]}" -v tmm="${MM[$3]}" -v p="${MED[$4]}" -v pmm="${MM[$4]}" -v reps="$ITER" \
		'BEGIN { printf "| %d B | %d | %s | %s | %s / %s | %.0f (%s) | %.0f (%s) | %.2f | %d |\n",
			s, rows, op, par, wt, wp, t, tmm, p, pmm, p / t, reps }'
}

# net_row OPERATION TDE SCAN PGCRYPTO PGCRYPTO_SCAN: a per-value row.
net_row() {
	awk -v s="$s" -v op="$1" -v t="${MED[$2]}" -v ts="${MED[$3]}" -v p="${MED[$4]}" -v ps="${MED[$5]}" \
		-v n="$rows" \
		'BEGIN { tn = (t - ts) * 1e6 / n; pn = (p - ps) * 1e6 / n
			printf "| %d B | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n",
				s, op, t * 1e6 / n, p * 1e6 / n, ts * 1e6 / n, tn, pn, pn / tn }'
}

# net_ns TDE SCAN: tde's net ns per value, one decimal.
net_ns() {
	awk -v t="${MED[$1]}" -v b="${MED[$2]}" -v n="$rows" 'BEGIN { printf "%.1f", (t - b) * 1e6 / n }'
}

# raw_row OPERATION TDE_NET_NS SAMPLES...: tde's net beside the raw loop's.
raw_row() {
	local op=$1 net=$2 raw
	shift 2
	raw=$(median "$@")
	awk -v s="$s" -v op="$op" -v net="$net" -v raw="$raw" -v mm="$(minmax "$@")" -v reps="$#" \
		'BEGIN { printf "| %d B | %s | %.0f | %.0f (%s) | %.2f | %d |\n", s, op, net, raw, mm, net / raw, reps }'
	figure "raw_${op}_ratio_$s" "$(awk -v a="$net" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')"
}

# bench_size S: all the queries at S bytes.
bench_size() {
	local s=$1 rows label par role stmt r raw
	rows=$(awk -v n="$N" -v b="$BYTES" -v s="$s" 'BEGIN { r = int(b / s); print (r < n) ? r : n }')
	[ "$rows" -gt 0 ] || die "BYTES=$BYTES leaves no rows of $s bytes"
	make_tables "$s" "$rows"
	Q=() SAMPLES=() WORKERS=() MED=() MM=()
	QORDER=()
	query scan_p "0||SELECT sum(get_byte(p, 0)) FROM p_$s"
	query scan_t "0||SELECT sum(get_byte(c, 0)) FROM t_$s"
	query scan_t2 "0||SELECT sum(get_byte(c, 0)) FROM t2_$s"
	query dec_on "2||SELECT sum(length(tde.decrypt('t_$s', c))) FROM t_$s"
	query iv_dec_on "2||SELECT sum(length(decrypt_iv(c, $K))) FROM t2_$s"
	query dec_off "0||SELECT sum(length(tde.decrypt('t_$s', c))) FROM t_$s"
	query iv_dec_off "0||SELECT sum(length(decrypt_iv(c, $K))) FROM t2_$s"
	query enc_off "0||SELECT sum(length(tde.encrypt('t_$s', p))) FROM p_$s"
	query iv_enc_off "0||SELECT sum(length(encrypt_iv(p, $K))) FROM p_$s"
	if [ "$s" = 100 ]; then
		query dec_reader "0|bench_reader|SELECT sum(length(tde.decrypt('t_$s', c))) FROM t_$s"
	fi

	msg "$s bytes: warm-up (EXPLAIN ANALYZE) of each query"
	for label in "${QORDER[@]}"; do
		IFS='|' read -r par role stmt <<<"${Q[$label]}"
		read -r w jit <<<"$(run_sql "$par" "$role" "$stmt" bench_plan)"
		WORKERS[$label]=$w
		[ "$jit" = - ] || JIT_USED+=("$label at $s B")
	done
	local raw_enc=() raw_dec=()
	for ((r = 1; r <= ITER; r++)); do
		msg "$s bytes: round $r of $ITER"
		for label in "${QORDER[@]}"; do
			IFS='|' read -r par role stmt <<<"${Q[$label]}"
			SAMPLES[$label]+=" $(run_sql "$par" "$role" "$stmt" bench_sql_ms)"
		done
		if [ -n "$OPENSSL_LOOP" ]; then
			raw=$("$OPENSSL_LOOP" "$s" "$((rows > RAW_MIN ? rows : RAW_MIN))" 1) ||
				die "$OPENSSL_LOOP failed at $s bytes"
			raw_enc+=("${raw% *}")
			raw_dec+=("${raw#* }")
		fi
	done
	for label in "${QORDER[@]}"; do
		# shellcheck disable=SC2086  # the samples are space-separated numbers
		MED[$label]=$(median ${SAMPLES[$label]})
		# shellcheck disable=SC2086
		MM[$label]=$(minmax ${SAMPLES[$label]})
	done
	drop_tables "$s"

	DEC_ROWS+=("$(dec_row decrypt "on (2)" dec_on iv_dec_on)")
	DEC_ROWS+=("$(dec_row decrypt off dec_off iv_dec_off)")
	DEC_ROWS+=("$(dec_row encrypt off enc_off iv_enc_off)")

	NET_ROWS+=("$(net_row decrypt dec_off scan_t iv_dec_off scan_t2)")
	NET_ROWS+=("$(net_row encrypt enc_off scan_p iv_enc_off scan_p)")
	if [ "$s" = 100 ]; then
		NET_ROWS+=("$(net_row "decrypt, not superuser" dec_reader scan_t iv_dec_off scan_t2)")
	fi

	if [ -n "$OPENSSL_LOOP" ]; then
		RAW_ROWS+=("$(raw_row encrypt "$(net_ns enc_off scan_p)" "${raw_enc[@]}")")
		RAW_ROWS+=("$(raw_row decrypt "$(net_ns dec_off scan_t)" "${raw_dec[@]}")")
	fi
	if [ "$s" = 100 ]; then
		figure headline_rows "$rows"
		figure headline_tde_ms "${MED[dec_on]}"
		figure headline_pgcrypto_ms "${MED[iv_dec_on]}"
		figure headline_workers "${WORKERS[dec_on]}/${WORKERS[iv_dec_on]}"
		HEADLINE=$(awk -v n="$rows" -v t="${MED[dec_on]}" -v p="${MED[iv_dec_on]}" \
			'BEGIN { printf "Headline: tde.decrypt of %d values of 100 B, parallel query at its default: %.0f ms against %.0f ms for decrypt_iv, pgcrypto / tde = %.2f (goal: at least 2).", n, t, p, p / t }')
	fi
}

if has_part throughput; then
	for s in $SIZES; do
		bench_size "$s"
	done
	echo "Whole queries, tde against pgcrypto: SELECT sum(length(tde.decrypt('t', c))) FROM t against SELECT sum(length(decrypt_iv(c, key, iv, 'aes'))) FROM t2 (and the same with tde.encrypt / encrypt_iv of the plaintexts); server-side ms, median (min-max) of the repetitions"
	echo
	echo "| value | rows | operation | parallel query (max_parallel_workers_per_gather) | workers launched, tde / pgcrypto | tde ms | pgcrypto ms | pgcrypto / tde | reps |"
	echo "|---:|---:|---|---|---|---:|---:|---:|---:|"
	printf '%s\n' "${DEC_ROWS[@]}"
	echo
	echo "pgcrypto / tde above 1: tde is faster. tde.encrypt is not parallel safe, so encryption is measured with parallel query off only."
	if [ "${#JIT_USED[@]}" -eq 0 ]; then
		echo "JIT (on, the default) compiled none of these plans."
	else
		jit=$(printf '%s, ' "${JIT_USED[@]}")
		echo "JIT (on, the default) compiled the plans of: ${jit%, }."
	fi
	echo
	if [ -n "$HEADLINE" ]; then
		echo "$HEADLINE"
		echo
	fi
	echo "Per value, parallel query off, ns: the whole query divided by the rows, and net of a plain scan of the same rows (SELECT sum(get_byte(c, 0)) FROM the same table)"
	echo
	echo "| value | operation | tde ns/value | pgcrypto ns/value | scan ns/value | tde net ns/value | pgcrypto net ns/value | pgcrypto net / tde net |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${NET_ROWS[@]}"
	echo
	echo "The scan column is tde's table (decrypt) or the plaintext table (encrypt); pgcrypto's net subtracts the scan of its own table."
	echo
	if [ -n "$OPENSSL_LOOP" ]; then
		echo "tde against the raw OpenSSL loop (bench/openssl_loop.c: tde's per-value EVP calls on a context keyed once; a pass over the rows of the size, at least $RAW_MIN values), ns per value, median (min-max)"
		echo
		echo "| value | operation | tde net ns/value | raw OpenSSL ns/value | tde net / raw | reps |"
		echo "|---:|---|---:|---:|---:|---:|"
		printf '%s\n' "${RAW_ROWS[@]}"
		echo
	fi
fi

# ------------------------------------------------------------------
# Part firstuse: the first tde.decrypt in a fresh session
# ------------------------------------------------------------------

# stats TAG: median, p90, min, max (µs) and count of the Execution Times
# that follow an \echo TAG in the sessions' output.
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

if has_part firstuse; then
	msg "first use: tables fu_t, fu_t2 of $FU_ROWS rows"
	psql_in >/dev/null <<SQL || fail_with_log "creating the first-use tables failed" "$work/server.log"
CREATE TABLE fu_t (id int PRIMARY KEY, c bytea NOT NULL);
INSERT INTO fu_t SELECT i, tde.encrypt('fu_t'::regclass, gen_random_bytes(100)) FROM generate_series(1, $FU_ROWS) i;
CREATE TABLE fu_t2 (id int PRIMARY KEY, c bytea NOT NULL);
INSERT INTO fu_t2 SELECT i, encrypt_iv(gen_random_bytes(100), $K) FROM generate_series(1, $FU_ROWS) i;
VACUUM ANALYZE fu_t, fu_t2;
CHECKPOINT;
SQL
	DEC="SELECT tde.decrypt('fu_t', c) FROM fu_t WHERE id = 1"
	DEC_IV="SELECT decrypt_iv(c, $K) FROM fu_t2 WHERE id = 1"
	READ="SELECT c FROM fu_t WHERE id = 1"
	READ_IV="SELECT c FROM fu_t2 WHERE id = 1"
	EXPLAIN="EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)"

	msg "probing a fresh session's first tde.decrypt"
	if ! psql_in >/dev/null 2>"$work/probe.err" <<<"$DEC;"; then
		cat "$work/probe.err" >&2
		grep -q "terminated by signal" "$work/server.log" &&
			fail_with_log "BUG: a fresh session's first tde.decrypt crashed the server" "$work/server.log"
		die "a fresh session's first tde.decrypt failed"
	fi

	script=$work/sessions.sql
	: >"$script"
	for ((i = 1; i <= SESSIONS; i++)); do
		# shellcheck disable=SC2028  # psql meta-commands, written literally
		{
			printf '%s\n' '\connect' '\echo tde_cold' "$EXPLAIN $DEC;" '\echo tde_second' "$EXPLAIN $DEC;"
			printf '%s\n' '\connect' "$READ \\g /dev/null" '\echo tde_after_read' "$EXPLAIN $DEC;"
			printf '%s\n' '\connect' '\echo iv_cold' "$EXPLAIN $DEC_IV;"
			printf '%s\n' '\connect' "$READ_IV \\g /dev/null" '\echo iv_after_read' "$EXPLAIN $DEC_IV;"
			printf '%s\n' '\connect' "$READ \\g /dev/null" '\echo read_second' "$EXPLAIN $READ;"
		} >>"$script"
	done
	chown "$RUN_USER:" "$script"
	msg "first use: $SESSIONS fresh sessions of each kind"
	pg_psql "$PORT" "$DB" -f "$script" >"$work/sessions.out" 2>&1 || {
		tail -n 5 "$work/sessions.out" >&2
		fail_with_log "the fresh-session runs failed" "$work/server.log"
	}

	echo "First use of a relation key: EXPLAIN (ANALYZE, TIMING OFF) \"Execution Time\" in fresh sessions, µs (connection and planning not counted)"
	echo
	echo "| statement | in a fresh session | median µs | p90 | min | max | sessions |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	for tag in tde_after_read iv_after_read tde_cold iv_cold tde_second read_second; do
		case $tag in
		tde_after_read) label="\`$DEC\`|right after \`$READ\`" ;;
		iv_after_read) label="\`SELECT decrypt_iv(c, key, iv, 'aes') FROM fu_t2 WHERE id = 1\`|right after \`$READ_IV\`" ;;
		tde_cold) label="\`$DEC\`|first statement (cold)" ;;
		iv_cold) label="\`SELECT decrypt_iv(c, key, iv, 'aes') FROM fu_t2 WHERE id = 1\`|first statement (cold)" ;;
		tde_second) label="\`$DEC\`|second time (key cached)" ;;
		read_second) label="\`$READ\`|second time (no decryption: the floor)" ;;
		esac
		read -r a b c d e <<<"$(stats "$tag")"
		echo "| ${label/|/ | } | $a | $b | $c | $d | $e |"
		[ "$tag" != tde_after_read ] || figure firstuse_us "$a"
		[ "$tag" != iv_after_read ] || figure firstuse_iv_us "$a"
	done
	echo
fi

bench_footer "$(openssl_version)" "$(utc_now)" "load average (1, 5, 15 min) at the start $LOAD_START, at the end $(loadavg)"
