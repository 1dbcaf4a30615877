# Migration between the software keystore and the HSM (Oracle 4.1.11):
# data encrypted under a password wallet in two databases; with
# 'HSM|FILE', SET ENCRYPTION KEY ... MIGRATE USING makes a new master key
# in the HSM and re-wraps every relation key under it (the current
# database in the statement, the other by a background worker), the wallet
# staying open as SECONDARY; with 'FILE|HSM', REVERSE MIGRATE brings the
# keys back under a new wallet key, the HSM staying SECONDARY.  The data
# decrypts at every step and after a restart; a migration under the wrong
# configuration is refused.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

if (my $why = softhsm_missing())
{
	tde_skip_all($why, hsm => 1);
}

my $pin = $TdeTest::HSM_PIN;
# used unquoted in the statements (an Oracle identifier-style password)
my $wpw = 'Migrate_Pw1';
my $node = tde_new_node('hsm_migrate');
softhsm_setup($node);

my $wallet_sql = q{SELECT string_agg(wrl_type || '|' || status || '|' || wallet_type || '|'
       || wallet_order, ', ' ORDER BY wallet_order) FROM v$encryption_wallet};

# every row of the database's tables that decrypts to its plaintext / all
my %checks = (
	postgres => q{SELECT (SELECT count(*) FILTER (WHERE tde.decrypt_text('a', ct) = plain) FROM a)
	                  + (SELECT count(*) FILTER (WHERE tde.decrypt_text('b', ct) = plain) FROM b)
	                  || '|' || (SELECT count(*) FROM a) + (SELECT count(*) FROM b)},
	db2 => q{SELECT count(*) FILTER (WHERE tde.decrypt_text('x', ct) = plain) || '|' || count(*) FROM x},
);
my %expect = (postgres => '80|80', db2 => '30|30');

sub data_decrypts
{
	my ($when) = @_;
	for my $db (qw(postgres db2))
	{
		# a new session each time: no relation key cached from before
		my ($ret, $out, $err) = tde_sql($node, $checks{$db}, $db);
		is($out, $expect{$db}, "$when: every row of $db decrypts") or diag($err);
	}
}

# "keystore_type|count" of the master keys wrapping a database's relation
# keys, one per line
sub wrapping
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT t || '|' || count(*) FROM
		  (SELECT coalesce(k.keystore_type, '<not visible>') t
		   FROM tde.relation_keys r LEFT JOIN "v$encryption_keys" k ON k.key_id = r.master_key_id) s
		  GROUP BY t ORDER BY t});
}

# distinct KEY_IDs wrapping a database's relation keys
sub wrapping_keys
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys});
}

# Wait until db2's re-wrap by the background worker is done for $key_id.
sub wait_rewrap
{
	my ($key_id, $what) = @_;
	my $p_sql = q{SELECT state || '|' || target_key_id || '|' || keys_done || '|' || keys_total
	              FROM tde.rewrap_progress WHERE datname = 'db2'};
	$node->poll_query_until('postgres',
		qq{SELECT state IN ('done', 'failed') AND target_key_id = '$key_id'
		   FROM tde.rewrap_progress WHERE datname = 'db2'});
	like($node->safe_psql('postgres', $p_sql), qr/^done\|\Q$key_id\E\|(\d+)\|\1$/,
		"$what: db2 re-wrapped by the background worker");
}

# --- configuration FILE: a password wallet and data in two databases -------

$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', 'CREATE EXTENSION tde');

tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "$pin" MIGRATE USING $wpw WITH BACKUP},
	'55000', 'MIGRATE under configuration FILE');

tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY "$wpw"}, 'create the wallet');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$wpw"}, 'open it');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEY USING TAG 'file k1' IDENTIFIED BY "$wpw" WITH BACKUP},
	'SET KEY in the wallet');
my $fk1 = $node->safe_psql('postgres', 'SELECT key_id FROM "v$encryption_keys"');
is($node->safe_psql('postgres', $wallet_sql), 'FILE|OPEN|PASSWORD|SINGLE', 'FILE keystore open');

tde_sql_ok($node,
	q{CREATE TABLE a (id int, plain text, ct bytea);
	  CREATE TABLE b (id int, plain text, ct bytea);
	  INSERT INTO a SELECT i, 'postgres a ' || i FROM generate_series(1, 50) i;
	  INSERT INTO b SELECT i, 'postgres b ' || i FROM generate_series(1, 30) i;
	  UPDATE a SET ct = tde.encrypt('a', plain);
	  UPDATE b SET ct = tde.encrypt('b', plain);
	  SELECT tde.rotate_relation_key('b');
	  UPDATE b SET ct = tde.encrypt('b', plain) WHERE id > 15;},
	'postgres: encrypt rows (b under two key versions)');
tde_sql_ok($node,
	q{CREATE TABLE x (id int, plain text, ct bytea);
	  INSERT INTO x SELECT i, 'db2 x ' || i FROM generate_series(1, 30) i;
	  UPDATE x SET ct = tde.encrypt('x', plain);},
	'db2: encrypt rows', 'db2');
data_decrypts('configuration FILE');
is(wrapping('postgres'), 'SOFTWARE KEYSTORE|3', 'postgres: 3 relation keys under the wallet key');
is(wrapping('db2'), 'SOFTWARE KEYSTORE|1', 'db2: 1 relation key under the wallet key');

# --- HSM|FILE and MIGRATE ---------------------------------------------------

tde_reload_with($node, 'tde.keystore_configuration', 'HSM|FILE', 'configuration is now HSM|FILE');
is($node->safe_psql('postgres', $wallet_sql),
	'HSM|CLOSED|HSM|PRIMARY, FILE|OPEN|PASSWORD|SECONDARY',
	'HSM|FILE before the migration: HSM closed, wallet open as secondary');
{
	my ($ret, $o, $e) = tde_sql($node, $checks{postgres});
	# Observed: 55000 (the primary HSM is closed), although the open
	# secondary wallet holds the key; reported, not asserted.
	note("HSM|FILE, HSM closed, before MIGRATE: decrypt gives '$o' " . sqlstate_of($e));
}
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY $wpw REVERSE MIGRATE USING "$pin" WITH BACKUP},
	'55000', 'REVERSE MIGRATE under configuration HSM|FILE');
my @backups_before = glob(wallet_dir($node) . '/ewallet_*.p12');
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "$pin" MIGRATE USING wrong_pw WITH BACKUP},
	'28P01', 'MIGRATE with a wrong wallet password');
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "0000" MIGRATE USING $wpw WITH BACKUP},
	'28P01', 'MIGRATE with a wrong HSM PIN');
is($node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys" WHERE keystore_type = \'HSM\''),
	'0', 'the failed migrations made no HSM key');
is(wrapping_keys('postgres'), $fk1, 'the failed migrations re-wrapped nothing');
# Observed: the MIGRATE with the wrong PIN has written a wallet backup
# before the HSM refused the PIN; reported, not asserted.
note('wallet backups written by the failed migrations: '
	  . (scalar(my @b = glob(wallet_dir($node) . '/ewallet_*.p12')) - scalar(@backups_before)));
my ($out, $err) = tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "$pin" MIGRATE USING $wpw WITH BACKUP USING 'pre_migrate'},
	'MIGRATE (statement)');
my @backups = glob(wallet_dir($node) . '/ewallet_*_pre_migrate.p12');
is(scalar(@backups), 1, 'WITH BACKUP USING wrote one wallet backup');
is($node->safe_psql('postgres', $wallet_sql),
	'HSM|OPEN|HSM|PRIMARY, FILE|OPEN|PASSWORD|SECONDARY',
	'after MIGRATE: HSM PRIMARY open, FILE SECONDARY open');
my $hk1 = $node->safe_psql('postgres',
	q{SELECT key_id FROM "v$encryption_keys" WHERE keystore_type = 'HSM'});
is(length($hk1), 52, 'one HSM key');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(keystore_type || '|' || (activation_time IS NOT NULL), ',' ORDER BY keystore_type)
		  FROM "v$encryption_keys"}),
	'HSM|true,SOFTWARE KEYSTORE|true', 'both keystores\' keys visible');
is(wrapping('postgres'), 'HSM|3', 'postgres: every relation key now wrapped by the HSM key');
is(wrapping_keys('postgres'), $hk1, 'postgres: wrapped by the new HSM key');
data_decrypts('right after MIGRATE');
wait_rewrap($hk1, 'MIGRATE');
is(wrapping('db2'), 'HSM|1', 'db2: relation key wrapped by the HSM key');
is(wrapping_keys('db2'), $hk1, 'db2: by the new HSM key');
data_decrypts('after the background re-wrap');
is( $node->safe_psql('postgres',
		q{CREATE TABLE c (v text); INSERT INTO c VALUES (encode(tde.encrypt('c', 'new c'::text), 'base64'));
		  SELECT tde.decrypt_text('c', decode(v, 'base64')) FROM c}),
	'new c', 'a new relation gets a key under the HSM key');
my ($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
like($list, qr/TDE_MEK_\Q@{[key_id_mkid_hex($hk1)]}\E/i, 'the HSM key is a token object');

# typed, once
my $hk2 = tde_sql_ok($node, qq{SELECT tde.migrate_keystore('$pin', '$wpw', with_backup => true)},
	'tde.migrate_keystore (typed)');
is(length($hk2), 52, 'migrate_keystore returns a KEY_ID');
isnt($hk2, $hk1, 'a second HSM key');
is( $node->safe_psql('postgres',
		qq{SELECT keystore_type FROM "v\$encryption_keys" WHERE key_id = '$hk2'}),
	'HSM', 'the typed migration made an HSM key');
is(wrapping_keys('postgres'), $hk2, 'postgres: relation keys under the second HSM key');
wait_rewrap($hk2, 'typed migrate');
is(wrapping_keys('db2'), $hk2, 'db2: relation keys under the second HSM key');
data_decrypts('after the typed migration');

# --- FILE|HSM and REVERSE MIGRATE ---------------------------------------------

tde_reload_with($node, 'tde.keystore_configuration', 'FILE|HSM', 'configuration is now FILE|HSM');
is($node->safe_psql('postgres', $wallet_sql),
	'FILE|OPEN|PASSWORD|PRIMARY, HSM|OPEN|HSM|SECONDARY',
	'FILE|HSM: wallet primary, HSM secondary, both open');
data_decrypts('FILE|HSM before the reverse migration');
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "$pin" MIGRATE USING $wpw WITH BACKUP},
	'55000', 'MIGRATE under configuration FILE|HSM');

tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY $wpw REVERSE MIGRATE USING "$pin" WITH BACKUP},
	'REVERSE MIGRATE (statement)');
is($node->safe_psql('postgres', $wallet_sql),
	'FILE|OPEN|PASSWORD|PRIMARY, HSM|OPEN|HSM|SECONDARY',
	'after REVERSE MIGRATE: FILE PRIMARY, HSM SECONDARY');
my $fk2 = $node->safe_psql('postgres',
	q{SELECT key_id FROM "v$encryption_keys" WHERE keystore_type = 'SOFTWARE KEYSTORE'
	  ORDER BY creation_time DESC LIMIT 1});
isnt($fk2, $fk1, 'a new wallet key');
is(wrapping('postgres'), 'SOFTWARE KEYSTORE|4', 'postgres: relation keys (a, b twice, c) under a software key');
is(wrapping_keys('postgres'), $fk2, 'postgres: under the new wallet key');
data_decrypts('right after REVERSE MIGRATE');
wait_rewrap($fk2, 'REVERSE MIGRATE');
is(wrapping('db2'), 'SOFTWARE KEYSTORE|1', 'db2: relation key under a software key');
data_decrypts('after the background re-wrap (reverse)');

my $fk3 = tde_sql_ok($node, qq{SELECT tde.reverse_migrate_keystore('$wpw', '$pin', with_backup => true)},
	'tde.reverse_migrate_keystore (typed)');
is( $node->safe_psql('postgres',
		qq{SELECT keystore_type FROM "v\$encryption_keys" WHERE key_id = '$fk3'}),
	'SOFTWARE KEYSTORE', 'the typed reverse migration made a wallet key');
is(wrapping_keys('postgres'), $fk3, 'postgres: relation keys under the newest wallet key');
wait_rewrap($fk3, 'typed reverse migrate');
is(wrapping_keys('db2'), $fk3, 'db2: under the newest wallet key');
data_decrypts('after the typed reverse migration');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(keystore_type || ':' || n, ',' ORDER BY keystore_type) FROM
		  (SELECT keystore_type, count(*) n FROM "v$encryption_keys" GROUP BY 1) s}),
	'HSM:2,SOFTWARE KEYSTORE:3', 'no key was lost: 2 HSM keys, 3 wallet keys');

# --- restart: open the wallet, the data decrypts -------------------------------

$node->restart;
is($node->safe_psql('postgres', $wallet_sql),
	'FILE|CLOSED|UNKNOWN|PRIMARY, HSM|CLOSED|HSM|SECONDARY', 'after a restart both are closed');
my ($ret, $o2, $e2) = tde_sql($node, q{SELECT tde.decrypt_text('a', ct) FROM a LIMIT 1});
is(sqlstate_of($e2), '55000', 'decrypt refused while closed');
($out, $err) = tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$wpw"},
	'open the wallet');
like($err, qr/NOTICE:.*secondary HSM keystore stays closed/,
	'the secondary HSM stays closed (its PIN is not the wallet password), with a notice');
is($node->safe_psql('postgres', $wallet_sql),
	'FILE|OPEN|PASSWORD|PRIMARY, HSM|CLOSED|HSM|SECONDARY', 'wallet open, HSM closed');
data_decrypts('after restart + open');

# With the HSM's PIN in the external store, the secondary HSM opens with the wallet.
my $seps = wallet_root($node) . '/tde_seps';
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT ADD SECRET '$pin' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '$seps'},
	'HSM_PASSWORD in the external store');
$node->restart;
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$wpw"},
	'open the wallet after another restart');
is($node->safe_psql('postgres', $wallet_sql),
	'FILE|OPEN|PASSWORD|PRIMARY, HSM|OPEN|HSM|SECONDARY',
	'the secondary HSM opened with its stored PIN');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM "v$encryption_keys"}),
	'5', 'all five keys visible again');
data_decrypts('after restart + open with both keystores');

$node->stop;
done_testing();
