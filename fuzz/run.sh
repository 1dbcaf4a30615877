#!/usr/bin/env bash
# fuzz/run.sh SECONDS HARNESS...: run each harness, one after the other.
#
# For each harness: first every file of fuzz/regressions/<harness>/ (each
# once; each must pass), then libFuzzer for SECONDS seconds on the working
# corpus fuzz/work/corpus/<harness>/ (not committed; new inputs are added
# to it, so the next run continues from it) and the seed corpus
# fuzz/corpus/<harness>/.  SECONDS=0 runs the corpora once, no fuzzing.
#
# Prints one line per harness, "name: N execs, M crashes", and exits
# non-zero if any crashed.  Crash inputs go to fuzz/work/crashes/<harness>/,
# libFuzzer's output to fuzz/work/logs/<harness>.log, and one line per run
# (with libFuzzer's cov: and ft: figures) to fuzz/work/results.tsv.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

secs=$1
shift

# Scratch files of the harnesses (each input is written as a file): in
# memory where there is /dev/shm.
scratch_base=/dev/shm
[ -d "$scratch_base" ] && [ -w "$scratch_base" ] || scratch_base=${TMPDIR:-/tmp}
TMPDIR=$(mktemp -d "$scratch_base/tde-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

# A UBSan report is a crash; the symbolizer names the lines.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
sym=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
[ -n "$sym" ] && export ASAN_SYMBOLIZER_PATH=$sym

mkdir -p work/logs
[ -f work/results.tsv ] ||
	printf 'date\tharness\tseconds\texecs\tcov\tft\tcorpus\tcrashes\tcpu_seconds\n' >work/results.tsv

# Run one regression input; prints 1 if it crashed.
regression() {
	local bin=$1 input=$2 log=$3
	if "$bin" -runs=1 "$input" >>"$log" 2>&1; then
		echo 0
	else
		echo "regression input $input crashed; see $log" >&2
		echo 1
	fi
}

# CPU seconds (user + system) of this shell's finished children so far, from
# the shell's own "times" (run in this shell, not in a command substitution's
# subshell, which has no children of its own): a run niced behind other work
# gets less than its wall-clock seconds, and the figures count what it got.
children_cpu() {
	times >"$TMPDIR/times"
	tail -n 1 "$TMPDIR/times" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2]
		}
		printf "%.0f", t
	}'
}

# A field of libFuzzer's last status line ("cov: 123 ft: 456 corp: 7/8b").
status_field() {
	grep -E "^#[0-9]+.* $2: " "$1" | tail -n 1 | sed -E "s/.* $2: ([0-9]+).*/\1/"
}

failed=0
for h in "$@"; do
	bin=build/bin/$h
	log=work/logs/$h.log
	corpus=work/corpus/$h
	crashdir=work/crashes/$h
	mkdir -p "$corpus" "$crashdir"
	: >"$log"
	execs=0
	crashes=0

	for input in regressions/"$h"/*; do
		[ -f "$input" ] || continue
		crashes=$((crashes + $(regression "$bin" "$input" "$log")))
		execs=$((execs + 1))
	done

	opts=(-timeout=10 -print_final_stats=1 -artifact_prefix="$crashdir/")
	[ -f "dict/$h.dict" ] && opts+=(-dict="dict/$h.dict")
	if [ "$secs" -gt 0 ]; then
		opts+=(-max_total_time="$secs")
	else
		opts+=(-runs=0)
	fi
	# slow-unit-* are inputs libFuzzer found slow (a process stopped for a
	# while makes one), not crashes
	before=$(find "$crashdir" -type f ! -name 'slow-unit-*' | wc -l)
	start=$(date +%s)
	children_cpu >"$TMPDIR/cpu"
	cpu_start=$(cat "$TMPDIR/cpu")
	seeds=()
	[ -d "corpus/$h" ] && seeds=("corpus/$h")
	"$bin" "${opts[@]}" "$corpus" "${seeds[@]}" >>"$log" 2>&1
	rc=$?
	elapsed=$(($(date +%s) - start))
	children_cpu >"$TMPDIR/cpu"
	cpu=$(($(cat "$TMPDIR/cpu") - cpu_start))
	found=$(($(find "$crashdir" -type f ! -name 'slow-unit-*' | wc -l) - before))
	# libFuzzer stops at its first crash; a failure with no input saved
	# (a crash in start-up) still counts.
	[ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found=1
	crashes=$((crashes + found))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=$((execs + ${runs:-0}))

	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$h" "$elapsed" \
		"$execs" "$(status_field "$log" cov)" "$(status_field "$log" ft)" \
		"$(find "$corpus" -type f | wc -l)" "$crashes" "$cpu" >>work/results.tsv
	printf '%s: %d execs, %d crashes\n' "$h" "$execs" "$crashes"
	[ "$crashes" -gt 0 ] && failed=1
done
exit "$failed"
