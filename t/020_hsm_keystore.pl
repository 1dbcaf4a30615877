# The HSM as the keystore (tde.keystore_configuration = 'HSM'), with
# SoftHSM2 as the PKCS#11 token: opening with "pin" and "user:pin", master
# keys generated in the token (checked from outside with pkcs11-tool:
# sensitive, never extractable, value unreadable), data encrypted and
# decrypted under them, the "Rekey on HSM" runbook (spec 000) run verbatim
# through tde.administer_key_management, the statements an HSM cannot do,
# restarts (the HSM closes; key metadata survives) and the auto-open of
# 'HSM|FILE' from the HSM password in the external store.

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
my $nrows = 100;
my $node = tde_new_node('hsm_keystore');
softhsm_setup($node, conf => "tde.keystore_configuration = 'HSM'\n");

my $wallet_sql = q{SELECT wrl_type, coalesce(wrl_parameter, '<null>'), status, wallet_type,
       wallet_order, fully_backed_up FROM v$encryption_wallet};
my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};
# what a restart must not change
my $meta_sql = q{SELECT key_id, tag, creation_time, activation_time, creator, "user",
       keystore_type, origin FROM "v$encryption_keys" ORDER BY creation_time};

is($node->safe_psql('postgres', 'SHOW tde.keystore_configuration'), 'HSM',
	'configuration HSM');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|<null>|CLOSED|HSM|SINGLE|UNDEFINED',
	'v$encryption_wallet: one HSM row, CLOSED');

# --- open with "pin", close, open with "user:pin" -------------------------

tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pin"},
	'SET KEYSTORE OPEN IDENTIFIED BY "pin"');
is($node->safe_psql('postgres', $wallet_sql),
	'HSM|<null>|OPEN_NO_MASTER_KEY|HSM|SINGLE|UNDEFINED',
	'HSM open, no master key yet');
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pin"},
	'55000', 'opening an open HSM');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY "$pin"},
	'SET KEYSTORE CLOSE');
is(wallet_status($node), 'CLOSED|HSM', 'HSM closed');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "tde_user:$pin"},
	'SET KEYSTORE OPEN IDENTIFIED BY "user:pin"');
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|HSM', 'HSM open with user:pin');
# the credential of the open HSM is "user:pin": the bare PIN is another one
tde_akm_fails($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY "wrong:0000"},
	'28P01', 'closing with another credential');
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|HSM', 'still open after the refused close');
tde_sql_ok($node, 'SELECT tde.close_keystore()', 'typed close_keystore()');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pin')}, 'typed open_keystore(pin)');
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|HSM', 'HSM open with the bare PIN');

# --- a master key in the HSM ----------------------------------------------

tde_sql_ok($node, 'CREATE TABLE t (id int PRIMARY KEY, plain text NOT NULL, ct bytea)', 'create t');
tde_sql_fails($node, q{SELECT tde.encrypt('t', 'x'::text)}, '55000',
	'encrypt with an open HSM but no master key');

my ($ret, $out, $err) = akm($node,
	qq{ADMINISTER KEY MANAGEMENT SET KEY USING TAG 'hsm k1' IDENTIFIED BY "$pin" WITH BACKUP});
is($ret, 0, 'SET KEY ... IDENTIFIED BY "pin" WITH BACKUP') or diag($err);
like($err, qr/NOTICE:\s+0A000: WITH BACKUP has no effect on an HSM keystore/,
	'WITH BACKUP gives a NOTICE');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|<null>|OPEN|HSM|SINGLE|UNDEFINED',
	'v$encryption_wallet: one row HSM, SINGLE, OPEN');
is( $node->safe_psql('postgres',
		q{SELECT count(*), string_agg(keystore_type || '|' || tag || '|' || key_use || '|'
		          || origin || '|' || (activation_time IS NOT NULL) || '|'
		          || (creator = current_user), ',')
		  FROM "v$encryption_keys"}),
	'1|HSM|hsm k1|TDE|LOCAL|true|true',
	'v$encryption_keys: one active HSM key');
my $k1 = $node->safe_psql('postgres', 'SELECT key_id FROM "v$encryption_keys"');
is(length($k1), 52, 'KEY_ID has 52 characters');
my $mkid1 = key_id_mkid_hex($k1);
like($mkid1, qr/^[0-9a-f]{32}$/, 'MKID decoded from the KEY_ID');
is($node->safe_psql('postgres', qq{SELECT tde.key_id('\\x$mkid1'::bytea)}), $k1,
	'tde.key_id(MKID) gives the KEY_ID back');
ok(-f wallet_dir($node) . '/hsm_keys.sso', 'HSM key metadata file exists');
ok(!-e ewallet_path($node), 'no software wallet was created');

# What an HSM cannot do with keys.
tde_akm_fails($node,
	qq{ADMINISTER KEY MANAGEMENT SET KEY 'D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11' IDENTIFIED BY "$pin" WITH BACKUP},
	'0A000', 'user-supplied key value in an HSM');
tde_akm_fails($node,
	qq{ADMINISTER KEY MANAGEMENT SET KEY USING ALGORITHM 'ARIA256' IDENTIFIED BY "$pin" WITH BACKUP},
	'0A000', 'ARIA256 in an HSM');
is($node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '1',
	'refused statements added no key');

# --- the key seen from outside: a non-extractable token object -------------

my ($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
is($rc, 0, 'pkcs11-tool --list-objects succeeds') or diag($list);
my @objects = split /(?=Secret Key Object)/, $list;
my ($obj) = grep { /label:\s+TDE_MEK_\Q$mkid1\E\s*$/mi } @objects;
ok(defined $obj, "token object labelled TDE_MEK_$mkid1 exists") or diag($list);
$obj //= '';
like($obj, qr/^Secret Key Object; AES length 32/, 'it is a 32-byte AES secret key');
like($obj, qr/^\s*ID:\s+\Q$mkid1\E\s*$/mi, 'its CKA_ID is the MKID');
like($obj, qr/Access:.*\bsensitive\b/, 'it is sensitive');
like($obj, qr/Access:.*\bnever extractable\b/, 'it is never extractable');
unlike($obj, qr/Usage:.*\bwrap\b/, 'it cannot wrap (export) other keys');
($rc, $out) = pkcs11_tool('--login', '--pin', $pin, '--read-object', '--type', 'secrkey',
	'--id', $mkid1);
isnt($rc, 0, 'pkcs11-tool --read-object of the key value fails');
like($out, qr/CKR_ATTRIBUTE_SENSITIVE/, 'the token answers CKR_ATTRIBUTE_SENSITIVE');
($rc, $out) = pkcs11_tool('--list-objects', '--type', 'secrkey');
unlike($out, qr/TDE_MEK_/, 'the key is private: invisible without login');

# --- data ----------------------------------------------------------------

tde_sql_ok($node,
	qq{INSERT INTO t (id, plain)
	     SELECT i, 'hsm secret ' || i || ' ' || md5(i::text) FROM generate_series(1, $nrows) i;
	   UPDATE t SET ct = tde.encrypt('t', plain);},
	"encrypt $nrows rows");
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows", 'every row decrypts');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM t WHERE position(convert_to(plain, 'UTF8') IN ct) > 0}),
	'0', 'no ciphertext contains its plaintext');
is( $node->safe_psql('postgres',
		qq{SELECT count(*) || '|' || string_agg(DISTINCT k.keystore_type || '|' || (k.key_id = '$k1'), ',')
		   FROM tde.relation_keys r JOIN "v\$encryption_keys" k ON k.key_id = r.master_key_id}),
	'1|HSM|true', 'relation key of t is wrapped by the HSM key');

# --- the runbook (spec 000, "Rekey on HSM"), verbatim ---------------------

my $seps = wallet_root($node) . '/tde_seps';
tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT ADD SECRET '$pin' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '$seps'},
	'HSM_PASSWORD stored in the external store');
my $meta_before = $node->safe_psql('postgres', $meta_sql);

$node->restart;
is(wallet_status($node), 'CLOSED|HSM', 'after a restart the HSM is closed (configuration HSM)');
tde_sql_fails($node, q{SELECT tde.decrypt_text('t', ct) FROM t WHERE id = 1}, '55000',
	'decrypt with the HSM closed');

# Step 1
tde_akm_ok($node, q{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE;},
	'runbook step 1: SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
is(wallet_status($node), 'OPEN|HSM', 'HSM open from the external store');
is($node->safe_psql('postgres', $meta_sql), $meta_before,
	'key metadata (tag, times, creator) survived the restart');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'every row decrypts after restart + open');

# Step 2.  The runbook's SET LINESIZE/PAGESIZE, ALTER SESSION SET
# nls_timestamp_tz_format and COL lines are SQL*Plus formatting, not SQL:
# skipped.  The SELECT runs as written except that user is quoted: "user"
# (unquoted, user is SQL's CURRENT_USER in PostgreSQL).
my $runbook_query =
  q{SELECT key_id, tag, creation_time, activation_time, creator, "user", key_use, backed_up, creator_dbname FROM v$encryption_keys;};
my $step2 = tde_sql_ok($node, $runbook_query, 'runbook step 2: the query of v$encryption_keys');
my @step2 = split /\n/, $step2;
is(scalar(@step2), 1, 'step 2 shows one key');
like($step2[0] // '', qr/^\Q$k1\E\|hsm k1\|/, 'step 2 shows the active key k1');

# Step 3
($ret, $out, $err) = akm($node,
	q{ADMINISTER KEY MANAGEMENT SET KEY FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING 'new_mek_wallet';});
is($ret, 0, 'runbook step 3: SET KEY FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING')
  or diag($err);
like($err, qr/NOTICE:.*WITH BACKUP has no effect on an HSM keystore/, 'step 3 gives the NOTICE');
my @backups = glob(wallet_dir($node) . '/ewallet_*new_mek_wallet*');
is(scalar(@backups), 0, 'no backup file is written for an HSM');

# Step 4
my $step4 = tde_sql_ok($node, $runbook_query, 'runbook step 4: the query again');
my @step4 = split /\n/, $step4;
is(scalar(@step4), 2, 'step 4 shows one more key');
my $newest = $node->safe_psql('postgres',
	q{SELECT key_id FROM "v$encryption_keys" ORDER BY creation_time DESC LIMIT 1});
isnt($newest, $k1, 'the newest key is a new one');
is( $node->safe_psql('postgres',
		q{SELECT key_id FROM "v$encryption_keys" ORDER BY activation_time DESC NULLS LAST LIMIT 1}),
	$newest, 'the newest key is the active one (latest activation)');
is( $node->safe_psql('postgres',
		qq{SELECT keystore_type || '|' || coalesce(tag, '<null>') FROM "v\$encryption_keys" WHERE key_id = '$newest'}),
	'HSM|<null>', 'the new key is in the HSM');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
	$newest, 'relation keys re-wrapped under the new key');
my $mkid2 = key_id_mkid_hex($newest);
($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
like($list, qr/label:\s+TDE_MEK_\Q$mkid2\E\b/i, 'the new key is a token object too');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows", 'every row decrypts after the rekey');
is(wallet_status($node), 'OPEN|HSM', 'HSM still open after FORCE KEYSTORE');

# The runbook's statements that do not work with an HSM, and two more.
my %refused = (
	'BACKUP KEYSTORE' =>
	  q{ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING 'new_mek' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE;},
	'EXPORT KEYS' =>
	  q{ADMINISTER KEY MANAGEMENT EXPORT KEYS WITH SECRET 'my_secret' TO '/tmp/TDE_export.exp' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE;},
	'ALTER KEYSTORE PASSWORD' =>
	  qq{ADMINISTER KEY MANAGEMENT ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY "$pin" SET "new_pin_9" WITH BACKUP},
	'MERGE KEYSTORE' =>
	  qq{ADMINISTER KEY MANAGEMENT MERGE KEYSTORE '/tmp/a' AND KEYSTORE '/tmp/b' IDENTIFIED BY "x_merge_pw" INTO NEW KEYSTORE '/tmp/c' IDENTIFIED BY "y_merge_pw"},
	'MOVE KEYS' =>
	  qq{ADMINISTER KEY MANAGEMENT MOVE KEYS TO NEW KEYSTORE '/tmp/TDE_moved' IDENTIFIED BY "y_move_pw" FROM FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP},
);
for my $op (sort keys %refused)
{
	my $e = tde_akm_fails($node, $refused{$op}, '0A000', "$op with an HSM");
	like($e, qr/\Q$op\E is not supported for an HSM keystore/, "$op: clear message");
	like($e, qr/HINT:/, "$op: with a hint");
	unlike($e, qr/XX000/, "$op: no internal error");
}
ok(!-e '/tmp/TDE_export.exp', 'no export file was written');
ok(!-e '/tmp/TDE_moved', 'no keystore was moved to');
tde_sql_fails($node, q{SELECT tde.backup_keystore(external_store => true, force_keystore => true)},
	'0A000', 'typed backup_keystore with an HSM');
tde_sql_fails($node,
	qq{SELECT tde.alter_keystore_password('$pin', 'new_pin_9', with_backup => true, force_keystore => true)},
	'0A000', 'typed alter_keystore_password with an HSM');
is($node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '2',
	'refused statements changed no key');

# --- restart: closed, refuses, opens again ----------------------------------

$meta_before = $node->safe_psql('postgres', $meta_sql);
$node->restart;
is($node->safe_psql('postgres', $wallet_sql), 'HSM|<null>|CLOSED|HSM|SINGLE|UNDEFINED',
	'after a restart the HSM is CLOSED');
is($node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '0',
	'no keys visible while closed');
tde_sql_fails($node, q{SELECT tde.decrypt_text('t', ct) FROM t WHERE id = 1}, '55000',
	'decrypt refused while closed');
tde_sql_fails($node, q{SELECT tde.encrypt('t', 'new'::text)}, '55000', 'encrypt refused while closed');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pin"},
	'open again with the PIN');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows", 'every row decrypts again');
is($node->safe_psql('postgres', $meta_sql), $meta_before,
	'key metadata of both keys survived the restart');
is( $node->safe_psql('postgres',
		q{SELECT tde.decrypt_text('t', tde.encrypt('t', 'round trip'::text))}),
	'round trip', 'new data encrypts and decrypts');

# --- auto-open: HSM|FILE with HSM_PASSWORD in the external store -------------

tde_sql_ok($node,
	q{ALTER SYSTEM SET tde.keystore_configuration = 'HSM|FILE'; SELECT pg_reload_conf();},
	'configuration HSM|FILE');
$node->restart;
is($node->safe_psql('postgres', 'SHOW tde.keystore_configuration'), 'HSM|FILE',
	'HSM|FILE after the restart');
($ret, $out, $err) = tde_sql($node, $wallet_sql);
is( $out,
	"HSM|<null>|OPEN|HSM|PRIMARY|UNDEFINED\nFILE|" . wallet_dir($node)
	  . '/|NOT_AVAILABLE|UNKNOWN|SECONDARY|UNDEFINED',
	'first query of v$encryption_wallet: the HSM opened by itself (PRIMARY)');
unlike($err, qr/WARNING/, 'no warning while auto-opening');
is($node->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'decrypt works without an explicit open');

# and a decryption as the very first use opens it too
$node->restart;
is($node->safe_psql('postgres', q{SELECT tde.decrypt_text('t', ct) FROM t WHERE id = 7}),
	'hsm secret 7 ' . $node->safe_psql('postgres', q{SELECT md5('7')}),
	'decryption as the first use after a restart auto-opens the HSM');
is(wallet_status($node), "OPEN|HSM\nNOT_AVAILABLE|UNKNOWN", 'HSM open, seen from another session');

$node->stop;
done_testing();
