#!/usr/bin/env bash
# bench/rekey_bench.sh: how long a rekey (ADMINISTER KEY MANAGEMENT SET KEY
# ... WITH BACKUP) takes with 1,000, 50,000 and 1,000,000 relation keys,
# and how much memory the rekeying backend uses, with a plain UPDATE of the
# same rows as the baseline.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (tdetest if it exists, else postgres) in a temporary
# directory, with shared_preload_libraries = 'tde', its own tde.wallet_root,
# tde.wallet_kdf_iterations = 1000 (so writing the wallet costs about 2 ms)
# and a Unix socket inside that directory only (no TCP).
#
# Relation keys are rows of tde.relation_key.  Creating 1,000,000 tables
# would take long, so the keys are made with tde.rotate_relation_key():
# every call adds one version (one row) of a table's key.  The script
# creates one table per KEYS_PER_TABLE keys (default 1000) and rotates each
# table's key that many times; the rows then look like those of N /
# KEYS_PER_TABLE relations with many versions each, and a rekey re-wraps
# every row alike, whatever relation it belongs to.  The first table
# (rk_canary) also holds a value encrypted under its key's version 1.
#
# For each N (SIZES, default "1000 50000 1000000"; the keys are added to
# reach each N in turn), ITER times (default 5; BIG_ITER, default 3, for
# N of 1,000,000 and more), alternating the order:
#
#   rekey  SET KEY IDENTIFIED BY pw WITH BACKUP USING 'id': a new master
#          key, the wallet written with a backup, then every relation key
#          of the database re-wrapped in the statement's transaction
#   plain  UPDATE tde.relation_key SET rewrapped_at = now(), as superuser:
#          the same rows updated with no cryptography at all
#
# each right after VACUUM tde.relation_key and CHECKPOINT, timed inside the
# server with clock_timestamp() around the statement (connection and commit
# not counted).  After every rekey the script checks that all N rows name
# the new active key (tde.relation_keys against v$encryption_keys) and that
# the canary value still decrypts; it stops if not.  Memory: the measuring
# session reads its backend's /proc/self/status (pg_read_file) before and
# after the statement; the table gives the growth of VmHWM (the peak
# resident set, shared buffers touched included, which the plain UPDATE
# touches alike) and RssAnon (private memory still held) afterwards.
#
# The wallet-only part is a SET KEY with no relation key at all (before any
# exists), ITER times; "us per key" is (rekey - wallet-only) / N.  The
# linearity lines give the marginal cost per key between consecutive sizes,
# (t(N2) - t(N1)) / (N2 - N1), in which every fixed cost cancels out: a
# linear cost has the same slope at every size.
#
# Also measured, once per N and per repetition: the background re-wrap of
# the same N keys by the rewrap worker, started by a SET KEY issued in a
# second database (rk_other) and read from tde.rewrap_progress
# (finished - started; it commits every 1000 keys).
#
# Prints Markdown tables on stdout (progress goes to stderr) and removes
# everything it created on exit.
#
# Environment: ITER (default 5), BIG_ITER (default 3), SIZES (default
# "1000 50000 1000000", each a positive multiple of KEYS_PER_TABLE,
# ascending), KEYS_PER_TABLE (default 1000), PG_BINDIR (default
# /usr/lib/postgresql/15/bin), PORT (default 54330; the socket lives in the
# private temporary directory).
set -euo pipefail

ITER=${ITER:-5}
BIG_ITER=${BIG_ITER:-3}
BIG_N=1000000
SIZES=${SIZES:-"1000 50000 1000000"}
KEYS_PER_TABLE=${KEYS_PER_TABLE:-1000}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54330}
KDF=1000
PW=Bench_Pw1
DB=postgres
OTHER_DB=rk_other

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the server runs"
require_posint ITER BIG_ITER
[[ "$KEYS_PER_TABLE" =~ ^[1-9][0-9]*$ ]] || die "KEYS_PER_TABLE must be a positive integer"
prev=0
for n in $SIZES; do
	if ! [[ "$n" =~ ^[1-9][0-9]*$ ]] || [ $((n % KEYS_PER_TABLE)) -ne 0 ] || [ "$n" -le "$prev" ]; then
		die "SIZES must be ascending positive multiples of KEYS_PER_TABLE ($KEYS_PER_TABLE), not \"$SIZES\""
	fi
	prev=$n
done
require_pg_bindir
pick_run_user

LOAD_START=$(loadavg)
make_workdir tde-rekey-bench
data=$work/data

msg "creating a throwaway cluster in $data as $RUN_USER"
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde rekey benchmark" tde \
	"tde.wallet_kdf_iterations = $KDF" \
	"# checkpoints only when the script asks (before each measurement)" \
	"checkpoint_timeout = 1h" \
	"max_wal_size = 8GB"
cluster_start "$work"

# psql_db DB: psql reading SQL from stdin; prints unaligned tuples only.
psql_db() { pg_psql "$PORT" "$1"; }
psql_in() { psql_db "$DB"; }

{
	echo "CREATE EXTENSION tde;"
	akm_timer_sql bench_akm_ms
	sql_timer_sql bench_sql_ms
	active_key_sql bench_active_key
	cat <<'SQL'
-- This backend's "VmHWM RssAnon" in kB, from /proc/self/status.
CREATE FUNCTION bench_mem() RETURNS text
LANGUAGE sql AS $$
	SELECT substring(s FROM 'VmHWM:\s+(\d+)') || ' ' || substring(s FROM 'RssAnon:\s+(\d+)')
	FROM pg_read_file('/proc/self/status') s
$$;
SQL
} | psql_in >/dev/null || fail_with_log "setting up the bench database failed" "$work/server.log"
psql_db postgres >/dev/null <<SQL || fail_with_log "creating $OTHER_DB failed" "$work/server.log"
CREATE DATABASE $OTHER_DB;
SQL
psql_db "$OTHER_DB" >/dev/null <<'SQL' || fail_with_log "setting up $OTHER_DB failed" "$work/server.log"
CREATE EXTENSION tde;
SQL

# akm STATEMENT: run it, untimed.
akm() {
	psql_in >/dev/null <<SQL || fail_with_log "statement failed: ${1%% IDENTIFIED*} ..." "$work/server.log"
SELECT tde.administer_key_management(\$stmt\$$1\$stmt\$);
SQL
}

NOTES=()

# Wait until no re-wrap worker is pending or running; note failed ones.
wait_workers() {
	local i out
	for ((i = 0; i < 3000; i++)); do
		out=$(psql_in <<'SQL'
SELECT count(*) FROM tde.rewrap_progress WHERE state IN ('pending', 'running');
SQL
		) || fail_with_log "reading tde.rewrap_progress failed" "$work/server.log"
		[ "$out" = 0 ] && break
		sleep 0.1
	done
	[ "$out" = 0 ] || die "re-wrap workers still busy after 300 s"
	out=$(psql_in <<'SQL'
SELECT string_agg(format('%s: %s (%s)', datname, state, coalesce(error, 'no error text')), '; ')
FROM tde.rewrap_progress WHERE state = 'failed';
SQL
	)
	if [ -n "$out" ] && [[ " ${NOTES[*]-} " != *"$out"* ]]; then
		NOTES+=("re-wrap worker failed after $1: $out")
		msg "note: re-wrap worker failed after $1: $out"
	fi
}

# prep: the same starting point for every measured statement.
prep() {
	psql_in >/dev/null <<'SQL' || fail_with_log "VACUUM/CHECKPOINT failed" "$work/server.log"
VACUUM tde.relation_key;
CHECKPOINT;
SQL
}

minmax() { range %.1f "$@"; }

msg "creating the keystore (kdf iterations $KDF), opening it"
akm "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW"
akm "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $PW"
wait_workers "SET KEYSTORE OPEN (no master key yet)"

# rekey_ms ID: one timed SET KEY in $DB; prints the backend's memory
# (bench_mem), its ms, the memory again, then a line
# "rows_on_the_new_key rows canary_plaintext".
rekey_ms() {
	psql_in <<SQL || fail_with_log "SET KEY failed" "$work/server.log"
SELECT bench_mem();
SELECT bench_akm_ms(\$stmt\$ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP USING '$1'\$stmt\$);
SELECT bench_mem();
-- a later statement, so that its snapshot sees the re-wrap
SELECT count(*) FILTER (WHERE master_key_id = bench_active_key()) || ' ' || count(*)
	|| ' ' || coalesce((SELECT tde.decrypt_text('rk_canary', c) FROM rk_canary), 'none')
FROM tde.relation_keys;
SQL
}

# wallet-only: SET KEY with no relation key anywhere
msg "wallet only: SET KEY ... WITH BACKUP with 0 relation keys x$ITER"
T_WALLET=()
for ((r = 1; r <= ITER; r++)); do
	out=$(psql_in <<SQL
SELECT bench_akm_ms(\$stmt\$ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP USING 'w$r'\$stmt\$)
	|| ' ' || (SELECT count(*) FROM tde.relation_key);
SQL
	) || fail_with_log "SET KEY failed" "$work/server.log"
	read -r ms rows <<<"$out"
	[ "$rows" = 0 ] || die "expected no relation keys, found $rows"
	T_WALLET+=("$ms")
	wait_workers "SET KEY"
done
WALLET_MED=$(median "${T_WALLET[@]}")

# build_to N: add tables and key versions until tde.relation_key has N rows.
have=0
ntables=0
build_to() {
	local target=$1 sql t0 t1 made name
	sql=$work/build.sql
	: >"$sql"
	while [ "$have" -lt "$target" ]; do
		ntables=$((ntables + 1))
		if [ "$ntables" -eq 1 ]; then
			name=rk_canary
			cat >>"$sql" <<SQL
CREATE TABLE $name (c bytea);
INSERT INTO $name VALUES (tde.encrypt('$name'::regclass, 'canary v1'::text));
SELECT count(tde.rotate_relation_key('$name')) FROM generate_series(1, $((KEYS_PER_TABLE - 1)));
SQL
		else
			name=$(printf 'rk_%05d' "$ntables")
			cat >>"$sql" <<SQL
CREATE TABLE $name (c bytea);
SELECT count(tde.rotate_relation_key('$name')) FROM generate_series(1, $KEYS_PER_TABLE);
SQL
		fi
		have=$((have + KEYS_PER_TABLE))
	done
	chown "$RUN_USER:" "$sql"
	made=$((target - BUILT))
	t0=$(date +%s%N)
	psql_in >/dev/null <"$sql" || fail_with_log "creating relation keys failed" "$work/server.log"
	t1=$(date +%s%N)
	BUILD_ROWS+=("$(awk -v n="$made" -v t="$ntables" -v d=$((t1 - t0)) -v tot="$target" \
		'BEGIN { printf "| %d | %d | %d | %.1f | %.1f |\n", n, tot, t, d / 1e6, d / 1e3 / n }')")
	BUILT=$target
	local got
	got=$(psql_in <<<"SELECT count(*) FROM tde.relation_key;")
	[ "$got" = "$target" ] || die "expected $target relation keys, found $got"
	wait_workers "creating keys"
	# one untimed pass, so that the first measured UPDATE does not pay for
	# the fresh, full pages the build left
	psql_in >/dev/null <<'SQL' || fail_with_log "warm-up UPDATE failed" "$work/server.log"
UPDATE tde.relation_key SET rewrapped_at = now();
VACUUM ANALYZE tde.relation_key;
SQL
}

# worker_ms ID: a SET KEY in $OTHER_DB; the worker re-wraps $DB's keys.
worker_ms() {
	psql_db "$OTHER_DB" >/dev/null <<SQL || fail_with_log "SET KEY in $OTHER_DB failed" "$work/server.log"
SELECT tde.administer_key_management(\$stmt\$ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $PW WITH BACKUP USING '$1'\$stmt\$);
SQL
	wait_workers "SET KEY in $OTHER_DB"
	psql_in <<SQL || fail_with_log "reading tde.rewrap_progress failed" "$work/server.log"
SELECT round(extract(epoch FROM finished - started) * 1000, 3) || ' ' || state || ' ' || keys_done
	|| ' ' || (SELECT count(*) FILTER (WHERE master_key_id = bench_active_key()) FROM tde.relation_keys)
FROM tde.rewrap_progress WHERE datname = current_database();
SQL
}

# mem_delta BEFORE AFTER: "VmHWM growth, RssAnon after" in MB, from two
# bench_mem lines.
mem_delta() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%.1f %.1f\n", (y[1] - x[1]) / 1024, y[2] / 1024 }'
}

BUILD_ROWS=()
# shellcheck disable=SC2034  # read through the nameref in slopes()
declare -A RK_MED PL_MED WK_MED
ROWS=()
MEM_ROWS=()
WORKER_ROWS=()
BUILT=0
for n in $SIZES; do
	msg "creating relation keys up to $n"
	build_to "$n"
	reps=$ITER
	[ "$n" -lt "$BIG_N" ] || reps=$BIG_ITER
	t_rekey=()
	t_plain=()
	t_worker=()
	m_rekey_hwm=()
	m_rekey_anon=()
	m_plain_hwm=()
	m_plain_anon=()
	for ((r = 1; r <= reps; r++)); do
		msg "N=$n: rekey and plain UPDATE, round $r of $reps"
		for what in rekey plain; do
			# alternate the order between rounds
			if [ $((r % 2)) -eq 0 ]; then
				[ "$what" = rekey ] && what=plain || what=rekey
			fi
			prep
			if [ "$what" = rekey ]; then
				out=$(rekey_ms "n${n}_$r")
				{ read -r m0; read -r ms; read -r m1; read -r on_new total canary; } <<<"$out"
				read -r hwm anon <<<"$(mem_delta "$m0" "$m1")"
				m_rekey_hwm+=("$hwm")
				m_rekey_anon+=("$anon")
				if [ "$total" != "$n" ] || [ "$on_new" != "$n" ]; then
					die "after the rekey at N=$n only $on_new of $total relation keys name the new key"
				fi
				[ "$canary" = "canary v1" ] ||
					die "after the rekey at N=$n the canary decrypts to \"$canary\""
				t_rekey+=("$ms")
				wait_workers "SET KEY at N=$n"
			else
				out=$(psql_in <<'SQL'
SELECT bench_mem();
SELECT bench_sql_ms('UPDATE tde.relation_key SET rewrapped_at = now()');
SELECT bench_mem();
SQL
				) || fail_with_log "plain UPDATE failed" "$work/server.log"
				{ read -r m0; read -r ms; read -r m1; } <<<"$out"
				read -r hwm anon <<<"$(mem_delta "$m0" "$m1")"
				m_plain_hwm+=("$hwm")
				m_plain_anon+=("$anon")
				t_plain+=("$ms")
			fi
		done
		msg "N=$n: background re-wrap by the worker, round $r of $reps"
		prep
		out=$(worker_ms "o${n}_$r")
		read -r ms state done_ on_new <<<"$out"
		if [ "$state" != "done" ] || [ "$done_" != "$n" ] || [ "$on_new" != "$n" ]; then
			die "worker re-wrap at N=$n: state $state, keys_done $done_, $on_new of $n on the new key"
		fi
		t_worker+=("$ms")
	done
	rk=$(median "${t_rekey[@]}")
	pl=$(median "${t_plain[@]}")
	wk=$(median "${t_worker[@]}")
	ROWS+=("$(awk -v n="$n" -v rk="$rk" -v pl="$pl" -v w="$WALLET_MED" -v mm="$(minmax "${t_rekey[@]}")" \
		-v pmm="$(minmax "${t_plain[@]}")" -v reps="$reps" \
		'BEGIN { printf "| %d | %.1f | %.1f | %.2f | %.2f | %.1f | %s | %s | %d | %d of %d, every time |\n",
			n, rk, pl, rk / pl, (rk - w) * 1000 / n, rk - w, mm, pmm, reps, n, n }')")
	MEM_ROWS+=("$(awk -v n="$n" -v rh="$(median "${m_rekey_hwm[@]}")" -v rhm="$(minmax "${m_rekey_hwm[@]}")" \
		-v ph="$(median "${m_plain_hwm[@]}")" -v phm="$(minmax "${m_plain_hwm[@]}")" \
		-v ra="$(median "${m_rekey_anon[@]}")" -v pa="$(median "${m_plain_anon[@]}")" -v reps="$reps" \
		'BEGIN { printf "| %d | %.1f (%s) | %.1f (%s) | %.1f | %.1f | %d |\n", n, rh, rhm, ph, phm, ra, pa, reps }')")
	WORKER_ROWS+=("$(awk -v n="$n" -v wk="$wk" -v mm="$(minmax "${t_worker[@]}")" -v reps="$reps" \
		'BEGIN { printf "| %d | %.1f | %.2f | %s | %d |\n", n, wk, wk * 1000 / n, mm, reps }')")
	figure "rekey_ratio_$n" "$(awk -v a="$rk" -v b="$pl" 'BEGIN { printf "%.2f", a / b }')"
	figure "rekey_ms_$n" "$rk"
	figure "rekey_update_ms_$n" "$pl"
	# shellcheck disable=SC2034  # read through the nameref in slopes()
	RK_MED[$n]=$rk
	# shellcheck disable=SC2034
	PL_MED[$n]=$pl
	# shellcheck disable=SC2034
	WK_MED[$n]=$wk
done

# shellcheck disable=SC2016  # v$ is part of the view's name
nkeys=$(psql_in <<<'SELECT count(*) FROM public."v$encryption_keys";')
wsize=$(stat -c %s "$work/wallet_root/tde/ewallet.p12")

echo "Rekey: SET KEY ... WITH BACKUP (tde.wallet_kdf_iterations = $KDF), server-side ms, medians"
echo
echo "| N | rekey ms | plain UPDATE ms | ratio | µs per key | re-wrap ms (rekey - wallet) | rekey min-max | UPDATE min-max | reps | rows on the new key |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
awk -v w="$WALLET_MED" -v mm="$(minmax "${T_WALLET[@]}")" -v reps="$ITER" \
	'BEGIN { printf "| 0 (wallet only) | %.1f | - | - | - | - | %s | - | %d | - |\n", w, mm, reps }'
printf '%s\n' "${ROWS[@]}"
echo
echo "µs per key = (rekey - wallet only) / N; ratio = rekey / plain UPDATE."
# slopes MEDIANS [FIGURE]: the marginal cost per key between consecutive
# sizes, in which the fixed costs (the wallet write, planning) cancel out,
# so a constant slope means linear; FIGURE names a figure that records the
# slopes alone, space-separated.
slopes() {
	local -n med=$1
	local prev_n=0 prev_t=0 n out='' values='' v
	for n in $SIZES; do
		if [ "$prev_n" -gt 0 ]; then
			v=$(awk -v a="$prev_t" -v b="${med[$n]}" -v na="$prev_n" -v nb="$n" \
				'BEGIN { printf "%.2f", (b - a) * 1000 / (nb - na) }')
			out+="$prev_n->$n: $v µs/key; "
			values+="$v "
		fi
		prev_n=$n
		prev_t=${med[$n]}
	done
	printf '%s\n' "${out%; }"
	[ -z "${2:-}" ] || [ -z "$values" ] || figure "$2" "${values% }"
}
echo "Linearity, marginal cost per key between sizes (rekey): $(slopes RK_MED rekey_slopes)"
echo "Linearity, marginal cost per key between sizes (plain UPDATE): $(slopes PL_MED rekey_update_slopes)"
echo
echo "Memory of the measuring backend (/proc/self/status, MB): growth of VmHWM during the statement, median (min-max), and RssAnon after it, median"
echo
echo "| N | VmHWM growth, rekey | VmHWM growth, plain UPDATE | RssAnon after the rekey | RssAnon after the UPDATE | reps |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${MEM_ROWS[@]}"
echo
echo "VmHWM counts the shared buffers a backend touches; the plain UPDATE touches the same pages, so the difference between the two columns is the rekey's own memory."
echo
echo "Background re-wrap of the same keys by the rewrap worker (SET KEY issued in another database; finished - started from tde.rewrap_progress, batches of 1000, each committed), medians:"
echo
echo "| N | worker ms | µs per key | min-max | reps |"
echo "|---:|---:|---:|---:|---:|"
printf '%s\n' "${WORKER_ROWS[@]}"
echo
echo "Linearity, marginal cost per key between sizes (worker): $(slopes WK_MED)"
echo
echo "Creating the keys (tde.rotate_relation_key, $KEYS_PER_TABLE versions per table, one psql session per step, CREATE TABLE included, wall clock):"
echo
echo "| keys added | total keys | tables | ms | µs per key |"
echo "|---:|---:|---:|---:|---:|"
printf '%s\n' "${BUILD_ROWS[@]}"
echo
for note in "${NOTES[@]}"; do echo "Note: $note"; done
[ "${#NOTES[@]}" -eq 0 ] || echo
echo "wallet at the end: $nkeys master keys, $wsize bytes"
bench_footer "$(utc_now)" "load average (1, 5, 15 min) at the start $LOAD_START, at the end $(loadavg)"
