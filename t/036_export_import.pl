# EXPORT KEYS and IMPORT KEYS between two clusters (Oracle's 4.2.7): rows
# encrypted in the first cluster, its keys exported, the database moved
# with pg_dump/pg_restore into the second, the keys imported there, every
# row decrypts.  Also: the export file (0600, a PKCS#12 file that openssl
# opens with the secret and with nothing else, no key in clear), export by
# list and by subquery, imported keys keep their KEY_IDs, tags and times
# with ORIGIN IMPORTED and survive a restart, a key is imported once, a
# wrong secret, a damaged or truncated file and a wallet given as export
# file import nothing, and neither secret nor password reaches the log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my ($pw1, $pw2) = ('Export_Pw_One1', 'Import_Pw_Two2');
my $secret = 'Exp0rt_S3cret_xyz';
my $dir = PostgreSQL::Test::Utils::tempdir();

# A known master key: it must appear in no file in clear.
my $mkid_hex = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
my $mk_hex = join('', map { sprintf('%02x', (53 * $_ + 7) % 256) } 0 .. 31);

my $c1 = tde_new_node('export_src');
my $c2 = tde_new_node('import_dst');

tde_akm_ok($c1, qq{CREATE KEYSTORE IDENTIFIED BY "$pw1"}, 'c1: CREATE KEYSTORE');
tde_akm_ok($c1, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw1"}, 'c1: open');
tde_akm_ok($c1, qq{SET KEY '$mkid_hex:$mk_hex' USING TAG 'c1 first' IDENTIFIED BY "$pw1" WITH BACKUP},
	'c1: SET KEY with a known key');
$c1->safe_psql('postgres', 'CREATE DATABASE app');
$c1->safe_psql('app', 'CREATE EXTENSION tde');
tde_sql_ok($c1,
	q{CREATE TABLE t (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	  INSERT INTO t SELECT i, 'row ' || i || ' ' || md5(i::text) FROM generate_series(1, 200) i;
	  UPDATE t SET ct = tde.encrypt('t', plain) WHERE id <= 100;},
	'c1: encrypt rows under the first key', 'app');
tde_akm_ok($c1, qq{SET KEY USING TAG 'c1 second' IDENTIFIED BY "$pw1" WITH BACKUP}, 'c1: SET KEY again');
tde_sql_ok($c1, q{SELECT tde.rotate_relation_key('t');
				  UPDATE t SET ct = tde.encrypt('t', plain) WHERE id > 100;},
	'c1: more rows under a new relation key version', 'app');
ok($c1->poll_query_until('app',
		q{SELECT count(*) = 0 FROM tde.relation_keys k
		  WHERE k.master_key_id <> (SELECT key_id FROM v$encryption_keys
								  ORDER BY activation_time DESC NULLS LAST LIMIT 1)}),
	'c1: every relation key re-wrapped under the second key');
my $check_sql = q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};
is($c1->safe_psql('app', $check_sql), '200|200', 'c1: every row decrypts');
my $keys_sql = q{SELECT string_agg(key_id || ':' || tag || ':' || creation_time, ',' ORDER BY creation_time)
				 FROM v$encryption_keys};
my $c1_keys = $c1->safe_psql('postgres', $keys_sql);
my ($k1, $k2) = split /\n/, $c1->safe_psql('postgres',
	q{SELECT key_id FROM v$encryption_keys ORDER BY creation_time});

# --- the export files ----------------------------------------------------------
tde_akm_ok($c1, qq{ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS
WITH SECRET "$secret" TO '$dir/all.exp'
FORCE KEYSTORE
IDENTIFIED BY "$pw1"}, 'c1: export every key');
tde_akm_ok($c1, qq{EXPORT KEYS WITH SECRET "$secret" TO '$dir/first.exp'
IDENTIFIED BY "$pw1" WITH IDENTIFIER IN '$k1'}, 'c1: export the first key by its KEY_ID');
tde_akm_ok($c1, qq{EXPORT KEYS WITH SECRET "$secret" TO '$dir/rest.exp'
IDENTIFIED BY "$pw1" WITH IDENTIFIER IN (SELECT key_id FROM v\$encryption_keys WHERE key_id <> '$k1')},
	'c1: export the others by a subquery');
is($c1->safe_psql('postgres',
		qq{SELECT tde.export_keys('$secret', '$dir/typed.exp', password => '$pw1')}),
	'2', 'c1: the typed function exports 2 keys');

for my $f (qw(all first rest typed))
{
	is(file_mode("$dir/$f.exp"), 0600, "$f.exp is 0600");
}
ok(!-e "$dir/all.exp.tmp" && !grep(/\.tmp$/, glob("$dir/*")), 'no temporary file is left');
my $openssl = find_program('openssl');
SKIP:
{
	skip 'openssl is not installed', 3 unless $openssl;
	my ($out, $err);
	ok(IPC::Run::run([ $openssl, 'pkcs12', '-info', '-noout', '-in', "$dir/all.exp",
						'-passin', "pass:$secret" ], '>', \$out, '2>', \$err),
		'openssl pkcs12 opens the export file with the secret') or diag($err);
	like($err, qr/MAC: sha256/i, 'its MAC is HMAC-SHA-256');
	ok(!IPC::Run::run([ $openssl, 'pkcs12', '-info', '-noout', '-in', "$dir/all.exp",
						 '-passin', "pass:$pw1" ], '>', \$out, '2>', \$err),
		'openssl refuses the export file with the wallet password');
}
my $bytes = slurp_file("$dir/all.exp");
my $mk_raw = pack('H*', $mk_hex);
ok(index($bytes, $mk_raw) < 0 && index(lc($bytes), $mk_hex) < 0 && index($bytes, uc $mk_hex) < 0,
	'the known master key is not in the export file, raw or hex');
ok(index($bytes, $secret) < 0, 'nor is the secret');

# --- the database moves to c2 ----------------------------------------------------
my $dump = "$dir/app.dump";
$c1->command_ok([ 'pg_dump', '-Fc', '-d', $c1->connstr('app'), '-f', $dump ], 'pg_dump app from c1');
tde_akm_ok($c2, qq{CREATE KEYSTORE IDENTIFIED BY "$pw2"}, 'c2: CREATE KEYSTORE');
tde_akm_ok($c2, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw2"}, 'c2: open');
tde_akm_ok($c2, qq{SET KEY USING TAG 'c2 own' IDENTIFIED BY "$pw2" WITH BACKUP}, 'c2: its own master key');
my $c2_own = $c2->safe_psql('postgres', q{SELECT key_id FROM v$encryption_keys});
$c2->safe_psql('postgres', 'CREATE DATABASE app');
$c2->command_ok([ 'pg_restore', '-d', $c2->connstr('app'), '--exit-on-error', $dump ],
	'pg_restore app into c2');
tde_sql_fails_like($c2, $check_sql, '42704', qr/ORA-28374/,
	'c2: before the import, the rows name a master key c2 does not have', 'app');

# a wrong secret, a damaged file, a truncated file and a wallet import nothing
my $ew2 = ewallet_path($c2);
my $ew2_before = slurp_file($ew2);
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "not the secret" FROM '$dir/all.exp' IDENTIFIED BY "$pw2" WITH BACKUP},
	'28P01', 'c2: import with a wrong secret');
my $damaged = $bytes;
substr($damaged, int(length($damaged) / 2), 1) = chr(ord(substr($damaged, int(length($damaged) / 2), 1)) ^ 0x55);
spew_file("$dir/damaged.exp", $damaged);
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "$secret" FROM '$dir/damaged.exp' IDENTIFIED BY "$pw2" WITH BACKUP},
	'XX001', 'c2: import of a damaged file');
spew_file("$dir/short.exp", substr($bytes, 0, length($bytes) - 40));
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "$secret" FROM '$dir/short.exp' IDENTIFIED BY "$pw2" WITH BACKUP},
	'XX001', 'c2: import of a truncated file');
copy(ewallet_path($c1), "$dir/a_wallet.p12") or die "copy: $!";
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "$pw1" FROM '$dir/a_wallet.p12' IDENTIFIED BY "$pw2" WITH BACKUP},
	'XX001', 'c2: a wallet is not an export file');
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "$secret" FROM '$dir/all.exp' IDENTIFIED BY "$pw2"},
	'55000', 'c2: import without WITH BACKUP (ORA-46631)');
is(slurp_file($ew2), $ew2_before, 'c2: the wallet is unchanged by every refused import');
is($c2->safe_psql('postgres', q{SELECT count(*) FROM v$encryption_keys}), '1', 'c2: still one key');

# the first key alone, then the rest: every row decrypts
tde_akm_ok($c2, qq{ADMINISTER KEY MANAGEMENT IMPORT KEYS
WITH SECRET "$secret"
FROM '$dir/first.exp'
FORCE KEYSTORE
IDENTIFIED BY "$pw2" WITH BACKUP}, 'c2: import the first key');
tde_akm_fails($c2, qq{IMPORT KEYS WITH SECRET "$secret" FROM '$dir/all.exp' IDENTIFIED BY "$pw2" WITH BACKUP},
	'42710', 'c2: importing every key again is refused: the first one is there');
is($c2->safe_psql('postgres', q{SELECT count(*) FROM v$encryption_keys}), '2', 'c2: nothing more was imported');
is($c2->safe_psql('postgres',
		qq{SELECT tde.import_keys('$secret', '$dir/rest.exp', password => '$pw2',
								  with_backup => true, backup_identifier => 'before_rest')}),
	'1', 'c2: the typed import of the rest: 1 key');
ok(grep(/_before_rest\.p12$/, glob(wallet_dir($c2) . '/*')), 'c2: the backup before it is there');
is($c2->safe_psql('app', $check_sql), '200|200', 'c2: every row of app decrypts');
is( $c2->safe_psql('postgres',
		qq{SELECT string_agg(key_id || ':' || tag || ':' || creation_time, ',' ORDER BY creation_time)
		   FROM v\$encryption_keys WHERE key_id <> '$c2_own'}),
	$c1_keys, 'c2: the imported keys keep their KEY_IDs, tags and creation times');
is( $c2->safe_psql('postgres',
		q{SELECT string_agg(origin, ',' ORDER BY creation_time) FROM v$encryption_keys}),
	'IMPORTED,IMPORTED,LOCAL', 'c2: ORIGIN is IMPORTED for the imported keys (older than c2\'s own)');
is( $c2->safe_psql('postgres',
		q{SELECT key_id FROM v$encryption_keys ORDER BY activation_time DESC NULLS LAST LIMIT 1}),
	$c2_own, 'c2: its own key stays the active one');

# new rows, a rekey and a restart in c2
tde_sql_ok($c2, q{INSERT INTO t SELECT 1000 + i, 'c2 row ' || i, tde.encrypt('t', 'c2 row ' || i)
				  FROM generate_series(1, 10) i}, 'c2: new rows', 'app');
tde_akm_ok($c2, qq{SET KEY USING TAG 'c2 rekey' IDENTIFIED BY "$pw2" WITH BACKUP}, 'c2: rekey from postgres');
ok($c2->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM tde.rewrap_progress WHERE datname = 'app' AND state = 'done'}),
	'c2: app re-wrapped in the background');
$c2->restart;
tde_akm_ok($c2, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw2"}, 'c2: open after a restart');
is($c2->safe_psql('app', $check_sql), '210|210', 'c2: every row decrypts after rekey and restart');
is($c1->safe_psql('app', $check_sql), '200|200', 'c1 is untouched');

# --- the log --------------------------------------------------------------------
for my $n ([ 'c1', $c1 ], [ 'c2', $c2 ])
{
	my $log = slurp_file($n->[1]->logfile);
	ok(index($log, $secret) < 0, "$n->[0]: the export secret is not in the server log");
	ok(index($log, $pw1) < 0 && index($log, $pw2) < 0, "$n->[0]: no wallet password in the server log");
	ok(index(lc $log, $mk_hex) < 0, "$n->[0]: the known key is not in the server log");
}
ok(!$c1->log_contains('terminated by signal') && !$c2->log_contains('terminated by signal'),
	'no server process crashed');
$c1->stop;
$c2->stop;
done_testing();
