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

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH="/usr/sbin:/sbin:$PATH" ;;
esac

msg() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (initdb refuses root, so the server runs as an unprivileged user this script switches to)"
[[ "$ITER" =~ ^[1-9][0-9]*$ ]] || die "ITER must be a positive integer, not \"$ITER\""
[ -x "$PG_BINDIR/initdb" ] || die "no PostgreSQL binaries in $PG_BINDIR"
command -v openssl >/dev/null || die "openssl not found"

if id tdetest >/dev/null 2>&1; then
	RUN_USER=tdetest
elif id postgres >/dev/null 2>&1; then
	RUN_USER=postgres
else
	die "neither the user tdetest nor postgres exists"
fi
RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)

# Run a command as the server's user with a clean environment.
as_user() {
	runuser -u "$RUN_USER" -- env -i HOME="$RUN_HOME" USER="$RUN_USER" \
		LOGNAME="$RUN_USER" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
		PATH="$PG_BINDIR:/usr/bin:/bin" "$@"
}

work=$(mktemp -d /tmp/tde-bench.XXXXXX)
data=$work/data
wallet_root=$work/wallet_root
wallet_dir=$wallet_root/tde
ewallet=$wallet_dir/ewallet.p12

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local rc=$?
	if [ -f "$data/postmaster.pid" ]; then
		(cd "$work" && as_user pg_ctl -D "$data" -m fast -w stop) >/dev/null 2>&1 ||
			(cd "$work" && as_user pg_ctl -D "$data" -m immediate -w stop) >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail_with_log() {
	msg "$1; last lines of ${2##*/}:"
	tail -n 40 "$2" >&2
	exit 1
}

chown "$RUN_USER:" "$work"
chmod 700 "$work"
install -d -m 700 -o "$RUN_USER" -g "$(id -gn "$RUN_USER")" "$wallet_root"
cd "$work"

msg "creating a throwaway cluster in $data as $RUN_USER"
as_user initdb -D "$data" --auth-local=trust --auth-host=reject \
	>"$work/initdb.log" 2>&1 || fail_with_log "initdb failed" "$work/initdb.log"
cat >>"$data/postgresql.conf" <<EOF

# --- tde wallet benchmark ---
shared_preload_libraries = 'tde'
tde.wallet_root = '$wallet_root'
listen_addresses = ''
unix_socket_directories = '$work'
port = $PORT
EOF
as_user pg_ctl -D "$data" -w -l "$work/server.log" start >/dev/null 2>&1 ||
	fail_with_log "the server did not start" "$work/server.log"

# psql reading SQL from stdin; prints unaligned tuples only.
psql_in() {
	as_user psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$work" -p "$PORT" -d postgres
}

psql_in >/dev/null <<'SQL' || fail_with_log "setting up the bench database failed" "$work/server.log"
CREATE EXTENSION tde;
-- Server-side time of one key management statement, in milliseconds.
CREATE FUNCTION bench_ms(stmt text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	PERFORM tde.administer_key_management(stmt);
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
END
$$;
SQL

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

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
pgver=$(as_user "$PG_BINDIR/postgres" --version | awk '{ print $3 }')

echo "| operation | iterations | median ms | min | max | reps |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}" "${BASE_ROWS[@]}"
echo
echo "machine: $(nproc) CPUs (nproc), ${cpu:-unknown CPU}; PostgreSQL $pgver; $(openssl version | awk '{ print $1, $2 }'); $(date -u +%Y-%m-%dT%H:%MZ)"
