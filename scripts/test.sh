#!/usr/bin/env bash
# scripts/test.sh: run every tde test, as root on Debian 12.
#
# Calls setup.sh (packages, build, install, the test user), copies the tree
# into a temporary directory owned by the unprivileged user tdetest (initdb
# refuses root), and there runs, as tdetest, each suite as its own make run
# so that all of them run even when one fails:
#
#   make installcheck TAP_TESTS= REGRESS_KEYS= ISOLATION_SPECS=
#                                                pg_regress, REGRESS, on its own
#                                                temporary preloaded server
#   make installcheck-keys                       pg_regress, REGRESS_KEYS, on a
#                                                second server (if the target exists)
#   make installcheck-isolation                  pg_isolation_regress, ISOLATION_SPECS
#                                                (specs/), on a third server (if the
#                                                target exists)
#   make tap                                     TAP: t/*.pl, PostgreSQL::Test::Cluster
#   scripts/crash-campaign.sh --rounds 2         (as root) kill -9 during every
#                                                writing operation, twice each
#   make -C fuzz run FUZZ_SECONDS=5              every libFuzzer harness: its
#                                                regressions, seeds, 5 s of fuzzing
#
# The last line is always
#
#   tde: N passed, M failed, K skipped
#
# counting pg_regress tests, isolation specs and TAP assertions (a TAP file
# skipped whole counts as one skipped test).  Once setup has installed SoftHSM2 and
# p11-kit, TDE_REQUIRE_HSM=1 is set for the tests, so that an HSM test that
# cannot run fails instead of skipping.  The exit status is 0 only
# if everything passed and at least one test ran.  On success the copy is
# removed; on failure it is kept and its path printed.
#
# For a quicker loop, narrow the run:
#   TDE_REGRESS="parser"           bash scripts/test.sh   # this REGRESS test
#   TDE_REGRESS_KEYS="masterkeys"  bash scripts/test.sh   # this REGRESS_KEYS test
#     (with the files of its suite before it, whose state it starts from;
#     TDE_REGRESS_EXACT=1 runs only the names given)
#   TDE_ISOLATION="iso_two_rekeys" bash scripts/test.sh   # these isolation specs
#   TDE_PROVE_TESTS=t/001_x.pl     bash scripts/test.sh   # these TAP files
#   TDE_SKIP_REGRESS=1 / TDE_SKIP_TAP=1                   # skip pg_regress / TAP
#   TDE_SKIP_ISOLATION=1                                  # skip the isolation specs
#   TDE_SKIP_BUILD=1                                      # test the installed build
#   TDE_SKIP_CRASH=1 / TDE_SKIP_FUZZ=1                    # skip the crash campaign's
#                                                         # / the fuzzers' short run
#   TDE_KEEP_TREE=1                                       # keep the copy, also on success
#   TDE_SANITIZE=address,undefined                        # build with ASan and UBSan
#                                                         # (the next plain run rebuilds)
#   TDE_VALGRIND=1                                        # the pg_regress suites and the
#                                                         # isolation specs under valgrind
#                                                         # (memcheck), nothing else
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tde_require_root

passed=0
failed=0
skipped=0
summary() { printf 'tde: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"; }

# Generous limits, so that a hung test ends the run with a failure rather
# than running into CI's own limit.
REGRESS_TIMEOUT=${TDE_REGRESS_TIMEOUT:-1200}
[ -z "${TDE_VALGRIND:-}" ] || REGRESS_TIMEOUT=${TDE_REGRESS_TIMEOUT:-7200}
TAP_TIMEOUT=${TDE_TAP_TIMEOUT:-3600}

# --- layering check (scripts/check-layers.py): one test -------------------------
echo "=== layers: scripts/check-layers.py ==="
if python3 "$TDE_ROOT/scripts/check-layers.py" "$TDE_ROOT"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

if ! bash "$TDE_ROOT/scripts/setup.sh"; then
	tde_msg "setup failed (see above); no test was run"
	failed=1
	summary
	exit 1
fi

# SoftHSM2 and p11-kit are part of setup: from here on, an HSM test that
# cannot run is a failure, not a skip.
if [ -z "${TDE_REQUIRE_HSM+set}" ] && command -v softhsm2-util >/dev/null && command -v p11-kit >/dev/null; then
	export TDE_REQUIRE_HSM=1
fi

# --- a private copy of the tree, owned by the test user -----------------------

work=$(mktemp -d /tmp/tde-test.XXXXXX) || tde_die "mktemp failed"
# Everything but .git and what .gitignore names (build products, results of
# earlier runs): installcheck does not build, it uses the installed tde.
if ! rsync -a --exclude=/.git --filter=':- .gitignore' "$TDE_ROOT/" "$work/"; then
	tde_msg "copying the tree to $work failed"
	failed=1
	summary
	exit 1
fi
# --- sanitizers (TDE_SANITIZE=address,undefined) -----------------------------

# setup.sh built tde with the sanitizers; the servers are not, so the
# runtime is preloaded into every process the test user runs.  A report
# aborts the process that made it (the test then fails) and leaves a file
# in $work/sanitizer, each counted as a failure below.  Leak detection is
# off: a backend frees its memory contexts wholesale and exits without
# freeing them, which LeakSanitizer would report; valgrind (doc/
# reliability.md) looks for leaks instead.
san_dir=$work/sanitizer
if [ -n "${TDE_SANITIZE:-}" ]; then
	mkdir -p "$san_dir"
	TDE_SAN_ENV=(
		ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$san_dir/asan"
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$san_dir/ubsan"
	)
	case ",$TDE_SANITIZE," in
	*,address,*)
		# test/asan_early.c: ASan must initialize before libgpg-error's
		# constructor, or postgres hangs in bindtextdomain().
		gcc -shared -fPIC -Wl,-z,initfirst -o "$work/asan_early.so" "$work/test/asan_early.c" ||
			tde_die "could not build test/asan_early.c"
		TDE_SAN_ENV+=(LD_PRELOAD="$(gcc -print-file-name=libasan.so) $work/asan_early.so")
		;;
	*,undefined,*) TDE_SAN_ENV+=(LD_PRELOAD="$(gcc -print-file-name=libubsan.so)") ;;
	esac
	echo "=== sanitizers: $TDE_SANITIZE (${TDE_SAN_ENV[*]}) ==="
fi

# --- valgrind (TDE_VALGRIND=1) -----------------------------------------------

# pg_regress starts its temporary servers as <bindir>/postgres: a bindir of
# links to the real programs, whose postgres runs the real one under
# memcheck, with every process it forks.  Each process writes its own log
# in $work/valgrind/logs; a report counts as tde's when a frame of its
# stack is in tde.so, else as PostgreSQL's or a library's.  Definite leaks
# are reports too; memory still reachable at exit (a backend's memory
# contexts) is not.
vg_dir=$work/valgrind
TDE_VG_ARGS=()
if [ -n "${TDE_VALGRIND:-}" ]; then
	command -v valgrind >/dev/null || tde_die "valgrind is not installed (scripts/setup.sh installs it)"
	mkdir -p "$vg_dir/bin" "$vg_dir/logs"
	for prog in "$PG_BINDIR"/*; do
		[ "${prog##*/}" = postgres ] || ln -s "$prog" "$vg_dir/bin/${prog##*/}"
	done
	{
		echo '#!/bin/sh'
		echo '# postgres under valgrind (scripts/test.sh, TDE_VALGRIND=1)'
		printf 'exec valgrind --quiet --trace-children=yes --num-callers=40 --time-stamp=yes '
		printf -- '--track-origins=yes --read-var-info=yes --fullpath-after=%s/ ' "$TDE_ROOT"
		printf -- '--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite '
		printf -- '--suppressions=%s/test/valgrind.supp ' "$work"
		printf -- '--error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END '
		printf -- '--log-file=%s/logs/%%p.log %s/postgres "$@"\n' "$vg_dir" "$PG_BINDIR"
	} >"$vg_dir/bin/postgres"
	chmod 755 "$vg_dir/bin/postgres"
	TDE_VG_ARGS=(EXTRA_REGRESS_OPTS="--bindir=$vg_dir/bin/")
	export PGCTLTIMEOUT=${PGCTLTIMEOUT:-900}
	echo "=== valgrind: the pg_regress suites and isolation specs under memcheck ==="
fi

chown -R "$TDE_TEST_USER:" "$work"
cd "$work" || exit 1

make_as_test_user() {
	local limit=$1
	shift
	tde_as_test_user timeout -k 30 "$limit" make "$@" PG_CONFIG="$PG_CONFIG"
	local rc=$?
	case $rc in
	124 | 137) tde_msg "timed out after ${limit}s" >&2 ;;
	esac
	return $rc
}

# --- pg_regress ---------------------------------------------------------------

# Run one pg_regress suite through make; count its tests; on failure show
# the regression.diffs and server log it left.  Each suite is its own make
# run, so that one failing suite does not keep the others from running.
regress_rc=0
run_regress_suite() {
	local label=$1 log=$2 rc ok bad diffs pmlog
	shift 2
	echo "=== pg_regress: $label (make $*) ==="
	touch "$work/.suite-start"
	make_as_test_user "$REGRESS_TIMEOUT" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}

	# PostgreSQL 15:  "test setup    ... ok   12 ms", "... FAILED", "... failed (ignored)"
	#   (and "     name ... ok" inside a parallel group);
	# PostgreSQL 16+: "ok 1  - setup  12 ms", "not ok 2 - keystore  30 ms".
	ok=$(grep -cE '^(test +| +)[^ ]+ +\.\.\. +ok\b|^ok [0-9]+ +[-+] ' "$log")
	bad=$(grep -cE '^(test +| +)[^ ]+ +\.\.\. +FAILED\b|^not ok [0-9]+ +[-+] ' "$log")
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$rc" -eq 0 ] && return 0

	regress_rc=$rc
	# A failure that no test line shows: pg_regress could not start its
	# server, a test file is missing, the run timed out...
	[ "$bad" -eq 0 ] && failed=$((failed + 1))
	# pg_regress writes regression.diffs and log/postmaster.log into its
	# --outputdir: the tree's top, or wherever the Makefile points it.
	while IFS= read -r diffs; do
		echo "=== ${diffs#"$work"/} (first 20000 bytes) ==="
		head -c 20000 "$diffs"
		echo
	done < <(find "$work" -name regression.diffs -newer "$work/.suite-start" -size +0)
	while IFS= read -r pmlog; do
		echo "=== ${pmlog#"$work"/} (last 40 lines) ==="
		tail -n 40 "$pmlog"
	done < <(find "$work" -path '*/log/postmaster.log' -newer "$work/.suite-start" -size +0)
	return 0
}

has_make_target() {
	make -n "$1" PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
}

# The value of a Makefile variable (e.g. REGRESS), as make sees it.
make_var() {
	# shellcheck disable=SC2016  # $($*) is make's, not the shell's
	make -s --no-print-directory --eval='tde-print-var-%: ; @echo $($*)' \
		"tde-print-var-$1" PG_CONFIG="$PG_CONFIG" 2>/dev/null
}

# A narrowed pg_regress list, completed: the files of a suite run in one
# database, each from the state the files before it leave (its header's
# "Expects:"; setup and keys_setup make the helpers of
# test/regress_helpers.sql), so every file of the suite's list up to the
# last one named runs, in the suite's order; a name not in the list runs
# after them.  TDE_REGRESS_EXACT=1 runs the names as given.
with_prerequisites() {
	local full=$1 want=$2 f i last=-1 found
	local -a all extra=()
	read -r -a all <<<"$full"
	if [ -n "${TDE_REGRESS_EXACT:-}" ] || [ "${#all[@]}" -eq 0 ]; then
		echo "$want"
		return
	fi
	for f in $want; do
		found=0
		for i in "${!all[@]}"; do
			if [ "${all[$i]}" = "$f" ]; then
				found=1
				[ "$i" -gt "$last" ] && last=$i
			fi
		done
		[ "$found" -eq 0 ] && extra+=("$f")
	done
	echo "${all[*]:0:last+1}" "${extra[*]}"
}

# Words separated by single spaces.
words() {
	local -a w
	read -r -a w <<<"$*"
	echo "${w[*]}"
}

# REGRESS=... or REGRESS_KEYS=... for a narrowed run of the suite in
# Makefile variable $1, from the names in $2; says what runs.
narrowed() {
	local var=$1 want list
	want=$(words "$2")
	list=$(words "$(with_prerequisites "$(make_var "$var")" "$want")")
	if [ "$list" != "$want" ]; then
		echo "=== pg_regress: $var narrowed to '$want', with the files before it: '$list' ===" >&2
	fi
	echo "$var=$list"
}

if [ -z "${TDE_SKIP_REGRESS:-}" ]; then
	# The main suite: REGRESS.  The Makefile runs a second suite on a server
	# of its own (installcheck-keys, REGRESS_KEYS) before it; empty here, it
	# runs separately below.
	args=(installcheck TAP_TESTS= REGRESS_KEYS= ISOLATION_SPECS= "${TDE_VG_ARGS[@]}")
	[ -n "${TDE_REGRESS:-}" ] && args+=("$(narrowed REGRESS "$TDE_REGRESS")")
	run_regress_suite "REGRESS" "$work/installcheck.log" "${args[@]}"

	if has_make_target installcheck-keys; then
		args=(installcheck-keys "${TDE_VG_ARGS[@]}")
		[ -n "${TDE_REGRESS_KEYS:-}" ] && args+=("$(narrowed REGRESS_KEYS "$TDE_REGRESS_KEYS")")
		run_regress_suite "REGRESS_KEYS" "$work/installcheck-keys.log" "${args[@]}"
	fi
fi

# --- isolation specs ----------------------------------------------------------

# pg_isolation_regress prints its tests as pg_regress does, so the same
# counting applies; it leaves output_iso/regression.diffs and
# output_iso/log/postmaster.log.
if [ -z "${TDE_SKIP_ISOLATION:-}" ] && has_make_target installcheck-isolation; then
	args=(installcheck-isolation "${TDE_VG_ARGS[@]}")
	[ -n "${TDE_ISOLATION:-}" ] && args+=(ISOLATION_SPECS="$TDE_ISOLATION")
	# iso_cancel_wait measures 200 ms bounds around a wait at 600,000 KDF
	# iterations: under memcheck, some 50 times slower, it cannot hold
	if [ -n "${TDE_VALGRIND:-}" ] && [ -z "${TDE_ISOLATION:-}" ]; then
		args+=(ISOLATION_SPECS="$(make_var ISOLATION_SPECS | sed 's/\biso_cancel_wait\b//')")
		echo "=== valgrind: iso_cancel_wait left out (its time bounds) ==="
	fi
	run_regress_suite "isolation" "$work/installcheck-isolation.log" "${args[@]}"
fi

# --- TAP ----------------------------------------------------------------------

tap_rc=0
if [ -n "${TDE_SKIP_TAP:-}" ] || [ -n "${TDE_VALGRIND:-}" ]; then
	:
elif ! compgen -G "$work/t/*.pl" >/dev/null; then
	echo "=== TAP: no t/*.pl, skipped ==="
else
	# "make tap" where the Makefile has it, else installcheck minus pg_regress.
	if has_make_target tap; then
		tap_args=(tap)
	else
		tap_args=(installcheck REGRESS= REGRESS_KEYS= ISOLATION_SPECS=)
	fi
	tap_args+=(PROVE_FLAGS=--timer)
	echo "=== TAP: prove (make ${tap_args[*]}) ==="
	[ -n "${TDE_PROVE_TESTS:-}" ] && tap_args+=(PROVE_TESTS="$TDE_PROVE_TESTS")
	make_as_test_user "$TAP_TIMEOUT" "${tap_args[@]}" 2>&1 | tee "$work/prove.log"
	tap_rc=${PIPESTATUS[0]}

	# prove's summary: "Files=3, Tests=42, ..." counts every assertion run;
	# the Test Summary Report has one line per failed file (names padded),
	#   "t/001_x.pl (Wstat: 256 (exited 1) Tests: 7 Failed: 2)",
	# with Failed: 0 when the file died or broke its plan.
	t_total=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$work/prove.log" | tail -n 1)
	t_total=${t_total:-0}
	t_bad=0
	t_dead=0
	failed_files=()
	while IFS= read -r line; do
		file=${line%% *}
		n=$(sed -nE 's/.*Tests: [0-9]+ Failed: ([0-9]+)\).*/\1/p' <<<"$line")
		n=${n:-0}
		# listed only for "TODO passed" (a known defect's test that now
		# passes): not a failure
		[[ $line == *"(Wstat: 0 "* ]] && [ "$n" -eq 0 ] && continue
		failed_files+=("$file")
		t_bad=$((t_bad + n))
		[ "$n" -eq 0 ] && t_dead=$((t_dead + 1))
	done < <(grep -E '^t/[^ ]+\.pl +\(Wstat' "$work/prove.log")
	# Skips: "ok N # skip why" lines in each file's log (PostgreSQL 15
	# prefixes each with "[time](elapsed) "), and one for each file skipped
	# whole ("1..0 # SKIP why").
	tap_line='^(\[[^]]*\]\([^)]*\) )?'
	t_skip=$(cat "$work"/tmp_check/log/regress_log_* 2>/dev/null | grep -cE "${tap_line}ok [0-9]+ # skip" || true)
	t_skip_all=$(cat "$work"/tmp_check/log/regress_log_* 2>/dev/null | grep -ciE "${tap_line}1\.\.0 # skip" || true)
	skipped=$((skipped + t_skip + t_skip_all))
	passed=$((passed + t_total - t_bad - t_skip))
	failed=$((failed + t_bad + t_dead))
	if [ "$tap_rc" -ne 0 ]; then
		[ $((t_bad + t_dead)) -eq 0 ] && failed=$((failed + 1))
		# Each t/NAME.pl logs to tmp_check/log/regress_log_NAME, and each of
		# its servers to tmp_check/log/NAME_<node>.log.
		logs=()
		for f in "${failed_files[@]}"; do
			name=$(basename "$f" .pl)
			logs+=("$work/tmp_check/log/regress_log_$name" "$work"/tmp_check/log/"$name"_*.log)
		done
		[ "${#failed_files[@]}" -eq 0 ] && logs=("$work"/tmp_check/log/*)
		for log in "${logs[@]}"; do
			[ -f "$log" ] || continue
			echo "=== ${log#"$work"/} (last 60 lines) ==="
			tail -n 60 "$log"
		done
	fi
fi

# --- sanitizer reports --------------------------------------------------------

if [ -n "${TDE_SANITIZE:-}" ]; then
	n_reports=0
	for report in "$san_dir"/*; do
		[ -f "$report" ] || continue
		n_reports=$((n_reports + 1))
		echo "=== sanitizer report ${report#"$work"/} (first 80 lines) ==="
		head -n 80 "$report"
	done
	echo "=== sanitizers: $n_reports report(s) ==="
	failed=$((failed + n_reports))
fi

# --- valgrind's reports -------------------------------------------------------

if [ -n "${TDE_VALGRIND:-}" ]; then
	vg_tde=0
	vg_other=0
	vg_procs=$(find "$vg_dir/logs" -name '*.log' | wc -l)
	: >"$vg_dir/tde-reports.txt"
	: >"$vg_dir/other-reports.txt"
	for log in "$vg_dir"/logs/*.log; do
		[ -f "$log" ] || continue
		# one report per VALGRINDERROR-BEGIN ... END block
		while IFS= read -r -d $'\x1e' block; do
			[ -n "$block" ] || continue
			if grep -qE '/tde\.so\)|\(src/[^ ]+\.c:[0-9]+\)|: tde_[A-Za-z0-9_]+ \(' <<<"$block"; then
				vg_tde=$((vg_tde + 1))
				printf '=== %s ===\n%s\n' "${log##*/}" "$block" >>"$vg_dir/tde-reports.txt"
			else
				vg_other=$((vg_other + 1))
				printf '=== %s ===\n%s\n' "${log##*/}" "$block" >>"$vg_dir/other-reports.txt"
			fi
		done < <(awk '/VALGRINDERROR-BEGIN/ { on = 1; next }
			/VALGRINDERROR-END/ { on = 0; printf "\x1e"; next }
			on { print }' "$log")
	done
	echo "=== valgrind: $vg_procs processes; $vg_tde report(s) in tde's code, $vg_other elsewhere (PostgreSQL, libraries; $vg_dir/other-reports.txt) ==="
	if [ "$vg_tde" -gt 0 ]; then
		head -n 200 "$vg_dir/tde-reports.txt"
		failed=$((failed + vg_tde))
	fi
	if [ "$vg_procs" -eq 0 ]; then
		tde_msg "valgrind wrote no log: postgres did not run under it"
		failed=$((failed + 1))
	fi
fi

# --- the crash campaign's and the fuzzers' short runs (doc/reliability.md) ----
#
# Left out of a narrowed run (TDE_PROVE_TESTS and the like), of a sanitizer
# run (the fuzzers have their own sanitizers; the campaign's kills would be
# the sanitizers' reports), and by TDE_SKIP_CRASH=1 / TDE_SKIP_FUZZ=1.
narrowed=${TDE_PROVE_TESTS:-}${TDE_REGRESS:-}${TDE_REGRESS_KEYS:-}${TDE_ISOLATION:-}${TDE_SANITIZE:-}${TDE_VALGRIND:-}

# One test per operation of the campaign ("<op>: R rounds, L lost").
if [ -z "$narrowed" ] && [ -z "${TDE_SKIP_CRASH:-}" ]; then
	echo "=== crash campaign: scripts/crash-campaign.sh --rounds 2 ==="
	timeout -k 30 1800 bash "$work/scripts/crash-campaign.sh" --rounds "${TDE_CRASH_ROUNDS:-2}" \
		2>&1 | tee "$work/crash-campaign.log"
	crash_rc=${PIPESTATUS[0]}
	c_ok=$(grep -cE '^[a-z_]+: [0-9]+ rounds, 0 lost$' "$work/crash-campaign.log" || true)
	c_bad=$(grep -cE '^[a-z_]+: [0-9]+ rounds, [1-9][0-9]* lost$' "$work/crash-campaign.log" || true)
	passed=$((passed + c_ok))
	failed=$((failed + c_bad))
	[ "$crash_rc" -ne 0 ] && [ "$c_bad" -eq 0 ] && failed=$((failed + 1))
fi

# One test per harness ("<name>: N execs, M crashes"): the regression
# inputs, the seed corpus, then TDE_FUZZ_SECONDS (5) of fuzzing each.
if [ -z "$narrowed" ] && [ -z "${TDE_SKIP_FUZZ:-}" ]; then
	echo "=== fuzz: make -C fuzz run FUZZ_SECONDS=${TDE_FUZZ_SECONDS:-5} ==="
	make_as_test_user 1800 --no-print-directory -C fuzz run \
		FUZZ_SECONDS="${TDE_FUZZ_SECONDS:-5}" 2>&1 | tee "$work/fuzz.log"
	fuzz_rc=${PIPESTATUS[0]}
	f_ok=$(grep -cE '^[a-z_]+: [0-9]+ execs, 0 crashes$' "$work/fuzz.log" || true)
	f_bad=$(grep -cE '^[a-z_]+: [0-9]+ execs, [1-9][0-9]* crashes$' "$work/fuzz.log" || true)
	passed=$((passed + f_ok))
	failed=$((failed + f_bad))
	[ "$fuzz_rc" -ne 0 ] && [ "$f_bad" -eq 0 ] && failed=$((failed + 1))
fi

# --- verdict ------------------------------------------------------------------

cd / || true
if [ "$regress_rc" -eq 0 ] && [ "$tap_rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
	if [ -n "${TDE_KEEP_TREE:-}" ]; then
		tde_msg "kept the test tree: $work"
	else
		rm -rf "$work"
	fi
	summary
	exit 0
fi
[ "$passed" -eq 0 ] && [ "$failed" -eq 0 ] && tde_msg "no test ran"
tde_msg "kept the test tree for inspection: $work"
summary
exit 1
