# Master keys and encrypted data across restarts: a password keystore is
# closed after a restart (no keys visible, no decryption) and every row
# decrypts again once it is opened; an auto-login keystore opens by itself
# on the first decryption.  The key metadata survives restarts unchanged,
# and an auto-login wallet follows a rekey made while it is open.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Keys_Restart_Pw1';
my $nrows = 200;
my $node = tde_new_node('keys_restart');

# Every column of v$encryption_keys, one line per key, in KEY_ID order.
my $keys_sql = q{SELECT v::text FROM "v$encryption_keys" v ORDER BY key_id};

# Rows of t that decrypt to their plaintext, and all rows: "good|total".
my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};

tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE KEYSTORE');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'SET KEYSTORE OPEN');
my $k1 = tde_sql_ok($node,
	qq{SELECT tde.set_key(tag => 'restart k1', password => '$pw', with_backup => true)},
	'SET KEY (first master key)');
is(length($k1), 52, 'SET KEY returns a 52-character KEY_ID');
# A second key, created but never activated: activation columns stay NULL.
my $k2 = tde_sql_ok($node,
	qq{SELECT tde.create_key(tag => 'restart k2 (inactive)', password => '$pw', with_backup => true)},
	'CREATE KEY (second, inactive)');
is(wallet_status($node), 'OPEN|PASSWORD', 'keystore OPEN with an active key');

tde_sql_ok($node,
	qq{CREATE TABLE t (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	   INSERT INTO t (id, plain)
	     SELECT i, 'secret ' || i || ' ' || md5(i::text) FROM generate_series(1, $nrows) i;
	   UPDATE t SET ct = tde.encrypt('t', plain);},
	"encrypt $nrows rows");
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'every row decrypts before the restart');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM t WHERE position(convert_to(plain, 'UTF8') IN ct) > 0}),
	'0', 'no ciphertext contains its plaintext');

my $keys_before = $node->safe_psql('postgres', $keys_sql);
my @lines = split /\n/, $keys_before;
is(scalar(@lines), 2, 'v$encryption_keys shows two keys before the restart');
is( $node->safe_psql('postgres',
		qq{SELECT tag, activation_time IS NOT NULL, creator = current_user FROM "v\$encryption_keys" WHERE key_id = '$k1'}),
	'restart k1|t|t', 'first key: tag, activated, creator');
is( $node->safe_psql('postgres',
		qq{SELECT tag, activation_time IS NULL FROM "v\$encryption_keys" WHERE key_id = '$k2'}),
	'restart k2 (inactive)|t', 'second key: tag, never activated');
is( $node->safe_psql('postgres',
		q{SELECT count(DISTINCT master_key_id) || ':' || min(master_key_id) FROM tde.relation_keys}),
	"1:$k1", 'the relation key is wrapped by the active key');

# ---------------------------------------------------------------------
# Restart with the password keystore: closed, no keys, no decryption.
# ---------------------------------------------------------------------
$node->restart;
is(wallet_status($node), 'CLOSED|UNKNOWN', 'after restart: keystore CLOSED');
is($node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'),
	'0', 'after restart: v$encryption_keys is empty');
tde_sql_fails($node, q{SELECT tde.decrypt_text('t', ct) FROM t WHERE id = 1}, '55000',
	'decrypt with the keystore closed');
tde_sql_fails($node, q{SELECT tde.decrypt('t', ct) FROM t WHERE id = 2}, '55000',
	'decrypt (bytea) with the keystore closed');
tde_sql_fails($node, q{SELECT tde.encrypt('t', 'new'::text)}, '55000',
	'encrypt with the keystore closed');
is(wallet_status($node), 'CLOSED|UNKNOWN', 'failed calls did not open the keystore');

tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'reopen the keystore');
is(wallet_status($node), 'OPEN|PASSWORD', 'OPEN with the active key after reopening');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'after reopening, every row decrypts to its original');
is($node->safe_psql('postgres', $keys_sql), $keys_before,
	'key metadata identical after the restart (all columns, both keys)');
tde_sql_ok($node, q{INSERT INTO t VALUES (0, 'after restart', tde.encrypt('t', 'after restart'::text))},
	'encrypt after reopening');
$nrows++;
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'new and old rows decrypt');

# ---------------------------------------------------------------------
# Auto-login: decryption right after a restart opens it by itself.
# ---------------------------------------------------------------------
tde_sql_ok($node,
	qq{SELECT tde.administer_key_management('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE AUTO_LOGIN KEYSTORE');
$node->restart;

# The very first statement is a decryption: nothing opened the keystore
# (querying v$encryption_wallet would auto-open it too).
{
	my ($ret, $out, $err) = tde_sql($node, $check_sql);
	is($ret, 0, 'auto-login: decrypt right after restart succeeds') or diag($err);
	is($out, "$nrows|$nrows", 'auto-login: every row decrypts without opening');
	unlike($err, qr/WARNING/, 'auto-login: no warning on auto-open');
}
is(wallet_status($node), 'OPEN|AUTOLOGIN', 'auto-login keystore is open now');
is($node->safe_psql('postgres', $keys_sql), $keys_before,
	'auto-login: key metadata identical to the password wallet before restart');

# A new database's first use also sees the auto-opened keystore (shared).
$node->restart;
{
	my ($ret, $out, $err) = tde_sql($node,
		q{INSERT INTO t VALUES (-1, 'autologin encrypt', tde.encrypt('t', 'autologin encrypt'::text))});
	is($ret, 0, 'auto-login: encrypt as the first statement after restart') or diag($err);
	$nrows++;
}
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'auto-login: all rows decrypt, including the one encrypted on auto-open');

# Rekey while the auto-login keystore is open (FORCE KEYSTORE): the
# auto-login wallet follows, so after a restart the re-wrapped relation
# keys still unwrap without a password.
my $k3 = tde_sql_ok($node,
	qq{SELECT tde.set_key(tag => 'restart k3', password => '$pw', force_keystore => true, with_backup => true)},
	'SET KEY FORCE KEYSTORE with the auto-login keystore open');
is( $node->safe_psql('postgres',
		q{SELECT count(DISTINCT master_key_id) || ':' || min(master_key_id) FROM tde.relation_keys}),
	"1:$k3", 'relation keys re-wrapped by the new key');
my $keys_after_rekey = $node->safe_psql('postgres', $keys_sql);
is(scalar(my @k3lines = split /\n/, $keys_after_rekey), 3, 'three keys after the rekey');
$node->restart;
{
	my ($ret, $out, $err) = tde_sql($node, $check_sql);
	is($ret, 0, 'after rekey + restart: auto-login decryption succeeds') or diag($err);
	is($out, "$nrows|$nrows", 'after rekey + restart: every row decrypts');
}
is(wallet_status($node), 'OPEN|AUTOLOGIN', 'auto-login open after rekey + restart');
is($node->safe_psql('postgres', $keys_sql), $keys_after_rekey,
	'key metadata identical after rekey + restart (auto-login wallet refreshed)');

# The password wallet says the same.
unlink cwallet_path($node) or die "unlink cwallet: $!";
$node->restart;
is(wallet_status($node), 'CLOSED|UNKNOWN', 'without cwallet.sso: CLOSED after restart');
tde_sql_fails($node, $check_sql, '55000', 'without auto-login: decrypt after restart');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the password keystore');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'password keystore: every row decrypts');
is($node->safe_psql('postgres', $keys_sql), $keys_after_rekey,
	'password keystore: key metadata identical to the auto-login view');

$node->stop;
done_testing();
