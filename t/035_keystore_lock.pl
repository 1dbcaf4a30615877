# The keystore lock (issue 8, item 5): every operation that opens, closes
# or changes a keystore takes the wallet directory's flock, and its wait
# can be cancelled; no LWLock is held across the work.
#
# A tool outside the server holds the flock (as an administrator's backup
# script may); meanwhile each operation, with statement_timeout = 300ms,
# must end with 57014 (query_canceled) and change nothing, auto-open of
# an auto-login wallet included; the status view and work on an open
# keystore do not wait.  Once the flock is released, each succeeds.  A
# waiter cancelled with pg_cancel_backend ends the same way.  Then the
# lock is re-entrant and given back on (sub)transaction abort: an
# operation that fails in a savepoint leaves nothing held.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use Fcntl qw(:flock);
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $node = tde_new_node('keystore_lock');
my $pw = 'lock_pw1';

tde_akm_ok($node, "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY $pw",
	'CREATE KEYSTORE');
tde_akm_ok($node, "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $pw",
	'SET KEYSTORE OPEN');
tde_akm_ok($node,
	"ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $pw WITH BACKUP",
	'SET KEY');
tde_sql_ok($node,
	"CREATE TABLE t (id int, v bytea); INSERT INTO t VALUES (1, tde.encrypt('t', 'one'::text))",
	'a first row encrypted');

# Hold the directory's flock as a tool outside the server would.
my $lock_fh;
sub hold_lock
{
	opendir(my $dh, wallet_dir($node)) or die "opendir: $!";
	open($lock_fh, '<', wallet_dir($node)) or die "open dir: $!";
	flock($lock_fh, LOCK_EX) or die "flock: $!";
	closedir($dh);
}
sub release_lock { close($lock_fh); undef $lock_fh; }

# $sql under statement_timeout: must fail with 57014, within a bound.
sub times_out
{
	my ($sql, $name) = @_;
	my $t0 = time();
	my ($ret, $out, $err) =
	  tde_sql($node, "SET statement_timeout = '300ms';\n$sql");
	my $elapsed = time() - $t0;
	tde_fails_with($ret, $err, '57014', "$name, while the flock is held");
	# psql's start-up is in the time too: the bound is loose on purpose
	cmp_ok($elapsed, '<', 5, "$name: the wait ended by the timeout ("
		  . sprintf('%.2f', $elapsed) . ' s)');
}

my $akm_sql = sub {
	(my $q = $_[0]) =~ s/'/''/g;
	return "SELECT tde.administer_key_management('$q')";
};

hold_lock();
times_out($akm_sql->("ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY $pw"),
	'CLOSE');
is(wallet_status($node), 'OPEN|PASSWORD', 'the timed-out CLOSE closed nothing');
times_out($akm_sql->("ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $pw WITH BACKUP"),
	'SET KEY');
times_out($akm_sql->("ADMINISTER KEY MANAGEMENT CREATE KEY IDENTIFIED BY $pw WITH BACKUP"),
	'CREATE KEY');
is($node->safe_psql('postgres', 'SELECT count(*) FROM v$encryption_keys'),
	'1', 'the timed-out changes added no key');
# the open keystore serves data and status without the lock
is($node->safe_psql('postgres', "SELECT tde.decrypt_text('t', v) FROM t"),
	'one', 'decrypt does not wait for the keystore lock');
is(wallet_status($node), 'OPEN|PASSWORD', 'the status view does not wait');
release_lock();

tde_akm_ok($node, "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY $pw",
	'CLOSE, once the flock is released');

# OPEN waits too
hold_lock();
times_out($akm_sql->("ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY $pw"),
	'OPEN');
is(wallet_status($node), 'CLOSED|UNKNOWN', 'the timed-out OPEN opened nothing');
release_lock();

# Auto-open: with an auto-login wallet, the first use opens it; waiting
# for the keystore lock, the first use can be cancelled too.
tde_akm_ok($node,
	"ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY $pw",
	'CREATE AUTO_LOGIN KEYSTORE');
hold_lock();
times_out("SELECT tde.decrypt_text('t', v) FROM t", 'auto-open on first use');
release_lock();
is($node->safe_psql('postgres', "SELECT tde.decrypt_text('t', v) FROM t"),
	'one', 'auto-open on first use, once the flock is released');
is(wallet_status($node), 'OPEN|AUTOLOGIN', 'the auto-login keystore is open');

# pg_cancel_backend ends a wait as well
hold_lock();
my $s = tde_session($node);
my ($pid) = session_sql($s, 'SELECT pg_backend_pid()');
$s->{in} .= $akm_sql->("ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY $pw") . ";\n\\echo __done__\n";
$s->{h}->pump_nb;
ok($node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Timeout' OR state = 'active' FROM pg_stat_activity WHERE pid = $pid"),
	'the OPEN waits for the flock');
usleep(200_000);
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
$s->{h}->pump until $s->{out} =~ /__done__/ || $s->{timer}->is_expired;
like($s->{err}, qr/57014/, 'pg_cancel_backend ends the wait with 57014');
release_lock();
is(wallet_status($node), 'OPEN|AUTOLOGIN',
	'the cancelled OPEN left the auto-login keystore open');
session_close($s);

# Re-entrant, and given back on abort: in one transaction, a change that
# fails in a savepoint (wrong password, after taking the lock), then one
# that succeeds; another session then takes the lock at once.
my ($out, $err) = tde_sql_ok($node, qq{
DO \$\$
BEGIN
  BEGIN
    PERFORM tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY wrong_pw');
  EXCEPTION WHEN invalid_password THEN
    RAISE NOTICE 'wrong password: %', SQLSTATE;
  END;
  PERFORM tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY $pw');
END
\$\$;
}, 'a failed OPEN in a savepoint, then an OPEN, in one transaction');
like($err, qr/wrong password: 28P01/, 'the first OPEN failed on the password');
is(wallet_status($node), 'OPEN|PASSWORD', 'the password keystore is open');
my $t0 = time();
tde_sql_ok($node, "SET statement_timeout = '2s'; "
	  . $akm_sql->("ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $pw WITH BACKUP"),
	'another session takes the lock at once after that transaction');
cmp_ok(time() - $t0, '<', 5, 'no lock was left behind');

# The flock is still the convention for tools: held by the server during
# a change, a tool's non-blocking flock fails meanwhile (checked from the
# server's side by a change that takes long: 600,000 KDF iterations).
$node->append_conf('postgresql.conf', 'tde.wallet_kdf_iterations = 600000');
$node->reload;
$node->poll_query_until('postgres', 'SHOW tde.wallet_kdf_iterations', '600000');
my $bg = tde_session($node);
$bg->{in} .= $akm_sql->("ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY $pw WITH BACKUP") . ";\n\\echo __bg_done__\n";
$bg->{h}->pump_nb;
my $seen_held = tde_wait_until(sub {
	open(my $fh, '<', wallet_dir($node)) or return 0;
	my $got = flock($fh, LOCK_EX | LOCK_NB);
	close($fh);
	return !$got;
}, 30, 0.01);
ok($seen_held, 'a tool sees the flock held while SET KEY runs');
$bg->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
$bg->{h}->pump until $bg->{out} =~ /__bg_done__/ || $bg->{timer}->is_expired;
unlike($bg->{err}, qr/ERROR/, 'that SET KEY succeeded');
session_close($bg);

done_testing();
