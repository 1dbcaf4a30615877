# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # shares variables with crash-campaign.sh
# scripts/crash-campaign-lib.sh: the cluster plumbing and the checks of
# scripts/crash-campaign.sh, sourced by it, never run on its own.
#
# One throwaway cluster (bench/lib.sh's helpers: the server runs as the
# unprivileged user, in a private directory removed on exit) lives in
# $C: $C/data, $C/wallet_root, $C/softhsm (SoftHSM2's configuration and
# token directory) and $C/server.log.  Two databases, crash_a and
# crash_b, hold relation keys and ciphertexts.  The campaign state that
# the checks compare against is in shell variables (see "The expected
# state" below) and is saved with the baseline tarball, so that a round
# that lost something can restore both.

# --- the expected state ------------------------------------------------------
#
# PW       the wallet password (the HSM phase needs it equal to PIN: under
#          HSM|FILE one credential opens the HSM and the secondary wallet)
# MODE     FILE (configuration FILE|HSM: the wallet is primary) or HSM
#          (HSM|FILE: the HSM is primary, the wallet secondary)
# SECRET   the value of the wallet's client secret crash_client, - if none
# SEPS     the value of the external store's client TDE_WALLET, - if none
# SEQ      a counter that makes every tag, password and file name unique
STATE_VARS=(PW MODE SECRET SEPS SEQ)

PIN=Crash_Pin_1
HSM_SO_PIN=1234
HSM_LABEL=crash
SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so
SECRET_CLIENT=crash_client
# The auto-login wallets' password is the SHA-256 of this fixed string
# (src/store/autologin.c; the derivation never changes, so that existing
# wallets keep opening): it lets openssl read the external store.
AUTOLOGIN_PASSWORD=$(printf '%s' 'tde auto-login wallet v1' | sha256sum | cut -d' ' -f1)

save_state() {
	local v
	for v in "${STATE_VARS[@]}"; do printf '%s=%q\n' "$v" "${!v}"; done >"$1"
}

# --- SQL ------------------------------------------------------------------------

# sql DB SQL...: run each SQL as its own command (psql -c), print tuples.
sql() {
	local db=$1 a=() s
	shift
	for s in "$@"; do a+=(-c "$s"); done
	pg_psql "$PORT" "$db" "${a[@]}"
}

# sqlq STRING: STRING as an SQL literal.
sqlq() { printf "'%s'" "${1//\'/\'\'}"; }

# --- the server -----------------------------------------------------------------

# server_start: start the server; PM_PID is its postmaster (read now, so
# that crash_server need not read it).
server_start() {
	as_user pg_ctl -D "$C/data" -w -t 120 -l "$C/server.log" start >/dev/null 2>&1 || return 1
	read -r PM_PID <"$C/data/postmaster.pid"
}

# proc_alive PID: the process exists and is not a zombie (a zombie has
# exited: it holds no shared memory and no file).
proc_alive() {
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone PID...: until none of them is alive (60 s at most, then fail);
# then a moment for the zombies to be reaped, which is late here.
wait_gone() {
	local i p left
	for ((i = 0; i < 6000; i++)); do
		left=0
		for p in "$@"; do proc_alive "$p" && left=1; done
		[ "$left" -eq 0 ] && break
		sleep 0.01
	done
	[ "$left" -eq 0 ] || die "processes of the killed server still run: $*"
	for ((i = 0; i < 100; i++)); do
		left=0
		for p in "$@"; do [ -e "/proc/$p" ] && left=1; done
		[ "$left" -eq 0 ] && break
		sleep 0.02
	done
}

# crash_server: kill -9 the postmaster and every child of it at once, as
# a crash would.  The postmaster is stopped first so that it cannot start
# a child between the listing of its children and the kill; from the
# stop to the kill only builtins run (no fork: the backends would go on
# working meanwhile), the children read from /proc.  Then wait until
# every one of them has exited and remove the lock files they left (a
# zombie that init has not reaped yet still answers kill(pid, 0), and the
# new postmaster would take it for a live server).
crash_server() {
	local pm=${PM_PID:-} kids=()
	[ -n "$pm" ] || read -r pm 2>/dev/null <"$C/data/postmaster.pid" || die "no postmaster.pid"
	kill -STOP "$pm" 2>/dev/null || true
	read -r -a kids 2>/dev/null <"/proc/$pm/task/$pm/children" || true
	kill -KILL "$pm" "${kids[@]}" 2>/dev/null || true
	PM_PID=
	wait_gone "$pm" "${kids[@]}"
	KILLED=$((1 + ${#kids[@]}))
	rm -f "$C/data/postmaster.pid" "$work/.s.PGSQL.$PORT.lock"
}

server_stop() {
	as_user pg_ctl -D "$C/data" -m fast -w -t 120 stop >/dev/null 2>&1 ||
		{ [ -f "$C/data/postmaster.pid" ] && crash_server; } || true
}

# reload_config VALUE: tde.keystore_configuration = VALUE, and wait until
# a new session sees it (the postmaster reloads asynchronously).
reload_config() {
	local i
	sql crash_a "ALTER SYSTEM SET tde.keystore_configuration = $(sqlq "$1")" \
		"SELECT pg_reload_conf()" >/dev/null
	for ((i = 0; i < 500; i++)); do
		[ "$(sql crash_a 'SHOW tde.keystore_configuration')" = "$1" ] && return 0
		sleep 0.01
	done
	die "tde.keystore_configuration did not become $1"
}

# --- PKCS#12 files through openssl ------------------------------------------------

# p12_entries FILE PASSWORD: "name<TAB>hex value" of every secret bag; fails
# if the file does not open with PASSWORD (MAC or decryption).
p12_entries() {
	local out
	out=$(openssl pkcs12 -info -nokeys -in "$1" -passin "pass:$2" 2>/dev/null) || return 1
	awk '/friendlyName:/ { n = $2; getline; gsub(/ /, ""); print n "\t" $0 }' <<<"$out"
}

# p12_mkids FILE PASSWORD: the MKIDs (hex, sorted) of the master keys in it.
p12_mkids() {
	local e
	e=$(p12_entries "$1" "$2") || return 1
	awk -F'\t' '$1 ~ /^TDE\.MK\./ { print tolower(substr($1, 8)) }' <<<"$e" | sort
}

# p12_value FILE PASSWORD NAME: the entry's value as text ("" if absent).
p12_value() {
	local e
	e=$(p12_entries "$1" "$2") || return 1
	awk -F'\t' -v n="$3" '$1 == n { print $2 }' <<<"$e" | xxd -r -p
}

# wallet_secret: the value of client crash_client in the wallet, - if none.
wallet_secret() {
	local rec hexname
	hexname=$(printf '%s' "$SECRET_CLIENT" | xxd -p)
	rec=$(p12_value "$C/wallet_root/tde/ewallet.p12" "$PW" "TDE.SECRET.$hexname") || return 1
	if [ -z "$rec" ]; then
		echo -
	else
		sed -n 's/^secret=//p' <<<"$rec" | xxd -r -p
		echo
	fi
}

# store_secret CLIENT: the external store's value for CLIENT, - if none.
store_secret() {
	local v
	v=$(p12_value "$C/wallet_root/tde_seps/cwallet.sso" "$AUTOLOGIN_PASSWORD" "CLIENT.$1") || return 1
	printf '%s\n' "${v:--}"
}

# key_mkids DB: the MKIDs (hex, sorted) of the master keys the open keystores
# show, and key_ids_to_mkids: the same for KEY_IDs on stdin.
KEY_MKID_SQL="encode(substring(decode(key_id, 'base64') from 2 for 16), 'hex')"
key_mkids() {
	sql crash_a "SELECT $KEY_MKID_SQL FROM \"v\$encryption_keys\" ORDER BY 1"
}

# --- the checks ---------------------------------------------------------------------
#
# check_fail WHAT: record that a check failed (a round may fail several).
check_fail() { FAILS+=("$1"); }

# open_keystore CANDIDATE...: open with the first candidate the wallet (or
# under HSM|FILE the HSM and the wallet) accepts; sets OPENED_WITH.  A
# wrong password (28P01) tries the next; any other error is a failure.
open_keystore() {
	local pw err
	OPENED_WITH=
	for pw in "$@"; do
		if err=$(sql crash_a "\\set VERBOSITY verbose" \
			"SELECT tde.open_keystore(password => $(sqlq "$pw"))" 2>&1 >/dev/null); then
			OPENED_WITH=$pw
			return 0
		fi
		grep -q 28P01 <<<"$err" || { check_fail "open_keystore failed: ${err//$'\n'/ }"; return 1; }
	done
	check_fail "the keystore opens with none of the candidate passwords"
	return 1
}

close_keystore() {
	sql crash_a "SELECT tde.close_keystore() FROM \"v\$encryption_wallet\"
		WHERE status LIKE 'OPEN%' LIMIT 1" >/dev/null
}

# The SQL of the per-database checks (created at setup as crash_check()):
# every ciphertext decrypts to its plaintext (each row on its own, so that
# one bad row does not hide the others), every relation key names a
# master key of the open keystores, every relation key version has a
# ciphertext in cts (so that decrypting all of cts unwraps every key).
CHECK_FUNCTION_SQL=$(
	cat <<'EOF'
CREATE FUNCTION crash_check() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	r record;
	n int := 0;
	bad int := 0;
	first text := '';
	got text;
	orphans int;
	unwitnessed int;
BEGIN
	FOR r IN SELECT 'cts' AS t, id, relid, plain, ct FROM cts
		UNION ALL SELECT 'big', id, 'big'::regclass, plain, ct FROM big
	LOOP
		n := n + 1;
		BEGIN
			got := tde.decrypt_text(r.relid, r.ct);
			IF got IS DISTINCT FROM r.plain THEN
				bad := bad + 1;
				IF first = '' THEN first := format('%s id %s: wrong plaintext', r.t, r.id); END IF;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			bad := bad + 1;
			IF first = '' THEN
				first := format('%s id %s (%s): %s %s', r.t, r.id, r.relid, SQLSTATE, SQLERRM);
			END IF;
		END;
	END LOOP;
	SELECT count(*) INTO orphans FROM tde.relation_keys k
		LEFT JOIN "v$encryption_keys" m ON m.key_id = k.master_key_id WHERE m.key_id IS NULL;
	SELECT count(*) INTO unwitnessed FROM tde.relation_keys k
		WHERE NOT EXISTS (SELECT 1 FROM cts c WHERE c.relid = k.relid AND c.ver = k.key_version);
	RETURN format('%s|%s|%s|%s|%s', n, bad, orphans, unwitnessed, first);
END
$f$;
EOF
)

# A ciphertext of big's newest key version in cts, if it has none yet
# (the data rekey made that version): its witness.
WITNESS_SQL="INSERT INTO cts (relid, ver, plain, ct)
	SELECT 'big', tde.relation_key_version('big'), p, tde.encrypt('big', p)
	FROM (SELECT 'witness ' || md5(random()::text) AS p) s
	WHERE NOT EXISTS (SELECT 1 FROM cts WHERE relid = 'big'::regclass
		AND ver = tde.relation_key_version('big'))"
# The keystores' rows, "TYPE:STATUS" primary first.
WALLET_SQL="SELECT string_agg(wrl_type || ':' || status, ' ' ORDER BY wallet_order)
	FROM \"v\$encryption_wallet\""

# check_data DB: the per-database checks.
check_data() {
	local out n bad orphans unw first
	if ! out=$(sql "$1" "$WITNESS_SQL" "SELECT crash_check()" 2>&1); then
		check_fail "$1: the data check failed: ${out//$'\n'/ }"
		return
	fi
	out=$(tail -n 1 <<<"$out")
	IFS='|' read -r n bad orphans unw first <<<"$out"
	[ "$bad" = 0 ] || check_fail "$1: $bad of $n ciphertexts do not decrypt to their plaintext (first: $first)"
	[ "$orphans" = 0 ] || check_fail "$1: $orphans relation keys name a master key no open keystore holds"
	[ "$unw" = 0 ] || check_fail "$1: $unw relation key versions have no ciphertext to check them by"
}

# check_all CANDIDATE...: every check of a round, the keystore closed (as
# after a restart); leaves it open.  PW becomes the password that opened
# it; STATUS_WANT is the pattern v$encryption_wallet must match.
check_all() {
	local status f keys
	open_keystore "$@" || return 0
	PW=$OPENED_WITH
	status=$(sql crash_a "$WALLET_SQL" 2>&1) || { check_fail "v\$encryption_wallet: $status"; return 0; }
	[[ "$status" =~ $STATUS_WANT ]] || check_fail "keystore status is \"$status\" (want $STATUS_WANT)"
	check_data crash_a
	check_data crash_b
	# No master key the keystores held before the round is gone, except
	# those the operation moves out (checked by the operation).
	keys=$(key_mkids) || { check_fail "v\$encryption_keys cannot be read"; return 0; }
	f=$(comm -23 "$KEYS_BEFORE" <(printf '%s\n' "$keys") | grep -v -x -F -f <(printf '%s\n' "${MOVING[@]}" "") || true)
	[ -z "$f" ] || check_fail "master keys lost: $(tr '\n' ' ' <<<"$f")"
	check_secrets
	check_tmp_files
}

# check_secrets: the client secrets read back (with openssl, from the
# files themselves) as one of the values the round allows.
check_secrets() {
	local got want
	if ! got=$(wallet_secret); then
		check_fail "ewallet.p12 does not open with openssl and the password"
	else
		want=" ${SECRET_CANDS[*]} "
		[[ "$want" == *" $got "* ]] || check_fail "client secret $SECRET_CLIENT is \"$got\", not one of:$want"
	fi
	if ! got=$(store_secret TDE_WALLET); then
		check_fail "the external store does not open"
		return
	fi
	want=" ${SEPS_CANDS[*]} "
	[[ "$want" == *" $got "* ]] || check_fail "external store TDE_WALLET is \"$got\", not one of:$want"
	got=$(store_secret HSM_PASSWORD) || got=unreadable
	[ "$got" = "$PIN" ] || check_fail "external store HSM_PASSWORD is \"$got\", not the HSM PIN"
}

# check_tmp_files: fileio.c writes "<file>.tmp.<pid>" beside each file it
# replaces; none may be left anywhere under the wallet root (which holds the
# backup, export, merge and move directories too).  Each one found is
# reported once and removed, so that later rounds are judged on their own.
check_tmp_files() {
	local f
	f=$(find "$C/wallet_root" -name '*.tmp*' 2>/dev/null | sed "s|^$C/wallet_root/||")
	if [ -n "$f" ]; then
		check_fail "temporary files left: $(tr '\n' ' ' <<<"$f")"
		find "$C/wallet_root" -name '*.tmp*' -delete
	fi
}

# --- baseline ----------------------------------------------------------------------

# save_baseline: a tarball of the stopped cluster (data, wallet root,
# SoftHSM2 token) and the expected state, to come back to after a loss.
save_baseline() {
	server_stop
	save_state "$C/state"
	tar -C "$C" -cf "$work/baseline.tar" data wallet_root softhsm state
	server_start || fail_with_log "the server did not start" "$C/server.log"
}

# restore_baseline: back to the baseline (the server stopped first, every
# process of it gone), keystore open.
restore_baseline() {
	server_stop
	rm -rf "$C/data" "$C/wallet_root" "$C/softhsm" "$C/state"
	tar -C "$C" -xf "$work/baseline.tar"
	# shellcheck disable=SC1091  # written by save_state
	. "$C/state"
	server_start || fail_with_log "the server did not start from the baseline" "$C/server.log"
	# (in the HSM phase PW is the PIN too)
	sql crash_a "SELECT tde.open_keystore(password => $(sqlq "$PW"))" >/dev/null
}

# keep_cluster NAME: a copy of the cluster (and of the wallet root as the
# crash left it, before the restart) under $KEEP/NAME, for inspection.
keep_cluster() {
	mkdir -p "$KEEP"
	server_stop
	cp -a "$C" "$KEEP/$1"
	server_start || true
}
