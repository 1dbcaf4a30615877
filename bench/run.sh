#!/usr/bin/env bash
# bench/run.sh: every benchmark of bench/, one report.
#
# Usage, as root, with the extension built and installed (make install):
#
#   bash bench/run.sh                   # every section, full sizes
#   QUICK=1 bash bench/run.sh           # a smoke run: small sizes, fewer
#                                       # repetitions, every table
#   bash bench/run.sh crypto rekey      # some sections only
#
# Sections, in the report's order:
#
#   wallet    a. opening and writing the wallet          wallet_bench.sh
#   crypto    b. tde.encrypt/decrypt against pgcrypto,   crypto_bench.sh
#             c. against the raw OpenSSL loop            (PARTS=throughput)
#                (openssl_loop.c, built here)
#   rekey     d. SET KEY over N relation keys            rekey_bench.sh
#   firstuse  e. first use of a relation key             crypto_bench.sh
#                                                        (PARTS=firstuse)
#   hsm       f. the HSM against the wallet              hsm_bench.sh
#   manydb    g. the background re-wrap of many databases  many_db_bench.sh
#
# Each script runs with the sizes and repetitions chosen here (full or
# QUICK), prints its Markdown tables, each figure beside its baseline
# measured in the same run, and records the figures the goals table needs
# (lib.sh: figure) in a file of this run.  The report goes to stdout:
# the commit (+dirty when the work tree has changes), the machine, each
# section with its duration and the load average around it, then the goals
# of issue 10 with what this run measured.  Progress goes to stderr.  A
# section that fails is reported as failed, the others still run, and the
# exit status is 1.
#
# Environment: QUICK (1 for the smoke run), PG_BINDIR (default
# /usr/lib/postgresql/15/bin), CC (default cc).
set -euo pipefail

# QUICK is 1 or empty from here on (QUICK=0 means a full run)
if [ "${QUICK:-}" = 1 ]; then QUICK=1; else QUICK=; fi
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
CC=${CC:-cc}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
ALL_SECTIONS=(wallet crypto rekey firstuse hsm manydb)

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$BENCH_DIR/lib.sh"

declare -A TITLE=(
	[wallet]="a. Wallet: opening and writing ewallet.p12 (wallet_bench.sh)"
	[crypto]="b, c. tde.encrypt and tde.decrypt against pgcrypto and against raw OpenSSL (crypto_bench.sh, openssl_loop.c)"
	[rekey]="d. Rekey: SET KEY over N relation keys (rekey_bench.sh)"
	[firstuse]="e. First use of a relation key in a fresh session (crypto_bench.sh)"
	[hsm]="f. The HSM (SoftHSM2) against the wallet (hsm_bench.sh)"
	[manydb]="g. Many databases: the background re-wrap (many_db_bench.sh)"
)
declare -A SCRIPT=(
	[wallet]=wallet_bench.sh [crypto]=crypto_bench.sh [rekey]=rekey_bench.sh
	[firstuse]=crypto_bench.sh [hsm]=hsm_bench.sh [manydb]=many_db_bench.sh
)

# pick FULL QUICK: the value for this kind of run.
pick() {
	if [ -n "$QUICK" ]; then printf '%s' "$2"; else printf '%s' "$1"; fi
}

# section_env SECTION: set SECTION_ENV to the NAME=value words the
# section's script runs with.
section_env() {
	case $1 in
	wallet) SECTION_ENV=("ITER=$(pick 5 3)") ;;
	crypto)
		SECTION_ENV=(PARTS=throughput "ITER=$(pick 5 3)" "N=$(pick 1000000 100000)"
			"BYTES=$(pick 200000000 10000000)" "OPENSSL_LOOP=$work/openssl_loop")
		;;
	rekey) SECTION_ENV=("ITER=$(pick 5 3)" BIG_ITER=3 "SIZES=$(pick "1000 50000 1000000" "1000 50000")") ;;
	firstuse) SECTION_ENV=(PARTS=firstuse "SESSIONS=$(pick 200 50)") ;;
	hsm) SECTION_ENV=("N=$(pick 10000 1000)" "REKEY_ITER=$(pick 5 3)" "LAT_REPS=$(pick 200 40)") ;;
	manydb) SECTION_ENV=("DBS=$(pick 1000 50)" KEYS=100 "ITER=$(pick 3 2)" "WORKERS=1 2 4") ;;
	esac
}

# env_words: SECTION_ENV as a reader would type it (values with spaces
# quoted, the built binary's temporary path left out).
env_words() {
	local w out=()
	for w in "${SECTION_ENV[@]}"; do
		case $w in
		OPENSSL_LOOP=*) out+=("OPENSSL_LOOP=(built)") ;;
		*" "*) out+=("${w%%=*}=\"${w#*=}\"") ;;
		*) out+=("$w") ;;
		esac
	done
	printf '%s\n' "${out[*]}"
}

usage() {
	echo "usage: [QUICK=1] bash bench/run.sh [SECTION...]; sections: ${ALL_SECTIONS[*]}" >&2
	exit 2
}

SECTIONS=()
for a in "$@"; do
	case $a in
	-h | --help) usage ;;
	*) [ -n "${SCRIPT[$a]+x}" ] || { echo "run.sh: unknown section \"$a\"" >&2; usage; } ;;
	esac
done
# the report's order, whatever the order of the arguments
for s in "${ALL_SECTIONS[@]}"; do
	if [ $# -eq 0 ] || [[ " $* " == *" $s "* ]]; then SECTIONS+=("$s"); fi
done

require_root "the servers run"
require_pg_bindir
pick_run_user
make_workdir tde-bench-run
FIGURES=$work/figures
: >"$FIGURES"

if [[ " ${SECTIONS[*]} " == *" crypto "* ]]; then
	msg "building openssl_loop"
	"$CC" -O2 -Wall -Wextra -Werror -o "$work/openssl_loop" "$BENCH_DIR/openssl_loop.c" -lcrypto ||
		die "could not build bench/openssl_loop.c (a C compiler and the OpenSSL headers are needed)"
fi

commit() {
	local c
	c=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
	[ -z "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null)" ] || c+="+dirty"
	echo "$c"
}

RUN_T0=$(date +%s)
shv=$(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null || echo "not installed")
echo "# tde benchmark report"
echo
echo "- commit: $(commit)"
echo "- $(machine_line "$(openssl_version)" "SoftHSM2 $shv")"
if [ -n "$QUICK" ]; then
	echo "- run: QUICK=1, a smoke run (small sizes, fewer repetitions): its figures do not measure the goals"
else
	echo "- run: full"
fi
echo "- sections: ${SECTIONS[*]}; started $(utc_now)"
echo

FAILED=()
for s in "${SECTIONS[@]}"; do
	section_env "$s"
	msg "section $s: ${SCRIPT[$s]} ${SECTION_ENV[*]}"
	load0=$(loadavg)
	t0=$(date +%s)
	# the script's tables to $work/$s.md, its progress to the terminal and
	# to $work/$s.log
	set +e
	env BENCH_FIGURES="$FIGURES" PG_BINDIR="$PG_BINDIR" "${SECTION_ENV[@]}" \
		bash "$BENCH_DIR/${SCRIPT[$s]}" 2>&1 >"$work/$s.md" | tee "$work/$s.log" >&2
	rc=${PIPESTATUS[0]}
	set -e
	t1=$(date +%s)
	echo "## ${TITLE[$s]}"
	echo
	cat "$work/$s.md"
	[ ! -s "$work/$s.md" ] || [ -z "$(tail -n 1 "$work/$s.md")" ] || echo
	if [ "$rc" -ne 0 ]; then
		FAILED+=("$s")
		echo "**This section failed (exit status $rc).** The end of its progress output:"
		echo
		echo '```'
		tail -n 15 "$work/$s.log"
		echo '```'
		echo
	fi
	echo "_${SCRIPT[$s]} with $(env_words): $((t1 - t0)) s; load average (1, 5, 15 min) $load0 at the start, $(loadavg) at the end._"
	echo
done

# ------------------------------------------------------------------
# The goals of issue 10
# ------------------------------------------------------------------

# fig NAME: the figure recorded under NAME, or nothing.
fig() { awk -v n="$1" '$1 == n { sub(/^[^ ]+ /, ""); v = $0 } END { print v }' "$FIGURES"; }

# met CONDITION (awk, on x): yes or no.
met() { awk -v x="$2" "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }

# num FORMAT VALUE: VALUE printed with the printf FORMAT (by awk, as the
# scripts print theirs).
num() { awk -v v="$2" -v f="$1" 'BEGIN { printf f, v }'; }

# goal TEXT MEASURED MET: one row; "-" when not measured in this run.
goal() { echo "| $1 | ${2:--} | ${3:--} |"; }

echo "## Goals (issue 10)"
echo
echo "| goal | measured | met |"
echo "|---|---|---|"

t=$(fig headline_tde_ms)
p=$(fig headline_pgcrypto_ms)
x=
[ -z "$t" ] || x=$(awk -v t="$t" -v p="$p" 'BEGIN { printf "%.2f", p / t }')
goal "whole query \`SELECT sum(length(tde.decrypt('t', c))) FROM t\` at least 2× as fast as \`decrypt_iv\`, 1,000,000 values of 100 B, parallel query at its default" \
	"${x:+${x}× ($(fig headline_rows) rows: tde $(num %.0f "$t") ms, pgcrypto $(num %.0f "$p") ms; parallel workers launched, tde / pgcrypto: $(fig headline_workers))}" \
	"${x:+$(met 'x >= 2' "$x")}"
for op in decrypt encrypt; do
	x=$(fig "raw_${op}_ratio_100")
	goal "tde.$op net per value at most 1.3× the raw OpenSSL loop at 100 B" "${x:+${x}×}" "${x:+$(met 'x <= 1.3' "$x")}"
done

sizes=$(awk '$1 ~ /^rekey_ratio_/ { sub(/^rekey_ratio_/, "", $1); print $1 }' "$FIGURES" | sort -n | tr '\n' ' ')
sizes=${sizes% }
x=
if [ -n "$sizes" ]; then
	big=${sizes##* }
	x=$(fig "rekey_ratio_$big")
fi
goal "rekey (SET KEY) at most 1.5× a plain UPDATE of the same relation key rows, at the largest N" \
	"${x:+${x}× at N = $big ($(num %.1f "$(fig "rekey_ms_$big")") ms against $(num %.1f "$(fig "rekey_update_ms_$big")") ms)}" \
	"${x:+$(met 'x <= 1.5' "$x")}"
sl=$(fig rekey_slopes)
y=
note="; one size step only: linearity needs three sizes"
read -ra slv <<<"$sl"
if [ "${#slv[@]}" -ge 2 ]; then
	y=$(awk -v a="${slv[0]}" -v b="${slv[${#slv[@]} - 1]}" 'BEGIN { printf "%.2f", b / a }')
	note=" (last / first = $y)"
fi
goal "rekey linear in N: the marginal µs per key of the last size step within 1.25× that of the first" \
	"${sl:+marginal µs per key between the sizes ${sizes// / → }: ${sl// /, }$note}" \
	"${y:+$(met 'x <= 1.25' "$y")}"

x=$(fig firstuse_us)
goal "first tde.decrypt in a fresh session, after a plain read of the row: median at most 0.3 ms" \
	"${x:+$(awk -v u="$x" 'BEGIN { printf "%.3f ms", u / 1000 }') (decrypt_iv the same way: $(awk -v u="$(fig firstuse_iv_us)" 'BEGIN { printf "%.3f ms", u / 1000 }'))}" \
	"${x:+$(met 'x <= 300' "$x")}"

x=$(fig manydb_s_2)
goal "1,000 databases × 100 relation keys re-wrapped in the background within 10 s (tde.rewrap_workers = 2, the default)" \
	"${x:+$(num %.2f "$x") s for $(fig manydb_dbs) databases × $(fig manydb_keys) keys}" \
	"${x:+$(met 'x <= 10' "$x")}"
echo
if [ -n "$QUICK" ]; then
	echo "QUICK=1 measures smaller sizes than the goals name: the met column only shows that every figure is computed."
	echo
fi
echo "Total: $(($(date +%s) - RUN_T0)) s."

if [ "${#FAILED[@]}" -gt 0 ]; then
	msg "failed sections: ${FAILED[*]}"
	exit 1
fi
