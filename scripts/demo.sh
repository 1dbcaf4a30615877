#!/usr/bin/env bash
# scripts/demo.sh: show the tde keystore lifecycle on a throwaway server.
#
# As root on Debian 12: runs setup.sh (packages, build, install), creates a
# temporary PostgreSQL 15 cluster owned by the unprivileged user tdetest,
# with tde preloaded and its own wallet root, runs scripts/walkthrough.sql
# against it with psql, then stops the server and removes everything.
# The server listens only on a Unix socket inside the temporary directory.
#
# The exit status is psql's: 0 when every step of the walkthrough worked.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tde_require_root
bash "$TDE_ROOT/scripts/setup.sh"

PORT=5499
demo=$(mktemp -d /tmp/tde-demo.XXXXXX)
data=$demo/data
wallet_root=$demo/wallet_root

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local rc=$?
	if [ -f "$data/postmaster.pid" ]; then
		(cd "$demo" && tde_as_test_user pg_ctl -D "$data" -m fast -w stop) >/dev/null 2>&1 ||
			(cd "$demo" && tde_as_test_user pg_ctl -D "$data" -m immediate -w stop) >/dev/null 2>&1 || true
	fi
	rm -rf "$demo"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Show a log and fail.
fail_with_log() {
	tde_msg "$1; last lines of ${2##*/}:" >&2
	tail -n 40 "$2" >&2
	exit 1
}

chown "$TDE_TEST_USER:" "$demo"
chmod 700 "$demo"
install -d -m 700 -o "$TDE_TEST_USER" -g "$(id -gn "$TDE_TEST_USER")" "$wallet_root"
install -m 644 -o "$TDE_TEST_USER" "$TDE_ROOT/scripts/walkthrough.sql" "$demo/walkthrough.sql"
cd "$demo"

tde_msg "creating a throwaway cluster in $data"
tde_as_test_user initdb -D "$data" --auth-local=trust --auth-host=reject \
	>"$demo/initdb.log" 2>&1 || fail_with_log "initdb failed" "$demo/initdb.log"

cat >>"$data/postgresql.conf" <<EOF

# --- tde demo ---
shared_preload_libraries = 'tde'
tde.wallet_root = '$wallet_root'
listen_addresses = ''
unix_socket_directories = '$demo'
port = $PORT
EOF

# A SoftHSM2 token for the HSM part of the walkthrough, owned by the
# server's OS user; the server finds it through SOFTHSM2_CONF.
softhsm=$demo/softhsm
install -d -m 700 -o "$TDE_TEST_USER" "$softhsm" "$softhsm/tokens"
softhsm2_conf "$softhsm/tokens" >"$softhsm/softhsm2.conf"
chown "$TDE_TEST_USER" "$softhsm/softhsm2.conf"
tde_as_test_user env SOFTHSM2_CONF="$softhsm/softhsm2.conf" softhsm2-util --init-token --free \
	--label tde --so-pin 'demo-so-pin' --pin 'demo-pin' >"$demo/softhsm.log" 2>&1 ||
	fail_with_log "creating the SoftHSM2 token failed" "$demo/softhsm.log"
cat >>"$data/postgresql.conf" <<EOF
tde.pkcs11_library = '/usr/lib/softhsm/libsofthsm2.so'
tde.pkcs11_token_label = 'tde'
EOF

tde_as_test_user env SOFTHSM2_CONF="$softhsm/softhsm2.conf" \
	pg_ctl -D "$data" -w -l "$demo/server.log" start >/dev/null 2>&1 ||
	fail_with_log "the server did not start" "$demo/server.log"
tde_msg "server running (socket in $demo, port $PORT); tde.wallet_root = $wallet_root"
echo

rc=0
tde_as_test_user psql -X -v ON_ERROR_STOP=1 -e -h "$demo" -p "$PORT" -d postgres \
	-f "$demo/walkthrough.sql" || rc=$?

echo
if [ "$rc" -eq 0 ]; then
	tde_msg "the files tde wrote under tde.wallet_root:"
	(cd "$wallet_root" && find . -mindepth 1 -printf '  %M %u %7s  %p\n' | sort -k4)
	echo
	tde_msg "walkthrough completed"
else
	tde_msg "walkthrough failed (psql exit status $rc); last lines of the server log:" >&2
	tail -n 20 "$demo/server.log" >&2
fi
exit "$rc"
