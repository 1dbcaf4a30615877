# The HSM goes away while the server runs, and comes back.  During the
# outage, work that needs the HSM fails cleanly with a connection-class
# SQLSTATE (08006, never an internal error, never a crash) and changes
# nothing; afterwards new and old sessions work again without restarting
# PostgreSQL.  And modules that wrap differently: without CKM_AES_GCM, or
# generating GCM IVs themselves, with keys wrapped under one still
# unwrapping under another.
#
# Part 1, a remote HSM: "p11-kit server" exports the SoftHSM2 token on a
# Unix socket and the server uses p11-kit-client.so (P11_KIT_SERVER_ADDRESS
# in the postmaster's environment).  Killing the p11-kit server and its
# per-connection children is the outage; starting it on the same socket is
# the recovery.  Debian 12's p11-kit (0.24.1) forwards neither CKM_AES_GCM
# nor any AES key wrap over its RPC, only CKM_AES_ECB: tde wraps relation
# keys there with AES key wrap (RFC 5649) on the HSM's AES block function.
#
# Part 2, the data path: a small fault-injecting PKCS#11 module
# (TdeTest.pm's faulty_pkcs11_build) passes every call to SoftHSM2 and
# answers CKR_DEVICE_REMOVED while a state file says "down"; when the
# state's epoch changes it closes the real sessions first, as a restarted
# device would have lost them.  It is switched in with tde.pkcs11_library
# and a reload.
#
# Part 3, mechanisms: the same module refusing CKM_AES_GCM ("nogcm"), and
# as a FIPS-mode HSM that refuses a caller's GCM IV and returns its own
# ("moduleiv"): encrypt, SET KEY (re-wrap), decrypt, restart, decrypt, and
# switch modes both ways; a blob of the format before 1.1 still unwraps; a
# wrapped key moved to another row does not.
#
# Part 4, the handle cache: handles the module renumbers (restore,
# fail-over) are looked up again; an aborted transaction or subtransaction
# leaves no handle behind (counted in the module's call log); DROP
# EXTENSION and CREATE EXTENSION in a session leave the HSM usable.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use TdeTest;

my $client_lib = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
my $p11kit = find_program('p11-kit');
if (my $why = softhsm_missing())
{
	tde_skip_all($why, hsm => 1);
}
elsif (!$p11kit)
{
	tde_skip_all('p11-kit is missing (install p11-kit)', hsm => 1);
}
elsif (!-e $client_lib)
{
	tde_skip_all("$client_lib is missing (install p11-kit-modules)", hsm => 1);
}
elsif (my $why_shim = faulty_pkcs11_missing())
{
	tde_skip_all($why_shim, hsm => 1);
}

my $pin = $TdeTest::HSM_PIN;
my $nrows = 40;
my $node = tde_new_node('hsm_outage');
softhsm_setup($node, library => $client_lib, restart => 0,
	conf => "tde.keystore_configuration = 'HSM'\n");

# A short private directory for the socket (sun_path is 108 bytes), and
# the fault injector's state file; both in the postmaster's environment.
my $rundir = PostgreSQL::Test::Utils::tempdir_short();
chmod 0700, $rundir;
my $sock = "$rundir/p11.sock";
my $state_file = "$rundir/hsm_state";
$ENV{XDG_RUNTIME_DIR} = $rundir;
$ENV{P11_KIT_SERVER_ADDRESS} = "unix:path=$sock";
$ENV{TDE_TEST_HSM_STATE} = $state_file;
$ENV{TDE_TEST_PKCS11_REAL} = $TdeTest::SOFTHSM_LIB;

my $hsm_log = "$rundir/hsm_calls";
$ENV{TDE_TEST_HSM_LOG} = $hsm_log;

sub set_state
{
	my ($s) = @_;
	faulty_pkcs11_state($state_file, $s);
}
set_state('up 0');

# --- the p11-kit server ---------------------------------------------------------

my ($srv, $srv_out, $srv_err);

sub start_hsm
{
	($srv_out, $srv_err) = ('', '');
	$srv = IPC::Run::start(
		[
			$p11kit, 'server', '-f', '-n', $sock,
			'--provider', $TdeTest::SOFTHSM_LIB, "pkcs11:token=$TdeTest::HSM_TOKEN"
		],
		'<', \'', '>', \$srv_out, '2>', \$srv_err);
	tde_wait_until(sub { -S $sock }, 30);
	sleep 0.1;    # not a wait for a state: let the listening server settle
	ok(-S $sock, 'p11-kit server listens') or diag("p11-kit server: $srv_out $srv_err");
}

# The p11-kit server we started and the children serving connections.
sub hsm_pids
{
	my @pids = grep { alive($_) } map { $_->{PID} } @{ $srv->{KIDS} };
	my @all = @pids;
	while (@pids)
	{
		my @kids = map { TdeTest::children_of($_) } @pids;
		push @all, @kids;
		@pids = @kids;
	}
	return grep { alive($_) } @all;
}

sub kill_hsm
{
	my @pids = hsm_pids();
	note('killing the p11-kit server: ' . join(' ', @pids));
	kill 'KILL', @pids;
	tde_wait_until(sub { !grep { alive($_) } @pids }, 30);
	ok(!grep({ alive($_) } @pids), 'every p11-kit server process is gone');
	$srv->finish;
}

# never leave a p11-kit server behind, whatever happens
END
{
	kill 'KILL', hsm_pids() if defined $srv;
}

start_hsm();
$node->restart;
my $pm_pid = postmaster_pid($node);
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# --- helpers ----------------------------------------------------------------------------

# Not an internal error; the backend and the server alive, never restarted.
sub no_crash
{
	my ($err, $what) = @_;
	unlike($err, qr/ERROR:\s+XX000/, "$what: not an internal error");
	unlike($err, qr/server closed the connection|terminating connection/,
		"$what: the backend did not die");
	ok(alive($pm_pid), "$what: postmaster alive");
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
		"$what: no crash-restart");
}

# A failure during the outage: class 08 (08006 exactly), the message.
sub outage_error
{
	my ($err, $what) = @_;
	like(sqlstate_of($err), qr/^08/, "$what: connection-class SQLSTATE") or diag($err);
	is(sqlstate_of($err), '08006', "$what: 08006");
	like($err, qr/HSM is not available/, "$what: \"HSM is not available\"");
	no_crash($err, $what);
}

sub check_sql
{
	my ($rel) = @_;
	return qq{SELECT count(*) FILTER (WHERE tde.decrypt_text('$rel', ct) = plain) || '|' || count(*) FROM $rel};
}
my $nkeys_sql = q{SELECT count(*) FROM "v$encryption_keys"};
my $keys_sql = q{SELECT key_id, coalesce(tag, '') FROM "v$encryption_keys" ORDER BY 1};
my $relkeys_sql = q{SELECT relid, key_version, master_key_id FROM tde.relation_keys ORDER BY 1, 2};
my $wallet_sql = q{SELECT wrl_type || '|' || status || '|' || wallet_order FROM v$encryption_wallet};
my $meta_file = wallet_dir($node) . '/hsm_keys.sso';

# The state an outage must not change.
sub snapshot
{
	return join("\n--\n",
		$node->safe_psql('postgres', $keys_sql),
		$node->safe_psql('postgres', $relkeys_sql),
		slurp_file($meta_file));
}

# =====================================================================
# Part 1: p11-kit remote HSM
# =====================================================================

tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pin"')},
	'p11-kit: open the HSM through p11-kit-client');
my $k1 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'outage k1', password => '$pin')},
	'p11-kit: SET KEY (C_GenerateKey through the RPC)');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE', 'p11-kit: HSM open');
my ($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
like($list, qr/TDE_MEK_\Q@{[key_id_mkid_hex($k1)]}\E/i,
	'p11-kit: the key is in the SoftHSM2 token behind the server');

tde_sql_ok($node, 'CREATE TABLE a (id int, plain text, ct bytea); CREATE TABLE b (id int, ct bytea);',
	'p11-kit: tables');
tde_sql_ok($node,
	qq{INSERT INTO a SELECT i, 'outage ' || i FROM generate_series(1, $nrows) i;
	   UPDATE a SET ct = tde.encrypt('a', plain);},
	'p11-kit: encrypt rows of a (the RPC has no GCM: the key is wrapped with KWP)');
# the first byte of a wrapped key names its mechanism: 2 = KWP, 73 bytes
my $formats_sql = q{SELECT string_agg(DISTINCT get_byte(wrapped_key, 0) || ':' || length(wrapped_key), ',')
  FROM tde.relation_key};
is($node->safe_psql('postgres', $formats_sql), '2:73',
	'p11-kit: the relation key is wrapped with AES key wrap (header 2, 73 bytes)');
my ($ret, $o, $e);

# an old session that logged in to the HSM (and, with GCM, cached a's key)
my $old = tde_session($node);
my ($out, $err) = session_sql($old,
	qq{SELECT tde.set_tag('$k1', 'outage k1 (old session)', password => '$pin')});
is(sqlstate_of($err), '', 'p11-kit: the old session uses the HSM') or diag($err);
is($node->safe_psql('postgres', check_sql('a')), "$nrows|$nrows", 'p11-kit: a decrypts');
($out, $err) = session_sql($old, check_sql('a'));
is($out, "$nrows|$nrows", 'p11-kit: the old session decrypts a') or diag($err);
my $before = snapshot();

kill_hsm();

($ret, $o, $e) = tde_sql($node, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')});
isnt($ret, 0, 'p11-kit outage: SET KEY in a new session fails');
outage_error($e, 'p11-kit outage: SET KEY in a new session');
($out, $err) = session_sql($old, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')});
isnt($err, '', 'p11-kit outage: SET KEY in the old session fails');
outage_error($err, 'p11-kit outage: SET KEY in the old session');
($ret, $o, $e) = tde_sql($node,
	qq{SELECT tde.administer_key_management('SET KEY USING TAG ''outage k2'' IDENTIFIED BY "$pin"')});
isnt($ret, 0, 'p11-kit outage: the SET KEY statement fails');
no_crash($e, 'p11-kit outage: SET KEY statement');
($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('a', ct) FROM a WHERE id = 1});
isnt($ret, 0, 'p11-kit outage: decrypt in a new session fails');
outage_error($e, 'p11-kit outage: decrypt in a new session');
($out, $err) = session_sql($old, check_sql('a'));
is($out, "$nrows|$nrows", 'p11-kit outage: the old session still decrypts a (cached key)')
  or diag($err);
is(snapshot(), $before, 'p11-kit outage: keys, relation keys and hsm_keys.sso unchanged');
is($node->safe_psql('postgres', $nkeys_sql), '1', 'p11-kit outage: still one key');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE',
	'p11-kit outage: v$encryption_wallet still shows the HSM open');

start_hsm();
my $k2 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')},
	'p11-kit back: SET KEY in a new session works, without restarting PostgreSQL');
is($node->safe_psql('postgres', $nkeys_sql), '2', 'p11-kit back: two keys');
($out, $err) = session_sql($old, qq{SELECT tde.set_tag('$k2', 'outage k2 (old session)', password => '$pin')});
is(sqlstate_of($err), '', 'p11-kit back: the old session works again') or diag($err);
no_crash($err, 'p11-kit back: old session');
is($node->safe_psql('postgres', check_sql('a')), "$nrows|$nrows",
	'p11-kit back: a new session decrypts a');
($out, $err) = session_sql($old, check_sql('a'));
is($out, "$nrows|$nrows", 'p11-kit back: the old session decrypts a') or diag($err);
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
	$k2, 'p11-kit back: SET KEY re-wrapped a under the new key (KWP through the RPC)');
is($node->safe_psql('postgres', $formats_sql), '2:73', 'p11-kit back: still KWP');
session_close($old);
kill_hsm();

# =====================================================================
# Part 2: the data path, with a fault-injecting module around SoftHSM2
# =====================================================================

my $shim = faulty_pkcs11_build(PostgreSQL::Test::Utils::tempdir());
{
	tde_reload_with($node, 'tde.pkcs11_library', $shim,
		'part 2: tde.pkcs11_library is the fault injector (reload, no restart)');
	is($node->safe_psql('postgres', check_sql('a')), "$nrows|$nrows",
		'part 2: a, wrapped with KWP through p11-kit, decrypts through SoftHSM2 with GCM');

	tde_sql_ok($node,
		qq{CREATE TABLE a2 (id int, plain text, ct bytea); CREATE TABLE b2 (id int, ct bytea);
		   INSERT INTO a2 SELECT i, 'outage2 ' || i FROM generate_series(1, $nrows) i;
		   UPDATE a2 SET ct = tde.encrypt('a2', plain);},
		'part 2: encrypt rows of relation a2 (relation key wrapped in the HSM)');
	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows", 'part 2: a2 decrypts');

	# old sessions: one decrypts (caches a2's key) and works during the
	# outage, one stays idle through it
	my $busy = tde_session($node);
	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2: the busy old session decrypts a2') or diag($err);
	my $idle = tde_session($node);
	($out, $err) = session_sql($idle, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2: the idle old session decrypts a2') or diag($err);
	my $keys_before = $node->safe_psql('postgres', $nkeys_sql);
	$before = snapshot();

	set_state('down 1');

	($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('a2', ct) FROM a2 WHERE id = 1});
	isnt($ret, 0, 'part 2 outage: decrypt in a new session (cold cache) fails');
	outage_error($e, 'part 2 outage: decrypt in a new session');
	like($e, qr/DETAIL:.*CKR_DEVICE_REMOVED/, 'part 2 outage: the CKR name is in the detail');

	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 outage: the busy old session still decrypts a2 (cached key)')
	  or diag($err);
	($out, $err) = session_sql($busy, q{INSERT INTO b2 VALUES (1, tde.encrypt('b2', 'b2 one'::text))});
	isnt($err, '', 'part 2 outage: the busy old session cannot encrypt a new relation');
	outage_error($err, 'part 2 outage: old session, new relation');

	($ret, $o, $e) = tde_sql($node, qq{SELECT tde.set_key(tag => 'outage k3', password => '$pin')});
	isnt($ret, 0, 'part 2 outage: SET KEY fails');
	outage_error($e, 'part 2 outage: SET KEY');
	($ret, $o, $e) = tde_sql($node, q{SELECT tde.rotate_relation_key('a2')});
	isnt($ret, 0, 'part 2 outage: rotate_relation_key fails');
	outage_error($e, 'part 2 outage: rotate_relation_key');
	is($node->safe_psql('postgres', $nkeys_sql), $keys_before,
		'part 2 outage: v$encryption_keys count unchanged');
	is(snapshot(), $before, 'part 2 outage: keys, relation keys and hsm_keys.sso unchanged');
	is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE',
		'part 2 outage: v$encryption_wallet consistent (HSM keystore open)');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '0',
		'part 2 outage: nothing was written to b2');

	set_state('up 1');

	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows",
		'part 2 back: a new session decrypts a2, without restarting PostgreSQL');
	($out, $err) = session_sql($busy, q{INSERT INTO b2 VALUES (1, tde.encrypt('b2', 'b2 one'::text))});
	is(sqlstate_of($err), '', 'part 2 back: the busy old session encrypts into b2') or diag($err);
	my $k3 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'outage k3', password => '$pin')},
		'part 2 back: SET KEY works');
	is($node->safe_psql('postgres', $nkeys_sql), $keys_before + 1, 'part 2 back: one more key');
	is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
		$k3, 'part 2 back: relation keys re-wrapped under the new key');
	is($node->safe_psql('postgres', $formats_sql), '1:61',
		'part 2 back: with GCM in the module, every relation key is wrapped with GCM (header 1, 61 bytes)');
	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows",
		'part 2 back: a2 decrypts after the rekey');
	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 back: the busy old session decrypts a2 (through the HSM)')
	  or diag($err);
	($out, $err) = session_sql($busy, q{SELECT tde.decrypt_text('b2', ct) FROM b2});
	is($out, 'b2 one', 'part 2 back: the busy old session decrypts b2') or diag($err);
	($out, $err) = session_sql($idle, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 back: the idle old session (dead PKCS#11 session) decrypts a2')
	  or diag($err);
	($out, $err) = session_sql($idle, q{SELECT tde.rotate_relation_key('b2')});
	is(sqlstate_of($err), '', 'part 2 back: the idle old session wraps a new relation key')
	  or diag($err);
	session_close($busy);
	session_close($idle);
}

# =====================================================================
# Part 3: modules that wrap differently, and switching between them
# =====================================================================

my $mkids_sql = q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys};
my @tables = ('a', 'a2');

# Every table decrypts, in a new session (cold caches: every relation key
# is unwrapped through the HSM).
sub tables_decrypt
{
	my ($what) = @_;
	my $sql = join(" || ',' || ", map { '(' . check_sql($_) . ')' } @tables);
	my $want = join(',', map { "$nrows|$nrows" } @tables);
	my ($r, $got, $err) = tde_sql($node, "SELECT $sql");
	is($got, $want, "$what: every table decrypts (" . join(' ', @tables) . ')') or diag($err);
}

sub new_table
{
	my ($t, $what) = @_;
	tde_sql_ok($node,
		qq{CREATE TABLE $t (id int, plain text, ct bytea);
		   INSERT INTO $t SELECT i, '$t ' || i FROM generate_series(1, $nrows) i;
		   UPDATE $t SET ct = tde.encrypt('$t', plain);},
		"$what: encrypt rows of $t");
	push @tables, $t;
}

sub format_of
{
	my ($t) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT string_agg(DISTINCT get_byte(wrapped_key, 0) || ':' || length(wrapped_key), ',')
		   FROM tde.relation_key WHERE relid = '$t'::regclass});
}

# A restart closes the HSM keystore (HSM alone never opens by itself).
sub restart_open
{
	my ($what) = @_;
	$node->restart;
	$pm_pid = postmaster_pid($node);
	$start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
	tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pin"')},
		"$what: open the HSM keystore after the restart");
}

sub rekey
{
	my ($tag, $what) = @_;
	my $k = tde_sql_ok($node, qq{SELECT tde.set_key(tag => '$tag', password => '$pin')}, "$what: SET KEY");
	is($node->safe_psql('postgres', $mkids_sql), $k,
		"$what: every relation key re-wrapped under the new key");
	return $k;
}

# --- no GCM ---
set_state('up 1 nogcm');
tables_decrypt('nogcm: keys wrapped with GCM unwrap through a module without GCM');
ok(hsm_log_count($hsm_log, qr/^C_DecryptInit 0x1087 0x70$/) > 0,
	'nogcm: the module did refuse CKM_AES_GCM (CKR_MECHANISM_INVALID)');
new_table('c3', 'nogcm');
is(format_of('c3'), '2:73', 'nogcm: the new relation key is wrapped with KWP (header 2, 73 bytes)');
ok(hsm_log_count($hsm_log, qr/^C_EncryptInit 0x1081 0x0$/) > 0,
	'nogcm: KWP runs on the HSM\'s AES block function (CKM_AES_ECB)');
my $k4 = rekey('modes k4', 'nogcm');
is($node->safe_psql('postgres', $formats_sql), '2:73', 'nogcm: SET KEY re-wrapped every key with KWP');
tables_decrypt('nogcm after SET KEY');

# KWP has no associated data: the hash wrapped with the key binds it to its row
my $swap_sql = q{
	WITH w AS (SELECT relid, wrapped_key FROM tde.relation_key
	           WHERE relid IN ('a'::regclass, 'c3'::regclass))
	UPDATE tde.relation_key r SET wrapped_key = w.wrapped_key
	FROM w WHERE r.relid IN ('a'::regclass, 'c3'::regclass) AND w.relid <> r.relid};
tde_sql_ok($node, $swap_sql, 'nogcm: swap the wrapped keys of a and c3');
($ret, $o, $e) = tde_sql($node, check_sql('c3'));
is(sqlstate_of($e), 'XX001', 'nogcm: a KWP-wrapped key moved to another row does not unwrap (XX001)')
  or diag($e);
like($e, qr/relation key could not be unwrapped/, 'nogcm: moved key: the message');
tde_sql_ok($node, $swap_sql, 'nogcm: swap them back');

restart_open('nogcm');
tables_decrypt('nogcm after a restart');

# --- a FIPS-mode HSM: it refuses our GCM IV and returns its own ---
set_state('up 1 moduleiv');
tables_decrypt('moduleiv: keys wrapped with KWP unwrap through a module with GCM');
my $refused = hsm_log_count($hsm_log, qr/^C_EncryptInit 0x1087 0x71$/);
new_table('d3', 'moduleiv');
is(format_of('d3'), '1:61', 'moduleiv: the new relation key is wrapped with GCM (header 1, 61 bytes)');
ok(hsm_log_count($hsm_log, qr/^C_EncryptInit 0x1087 0x71$/) > $refused,
	'moduleiv: the module refused the IV tde chose (CKR_MECHANISM_PARAM_INVALID)');
my $k5 = rekey('modes k5', 'moduleiv');
is($node->safe_psql('postgres', $formats_sql), '1:61', 'moduleiv: SET KEY re-wrapped every key with GCM');
is($node->safe_psql('postgres',
		q{SELECT count(DISTINCT substring(wrapped_key FROM 2 FOR 12)) = count(*)
		     AND bool_and(substring(wrapped_key FROM 2 FOR 12) <> '\x000000000000000000000000'::bytea)
		  FROM tde.relation_key}),
	't', 'moduleiv: each wrapped key holds the IV the module generated (distinct, not zero)');
tables_decrypt('moduleiv after SET KEY');
restart_open('moduleiv');
tables_decrypt('moduleiv after a restart');

# --- keys wrapped under one module unwrap under the others ---
set_state('up 1 nogcm');
tables_decrypt('nogcm: keys wrapped with the module\'s GCM IVs unwrap without GCM');
set_state('up 1');
tables_decrypt('GCM module: keys wrapped in moduleiv mode unwrap');

# a relation key wrapped before 1.1: IV || ciphertext || tag, no header
tde_sql_ok($node, q{UPDATE tde.relation_key SET wrapped_key = substring(wrapped_key FROM 2)
         WHERE relid = 'd3'::regclass},
	'a wrapped key in the format before 1.1 (the header removed)');
like(format_of('d3'), qr/^\d+:60$/, 'the old format: 60 bytes');
tables_decrypt('GCM module: a key in the old format unwraps');
set_state('up 1 nogcm');
tables_decrypt('nogcm: a key in the old format unwraps');
set_state('up 1');

# =====================================================================
# Part 4: the handle cache
# =====================================================================

# Handles the module no longer knows (a restore, an HSM fail-over): a
# session that cached one looks the key up again instead of failing.
my $s4 = tde_session($node);
($out, $err) = session_sql($s4, check_sql('a2'));
is($out, "$nrows|$nrows", 'handles: an old session decrypts a2 (caches the key\'s handle)')
  or diag($err);
tde_sql_ok($node, 'CREATE TABLE e4 (id int, ct bytea); CREATE TABLE f4 (id int, ct bytea);',
	'handles: tables');
set_state('up 1 handles=1');
tde_sql_ok($node, q{INSERT INTO e4 VALUES (1, tde.encrypt('e4', 'e4 one'::text))},
	'handles: after the renumbering a new session encrypts');
my $invalid = hsm_log_count($hsm_log, qr/ 0x60$/);
($out, $err) = session_sql($s4, q{SELECT tde.decrypt_text('e4', ct) FROM e4});
is($out, 'e4 one', 'handles: the old session unwraps with its stale handle looked up again')
  or diag($err);
ok(hsm_log_count($hsm_log, qr/^C_DecryptInit \S+ 0x60$/) > 0,
	'handles: the module did answer CKR_KEY_HANDLE_INVALID to the stale handle (unwrap)');
set_state('up 1 handles=2');
($out, $err) = session_sql($s4, q{INSERT INTO f4 VALUES (1, tde.encrypt('f4', 'f4 one'::text))});
is(sqlstate_of($err), '', 'handles: the old session wraps with its stale handle looked up again')
  or diag($err);
ok(hsm_log_count($hsm_log, qr/^C_EncryptInit \S+ 0x60$/) > 0,
	'handles: the module did answer CKR_KEY_HANDLE_INVALID to the stale handle (wrap)');
is($node->safe_psql('postgres', q{SELECT tde.decrypt_text('f4', ct) FROM f4}), 'f4 one',
	'handles: a new session decrypts what the old one wrote');
session_close($s4);

# A handle found or generated in a transaction that aborts is not kept.
my $s5 = tde_session($node);
($out, $err) = session_sql($s5, check_sql('a'));
is($out, "$nrows|$nrows", 'abort: a session decrypts a (the key\'s handle cached)') or diag($err);
session_sql($s5, 'CREATE TABLE g4 (id int, ct bytea); CREATE TABLE h4 (id int, ct bytea);
	CREATE TABLE i4 (id int, ct bytea); CREATE TABLE j4 (id int, ct bytea);
	CREATE TABLE k4 (id int, ct bytea)');
my $finds = hsm_log_count($hsm_log, qr/^C_FindObjectsInit /);
($out, $err) = session_sql($s5,
	q{BEGIN; INSERT INTO g4 VALUES (1, tde.encrypt('g4', 'rolled back'::text)); ROLLBACK;});
is(sqlstate_of($err), '', 'abort: a wrap inside a transaction that rolls back') or diag($err);
is(hsm_log_count($hsm_log, qr/^C_FindObjectsInit /), $finds,
	'abort: inside the transaction the cached handle served');
($out, $err) = session_sql($s5, q{INSERT INTO h4 VALUES (1, tde.encrypt('h4', 'h4 one'::text))});
is(sqlstate_of($err), '', 'abort: the next wrap works') or diag($err);
cmp_ok(hsm_log_count($hsm_log, qr/^C_FindObjectsInit /), '>', $finds,
	'abort: after ROLLBACK the session looked the key up again');

my $generated = hsm_log_count($hsm_log, qr/^C_GenerateKey \S+ 0x0$/);
($out, $err) = session_sql($s5,
	qq{SELECT tde.set_key(tag => 'aborted', password => '$pin') || (1 / (0 * random())::int)::text});
is(sqlstate_of($err), '22012', 'abort: a statement that fails after its SET KEY') or diag($err);
is(hsm_log_count($hsm_log, qr/^C_GenerateKey \S+ 0x0$/), $generated + 1,
	'abort: the SET KEY had generated a key in the HSM');
$finds = hsm_log_count($hsm_log, qr/^C_FindObjectsInit /);
($out, $err) = session_sql($s5, q{INSERT INTO i4 VALUES (1, tde.encrypt('i4', 'i4 one'::text))});
is(sqlstate_of($err), '', 'abort: after the failed SET KEY the session wraps') or diag($err);
cmp_ok(hsm_log_count($hsm_log, qr/^C_FindObjectsInit /), '>', $finds,
	'abort: the handle generated in the aborted transaction was not kept');
# and a subtransaction that aborts
$finds = hsm_log_count($hsm_log, qr/^C_FindObjectsInit /);
($out, $err) = session_sql($s5,
	q{BEGIN; SAVEPOINT sp; INSERT INTO j4 VALUES (1, tde.encrypt('j4', 'rolled back'::text));
	  ROLLBACK TO SAVEPOINT sp;});
is(sqlstate_of($err), '', 'subtransaction abort: a wrap inside a savepoint that rolls back')
  or diag($err);
($out, $err) = session_sql($s5,
	q{INSERT INTO k4 VALUES (1, tde.encrypt('k4', 'k4 one'::text)); COMMIT;});
is(sqlstate_of($err), '', 'subtransaction abort: the next wrap works, and commits') or diag($err);
cmp_ok(hsm_log_count($hsm_log, qr/^C_FindObjectsInit /), '>', $finds,
	'subtransaction abort: after ROLLBACK TO SAVEPOINT the session looked the key up again');
is($node->safe_psql('postgres', q{SELECT count(*) || '|' || string_agg(tde.decrypt_text('k4', ct), '') FROM k4}),
	'1|k4 one', 'subtransaction abort: a new session decrypts what committed');
($out, $err) = session_sql($s5,
	q{SELECT tde.decrypt_text('h4', h4.ct) || tde.decrypt_text('i4', i4.ct) FROM h4, i4});
is($out, 'h4 onei4 one', 'abort: the session decrypts what it wrote') or diag($err);
is($node->safe_psql('postgres',
		q{SELECT tde.decrypt_text('h4', h4.ct) || tde.decrypt_text('i4', i4.ct) FROM h4, i4}),
	'h4 onei4 one', 'abort: a new session decrypts it too');
tables_decrypt('abort: everything else');
session_close($s5);

# DROP EXTENSION and CREATE EXTENSION in one session: the HSM still serves
# it, and other sessions.
$node->safe_psql('postgres', 'CREATE DATABASE dropdb');
my $s6 = tde_session($node, 'dropdb');
($out, $err) = session_sql($s6,
	q{CREATE EXTENSION tde; CREATE TABLE x (id int, ct bytea);
	  INSERT INTO x VALUES (1, tde.encrypt('x', 'before the drop'::text));
	  SELECT tde.decrypt_text('x', ct) FROM x});
is($out, 'before the drop', 'drop: a session encrypts in a second database') or diag($err);
($out, $err) = session_sql($s6,
	q{DROP TABLE x; DROP EXTENSION tde; CREATE EXTENSION tde; CREATE TABLE y (id int, ct bytea);
	  INSERT INTO y VALUES (1, tde.encrypt('y', 'after the re-create'::text));
	  SELECT tde.decrypt_text('y', ct) FROM y});
is($out, 'after the re-create', 'drop: after DROP and CREATE EXTENSION the same session wraps and unwraps')
  or diag($err);
($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('y', ct) FROM y}, 'dropdb');
is($o, 'after the re-create', 'drop: a new session decrypts it') or diag($e);
($out, $err) = session_sql($s6, qq{SELECT tde.set_key(tag => 'after drop', password => '$pin')});
is(sqlstate_of($err), '', 'drop: SET KEY from that session') or diag($err);
($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('y', ct) FROM y}, 'dropdb');
is($o, 'after the re-create', 'drop: y decrypts after the rekey') or diag($e);
session_close($s6);
tables_decrypt('drop: the first database after the rekey');

no_crash('', 'the end');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal/, 'no backend died');
$node->stop;
done_testing();
