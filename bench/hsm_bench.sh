#!/usr/bin/env bash
# bench/hsm_bench.sh: what the HSM costs compared with the password wallet,
# for a rekey of many relation keys and for the first use of a relation key
# in a new session.
#
# As root: creates two throwaway PostgreSQL 15 clusters side by side, owned
# by an unprivileged user (tdetest if it exists, else postgres), in one
# temporary directory, each with shared_preload_libraries = 'tde', its own
# tde.wallet_root, tde.wallet_kdf_iterations = 1000 and a Unix socket
# inside that directory only (no TCP):
#
#   wallet  tde.keystore_configuration = 'FILE': a password wallet
#   HSM     tde.keystore_configuration = 'HSM': a SoftHSM2 token made by
#           this script (a softhsm2 config with the file object store and
#           library.reset_on_fork = true, the token directory in the
#           temporary directory, softhsm2-util --init-token --free --label
#           tde run as the cluster's user, SOFTHSM2_CONF in the
#           postmaster's environment), tde.pkcs11_library = SoftHSM2's
#           module, tde.pkcs11_token_label = 'tde'
#
# Two clusters rather than one switched from FILE to HSM, so that the
# measurements of the two keystores can alternate: on a shared machine the
# load drifts, and measuring one keystore after the other skews the ratio.
# Every measurement below runs on both, in alternating order.
#
#   no-key rekey  ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY ... WITH
#              BACKUP before any relation key exists, REKEY_ITER times: the
#              fixed cost of a rekey (wallet: writing ewallet.p12 and its
#              backup; HSM: C_GenerateKey of a token object and writing
#              hsm_keys.sso).
#   make keys  N relation keys (default 10,000), made by calling
#              tde.rotate_relation_key() N times on one table, in chunks
#              of N/10 alternating between the clusters: every call adds a
#              version, i.e. one row of tde.relation_key (checked: the
#              script stops unless there are exactly N rows, N versions of
#              one key).  Each call unwraps the current version and wraps
#              a new one.
#   rekey      the same SET KEY ... WITH BACKUP USING 'id' (the HSM answers
#              WITH BACKUP with a notice) with the N relation keys: a new
#              master key, then every relation key unwrapped under the old
#              key and wrapped under the new one, in the statement's
#              transaction.  REKEY_ITER times (default 5), each after
#              VACUUM tde.relation_key and CHECKPOINT.  After each the
#              script checks that all N rows name the newly activated key
#              (tde.relation_keys against v$encryption_keys) and that a
#              value encrypted before still decrypts in a new session; it
#              stops if not.  "re-wrap only" is the rekey's median minus
#              the no-key rekey's median; divided by N, the cost per key.
#   first use  LAT_REPS new connections per cluster (default 200, in
#              blocks of 20 alternating), each running one PL/pgSQL
#              function that reads clock_timestamp() between these
#              statements, run in a row:
#                no-op     PERFORM octet_length(ciphertext) (the floor)
#                first     PERFORM tde.decrypt(rel_a, ciphertext_a): the
#                          relation key is not cached in this new backend,
#                          so tde reads tde.relation_key and unwraps it
#                          (with the HSM: loads the PKCS#11 module into
#                          this process, C_Initialize, C_GetSlotList,
#                          C_OpenSession, C_Login, C_FindObjects, then
#                          C_DecryptInit + C_Decrypt)
#                cached    the same decrypt again: the key is cached
#                cached 2  and a third time (the second call still pays
#                          for caches and memory disturbed by the first)
#                other     tde.decrypt of a second relation rel_b: again
#                          an unwrap, but with the HSM already logged in
#                fifth     after the same for rel_c and rel_d, the
#                          decrypt of a fifth relation rel_e: the unwrap
#                          alone, in a warm backend
#              The function is first called once in each connection with
#              NULL ciphertexts (tde.decrypt is STRICT: nothing is
#              decrypted) so that PL/pgSQL's parsing is not counted.  The
#              connection itself is never inside a timed interval.  The
#              rows give the median and the 95th percentile over the
#              connections, and "first - cached" per connection, the
#              first-use overhead.
#
# Timing is always inside the server (clock_timestamp() in PL/pgSQL), so
# connecting, psql and the commit are not counted.  "ratio vs wallet" is
# HSM / wallet of the total (rekey, make keys) or of the median (first use).
#
# Prints Markdown tables on stdout (progress goes to stderr) and removes
# everything it created on exit, on an error or on an interrupt.
#
# Environment: N (relation keys, default 10000, a multiple of 10),
# REKEY_ITER (default 5), LAT_REPS (default 200, a multiple of 20),
# PG_BINDIR (default /usr/lib/postgresql/15/bin), PORT (default 54331: the
# wallet cluster uses PORT, the HSM cluster PORT + 1; the sockets live in
# the private temporary directory, so they cannot clash with another
# server), SOFTHSM_LIB (default /usr/lib/softhsm/libsofthsm2.so).
set -euo pipefail

N=${N:-10000}
REKEY_ITER=${REKEY_ITER:-5}
LAT_REPS=${LAT_REPS:-200}
LAT_BLOCK=20
MAKE_CHUNKS=10
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54331}
SOFTHSM_LIB=${SOFTHSM_LIB:-/usr/lib/softhsm/libsofthsm2.so}
KDF=1000
PW=Bench_Pw1
SO_PIN=Bench_So_1234
PIN=Bench_Pin_5678
KINDS=(wallet HSM)

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the servers run"
require_posint N REKEY_ITER LAT_REPS PORT
[ $((N % MAKE_CHUNKS)) -eq 0 ] || die "N must be a multiple of $MAKE_CHUNKS"
[ $((LAT_REPS % LAT_BLOCK)) -eq 0 ] || die "LAT_REPS must be a multiple of $LAT_BLOCK"
require_pg_bindir
command -v softhsm2-util >/dev/null || die "softhsm2-util not found (Debian package softhsm2)"
[ -r "$SOFTHSM_LIB" ] || die "no SoftHSM2 PKCS#11 module at $SOFTHSM_LIB"
pick_run_user

make_workdir tde-hsm-bench
softhsm_conf=$work/softhsm2.conf
token_dir=$work/tokens
declare -A PORT_OF=([wallet]=$PORT [HSM]=$((PORT + 1)))
declare -A IDENT=([wallet]=$PW [HSM]="\"$PIN\"")

# as_user (lib.sh) runs commands as the servers' user; SoftHSM2 finds its
# (private) configuration through SOFTHSM2_CONF (only the HSM cluster
# loads it, but it does no harm to the other).
AS_USER_ENV=(SOFTHSM2_CONF="$softhsm_conf")

msg "creating a SoftHSM2 token in $token_dir as $RUN_USER"
install_dir "$token_dir"
softhsm2_conf "$token_dir" >"$softhsm_conf"
chown "$RUN_USER:" "$softhsm_conf"
as_user softhsm2-util --init-token --free --label tde --so-pin "$SO_PIN" --pin "$PIN" \
	>"$work/softhsm.log" 2>&1 || fail_with_log "softhsm2-util --init-token failed" "$work/softhsm.log"

# psql_in KIND: psql on that cluster reading SQL from stdin; prints
# unaligned tuples only.
psql_in() { pg_psql "${PORT_OF[$1]}" postgres; }

# sql KIND QUERY: run it (notices hidden), print its result.
sql() {
	local out
	out=$(psql_in "$1" <<<"SET client_min_messages = warning;
$2") || fail_with_log "$1: query failed: ${2%% IDENTIFIED*}" "$work/$1/server.log"
	printf '%s\n' "$out"
}

# akm KIND STATEMENT: run it, untimed.
akm() {
	sql "$1" "SELECT tde.administer_key_management(\$stmt\$$2\$stmt\$);" >/dev/null
}

# timed_akm KIND STATEMENT: run it, print its server-side time in ms.
timed_akm() {
	sql "$1" "SELECT bench_ms(\$stmt\$$2\$stmt\$);"
}

for kind in "${KINDS[@]}"; do
	msg "creating the throwaway cluster $work/$kind/data as $RUN_USER"
	cluster_init "$work/$kind"
	if [ "$kind" = HSM ]; then config=HSM; else config=FILE; fi
	cluster_configure "$work/$kind" "${PORT_OF[$kind]}" "tde HSM benchmark ($kind)" tde \
		"tde.wallet_kdf_iterations = $KDF" \
		"tde.keystore_configuration = '$config'" \
		"tde.pkcs11_library = '$SOFTHSM_LIB'" \
		"tde.pkcs11_token_label = 'tde'" \
		"# checkpoints only when the script asks (before each rekey)" \
		"checkpoint_timeout = 1h" \
		"max_wal_size = 8GB"
	cluster_start "$work/$kind" "$kind"

	{
		printf 'CREATE EXTENSION tde;\n\n'
		akm_timer_sql bench_ms
		cat <<'SQL'

-- n relation keys: n more versions of rel's key, one row of
-- tde.relation_key each; returns the server-side time in milliseconds.
CREATE FUNCTION bench_make_keys(rel regclass, n integer) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	FOR i IN 1 .. n LOOP
		PERFORM tde.rotate_relation_key(rel);
	END LOOP;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
END
$$;

-- The two relations whose first use is measured, and a ciphertext of each.
CREATE TABLE bench_ct (name text PRIMARY KEY, rel regclass, ct bytea);

-- Microseconds of: a no-op, the first decrypt of relation a in this
-- backend, the same decrypt again (twice), the first decrypt of relation
-- b, then of c, d and e (only e's is returned).  warm => true runs the
-- same statements with NULL ciphertexts (nothing is decrypted: the
-- functions are STRICT) so that parsing is done once.
CREATE FUNCTION bench_first_use(warm boolean,
	OUT noop_us numeric, OUT first_us numeric, OUT cached_us numeric,
	OUT cached2_us numeric, OUT other_us numeric, OUT fifth_us numeric)
LANGUAGE plpgsql AS $$
DECLARE
	ra regclass;
	ca bytea;
	rb regclass;
	cb bytea;
	rc regclass;
	cc bytea;
	rd regclass;
	cd bytea;
	re regclass;
	ce bytea;
	t0 timestamptz;
	t1 timestamptz;
	t2 timestamptz;
	t3 timestamptz;
	t4 timestamptz;
	t5 timestamptz;
	t6 timestamptz;
	t7 timestamptz;
BEGIN
	SELECT rel, ct INTO ra, ca FROM bench_ct WHERE name = 'a';
	SELECT rel, ct INTO rb, cb FROM bench_ct WHERE name = 'b';
	SELECT rel, ct INTO rc, cc FROM bench_ct WHERE name = 'c';
	SELECT rel, ct INTO rd, cd FROM bench_ct WHERE name = 'd';
	SELECT rel, ct INTO re, ce FROM bench_ct WHERE name = 'e';
	IF warm THEN
		ca := NULL;
		cb := NULL;
		cc := NULL;
		cd := NULL;
		ce := NULL;
	END IF;
	t0 := clock_timestamp();
	PERFORM octet_length(ca);
	t1 := clock_timestamp();
	PERFORM tde.decrypt(ra, ca);
	t2 := clock_timestamp();
	PERFORM tde.decrypt(ra, ca);
	t3 := clock_timestamp();
	PERFORM tde.decrypt(ra, ca);
	t4 := clock_timestamp();
	PERFORM tde.decrypt(rb, cb);
	t5 := clock_timestamp();
	PERFORM tde.decrypt(rc, cc);
	PERFORM tde.decrypt(rd, cd);
	t6 := clock_timestamp();
	PERFORM tde.decrypt(re, ce);
	t7 := clock_timestamp();
	noop_us := round(extract(epoch FROM t1 - t0) * 1e6);
	first_us := round(extract(epoch FROM t2 - t1) * 1e6);
	cached_us := round(extract(epoch FROM t3 - t2) * 1e6);
	cached2_us := round(extract(epoch FROM t4 - t3) * 1e6);
	other_us := round(extract(epoch FROM t5 - t4) * 1e6);
	fifth_us := round(extract(epoch FROM t7 - t6) * 1e6);
END
$$;
SQL
	} | psql_in "$kind" >/dev/null || fail_with_log "setting up the bench database failed" "$work/$kind/server.log"
done

[ "$(sql HSM 'SHOW tde.keystore_configuration;')" = HSM ] || die "the HSM cluster is not configured for the HSM"
[ "$(sql wallet 'SHOW tde.keystore_configuration;')" = FILE ] || die "the wallet cluster is not configured for FILE"

# Wait until KIND's background re-wrap workers are idle (after a rekey
# they re-wrap the other databases; here they find nothing to do).
wait_workers() {
	local i busy
	for ((i = 0; i < 200; i++)); do
		busy=$(sql "$1" "SELECT count(*) FROM tde.rewrap_progress WHERE state IN ('pending', 'running');")
		[ "$busy" = 0 ] && return 0
		sleep 0.05
	done
	die "$1: background re-wrap workers still busy after 10 s"
}

# The KEY_ID of the master key activated last.
active_key() {
	sql "$1" "SELECT key_id FROM public.\"v\$encryption_keys\"
	          WHERE activation_time IS NOT NULL ORDER BY activation_time DESC LIMIT 1;"
}

# Both kinds, the order alternating with the round number $1.
order() {
	if (($1 % 2)); then echo HSM wallet; else echo wallet HSM; fi
}

# stats FILE COLUMN: "total_ms median p95" of a column of microseconds
stats() {
	awk -F'|' -v c="$2" '{ print $c }' "$1" | sort -g | awk '
		{ v[NR] = $1; s += $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			i = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
			printf "%.1f %.0f %.0f\n", s / 1000, med, v[i]
		}'
}

declare -A FIXED_T REKEY_T MAKE_MS FIXED_MS REKEY_MS LAT

# --- keystores and the first master key ---------------------------------
msg "wallet: CREATE KEYSTORE, SET KEYSTORE OPEN; HSM: SET KEYSTORE OPEN"
akm wallet "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW"
akm wallet "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $PW"
akm HSM "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"$PIN\""
for kind in "${KINDS[@]}"; do
	akm "$kind" "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY ${IDENT[$kind]} WITH BACKUP USING 'first'"
	wait_workers "$kind"
done

# --- rekey with no relation key: the fixed cost --------------------------
for ((r = 1; r <= REKEY_ITER; r++)); do
	msg "rekey with no relation key ($r/$REKEY_ITER)"
	for kind in $(order "$r"); do
		sql "$kind" "CHECKPOINT;" >/dev/null
		FIXED_T[$kind]+=" $(timed_akm "$kind" "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY ${IDENT[$kind]} WITH BACKUP USING 'fixed_$r'")"
		wait_workers "$kind"
	done
done

# --- N relation keys -------------------------------------------------------
msg "making $N relation keys with tde.rotate_relation_key() on one table, $MAKE_CHUNKS chunks alternating"
for kind in "${KINDS[@]}"; do
	sql "$kind" "CREATE TABLE bench_keys (v bytea);" >/dev/null
	MAKE_MS[$kind]=0
done
for ((r = 1; r <= MAKE_CHUNKS; r++)); do
	for kind in $(order "$r"); do
		t=$(sql "$kind" "SELECT bench_make_keys('bench_keys', $((N / MAKE_CHUNKS)));")
		MAKE_MS[$kind]=$(awk -v a="${MAKE_MS[$kind]}" -v b="$t" 'BEGIN { printf "%.3f", a + b }')
	done
done
for kind in "${KINDS[@]}"; do
	rows=$(sql "$kind" "SELECT count(*) FROM tde.relation_key;")
	[ "$rows" = "$N" ] || die "$kind: $N calls of tde.rotate_relation_key() made $rows rows of tde.relation_key"
	rows=$(sql "$kind" "SELECT count(DISTINCT key_version) FROM tde.relation_key WHERE relid = 'bench_keys'::regclass;")
	[ "$rows" = "$N" ] || die "$kind: expected $N versions of one key, found $rows"
	# a canary under the newest version, to decrypt after every rekey
	sql "$kind" "INSERT INTO bench_keys VALUES (tde.encrypt('bench_keys', 'canary $kind'));" >/dev/null
done

# --- rekey with N relation keys --------------------------------------------
for ((r = 1; r <= REKEY_ITER; r++)); do
	msg "rekey of $N relation keys ($r/$REKEY_ITER)"
	for kind in $(order "$r"); do
		before=$(active_key "$kind")
		sql "$kind" "VACUUM tde.relation_key; CHECKPOINT;" >/dev/null
		REKEY_T[$kind]+=" $(timed_akm "$kind" "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY ${IDENT[$kind]} WITH BACKUP USING 'rekey_$r'")"
		after=$(active_key "$kind")
		if [ -z "$after" ] || [ "$after" = "$before" ]; then
			die "$kind: the rekey did not activate a new key"
		fi
		check=$(sql "$kind" "SELECT count(*) FILTER (WHERE master_key_id = '$after'), count(*) FROM tde.relation_keys;")
		[ "$check" = "$N|$N" ] || die "$kind: after the rekey, (rows under the new key | rows) = $check, expected $N|$N"
		check=$(sql "$kind" "SELECT tde.decrypt_text('bench_keys', v) FROM bench_keys;")
		[ "$check" = "canary $kind" ] || die "$kind: the canary does not decrypt after the rekey: \"$check\""
		wait_workers "$kind"
	done
done
for kind in "${KINDS[@]}"; do
	# shellcheck disable=SC2086  # word splitting wanted
	FIXED_MS[$kind]=$(median ${FIXED_T[$kind]})
	# shellcheck disable=SC2086
	REKEY_MS[$kind]=$(median ${REKEY_T[$kind]})
	msg "$kind: rekey ms, no relation key:${FIXED_T[$kind]}; $N relation keys:${REKEY_T[$kind]}"
	sql "$kind" "DROP TABLE bench_keys;" >/dev/null
	rows=$(sql "$kind" "SELECT count(*) FROM tde.relation_key;")
	[ "$rows" = 0 ] || die "$kind: dropping the table left $rows relation keys"
done

# --- first use of a relation key in a new connection -----------------------
block=$work/first_use.sql
: >"$block"
for ((r = 1; r <= LAT_BLOCK; r++)); do
	printf '%s\n' '\c' \
		'SELECT * FROM bench_first_use(true) \g /dev/null' \
		'SELECT * FROM bench_first_use(false);' >>"$block"
done
chown "$RUN_USER:" "$block"
for kind in "${KINDS[@]}"; do
	for t in a b c d e; do
		sql "$kind" "CREATE TABLE bench_$t (v bytea);
		     INSERT INTO bench_ct VALUES ('$t', 'bench_$t', tde.encrypt('bench_$t', 'value $t'::bytea));" >/dev/null
	done
	: >"$work/first_use_$kind.txt"
done
msg "first use of a relation key: $LAT_REPS new connections each, blocks of $LAT_BLOCK alternating"
for ((r = 1; r <= LAT_REPS / LAT_BLOCK; r++)); do
	for kind in $(order "$r"); do
		pg_psql "${PORT_OF[$kind]}" postgres -f "$block" >>"$work/first_use_$kind.txt" 2>"$work/psql.err" ||
			{ cat "$work/psql.err" >&2; fail_with_log "$kind: first-use measurement failed" "$work/$kind/server.log"; }
	done
done
for kind in "${KINDS[@]}"; do
	out=$work/first_use_$kind.txt
	rows=$(wc -l <"$out")
	[ "$rows" = "$LAT_REPS" ] || die "$kind: expected $LAT_REPS first-use samples, got $rows"
	# per-connection first - cached as a seventh column
	awk -F'|' '{ print $0 "|" $2 - $3 }' "$out" >"$out.x" && mv "$out.x" "$out"
	LAT[$kind,noop]=$(stats "$out" 1)
	LAT[$kind,first]=$(stats "$out" 2)
	LAT[$kind,cached]=$(stats "$out" 3)
	LAT[$kind,cached2]=$(stats "$out" 4)
	LAT[$kind,other]=$(stats "$out" 5)
	LAT[$kind,fifth]=$(stats "$out" 6)
	LAT[$kind,delta]=$(stats "$out" 7)
done

# --- sanity: the HSM cluster really used the HSM --------------------------
wallet_type=$(sql HSM "SELECT wrl_type || '/' || wallet_type || '/' || status FROM public.\"v\$encryption_wallet\";")
[ "$wallet_type" = "HSM/HSM/OPEN" ] || die "HSM: v\$encryption_wallet says \"$wallet_type\", expected HSM/HSM/OPEN"
keys=$(sql HSM "SELECT count(*) FILTER (WHERE keystore_type = 'HSM'), count(*) FROM public.\"v\$encryption_keys\";")
want=$((2 * REKEY_ITER + 1))
[ "$keys" = "$want|$want" ] || die "HSM: expected $want keys, all HSM, in v\$encryption_keys; (HSM | all) = $keys"
keys=$(sql wallet "SELECT count(*) FILTER (WHERE keystore_type = 'SOFTWARE KEYSTORE'), count(*) FROM public.\"v\$encryption_keys\";")
[ "$keys" = "$want|$want" ] || die "wallet: expected $want software keys in v\$encryption_keys; (software | all) = $keys"

# --- results ----------------------------------------------------------------
ratio() { awk -v h="$1" -v w="$2" 'BEGIN { if (w > 0) printf "%.1f", h / w; else print "-" }'; }
per_key() { awk -v t="$1" -v n="$N" 'BEGIN { printf "%.1f", t * 1000 / n }'; }
declare -A NET_MS
for kind in "${KINDS[@]}"; do
	NET_MS[$kind]=$(awk -v a="${REKEY_MS[$kind]}" -v b="${FIXED_MS[$kind]}" 'BEGIN { printf "%.3f", a - b }')
done

echo "| operation | keystore | N | total ms | µs per item | ratio vs wallet |"
echo "|---|---|---:|---:|---:|---:|"
for kind in "${KINDS[@]}"; do
	printf '| make keys: tde.rotate_relation_key() x N (one table) | %s | %d | %.1f | %s | %s |\n' \
		"$kind" "$N" "${MAKE_MS[$kind]}" "$(per_key "${MAKE_MS[$kind]}")" \
		"$(ratio "${MAKE_MS[$kind]}" "${MAKE_MS[wallet]}")"
done
for kind in "${KINDS[@]}"; do
	printf '| rekey: SET KEY ... WITH BACKUP, no relation key (median of %d) | %s | 0 | %.1f | - | %s |\n' \
		"$REKEY_ITER" "$kind" "${FIXED_MS[$kind]}" "$(ratio "${FIXED_MS[$kind]}" "${FIXED_MS[wallet]}")"
done
for kind in "${KINDS[@]}"; do
	printf '| rekey: SET KEY ... WITH BACKUP (median of %d) | %s | %d | %.1f | %s | %s |\n' \
		"$REKEY_ITER" "$kind" "$N" "${REKEY_MS[$kind]}" "$(per_key "${REKEY_MS[$kind]}")" \
		"$(ratio "${REKEY_MS[$kind]}" "${REKEY_MS[wallet]}")"
done
for kind in "${KINDS[@]}"; do
	printf '| rekey: re-wrap only (rekey - no-key rekey, medians) | %s | %d | %.1f | %s | %s |\n' \
		"$kind" "$N" "${NET_MS[$kind]}" "$(per_key "${NET_MS[$kind]}")" \
		"$(ratio "${NET_MS[$kind]}" "${NET_MS[wallet]}")"
done
echo
echo "| operation (one call, in a new connection) | keystore | N | total ms | median µs | p95 µs | ratio vs wallet (median) |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -A LABEL=(
	[noop]="baseline: no-op (PERFORM octet_length)"
	[first]="first tde.decrypt of a relation (unwrap)"
	[cached]="second tde.decrypt, same relation (cached key)"
	[cached2]="third tde.decrypt, same relation (cached key)"
	[other]="first tde.decrypt of a 2nd relation (unwrap, backend logged in)"
	[fifth]="first tde.decrypt of a 5th relation (unwrap, warm)"
	[delta]="first-use overhead: first - second, per connection"
)
for what in noop first cached cached2 other fifth delta; do
	read -r _ wmed _ <<<"${LAT[wallet,$what]}"
	for kind in "${KINDS[@]}"; do
		read -r tot med p95 <<<"${LAT[$kind,$what]}"
		printf '| %s | %s | %d | %s | %s | %s | %s |\n' "${LABEL[$what]}" "$kind" "$LAT_REPS" \
			"$tot" "$med" "$p95" "$(ratio "$med" "$wmed")"
	done
done
echo
shv=$(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo unknown)
bench_footer "SoftHSM2 $shv (file object store)" "$(openssl_version)" "wallet kdf iterations $KDF" \
	"load average at the end $(loadavg)" "$(utc_now)"
