# MOVE KEYS (Oracle's 4.2.8): keys out of the password wallet into a new
# keystore, by list, by subquery and through tde.move_keys.  Never the
# active key; and, beyond Oracle, never a key that still wraps a relation
# key in any database of the cluster: rows another database has not yet
# re-wrapped, and a relation key made by a transaction still in flight
# there (the check waits for it).  A refused move leaves every file as it
# was; the new keystore is a password wallet openssl opens; every row in
# both databases still decrypts; no password reaches the log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my ($pw, $npw) = ('Move_Wallet_Pw1', 'Move_Target_Pw2');
my $node = tde_new_node('move');
my $root = wallet_root($node);

tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE KEYSTORE');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open');
tde_akm_ok($node, qq{SET KEY USING TAG 'k1' IDENTIFIED BY "$pw" WITH BACKUP}, 'key k1');
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', 'CREATE EXTENSION tde');

my $fill = q{CREATE TABLE %s (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
  INSERT INTO %s SELECT i, 'row ' || i, tde.encrypt('%s', 'row ' || i) FROM generate_series(1, 20) i;};
tde_sql_ok($node, sprintf($fill, ('t1') x 3), 'postgres: rows under k1');
tde_sql_ok($node, sprintf($fill, ('t2') x 3), 'db2: rows under k1', 'db2');

sub all_decrypt
{
	my ($db, $table) = @_;
	return $node->safe_psql($db,
		qq{SELECT count(*) FILTER (WHERE tde.decrypt_text('$table', ct) = plain) || '|' || count(*) FROM $table});
}

sub key_of
{
	my ($tag) = @_;
	return $node->safe_psql('postgres', qq{SELECT key_id FROM v\$encryption_keys WHERE tag = '$tag'});
}

sub wallet_files
{
	return { map { $_ => slurp_file($_) } glob(wallet_dir($node) . '/*') };
}

my $k1 = key_of('k1');

# --- the active key is never moved ---------------------------------------------
tde_akm_fails($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/arch0' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$k1' WITH BACKUP},
	'55006', 'the active key named');
tde_akm_fails($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/arch0' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	'22023', 'every key when only the active one exists: none to move');
ok(!-e "$root/arch0/ewallet.p12", 'no keystore was made');

# --- rows db2 has not re-wrapped keep k1 ---------------------------------------
# a database that allows no connections is not re-wrapped in the background;
# the check reads it all the same
$node->safe_psql('postgres', 'ALTER DATABASE db2 ALLOW_CONNECTIONS false');
tde_akm_ok($node, qq{SET KEY USING TAG 'k2' IDENTIFIED BY "$pw" WITH BACKUP}, 'key k2 becomes active');
my $k2 = key_of('k2');
my $files = wallet_files();
my ($ret, $out, $err) = akm($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/arch1' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP});
tde_fails_with($ret, $err, '55006', 'every key but the active one: k1 still wraps db2\'s relation keys');
like($err, qr/database "db2" still has relation keys wrapped by master key "\Q$k1\E"/,
	'the error names db2 and the key');
like($err, qr/20 relation keys there are wrapped by it|1 relation key there is wrapped by it/,
	'the detail counts them');
like($err, qr/DETAIL:  ORA-46696/, 'with Oracle\'s number for a key still required');
is_deeply(wallet_files(), $files, 'the refused move left the wallet files as they were');
ok(!-e "$root/arch1/ewallet.p12", 'and made no keystore');
$node->safe_psql('postgres', 'ALTER DATABASE db2 ALLOW_CONNECTIONS true');
tde_akm_ok($node, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open: re-wraps every database');
ok($node->poll_query_until('postgres',
		q{SELECT state = 'done' FROM tde.rewrap_progress WHERE datname = 'db2'}),
	'db2 re-wrapped under k2');

# --- a backup is required, as for every change of the wallet -------------------
tde_akm_fails($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/arch1' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$k1'},
	'55000', 'without WITH BACKUP (ORA-46631)');

# --- the move, by subquery (Oracle's example) ----------------------------------
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT MOVE KEYS
TO NEW KEYSTORE '$root/arch1'
IDENTIFIED BY "$npw"
FROM FORCE KEYSTORE
IDENTIFIED BY "$pw"
WITH IDENTIFIER IN
(SELECT KEY_ID FROM V\$ENCRYPTION_KEYS WHERE TAG = 'k1')
WITH BACKUP USING 'before_move'}, 'MOVE KEYS k1 by subquery');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM v\$encryption_keys WHERE key_id = '$k1'}),
	'0', 'k1 has left the open keystore');
is($node->safe_psql('postgres', q{SELECT count(*) FROM v$encryption_keys}), '1', 'k2 stays');
is(file_mode("$root/arch1/ewallet.p12"), 0600, 'the new keystore is 0600');
ok(scalar(grep { /before_move/ } glob(wallet_dir($node) . '/*')), 'the backup is beside the wallet');
SKIP:
{
	my $openssl = find_program('openssl');
	skip 'openssl is not installed', 2 unless $openssl;
	my ($o, $e);
	IPC::Run::run([ $openssl, 'pkcs12', '-info', '-nokeys', '-in', "$root/arch1/ewallet.p12",
		'-passin', "pass:$npw" ], '>', \$o, '2>', \$e);
	my @mk = ($o =~ /friendlyName: TDE\.MK\.[0-9A-Fa-f]+/g);
	is(scalar(@mk), 1, 'openssl opens the new keystore with its password: 1 key');
	IPC::Run::run([ $openssl, 'pkcs12', '-info', '-nokeys', '-in', ewallet_path($node),
		'-passin', "pass:$pw" ], '>', \$o, '2>', \$e);
	@mk = ($o =~ /friendlyName: TDE\.MK\.[0-9A-Fa-f]+/g);
	is(scalar(@mk), 1, 'the wallet holds 1 key now');
}
is(all_decrypt('postgres', 't1'), '20|20', 'postgres: every row decrypts');
is(all_decrypt('db2', 't2'), '20|20', 'db2: every row decrypts');
tde_akm_fails($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/arch1' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP}, '58P02', 'a keystore at the target already');
tde_akm_fails($node, qq{MOVE KEYS TO NEW KEYSTORE '$root/tde' IDENTIFIED BY "$npw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP}, '22023', 'into the wallet itself');

# --- a relation key in flight in db2: the check waits for its transaction ------
tde_akm_ok($node, qq{SET KEY USING TAG 'k3' IDENTIFIED BY "$pw" WITH BACKUP}, 'key k3 becomes active');
ok($node->poll_query_until('postgres',
		q{SELECT state = 'done' FROM tde.rewrap_progress WHERE datname = 'db2'}),
	'db2 re-wrapped under k3');
my $inflight = tde_session($node, 'db2');
session_sql($inflight, 'BEGIN');
# k3 is active: make k2 active again, in flight a key under k2 is made
tde_akm_ok($node, qq{USE KEY '$k2' IDENTIFIED BY "$pw" WITH BACKUP}, 'k2 active again');
session_sql($inflight, sprintf($fill, ('t3') x 3));
tde_akm_ok($node, qq{USE KEY '${\ key_of('k3')}' IDENTIFIED BY "$pw" WITH BACKUP}, 'k3 active again');
ok($node->poll_query_until('postgres',
		q{SELECT state = 'done' FROM tde.rewrap_progress WHERE datname = 'db2'}),
	'db2\'s re-wrap ends without the row in flight');
my $mover = tde_session($node, 'postgres');
$mover->{in} .= "SELECT tde.move_keys('$root/arch2', '$npw', '$pw', key_ids => ARRAY['$k2'], with_backup => true);\n\\echo MOVE_DONE\n";
$mover->{h}->pump_nb;
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'tde key use worker' AND wait_event_type = 'Lock'}),
	'the check in db2 waits for the transaction in flight');
session_sql($inflight, 'COMMIT');
$mover->{h}->pump until $mover->{out} =~ /MOVE_DONE/ || $mover->{timer}->is_expired;
like($mover->{err}, qr/55006: database "db2" still has relation keys/,
	'then refuses: k2 wraps the relation key committed meanwhile');
ok(!-e "$root/arch2/ewallet.p12", 'no keystore was made');
session_close($mover);
session_close($inflight);

# --- tde.move_keys, once db2 is re-wrapped -------------------------------------
tde_akm_ok($node, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open: re-wraps every database');
ok($node->poll_query_until('postgres',
		q{SELECT state = 'done' FROM tde.rewrap_progress WHERE datname = 'db2'}),
	'db2 re-wrapped under k3');
is($node->safe_psql('postgres',
		qq{SELECT tde.move_keys('$root/arch2', '$npw', '$pw', key_ids => ARRAY['$k2'], with_backup => true)}),
	'1', 'tde.move_keys moves k2');
is(all_decrypt('db2', 't3'), '20|20', 'db2: the rows made in flight decrypt');
is(all_decrypt('db2', 't2'), '20|20', 'db2: the older rows too');
is(all_decrypt('postgres', 't1'), '20|20', 'postgres: every row decrypts');

# --- privileges -----------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE ROLE plain_user LOGIN');
($ret, $out, $err) = tde_sql($node,
	qq{SET ROLE plain_user; SELECT tde.administer_key_management('MOVE KEYS TO NEW KEYSTORE ''$root/arch3'' IDENTIFIED BY "$npw" FROM KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP')});
tde_fails_with($ret, $err, '42501', 'a role without tde_admin: the statement');
$node->safe_psql('postgres', 'GRANT EXECUTE ON FUNCTION tde.move_keys(text, text, text, boolean, boolean, text[], boolean, text) TO plain_user');
($ret, $out, $err) = tde_sql($node,
	qq{SET ROLE plain_user; SELECT tde.move_keys('$root/arch3', '$npw', '$pw', with_backup => true)});
tde_fails_with($ret, $err, '42501', 'a role without tde_admin, even granted EXECUTE: the function');

# --- no password in the log ------------------------------------------------------
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$pw\E/, 'the wallet password is not in the log');
unlike($log, qr/\Q$npw\E/, 'the new keystore\'s password is not in the log');

$node->stop;
done_testing();
