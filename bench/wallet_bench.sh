#!/usr/bin/env bash
# bench/wallet_bench.sh: how long tde takes to open and to write the
# password wallet (ewallet.p12), with OpenSSL's own tools as the baseline.
#
# As root: creates a throwaway PostgreSQL 15 cluster owned by an
# unprivileged user (tdetest if it exists, else postgres) in a temporary
# directory, with shared_preload_libraries = 'tde', its own tde.wallet_root
# and a Unix socket inside that directory only (no TCP).  It then times,
# ITER times each (default 5):
#
#   open   SET KEYSTORE OPEN IDENTIFIED BY pw
#   close  SET KEYSTORE CLOSE IDENTIFIED BY pw   (re-reads the wallet to
#          check the password)
#   write  CREATE KEYSTORE IDENTIFIED BY pw       (fresh wallet root each time)
#   write  ALTER KEYSTORE PASSWORD IDENTIFIED BY old SET new WITH BACKUP
#          (read at the old password, byte copy to a backup file, write)
#
# at tde.wallet_kdf_iterations = 600000 (the default) and 1000 (what the
# tests use, to show the fixed cost), and in the same run the baselines:
#
#   openssl pkcs12 -info -nokeys -noout on the same wallet file (the same
#          MAC check and PBKDF2 decryption, done by OpenSSL's CLI)
#   openssl kdf ... PBKDF2 (one raw PBKDF2-HMAC-SHA256 derivation: the key
#          that encrypts the wallet's secrets)
#   openssl kdf ... PKCS12KDF (one raw PKCS#12 KDF derivation: the key of
#          the wallet's SHA-256 MAC)
#   openssl version (the cost of starting the openssl process at all)
#
# The tde operations are timed inside the server, with clock_timestamp()
# around the call in one PL/pgSQL function, so connecting and psql's own
# start-up are not counted.  The openssl rows are wall-clock times of the
# whole process (date +%s%N), start-up included.
#
# Prints a Markdown table on stdout (progress goes to stderr) and removes
# everything it created on exit.
#
# Environment: ITER (repetitions, default 5), PG_BINDIR (default
# /usr/lib/postgresql/15/bin), PORT (default 54329; the socket lives in the
# private temporary directory, so it cannot clash with another server).
set -euo pipefail

ITER=${ITER:-5}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-54329}
DEFAULT_KDF=600000          # tde.wallet_kdf_iterations' default
TEST_KDF=1000               # its minimum, used by the tests
PW1=Bench_Pw1
PW2=Bench_Pw2

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "the server runs"
require_posint ITER
require_pg_bindir
command -v openssl >/dev/null || die "openssl not found"
pick_run_user

make_workdir tde-bench
data=$work/data
wallet_dir=$work/wallet_root/tde
ewallet=$wallet_dir/ewallet.p12

msg "creating a throwaway cluster in $data as $RUN_USER"
cluster_init "$work"
cluster_configure "$work" "$PORT" "tde wallet benchmark" tde
cluster_start "$work"

psql_in() { pg_psql "$PORT" postgres; }

{
	echo "CREATE EXTENSION tde;"
	akm_timer_sql bench_ms
} | psql_in >/dev/null || fail_with_log "setting up the bench database failed" "$work/server.log"

# akm_ms ITERATIONS STATEMENT: run STATEMENT with tde.wallet_kdf_iterations
# set to ITERATIONS in its session; print its server-side time in ms.
akm_ms() {
	local out
	out=$(psql_in <<SQL
SET tde.wallet_kdf_iterations = $1;
SELECT bench_ms(\$stmt\$$2\$stmt\$);
SQL
	) || fail_with_log "statement failed: ${2%% IDENTIFIED*} ..." "$work/server.log"
	printf '%s\n' "$out"
}

# akm STATEMENT: run it, untimed.
akm() {
	psql_in >/dev/null <<SQL || fail_with_log "statement failed: ${1%% IDENTIFIED*} ..." "$work/server.log"
SELECT tde.administer_key_management(\$stmt\$$1\$stmt\$);
SQL
}

# wall_ms COMMAND...: wall-clock time of a command, in ms; its output is
# discarded, and it must succeed.
wall_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || die "baseline command failed: $*"
	t1=$(date +%s%N)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e6 }'
}

# The iteration counts openssl reads from a wallet file: "MAC PBE" where
# MAC is the MAC's and PBE the encrypted safe's.
file_iterations() {
	openssl pkcs12 -info -nokeys -noout -in "$1" -passin "pass:$2" 2>&1 |
		awk '/^MAC:/ { for (i = 1; i <= NF; i++) if ($i == "Iteration") mac = $(i + 1) }
			 /PBKDF2/ { for (i = 1; i <= NF; i++) if ($i == "Iteration") pbe = $(i + 1) }
			 END { gsub(/,/, "", mac); gsub(/,/, "", pbe); print mac " " pbe }'
}

# row LABEL ITERATIONS SAMPLES...: print one table row with the median,
# minimum and maximum of the samples.
row() {
	local label=$1 iters=$2
	shift 2
	printf '%s\n' "$@" | sort -g | awk -v label="$label" -v iters="$iters" '
		{ v[NR] = $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "| %s | %s | %.1f | %.1f | %.1f | %d |\n", label, iters, med, v[1], v[NR], NR
		}'
}

bench_tde() {
	local k=$1 r pw old new
	local -a t_create=() t_open=() t_close=() t_alter=()

	msg "tde.wallet_kdf_iterations = $k: CREATE KEYSTORE x$ITER"
	for ((r = 1; r <= ITER; r++)); do
		rm -rf "$wallet_dir"
		t_create+=("$(akm_ms "$k" "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $PW1")")
	done
	pw=$PW1

	msg "tde.wallet_kdf_iterations = $k: SET KEYSTORE OPEN / CLOSE x$ITER"
	for ((r = 1; r <= ITER; r++)); do
		t_open+=("$(akm_ms "$k" "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $pw")")
		t_close+=("$(akm_ms "$k" "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY $pw")")
	done

	msg "tde.wallet_kdf_iterations = $k: ALTER KEYSTORE PASSWORD ... WITH BACKUP x$ITER"
	akm "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $pw"
	for ((r = 1; r <= ITER; r++)); do
		old=$pw
		if [ "$pw" = "$PW1" ]; then new=$PW2; else new=$PW1; fi
		# A distinct backup identifier per repetition: backup file names
		# carry a timestamp in hundredths of a second only.
		t_alter+=("$(akm_ms "$k" "ADMINISTER KEY MANAGEMENT ALTER KEYSTORE PASSWORD IDENTIFIED BY $old SET $new WITH BACKUP USING 'bench_${k}_$r'")")
		pw=$new
	done
	akm "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY $pw"

	# The wallet file must really carry k iterations, or the rows lie.
	local got
	got=$(file_iterations "$ewallet" "$pw")
	[ "$got" = "$k $k" ] || die "wallet written at $k iterations reports MAC/PBE iterations \"$got\""

	ROWS+=("$(row "open: SET KEYSTORE OPEN IDENTIFIED BY" "$k" "${t_open[@]}")")
	ROWS+=("$(row "close: SET KEYSTORE CLOSE IDENTIFIED BY" "$k" "${t_close[@]}")")
	ROWS+=("$(row "write: CREATE KEYSTORE" "$k" "${t_create[@]}")")
	ROWS+=("$(row "read+write: ALTER KEYSTORE PASSWORD ... WITH BACKUP" "$k" "${t_alter[@]}")")

	# Baselines on the very same file.
	local -a t_p12=() t_kdf=() t_mackdf=()
	msg "baselines at $k iterations: openssl pkcs12 -info, openssl kdf x$ITER"
	for ((r = 1; r <= ITER; r++)); do
		t_p12+=("$(wall_ms openssl pkcs12 -info -nokeys -noout -in "$ewallet" -passin "pass:$pw")")
		t_kdf+=("$(wall_ms openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:x \
			-kdfopt salt:01234567 -kdfopt "iter:$k" PBKDF2)")
		# The MAC key of a PKCS#12 file comes from the PKCS#12 KDF (id 3).
		t_mackdf+=("$(wall_ms openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:x \
			-kdfopt salt:01234567 -kdfopt "iter:$k" -kdfopt id:3 PKCS12KDF)")
	done
	BASE_ROWS+=("$(row "baseline: openssl pkcs12 -info -nokeys -noout (same file)" "$k" "${t_p12[@]}")")
	BASE_ROWS+=("$(row "baseline: openssl kdf PBKDF2 (HMAC-SHA256), one derivation" "$k" "${t_kdf[@]}")")
	BASE_ROWS+=("$(row "baseline: openssl kdf PKCS12KDF (SHA-256, MAC key), one derivation" "$k" "${t_mackdf[@]}")")
}

ROWS=()
BASE_ROWS=()
bench_tde "$DEFAULT_KDF"
bench_tde "$TEST_KDF"

msg "baseline: openssl version (process start-up) x$ITER"
t_ver=()
for ((r = 1; r <= ITER; r++)); do
	t_ver+=("$(wall_ms openssl version)")
done
BASE_ROWS+=("$(row "baseline: openssl version (process start-up only)" "-" "${t_ver[@]}")")

echo "| operation | iterations | median ms | min | max | reps |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}" "${BASE_ROWS[@]}"
echo
bench_footer "$(openssl_version)" "$(utc_now)"
