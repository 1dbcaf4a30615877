#!/usr/bin/env bash
# fuzz/seeds.sh HARNESS...: regenerate the generated seeds (gen-*) of
# fuzz/corpus/<harness>/.
#
# Each harness writes its own, with the extension's writers, when
# TDE_FUZZ_SEEDS names a directory (see harness/*.c, write_seeds).  The
# other seeds of a corpus are kept: statements taken from the tests and
# doc/reference.md, and files a run of the regression tests left (test-*).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export TMPDIR
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/tde-fuzz-seeds.XXXXXX")
trap 'rm -rf "$TMPDIR"' EXIT

for h in "$@"; do
	dir=corpus/$h
	mkdir -p "$dir"
	rm -f "$dir"/gen-*
	TDE_FUZZ_SEEDS=$PWD/$dir build/bin/"$h" >/dev/null
	printf '%s: %d seeds (%d generated)\n' "$h" \
		"$(find "$dir" -type f | wc -l)" "$(find "$dir" -type f -name 'gen-*' | wc -l)"
done
