#!/usr/bin/env bash
# scripts/crash-campaign.sh: kill the server (kill -9 of the postmaster and
# of every child, as a crash would) at random instants during each tde
# operation that writes a wallet, a secret, the HSM metadata or the
# relation-key table, and check after every restart that nothing was lost.
#
#   bash scripts/crash-campaign.sh --rounds N [--seed S] [--ops a,b,...] [-v]
#
# Runs as root; the server runs as the unprivileged user (bench/lib.sh).
# One cluster is set up once: a password wallet, SoftHSM2 as the second
# keystore (configuration FILE|HSM, its PIN in the external store), two
# databases with 1,000 relation keys each (200 tables x 5 versions) and a
# table of (id, plaintext, ciphertext) for every key version, plus a table
# "big" that the data rekey re-encrypts.  Then the state moves forward:
#
#   1. each operation runs once uncrashed, and its duration d is measured;
#   2. N passes; each runs every operation once, in a random order within
#      its phase (the file operations, then migrate to the HSM, a rekey in
#      the HSM and the reverse migration), in the background (psql), and
#      kills the server after a delay drawn uniformly from [0, 1.2 d], so
#      that kills land before, inside and after the operation;
#   3. after each kill: wait until every process of the server is gone,
#      restart, and check (scripts/crash-campaign-lib.sh, check_all): the
#      keystore opens (with the old or the new password), its status,
#      every ciphertext of both databases decrypts to its plaintext (so
#      every relation key unwraps), every relation key names a master key
#      of the open keystores, no master key is lost, the client secrets of
#      the wallet and of the external store read back as the old or the new
#      value, no temporary file is left under the wallet root; and what the
#      operation itself promises (a new keystore or export file is absent
#      or complete, a moved key is in one of the two keystores...).
#
# A round where a check fails is a loss: its details (operation, delay,
# what failed, the server log's tail) are printed, the cluster is copied to
# a directory that is kept, and the campaign goes on from the baseline
# (a tarball taken after setup).  Prints "<op>: R rounds, L lost" for each
# operation, then "crash campaign: R rounds, O operations, L lost" and the
# elapsed time; exits 1 if anything was lost.
set -euo pipefail
# sort, comm and the SQL ORDER BY (C.UTF-8) must agree on the order of lists
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../bench/lib.sh"
# shellcheck source=scripts/crash-campaign-lib.sh
. "$here/crash-campaign-lib.sh"

usage() {
	echo "usage: ${0##*/} --rounds N [--seed S] [--ops op,op,...] [-v]" >&2
	exit 2
}

ROUNDS='' SEED=$(($$ ^ $(date +%s))) ONLY='' VERBOSE=0
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=${2:-}; shift 2 || usage ;;
	--seed) SEED=${2:-}; shift 2 || usage ;;
	--ops) ONLY=${2:-}; shift 2 || usage ;;
	-v) VERBOSE=1; shift ;;
	*) usage ;;
	esac
done
[ -n "$ROUNDS" ] || usage
require_posint ROUNDS
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed must be a number"
RANDOM=$SEED

PG_BINDIR=/usr/lib/postgresql/15/bin
PORT=54731
NTABLES=200 NVERSIONS=5 NBIG=2000

FILE_OPS=(create open_rewrap set_key create_key use_key set_tag password backup
	merge_new merge_existing import export move secret seps data_rekey)
HSM_OPS=(migrate hsm_set_key reverse)
ALL_OPS=("${FILE_OPS[@]}" "${HSM_OPS[@]}")
if [ -n "$ONLY" ]; then
	for o in ${ONLY//,/ }; do
		[[ " ${ALL_OPS[*]} " == *" $o "* ]] || die "unknown operation $o (known: ${ALL_OPS[*]})"
	done
fi
# selected OP: the operation is in --ops (or there is no --ops).
selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

require_root "the server runs"
require_pg_bindir
[ -e "$SOFTHSM_LIB" ] || die "SoftHSM2 is not installed ($SOFTHSM_LIB); run scripts/setup.sh"
for p in openssl xxd softhsm2-util; do
	command -v "$p" >/dev/null || die "$p is missing"
done
pick_run_user
make_workdir tde-crash
C=$work/c
R=$C/wallet_root
KEEP=/tmp/tde-crash-kept.$(date +%Y%m%d%H%M%S).$$
AS_USER_ENV=(SOFTHSM2_CONF="$C/softhsm/softhsm2.conf")
T0=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
log() { [ "$VERBOSE" -eq 0 ] || printf '%s\n' "$*" >&2; }
next() { SEQ=$((SEQ + 1)); }

# --- setup ----------------------------------------------------------------------------

setup_cluster() {
	cluster_init "$C"
	install_dir "$C/softhsm" "$C/softhsm/tokens"
	softhsm2_conf "$C/softhsm/tokens" >"$C/softhsm/softhsm2.conf"
	chown "$RUN_USER:" "$C/softhsm/softhsm2.conf"
	as_user softhsm2-util --init-token --free --label "$HSM_LABEL" \
		--so-pin "$HSM_SO_PIN" --pin "$PIN" >/dev/null
	cluster_configure "$C" "$PORT" "tde crash campaign" tde \
		"tde.wallet_kdf_iterations = 1000" \
		"tde.keystore_configuration = 'FILE|HSM'" \
		"tde.pkcs11_library = '$SOFTHSM_LIB'" \
		"tde.pkcs11_token_label = '$HSM_LABEL'" \
		"log_line_prefix = '%m [%p] %d '"
	server_start || fail_with_log "the server did not start" "$C/server.log"
	install_dir "$R/backups" "$R/exports" "$R/merged" "$R/msrc" "$R/moved"

	PW=Crash_Pw_0 MODE=FILE SECRET=- SEPS=- SEQ=0
	sql postgres "CREATE DATABASE crash_a" "CREATE DATABASE crash_b" >/dev/null
	sql crash_a "CREATE EXTENSION tde" \
		"SELECT tde.create_keystore(password => '$PW')" \
		"SELECT tde.add_external_store_secret(secret => '$PIN', client => 'HSM_PASSWORD')" \
		"SELECT tde.open_keystore(password => '$PW')" \
		"SELECT tde.set_key(tag => 'crash first', password => '$PW', with_backup => true)" >/dev/null
	# The second source of MERGE ... INTO NEW KEYSTORE: a keystore with one
	# key of its own.
	local k
	k=$(sql crash_a "SELECT tde.create_key(tag => 'side', password => '$PW', with_backup => true)")
	sql crash_a "SELECT tde.move_keys(new_location => '$R/side', new_password => 'Side_Pw',
		password => '$PW', key_ids => ARRAY['$k'], with_backup => true)" >/dev/null
	local db
	for db in crash_a crash_b; do
		[ "$db" = crash_a ] || sql "$db" "CREATE EXTENSION tde" >/dev/null
		sql "$db" "$CHECK_FUNCTION_SQL" \
			"CREATE TABLE cts (id serial PRIMARY KEY, relid regclass NOT NULL, ver int NOT NULL,
				plain text NOT NULL, ct bytea NOT NULL)" \
			"CREATE INDEX ON cts (relid, ver)" \
			"CREATE TABLE big (id int PRIMARY KEY, plain text NOT NULL, ct bytea)" \
			"DO \$\$ BEGIN FOR i IN 1 .. $NTABLES LOOP
				EXECUTE format('CREATE TABLE r%s (v int)', i); END LOOP; END \$\$" \
			"DO \$\$ BEGIN FOR v IN 1 .. $NVERSIONS LOOP
				IF v > 1 THEN
					PERFORM tde.rotate_relation_key(format('r%s', i)::regclass)
					FROM generate_series(1, $NTABLES) i;
				END IF;
				INSERT INTO cts (relid, ver, plain, ct)
					SELECT r, v, p, tde.encrypt(r, p) FROM (
						SELECT format('r%s', i)::regclass AS r,
							format('$db r%s v%s %s', i, v, md5(random()::text)) AS p
						FROM generate_series(1, $NTABLES) i) s;
			END LOOP; END \$\$" \
			"INSERT INTO big SELECT i, p, tde.encrypt('big', p) FROM (
				SELECT i, '$db big ' || i || ' ' || md5(random()::text) AS p
				FROM generate_series(1, $NBIG) i) s" \
			"$WITNESS_SQL" "VACUUM ANALYZE" >/dev/null
	done
	snap_keys
	save_baseline
	sql crash_a "SELECT tde.open_keystore(password => '$PW')" >/dev/null
}

# --- the operations -------------------------------------------------------------------
#
# prep_OP sets up what the operation needs (uncrashed) and the round's
# expectations: OPDB, OPCMDS (the SQL run in the background, one psql -c
# each), PW_CANDS, SECRET_CANDS, SEPS_CANDS, STATUS_WANT, MOVING (MKIDs the
# operation may take out of the wallet), TARGET (a file whose change shows
# the kill came after the operation's point of no return).  post_OP checks
# what the operation promises and moves the expected state on.  hook_OP, if
# defined, runs after the restart before the common checks.

W="$R/tde/ewallet.p12"
pwarg() { printf 'password => %s' "$(sqlq "$PW")"; }
# active_mkid: the wallet's active master key (TDE.ACTIVE), by openssl.
active_mkid() { p12_value "$W" "$PW" TDE.ACTIVE; }
new_key() {
	sql crash_a "SELECT $KEY_MKID_SQL FROM (SELECT tde.create_key(tag => 'crash spare $SEQ',
		$(pwarg), with_backup => true) AS key_id) s"
}
# move_out MKID DIR PASSWORD: move the key out of the wallet into a new keystore.
move_out() {
	sql crash_a "SELECT tde.move_keys(new_location => '$2', new_password => '$3', $(pwarg),
		key_ids => ARRAY[tde.key_id(decode('$1', 'hex'))], with_backup => true)" >/dev/null
}
snap_keys() { key_mkids >"$work/keys_before"; }
KEYS_BEFORE=$work/keys_before
# in_keystore MKID FILE PASSWORD: the keystore file opens and holds the key.
# (no "... | grep -q" under pipefail anywhere here: grep -q exits at its
# first match, the writer then dies of SIGPIPE, and the pipeline fails
# although the line was there)
in_keystore() { [ -f "$2" ] && grep -qx "$1" <<<"$(p12_mkids "$2" "$3")"; }

prep_create() {
	close_keystore
	mv "$R/tde" "$R/tde.saved"
	NEWPW=Create_Pw_$SEQ
	OPCMDS=("SELECT tde.create_keystore(password => '$NEWPW')")
	TARGET=$W
}
hook_create() {
	if [ -f "$W" ]; then
		if open_keystore "$NEWPW"; then close_keystore; fi
	fi
	check_tmp_files
	rm -rf "$R/tde"
	mv "$R/tde.saved" "$R/tde"
}
post_create() { :; }

prep_open_rewrap() {
	close_keystore
	# A rekey in crash_a while the keystore is closed: crash_a's keys are
	# re-wrapped in the statement, crash_b's wait for an open.
	sql crash_a "SELECT tde.set_key(tag => 'crash rewrap $SEQ', $(pwarg),
		force_keystore => true, with_backup => true)" >/dev/null
	OPCMDS=("SELECT tde.open_keystore($(pwarg))"
		"DO \$\$ BEGIN FOR i IN 1 .. 6000 LOOP
			EXIT WHEN NOT EXISTS (SELECT 1 FROM tde.rewrap_progress
				WHERE state IN ('pending', 'running', 'waiting for keystore'));
			PERFORM pg_sleep(0.005); END LOOP; END \$\$")
}
post_open_rewrap() { :; }

prep_set_key() {
	OPCMDS=("SELECT tde.set_key(tag => 'crash set $SEQ', $(pwarg), with_backup => true)")
	TARGET=$W
}
post_set_key() { :; }

prep_create_key() {
	OPCMDS=("SELECT tde.create_key(tag => 'crash create $SEQ', $(pwarg), with_backup => true)")
	TARGET=$W
}
post_create_key() { :; }

prep_use_key() {
	local act k
	act=$(active_mkid)
	pick < <(p12_mkids "$W" "$PW" | grep -vx "$act" || true)
	k=${PICKED:-$(new_key)}
	OPCMDS=("SELECT tde.use_key(key_id => tde.key_id(decode('$k', 'hex')), $(pwarg), with_backup => true)")
	TARGET=$W
}
post_use_key() { :; }

prep_set_tag() {
	local k
	pick < <(p12_mkids "$W" "$PW")
	k=$PICKED
	OPCMDS=("SELECT tde.set_tag(key_id => tde.key_id(decode('$k', 'hex')), tag => 'crash tag $SEQ',
		$(pwarg), with_backup => true)")
	TARGET=$W
}
post_set_tag() { :; }

prep_password() {
	local new=Crash_Pw_$SEQ
	OPCMDS=("SELECT tde.alter_keystore_password(old_password => '$PW', new_password => '$new',
		with_backup => true, force_keystore => true)")
	# the new one first: most kills come before the change
	PW_CANDS=("$new" "$PW")
	TARGET=$W
}
post_password() { :; }

prep_backup() {
	local loc=NULL
	[ $((SEQ % 2)) -eq 0 ] && loc="'$R/backups'"
	OPCMDS=("SELECT tde.backup_keystore($(pwarg), backup_identifier => 'crash_$SEQ',
		location => $loc, force_keystore => true)")
	TARGET=$W
}
post_backup() { :; }

prep_merge_new() {
	MERGED=$R/merged/m$SEQ
	EXPECT=$( (p12_mkids "$W" "$PW"; p12_mkids "$R/side/ewallet.p12" Side_Pw) | sort -u)
	OPCMDS=("SELECT tde.merge_into_new_keystore(location1 => '$R/tde', location2 => '$R/side',
		new_location => '$MERGED', new_password => 'Merge_Pw', password1 => '$PW',
		password2 => 'Side_Pw')")
	TARGET=$MERGED/ewallet.p12
}
post_merge_new() {
	local got
	if [ -f "$MERGED/ewallet.p12" ]; then
		if ! got=$(p12_mkids "$MERGED/ewallet.p12" Merge_Pw); then
			check_fail "the merged keystore does not open"
		elif [ "$got" != "$EXPECT" ]; then
			check_fail "the merged keystore holds $(wc -l <<<"$got") keys, not the $(wc -l <<<"$EXPECT") of both sources"
		fi
	fi
	rm -rf "$MERGED"
}

prep_merge_existing() {
	SRC=$R/msrc/s$SEQ
	KEY=$(new_key)
	move_out "$KEY" "$SRC" Src_Pw
	snap_keys
	OPCMDS=("SELECT tde.merge_into_existing_keystore(location => '$SRC', existing_location => '$R/tde',
		password => 'Src_Pw', existing_password => '$PW', with_backup => true)")
	TARGET=$W
}
post_merge_existing() {
	in_keystore "$KEY" "$SRC/ewallet.p12" Src_Pw ||
		check_fail "the merge's source keystore no longer opens or lost its key"
	rm -rf "$SRC"
}

prep_import() {
	SRC=$R/msrc/i$SEQ EXPFILE=$R/exports/i$SEQ.exp
	KEY=$(new_key)
	sql crash_a "SELECT tde.export_keys(secret => 'Exp_Secret', path => '$EXPFILE', $(pwarg),
		key_ids => ARRAY[tde.key_id(decode('$KEY', 'hex'))])" >/dev/null
	move_out "$KEY" "$SRC" Src_Pw
	snap_keys
	OPCMDS=("SELECT tde.import_keys(secret => 'Exp_Secret', path => '$EXPFILE', $(pwarg),
		with_backup => true)")
	TARGET=$W
}
post_import() {
	in_keystore "$KEY" "$EXPFILE" Exp_Secret || check_fail "the export file imported from is damaged"
	rm -rf "$SRC" "$EXPFILE"
}

prep_export() {
	EXPFILE=$R/exports/e$SEQ.exp
	EXPECT=$(p12_mkids "$W" "$PW")
	OPCMDS=("SELECT tde.export_keys(secret => 'Exp_Secret', path => '$EXPFILE', $(pwarg),
		force_keystore => true)")
	TARGET=$EXPFILE
}
post_export() {
	local got
	if [ -f "$EXPFILE" ]; then
		if ! got=$(p12_mkids "$EXPFILE" Exp_Secret); then
			check_fail "the export file does not open"
		elif [ "$got" != "$EXPECT" ]; then
			check_fail "the export file holds $(wc -l <<<"$got") keys, not the wallet's $(wc -l <<<"$EXPECT")"
		fi
	fi
	rm -f "$EXPFILE"
}

prep_move() {
	local act used ids
	act=$(active_mkid)
	# every key no relation key of either database needs, and not the
	# active one (MOVE KEYS refuses those): it keeps the wallet small
	used=$(for db in crash_a crash_b; do
		sql "$db" "SELECT DISTINCT $KEY_MKID_SQL FROM (SELECT master_key_id AS key_id
			FROM tde.relation_keys) s"
	done | sort -u)
	mapfile -t MOVING < <(p12_mkids "$W" "$PW" | grep -vx -F -f <(printf '%s\n' "$act" "$used") || true)
	[ ${#MOVING[@]} -gt 0 ] || MOVING=("$(new_key)")
	snap_keys
	MOVED=$R/moved/mv$SEQ
	ids=$(printf "tde.key_id(decode('%s', 'hex'))," "${MOVING[@]}")
	OPCMDS=("SELECT tde.move_keys(new_location => '$MOVED', new_password => 'Move_Pw', $(pwarg),
		key_ids => ARRAY[${ids%,}], with_backup => true)")
	TARGET=$W
}
post_move() {
	local k in_main moved=
	in_main=$(key_mkids)
	if [ -f "$MOVED/ewallet.p12" ]; then
		moved=$(p12_mkids "$MOVED/ewallet.p12" Move_Pw) || check_fail "the new keystore of MOVE KEYS does not open"
	fi
	for k in "${MOVING[@]}"; do
		grep -qx "$k" <<<"$in_main"$'\n'"$moved" && continue
		# what the file says, beside what the view showed
		if grep -qx "$k" <<<"$(p12_mkids "$W" "$PW" 2>/dev/null)"; then
			check_fail "key $k is not in v\$encryption_keys ($(grep -c . <<<"$in_main") keys), but ewallet.p12 holds it"
		else
			check_fail "key $k is in neither keystore"
		fi
	done
}

prep_secret() {
	local v=crash_secret_$SEQ
	if [ "$SECRET" = - ]; then
		OPCMDS=("SELECT tde.add_secret(secret => '$v', client => '$SECRET_CLIENT', $(pwarg), with_backup => true)")
		SECRET_CANDS=(- "$v")
	elif [ $((RANDOM % 3)) -eq 0 ]; then
		OPCMDS=("SELECT tde.delete_secret(client => '$SECRET_CLIENT', $(pwarg), with_backup => true)")
		SECRET_CANDS=("$SECRET" -)
	else
		OPCMDS=("SELECT tde.update_secret(secret => '$v', client => '$SECRET_CLIENT', $(pwarg), with_backup => true)")
		SECRET_CANDS=("$SECRET" "$v")
	fi
	TARGET=$W
}
post_secret() { SECRET=$(wallet_secret || echo -); }

prep_seps() {
	local v=crash_store_$SEQ
	if [ "$SEPS" = - ]; then
		OPCMDS=("SELECT tde.add_external_store_secret(secret => '$v', client => 'TDE_WALLET')")
		SEPS_CANDS=(- "$v")
	elif [ $((RANDOM % 3)) -eq 0 ]; then
		OPCMDS=("SELECT tde.delete_external_store_secret(client => 'TDE_WALLET')")
		SEPS_CANDS=("$SEPS" -)
	else
		OPCMDS=("SELECT tde.update_external_store_secret(secret => '$v', client => 'TDE_WALLET')")
		SEPS_CANDS=("$SEPS" "$v")
	fi
	TARGET=$R/tde_seps/cwallet.sso
}
post_seps() { SEPS=$(store_secret TDE_WALLET || echo -); }

prep_data_rekey() {
	OPCMDS=("SELECT tde.rotate_relation_key('big')" "CALL tde.reencrypt('big', 'ct', 250)")
}
post_data_rekey() { :; }

prep_migrate() {
	# Under HSM|FILE one credential opens both keystores: the PIN.
	if [ "$PW" != "$PIN" ]; then
		sql crash_a "SELECT tde.alter_keystore_password(old_password => '$PW', new_password => '$PIN',
			with_backup => true, force_keystore => true)" >/dev/null
		PW=$PIN
	fi
	reload_config 'HSM|FILE'
	MODE=HSM
	OPCMDS=("SELECT tde.migrate_keystore(hsm_credential => '$PIN', wallet_password => '$PW',
		with_backup => true)")
	# a kill before the first migration's key leaves the HSM without one
	STATUS_WANT='^HSM:OPEN(_NO_MASTER_KEY)? FILE:OPEN$'
	TARGET=$R/tde/hsm_keys.sso
}
post_migrate() {
	# The next operations need the HSM as primary with a key.
	[ ${#FAILS[@]} -eq 0 ] || return 0
	[ "$(sql crash_a "$WALLET_SQL")" = "HSM:OPEN FILE:OPEN" ] ||
		sql crash_a "SELECT tde.migrate_keystore(hsm_credential => '$PIN', wallet_password => '$PW',
			with_backup => true)" >/dev/null
}

prep_hsm_set_key() {
	OPCMDS=("SELECT tde.set_key(tag => 'crash hsm $SEQ', password => '$PIN')")
	TARGET=$R/tde/hsm_keys.sso
}
post_hsm_set_key() { :; }

prep_reverse() {
	reload_config 'FILE|HSM'
	MODE=FILE
	OPCMDS=("SELECT tde.reverse_migrate_keystore(wallet_password => '$PW', hsm_credential => '$PIN',
		with_backup => true)")
	TARGET=$W
}
post_reverse() { :; }

# --- the rounds ------------------------------------------------------------------------

DBS=(crash_a crash_b)
declare -A DUR=() NROUNDS=() NLOST=() NNEW=() NTORN=()
LOST=0 ROUNDS_DONE=0 ROUND_NO=0 CUR_OP=setup TORN=0

# shuffle ARRAYNAME: in place, from $RANDOM (reproducible with --seed).
shuffle() {
	# shellcheck disable=SC2178  # a names the caller's array
	local -n a=$1
	local i j t
	for ((i = ${#a[@]} - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		t=${a[i]} a[i]=${a[j]} a[j]=$t
	done
}

# pick: PICKED = one line of stdin at random (empty if none).  Run in this
# shell, not in $(...): a subshell reseeds $RANDOM, and --seed would not
# reproduce the run.
pick() {
	local lines=()
	mapfile -t lines
	PICKED=
	[ ${#lines[@]} -eq 0 ] || PICKED=${lines[RANDOM % ${#lines[@]}]}
}

# sig FILE: what the file holds now, or "absent".
sig() { [ -n "$1" ] && [ -f "$1" ] && sha256sum <"$1" | cut -d' ' -f1 || echo absent; }

backup_files() { find "$R/tde" "$R/backups" -maxdepth 1 -name 'ewallet_*.p12' 2>/dev/null | sort || true; }

# check_backups: each backup written in the round opens with one of the
# round's passwords (openssl: MAC and decryption), so it is complete.
check_backups() {
	local f pw ok
	while read -r f; do
		ok=0
		for pw in "${PW_CANDS[@]}"; do
			p12_entries "$f" "$pw" >/dev/null && { ok=1; break; }
		done
		[ "$ok" -eq 1 ] || check_fail "backup ${f#"$R"/} does not open"
	done < <(comm -13 "$work/backups_before" <(backup_files))
}

# ensure_mode FILE|HSM: the phase the operation runs in.  Normally the
# passes' order brings it; after a restored baseline (or with --ops) an
# uncrashed configuration change or migration does.
ensure_mode() {
	if [ "$1" = FILE ] && [ "$MODE" = HSM ]; then
		reload_config 'FILE|HSM'
		MODE=FILE
	elif [ "$1" = HSM ] && [ "$MODE" = FILE ]; then
		prep_migrate
		post_migrate
	fi
}

report_loss() {
	local op=$1 kind=$2 delay=$3 f name
	name=$op-round$ROUND_NO
	printf 'LOST: %s, %s, kill after %s s (uncrashed run: %s s), %s processes killed\n' \
		"$op" "$kind" "$delay" "${DUR[$op]:--}" "${KILLED:-0}"
	for f in "${FAILS[@]}"; do printf '  - %s\n' "$f"; done
	if [ -s "$work/op.err" ]; then
		echo "  operation's stderr:"
		tail -n 5 "$work/op.err" | sed 's/^/    /'
	fi
	echo "  server log, last lines:"
	tail -n 25 "$C/server.log" | sed 's/^/    /'
	keep_cluster "$name"
	echo "  kept: $KEEP/$name (crashed-wallet_root: the wallet root as the crash left it)"
}

# softhsm_torn: SoftHSM2 2.6.1's file object store (Debian's build has no
# other) rewrites a token's files in place: it truncates token.object (the
# label, the PINs, the object list) and writes it anew, with no temporary
# file, no rename and no fsync.  A kill inside that write leaves it empty,
# and the token is gone for any program, whatever tde did: no token carries
# the label any more.  Such a round says nothing about tde; it is counted
# apart (SOFTHSM2 TORN), not judged, and the campaign goes on from the
# baseline.  True if the token has lost its label; TORN_FILES names the
# empty files of the token directory.
softhsm_torn() {
	TORN_FILES=$(find "$C/softhsm/tokens" -type f -size 0 ! -name '*.lock' 2>/dev/null |
		sed "s|^$C/softhsm/tokens/[^/]*/||" | tr '\n' ' ')
	! grep -qE "Label: +$HSM_LABEL *$" <<<"$(as_user softhsm2-util --show-slots 2>/dev/null)"
}

report_torn() {
	local op=$1 delay=$2 name=$1-round$ROUND_NO-softhsm2
	printf 'SOFTHSM2 TORN: %s, kill after %s s (uncrashed run: %s s): no token is labelled %s; empty files: %s\n' \
		"$op" "$delay" "${DUR[$op]:--}" "$HSM_LABEL" "${TORN_FILES:-none}"
	# the first three are kept, for inspection
	if [ "$TORN" -le 3 ]; then
		keep_cluster "$name"
		echo "  kept: $KEEP/$name"
	fi
}

# run_round OP measure|crash
run_round() {
	local op=$1 kind=$2 t0 dur delay=- rc r30 before
	CUR_OP=$op
	ROUND_NO=$((ROUND_NO + 1))
	next
	FAILS=()
	case " ${HSM_OPS[*]} " in
	*" $op "*) [ "$op" != hsm_set_key ] || ensure_mode HSM ;;
	*) ensure_mode FILE ;;
	esac
	OPDB=${DBS[SEQ % 2]} OPCMDS=() PW_CANDS=() SECRET_CANDS=() SEPS_CANDS=()
	MOVING=() TARGET='' STATUS_WANT='' KILLED=0 OPENED_WITH=''
	# the backups before the round: after the preparation, whose own backups
	# may be under an older password, except for create, which moves the
	# wallet directory away
	[ "$op" != create ] || backup_files >"$work/backups_before"
	"prep_$op"
	# what the preparation did not choose stays as it is (after it: the
	# preparation may change the password)
	[ ${#PW_CANDS[@]} -gt 0 ] || PW_CANDS=("$PW")
	[ ${#SECRET_CANDS[@]} -gt 0 ] || SECRET_CANDS=("$SECRET")
	[ ${#SEPS_CANDS[@]} -gt 0 ] || SEPS_CANDS=("$SEPS")
	[ "$op" = create ] || backup_files >"$work/backups_before"
	before=$(sig "$TARGET")
	local a=() s
	for s in "${OPCMDS[@]}"; do a+=(-c "$s"); done
	t0=$EPOCHREALTIME
	as_user psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$work" -p "$PORT" -d "$OPDB" "${a[@]}" \
		>"$work/op.out" 2>"$work/op.err" &
	local pid=$!
	if [ "$kind" = measure ]; then
		rc=0
		wait "$pid" || rc=$?
		dur=$(elapsed "$t0")
		DUR[$op]=$dur
		[ "$rc" -eq 0 ] || check_fail "the operation failed without a crash: $(tr '\n' ' ' <"$work/op.err")"
		close_keystore
	else
		r30=$(((RANDOM << 15) | RANDOM))
		delay=$(awk -v d="${DUR[$op]}" -v r="$r30" 'BEGIN { printf "%.3f", 1.2 * d * r / 1073741824 }')
		# the wait, without a fork (read times out on a FIFO nobody writes)
		read -r -t "$delay" <>"$work/never" || true
		crash_server
		wait "$pid" || true
		rm -rf "$C/crashed-wallet_root"
		cp -a "$R" "$C/crashed-wallet_root"
		if softhsm_torn; then
			NTORN[$op]=$((${NTORN[$op]:-0} + 1))
			TORN=$((TORN + 1))
			report_torn "$op" "$delay"
			restore_baseline
			snap_keys
			CUR_OP=
			return 0
		fi
		[ "$(sig "$TARGET")" = "$before" ] || NNEW[$op]=$((${NNEW[$op]:-0} + 1))
		server_start || check_fail "the server does not start after the crash"
	fi
	if [ ${#FAILS[@]} -eq 0 ]; then
		if declare -F "hook_$op" >/dev/null; then "hook_$op"; fi
		[ -n "$STATUS_WANT" ] || if [ "$MODE" = HSM ]; then
			STATUS_WANT='^HSM:OPEN FILE:OPEN$'
		else
			STATUS_WANT='^FILE:OPEN HSM:OPEN'
		fi
		check_all "${PW_CANDS[@]}"
		# the operation's own checks need the keystore open
		if [ -n "$OPENED_WITH" ]; then
			"post_$op"
			check_backups
			snap_keys
		fi
	fi
	if [ "$kind" = crash ]; then
		NROUNDS[$op]=$((${NROUNDS[$op]:-0} + 1))
		ROUNDS_DONE=$((ROUNDS_DONE + 1))
	fi
	log "$(printf '%-15s %-7s delay %-6s of %-6s killed %-2s %s' "$op" "$kind" "$delay" \
		"${DUR[$op]}" "$KILLED" "${FAILS[*]:-ok}")"
	if [ ${#FAILS[@]} -gt 0 ]; then
		NLOST[$op]=$((${NLOST[$op]:-0} + 1))
		LOST=$((LOST + 1))
		report_loss "$op" "$kind" "$delay"
		restore_baseline
		snap_keys
	fi
	CUR_OP=
}

# An unexpected error (a preparation step that failed, say) ends the
# campaign: say where, and keep the cluster for inspection.
on_error() {
	local rc=$? line=$1
	[ "$BASHPID" = "$$" ] || exit "$rc"
	trap - ERR
	echo "crash campaign: unexpected error (line $line, exit $rc) in ${CUR_OP:-?} (round $ROUND_NO)" >&2
	[ -s "$work/op.err" ] && tail -n 5 "$work/op.err" >&2
	tail -n 20 "$C/server.log" >&2 2>/dev/null || true
	if [ -d "$C/data" ]; then
		keep_cluster "error-round$ROUND_NO" >&2 2>&1 || true
		echo "kept: $KEEP/error-round$ROUND_NO" >&2
	fi
	exit 2
}
set -E
trap 'on_error $LINENO' ERR

# --- main ----------------------------------------------------------------------------

ORDER=()
for op in "${ALL_OPS[@]}"; do selected "$op" && ORDER+=("$op"); done
printf 'crash campaign: %s operations, %s rounds each, seed %s\n' "${#ORDER[@]}" "$ROUNDS" "$SEED"
mkfifo "$work/never"
setup_cluster
printf 'setup: %s s\n' "$(elapsed "$T0")"
for op in "${ORDER[@]}"; do run_round "$op" measure; done
msg "measured (s): $(for op in "${ORDER[@]}"; do printf '%s=%s ' "$op" "${DUR[$op]}"; done)"
for ((pass = 1; pass <= ROUNDS; pass++)); do
	file_ops=()
	for op in "${FILE_OPS[@]}"; do selected "$op" && file_ops+=("$op"); done
	shuffle file_ops
	for op in "${file_ops[@]}" "${HSM_OPS[@]}"; do
		selected "$op" || continue
		run_round "$op" crash
	done
	[ "$VERBOSE" -eq 0 ] || msg "pass $pass done, $(elapsed "$T0") s"
done

for op in "${ORDER[@]}"; do
	printf '%s: %d rounds, %d lost\n' "$op" "${NROUNDS[$op]:-0}" "${NLOST[$op]:-0}"
	msg "$op: uncrashed ${DUR[$op]} s, new state after ${NNEW[$op]:-0} of ${NROUNDS[$op]:-0} kills${NTORN[$op]:+, ${NTORN[$op]} more not judged (SoftHSM2 torn)}"
done
[ "$TORN" -eq 0 ] ||
	printf 'softhsm2: %d more rounds not judged: the kill tore the token store of SoftHSM2 itself\n' "$TORN"
printf 'crash campaign: %d rounds, %d operations, %d lost\n' "$ROUNDS_DONE" "${#ORDER[@]}" "$LOST"
printf 'elapsed: %s s\n' "$(elapsed "$T0")"
if [ "$LOST" -gt 0 ]; then
	echo "kept: $KEEP"
	exit 1
fi
