# The HSM goes away in the middle of the server's life and comes back.  A
# remote HSM is simulated with p11-kit: "p11-kit server" exports the
# SoftHSM2 token on a Unix socket and the server uses p11-kit-client.so
# (P11_KIT_SERVER_ADDRESS in the postmaster's environment).  Killing the
# p11-kit server (and its per-connection children) is the outage; starting
# it again on the same socket is the recovery.  During the outage, work
# that needs the HSM fails cleanly with a connection-class SQLSTATE (never
# an internal error, never a crash) and changes nothing; afterwards, new
# and old sessions work again without restarting PostgreSQL.

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
	plan skip_all => $why;
}
elsif (!$p11kit)
{
	plan skip_all => 'p11-kit is missing (install p11-kit)';
}
elsif (!-e $client_lib)
{
	plan skip_all => "$client_lib is missing (install p11-kit-modules)";
}

my $pin = $TdeTest::HSM_PIN;
my $nrows = 40;
my $node = tde_new_node('hsm_outage');
softhsm_setup($node, library => $client_lib, restart => 0,
	conf => "tde.keystore_configuration = 'HSM'\n");

# A short private directory for the socket (sun_path is 108 bytes).
my $rundir = PostgreSQL::Test::Utils::tempdir_short();
chmod 0700, $rundir;
my $sock = "$rundir/p11.sock";
$ENV{XDG_RUNTIME_DIR} = $rundir;
$ENV{P11_KIT_SERVER_ADDRESS} = "unix:path=$sock";

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
	my $deadline = time + 30;
	sleep 0.05 while !-S $sock && time < $deadline;
	# the socket exists once it listens; give it a moment more
	sleep 0.1;
	ok(-S $sock, 'p11-kit server listens') or diag("p11-kit server: $srv_out $srv_err");
}

# Every process of the p11-kit server we started: the server and the
# children serving connections.
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
	my $deadline = time + 30;
	sleep 0.05 while grep({ alive($_) } @pids) && time < $deadline;
	ok(!grep({ alive($_) } @pids), 'every p11-kit server process is gone');
	$srv->finish;
}

my $pm_pid;
my $start_time;

# Not an internal error; the server alive and never restarted.
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

start_hsm();
$node->restart;
$pm_pid = postmaster_pid($node);
$start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

sub sql_ok
{
	my ($sql, $name) = @_;
	my ($ret, $out, $err) = tde_sql($node, $sql);
	is($ret, 0, $name) or diag($err);
	return $out;
}

my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text('a', ct) = plain) || '|' || count(*) FROM a};
my $nkeys_sql = q{SELECT count(*) FROM "v$encryption_keys"};
my $wallet_sql = q{SELECT wrl_type || '|' || status || '|' || wallet_order FROM v$encryption_wallet};

# --- before the outage ------------------------------------------------------------

sql_ok(qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pin"')},
	'open the HSM through p11-kit');
my $k1 = sql_ok(qq{SELECT tde.set_key(tag => 'outage k1', password => '$pin')},
	'SET KEY through p11-kit');
sql_ok(
	qq{CREATE TABLE a (id int, plain text, ct bytea);
	   CREATE TABLE b (id int, ct bytea);
	   INSERT INTO a SELECT i, 'outage ' || i FROM generate_series(1, $nrows) i;
	   UPDATE a SET ct = tde.encrypt('a', plain);},
	'encrypt rows of relation a');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows", 'a decrypts');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE', 'HSM open');

# an old session that has used the HSM (and cached a's relation key)
my $old = tde_session($node);
my ($out, $err) = session_sql($old, $check_sql);
is($out, "$nrows|$nrows", 'the old session decrypts a') or diag($err);

my $keys_before = $node->safe_psql('postgres', q{SELECT key_id, tag FROM "v$encryption_keys"});
my $relkeys_before = $node->safe_psql('postgres',
	q{SELECT relid, key_version, master_key_id FROM tde.relation_keys ORDER BY 1, 2});
my $meta_file = wallet_dir($node) . '/hsm_keys.sso';
my $meta_before = slurp_file($meta_file);

# --- the outage -------------------------------------------------------------

kill_hsm();

# a new session (cold cache) needs the HSM to unwrap a's relation key
my ($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('a', ct) FROM a WHERE id = 1});
isnt($ret, 0, 'decrypt in a new session during the outage fails');
like(sqlstate_of($e), qr/^08/, 'with a connection-class SQLSTATE (08xxx)') or diag($e);
is(sqlstate_of($e), '08006', 'exactly 08006') or diag($e);
like($e, qr/HSM is not available/, 'message: HSM is not available') or diag($e);
no_crash($e, 'decrypt during the outage');

# the old session: a's key is cached; a new relation needs the HSM
($out, $err) = session_sql($old, $check_sql);
is($out, "$nrows|$nrows", 'the old session still decrypts a (cached relation key)') or diag($err);
($out, $err) = session_sql($old, q{INSERT INTO b VALUES (1, tde.encrypt('b', 'b one'::text))});
like(sqlstate_of($err), qr/^08/, 'the old session: encrypting a new relation fails with 08xxx')
  or diag($err);
no_crash($err, 'old session during the outage');

# SET KEY fails cleanly and changes nothing
($ret, $o, $e) = tde_sql($node, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')});
isnt($ret, 0, 'SET KEY during the outage fails');
like(sqlstate_of($e), qr/^08/, 'SET KEY: connection-class SQLSTATE') or diag($e);
no_crash($e, 'SET KEY during the outage');
($ret, $o, $e) = tde_sql($node,
	qq{SELECT tde.administer_key_management('SET KEY USING TAG ''outage k2'' IDENTIFIED BY "$pin"')});
like(sqlstate_of($e), qr/^08/, 'SET KEY statement: connection-class SQLSTATE') or diag($e);
is($node->safe_psql('postgres', $nkeys_sql), '1', 'v$encryption_keys: still one key');
is($node->safe_psql('postgres', q{SELECT key_id, tag FROM "v$encryption_keys"}), $keys_before,
	'key metadata unchanged');
is(slurp_file($meta_file), $meta_before, 'hsm_keys.sso unchanged');
is( $node->safe_psql('postgres',
		q{SELECT relid, key_version, master_key_id FROM tde.relation_keys ORDER BY 1, 2}),
	$relkeys_before, 'relation keys unchanged');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE',
	'v$encryption_wallet: the HSM keystore is still open (its credential is kept)');

# --- the HSM comes back ----------------------------------------------------------------

start_hsm();
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'a new session decrypts a again, without restarting PostgreSQL');
my $k2 = sql_ok(qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')},
	'SET KEY works again');
isnt($k2, $k1, 'a new key');
is($node->safe_psql('postgres', $nkeys_sql), '2', 'two keys now');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
	$k2, 'relation keys re-wrapped under the new key');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows", 'a decrypts after the rekey');

# the old session works again (its PKCS#11 session is rebuilt)
($out, $err) = session_sql($old, q{INSERT INTO b VALUES (1, tde.encrypt('b', 'b one'::text))});
is(sqlstate_of($err), '', 'the old session encrypts into a new relation again') or diag($err);
($out, $err) = session_sql($old, $check_sql);
is($out, "$nrows|$nrows", 'the old session decrypts a (after the rekey: via the HSM)')
  or diag($err);
($out, $err) = session_sql($old, q{SELECT tde.decrypt_text('b', ct) FROM b});
is($out, 'b one', 'the old session decrypts b') or diag($err);
session_close($old);

no_crash('', 'the end');
kill_hsm();
$node->stop;
done_testing();
