# pg_dump carries a database's encrypted data over: the relation keys
# (tde.relation_key, whose regclass column is dumped by name and so maps to
# the restored tables) and the database identity bound into every wrapped
# key come along as extension configuration tables.  In the restored
# database every ciphertext decrypts, new encryptions work, and a later
# rekey re-wraps both databases.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Dump_Restore_Pw1';
my $node = tde_new_node('dump_restore');

tde_sql_ok($node, qq{SELECT tde.create_keystore(password => '$pw')}, 'create the keystore');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the keystore');
my $k1 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'dump k1', password => '$pw', with_backup => true)},
	'SET KEY');

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION tde');
# Three relations: text in two key versions, bytea, and one in another
# schema (regclass names must map back through the schema).
tde_sql_ok($node,
	q{CREATE TABLE a (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	  INSERT INTO a SELECT i, 'row a ' || i || ' ' || md5(i::text) FROM generate_series(1, 100) i;
	  UPDATE a SET ct = tde.encrypt('a', plain) WHERE id <= 50;
	  SELECT tde.rotate_relation_key('a');
	  UPDATE a SET ct = tde.encrypt('a', plain) WHERE id > 50;
	  CREATE TABLE b (id int PRIMARY KEY, raw bytea NOT NULL, ct bytea);
	  INSERT INTO b SELECT i, sha256(i::text::bytea) FROM generate_series(1, 40) i;
	  UPDATE b SET ct = tde.encrypt('b', raw);
	  CREATE SCHEMA s;
	  CREATE TABLE s.c (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	  INSERT INTO s.c SELECT i, 'row c ' || i FROM generate_series(1, 20) i;
	  UPDATE s.c SET ct = tde.encrypt('s.c', plain);},
	'encrypt data in src (a: 2 key versions, b: bytea, s.c: another schema)', 'src');

# "good|total" over all three tables, and the key inventory by relation name.
my $check_sql = q{
	SELECT (SELECT count(*) FILTER (WHERE tde.decrypt_text('a', ct) = plain) FROM a)
	     + (SELECT count(*) FILTER (WHERE tde.decrypt('b', ct) = raw) FROM b)
	     + (SELECT count(*) FILTER (WHERE tde.decrypt_text('s.c', ct) = plain) FROM s.c)
	  || '|' || ((SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM s.c))};
my $keys_sql = q{
	SELECT string_agg(c.relname || ':' || r.key_version || ':' || r.key_id, ',' ORDER BY c.relname, r.key_version)
	FROM tde.relation_key r JOIN pg_class c ON c.oid = r.relid::oid};

is($node->safe_psql('src', $check_sql), '160|160', 'src: every ciphertext decrypts');
my $src_keys = $node->safe_psql('src', $keys_sql);
my $src_identity = $node->safe_psql('src', 'SELECT id FROM tde.database_identity');
is(scalar(my @l = split /,/, $src_keys), 4, 'src: 4 relation keys (a v1, a v2, b, s.c)');
isnt($src_identity, '', 'src has a database identity');

# ---------------------------------------------------------------------
# Plain-format dump restored with psql into a new database.
# ---------------------------------------------------------------------
my $dump = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst'), '-f', $dump ],
	'restore into dst with psql');

is($node->safe_psql('dst', 'SELECT id FROM tde.database_identity'), $src_identity,
	'dst: tde.database_identity came along');
is($node->safe_psql('dst', $keys_sql), $src_keys,
	'dst: the same relation keys, each mapped to the restored relation of the same name');
isnt( $node->safe_psql('dst', q{SELECT string_agg(relid::oid::text, ',' ORDER BY relid::oid) FROM tde.relation_key}),
	$node->safe_psql('src', q{SELECT string_agg(relid::oid::text, ',' ORDER BY relid::oid) FROM tde.relation_key}),
	'dst: the relation OIDs differ from src (the mapping is by name)');
is($node->safe_psql('dst', $check_sql), '160|160', 'dst: every ciphertext decrypts');

# New encryptions in dst: in an existing relation (its current key
# version) and in a new one.
tde_sql_ok($node,
	q{INSERT INTO a VALUES (1001, 'new in dst', tde.encrypt('a', 'new in dst'::text));
	  CREATE TABLE d (id int, plain text, ct bytea);
	  INSERT INTO d SELECT i, 'row d ' || i, tde.encrypt('d', 'row d ' || i) FROM generate_series(1, 10) i;},
	'dst: encrypt new rows', 'dst');
is( $node->safe_psql('dst',
		q{SELECT tde.decrypt_text('a', ct) || '|' || (tde.decrypt_text('a', ct) = plain)::int
		  || '|' || substr(ct, 18, 4)::text FROM a WHERE id = 1001}),
	'new in dst|1|\x00000002', 'dst: a new row of a decrypts, under key version 2');
is($node->safe_psql('dst', q{SELECT count(*) FILTER (WHERE tde.decrypt_text('d', ct) = plain) FROM d}),
	'10', 'dst: a new table\'s rows decrypt');
is($node->safe_psql('dst', q{SELECT count(*) FROM tde.relation_keys WHERE relid = 'd'::regclass}),
	'1', 'dst: the new table has its own relation key');
is($node->safe_psql('src', $check_sql), '160|160', 'src is untouched');

# ---------------------------------------------------------------------
# Custom-format dump taken with the keystore closed (a dump needs no key),
# restored with pg_restore.
# ---------------------------------------------------------------------
tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pw')}, 'close the keystore');
my $cdump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $cdump ],
	'pg_dump -Fc src with the keystore closed');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst2'), '--exit-on-error', $cdump ],
	'pg_restore into dst2');
is($node->safe_psql('dst2', $keys_sql), $src_keys, 'dst2: the same relation keys');
{
	my ($ret, $out, $err) = tde_sql($node, $check_sql, 'dst2');
	is(sqlstate_of($err), '55000', 'dst2: no decryption while the keystore is closed');
}
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the keystore');
is($node->safe_psql('dst2', $check_sql), '160|160', 'dst2: every ciphertext decrypts');

# ---------------------------------------------------------------------
# A rekey from dst re-wraps dst in its transaction and src and dst2 in the
# background; everything still decrypts.
# ---------------------------------------------------------------------
my $k2 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'dump k2', password => '$pw', with_backup => true)},
	'SET KEY from dst', 'dst');
ok( $node->poll_query_until('dst',
		q{SELECT count(*) = 2 FROM tde.rewrap_progress WHERE datname IN ('src', 'dst2') AND state = 'done'}),
	'src and dst2 re-wrapped in the background');
for my $db (qw(src dst dst2))
{
	my $n = $db eq 'dst' ? 5 : 4;
	is( $node->safe_psql($db,
			qq{SELECT count(*) || '|' || count(*) FILTER (WHERE master_key_id = '$k2') FROM tde.relation_keys}),
		"$n|$n", "$db: all relation keys name the new master key");
}
is($node->safe_psql('src', $check_sql), '160|160', 'src decrypts after the rekey');
is($node->safe_psql('dst', $check_sql), '161|161', 'dst decrypts after the rekey');
is($node->safe_psql('dst2', $check_sql), '160|160', 'dst2 decrypts after the rekey');

ok(!$node->log_contains('terminated by signal'), 'no server process crashed');
$node->stop;
done_testing();
