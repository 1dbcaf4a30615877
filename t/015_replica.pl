# A streaming standby: relation keys reach it through WAL, its keystore is
# its own (tde.wallet_root of its own, holding a copy of the primary's
# wallet files, as Oracle copies the wallet to a Data Guard standby).
#
# On the hot standby the keystore starts CLOSED and opens with the
# password (opening only reads files); every row decrypts; encrypting for
# a relation that already has a key needs no write and works, for a new
# relation it fails cleanly as a write in a read-only transaction; no
# background re-wrap starts there, and a rekey cannot run there.  After a
# rekey on the primary the standby receives the re-wrapped relation keys
# at once; until the new wallet is copied and the keystore reopened, a
# session with a cold cache cannot unwrap them (42704), afterwards every
# row decrypts.  Once promoted, the standby rekeys by itself.

use strict;
use warnings;

use File::Copy qw(copy);
use File::Path qw(make_path);
use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw    = 'Replica_Pw1';
my $nrows = 100;

# The primary: tde_new_node's settings, on a node that can stream.
my $primary = tde_new_node('replica_primary', allows_streaming => 1);

# Copy the primary's wallet directory (<root>/tde/*) into the standby's,
# every file with mode 0600.  Returns the number of files copied.
sub copy_wallet
{
	my ($from, $to) = @_;
	my $src = wallet_dir($from);
	my $dst = wallet_dir($to);
	make_path($dst, { mode => 0700 });
	chmod 0700, $dst;
	my $n = 0;
	opendir(my $dh, $src) or die "could not open $src: $!";
	for my $f (sort grep { -f "$src/$_" } readdir $dh)
	{
		# through a temp file and a rename, as the extension writes it
		copy("$src/$f", "$dst/.$f.tmp") or die "could not copy $f: $!";
		chmod 0600, "$dst/.$f.tmp";
		rename("$dst/.$f.tmp", "$dst/$f") or die "could not rename $f: $!";
		$n++;
	}
	closedir $dh;
	return $n;
}

# Rows of t that decrypt to their plaintext, and all rows: "good|total".
my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};
my $mk_sql =
  q{SELECT count(DISTINCT master_key_id) || ':' || min(master_key_id) FROM tde.relation_keys};
my $failed_sql =
  q{SELECT count(*) FROM tde.rewrap_progress WHERE state = 'failed'};
my $open_sql =
  qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')};
my $close_sql =
  qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$pw"')};

# ---------------------------------------------------------------------
# 1. The primary: keystore, first key, encrypted rows; the standby.
# ---------------------------------------------------------------------
tde_sql_ok($primary, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'primary: CREATE KEYSTORE');
tde_sql_ok($primary, $open_sql, 'primary: SET KEYSTORE OPEN');
tde_sql_ok($primary,
	qq{SELECT tde.administer_key_management('SET KEY USING TAG ''replica k1'' IDENTIFIED BY "$pw" WITH BACKUP')},
	'primary: SET KEY WITH BACKUP');
my $k1 = $primary->safe_psql('postgres',
	q{SELECT key_id FROM "v$encryption_keys" WHERE tag = 'replica k1'});
like($k1, qr/\A[A-Za-z0-9+\/]{52}\z/, 'primary: the first key has a KEY_ID');
tde_sql_ok(
	$primary,
	qq{CREATE TABLE t (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	   CREATE TABLE t2 (id int PRIMARY KEY, ct bytea);
	   INSERT INTO t (id, plain)
	     SELECT i, 'replica secret ' || i || ' ' || md5(i::text) FROM generate_series(1, $nrows) i;
	   UPDATE t SET ct = tde.encrypt('t', plain);},
	"primary: encrypt $nrows rows");
is($primary->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'primary: every row decrypts');
is($primary->safe_psql('postgres', $mk_sql), "1:$k1",
	'primary: the relation key is wrapped by the first key');

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('replica_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
tde_make_wallet_root($standby);
# postgresql.conf came with the backup; the later line wins
$standby->append_conf('postgresql.conf',
	"tde.wallet_root = '" . wallet_root($standby) . "'\n");
ok(copy_wallet($primary, $standby) >= 2,
	'wallet and its backup copied to the standby');
is(file_mode(ewallet_path($standby)), 0600, 'standby wallet copy has mode 0600');
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SHOW tde.wallet_root'), wallet_root($standby),
	'standby: tde.wallet_root is its own');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
	'standby: in recovery (hot standby)');

# ---------------------------------------------------------------------
# 2. The hot standby: open its keystore, decrypt, encrypt what needs no
#    write; a new relation key, a rekey: read-only errors.
# ---------------------------------------------------------------------
is(wallet_status($standby), 'CLOSED|UNKNOWN', 'standby: keystore CLOSED after start');
is( $standby->safe_psql('postgres',
		q{SELECT wrl_parameter FROM "v$encryption_wallet"}),
	wallet_root($standby) . '/tde/',
	'standby: v$encryption_wallet names its own wallet directory');
tde_sql_fails($standby, q{SELECT tde.decrypt_text('t', ct) FROM t WHERE id = 1}, '55000',
	'standby: decrypt with the keystore closed');
tde_sql_ok($standby, $open_sql, 'standby: SET KEYSTORE OPEN IDENTIFIED BY (reads files only)');
is(wallet_status($standby), 'OPEN|PASSWORD', 'standby: keystore OPEN');
is($standby->safe_psql('postgres', 'SELECT key_id FROM "v$encryption_keys"'),
	$k1, 'standby: v$encryption_keys shows the copied key');
is($standby->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'standby: every row decrypts');
is( $standby->safe_psql('postgres',
		q{SELECT tde.decrypt_text('t', tde.encrypt('t', 'standby text'::text))}),
	'standby text',
	'standby: encrypt for a relation with a key works (no write)');
{
	my $err = tde_sql_fails($standby, q{SELECT tde.encrypt('t2', 'new relation'::text)},
		'25006', 'standby: encrypt for a relation without a key');
	like($err, qr/read-only transaction/, 'standby: the error names the read-only transaction');
}
is($standby->safe_psql('postgres', 'SELECT 1'), '1', 'standby: still up after the refusal');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM tde.relation_keys'), '1',
	'standby: no relation key was added');
is($standby->safe_psql('postgres', $failed_sql), '0',
	'standby: tde.rewrap_progress has no failed entry');
is( $standby->safe_psql('postgres',
		q{SELECT count(*) FROM tde.rewrap_progress WHERE state IN ('pending', 'running', 'waiting for keystore')}),
	'0', 'standby: no background re-wrap was started by the open');

# Master keys change on the primary only: every key operation on the
# standby is refused (25006) before its wallet copy is written.
{
	my $before = slurp_file(ewallet_path($standby));
	my $k1 = $standby->safe_psql('postgres', 'SELECT key_id FROM "v$encryption_keys"');
	for my $op (
		[ 'SET KEY', qq{SELECT tde.set_key(tag => 'on standby', password => '$pw', with_backup => true)} ],
		[ 'CREATE KEY', qq{SELECT tde.create_key(tag => 'on standby', password => '$pw', with_backup => true)} ],
		[ 'USE KEY', qq{SELECT tde.use_key('$k1', password => '$pw', with_backup => true)} ],
		[ 'SET TAG', qq{SELECT tde.set_tag('$k1', 'on standby', password => '$pw', with_backup => true)} ],
		[ 'rotate_relation_key', q{SELECT tde.rotate_relation_key('t')} ])
	{
		my ($what, $sql) = @$op;
		my $err = tde_sql_fails($standby, $sql, '25006', "standby: $what");
		like($err, qr/during recovery/, "standby: $what error names the recovery");
	}
	ok(slurp_file(ewallet_path($standby)) eq $before, 'standby: wallet unchanged by the refused operations');
	is($standby->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '1',
		'standby: still one master key');
}

# A session that has unwrapped the relation key keeps it across the
# primary's rekey (the relation key itself does not change).
my $warm = tde_session($standby);
{
	my ($out, $err) = session_sql($warm, $check_sql);
	is($out, "$nrows|$nrows", 'standby: a long-lived session decrypts every row');
}

# ---------------------------------------------------------------------
# 3. Rekey on the primary: relation keys replicate, the wallet is copied.
# ---------------------------------------------------------------------
my $k2 = tde_sql_ok($primary,
	qq{SELECT tde.set_key(tag => 'replica k2', password => '$pw', with_backup => true)},
	'primary: rekey (SET KEY WITH BACKUP)');
isnt($k2, $k1, 'primary: the rekey made a new key');
is($primary->safe_psql('postgres', $mk_sql), "1:$k2", 'primary: relation key re-wrapped');
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', $mk_sql), "1:$k2",
	'standby: the replicated relation key names the new master key');
{
	my ($out, $err) = session_sql($warm, $check_sql);
	is($out, "$nrows|$nrows",
		'standby: the long-lived session (warm cache) still decrypts every row');
}
# a cold cache needs the new key, which the stale wallet copy lacks
{
	my $err = tde_sql_fails($standby, $check_sql, '42704',
		'standby: decrypt with a cold cache and a stale wallet copy');
	like($err, qr/master key "\Q$k2\E" is not in the open keystore/,
		'standby: the error names the missing new key');
	unlike($err, qr/\Q$pw\E/, 'standby: the error carries no password');
}
is(wallet_status($standby), 'OPEN|PASSWORD', 'standby: keystore still open after the failure');

ok(copy_wallet($primary, $standby) >= 3, 'new wallet files copied to the standby');
tde_sql_ok($standby, $close_sql, 'standby: SET KEYSTORE CLOSE');
is(wallet_status($standby), 'CLOSED|UNKNOWN', 'standby: keystore CLOSED');
tde_sql_ok($standby, $open_sql, 'standby: reopen with the new wallet copy');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '2',
	'standby: both master keys in the reloaded wallet');
is($standby->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'standby: after copy and reopen, every row decrypts (new session)');
{
	my ($out, $err) = session_sql($warm, $check_sql);
	is($out, "$nrows|$nrows", 'standby: the long-lived session decrypts after the reopen');
}
session_close($warm);
is($standby->safe_psql('postgres', $failed_sql), '0',
	'standby: still no failed re-wrap entry');

# ---------------------------------------------------------------------
# 4. Promotion: the former standby rekeys and writes by itself.
# ---------------------------------------------------------------------
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby did not leave recovery';
is(wallet_status($standby), 'OPEN|PASSWORD', 'promoted: keystore still open');
my $k3 = tde_sql_ok($standby,
	qq{SELECT tde.set_key(tag => 'promoted k3', password => '$pw', with_backup => true)},
	'promoted: SET KEY WITH BACKUP');
ok($k3 ne $k1 && $k3 ne $k2, 'promoted: a third key');
is($standby->safe_psql('postgres', $mk_sql), "1:$k3",
	'promoted: relation key re-wrapped by its own new key');
is($standby->safe_psql('postgres', $check_sql), "$nrows|$nrows",
	'promoted: every row decrypts');
tde_sql_ok($standby,
	q{INSERT INTO t2 VALUES (1, tde.encrypt('t2', 'after promotion'::text))},
	'promoted: encrypt for a new relation');
is($standby->safe_psql('postgres', q{SELECT tde.decrypt_text('t2', ct) FROM t2}),
	'after promotion', 'promoted: the new relation decrypts');
is($standby->safe_psql('postgres', $failed_sql), '0',
	'promoted: tde.rewrap_progress has no failed entry');
# the primary's wallet did not change: the wallets are separate now
is($primary->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"'), '2',
	'old primary: still two keys');

$standby->stop;
$primary->stop;
done_testing();
