# A rekey re-wraps the current database's relation keys in its own
# transaction and every other database's in the background, without anyone
# connecting to them; progress is visible from any database in
# tde.rewrap_progress.  A rekey made with the keystore closed (FORCE
# KEYSTORE) leaves the other databases' keys as they were, still working,
# until the keystore is opened, which launches the re-wrap.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use TdeTest;

my $pw = 'Rewrap_Bg_Pw1';
# db2 gets more relation keys than a worker's batch (1000), so the worker
# commits more than once.
my $db2_versions = 1100;
my $node = tde_new_node('rewrap_bg');

# Progress row of a database, seen from db1: "state|keys_done|keys_total|target".
sub progress
{
	my ($datname) = @_;
	return $node->safe_psql('db1',
		qq{SELECT state || '|' || keys_done || '|' || keys_total || '|' || target_key_id
		   FROM tde.rewrap_progress WHERE datname = '$datname'});
}

# Wait (from db1) until a database's state is one of @states; returns the
# progress row then (the last one seen if the wait timed out).
sub wait_state
{
	my ($datname, @states) = @_;
	my $in = join(', ', map { "'$_'" } @states);
	$node->poll_query_until('db1',
		qq{SELECT state IN ($in) FROM tde.rewrap_progress WHERE datname = '$datname'});
	return progress($datname);
}

# Does anyone other than us (and the re-wrap workers) have a session in db?
sub sessions_in
{
	my ($db) = @_;
	return $node->safe_psql('db1',
		qq{SELECT count(*) FROM pg_stat_activity
		   WHERE datname = '$db' AND backend_type = 'client backend'});
}

for my $db (qw(db1 db2 db3))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
}
$node->safe_psql($_, 'CREATE EXTENSION tde') for qw(db1 db2);

tde_sql_ok($node, qq{SELECT tde.create_keystore(password => '$pw')}, 'create the keystore', 'db1');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the keystore', 'db1');
# Opening launches re-wrap workers for every database; with no master key
# yet there is nothing to do, which is no failure.
ok( $node->poll_query_until('db1',
		q{SELECT count(*) = 0 FROM tde.rewrap_progress WHERE state IN ('pending', 'running')}),
	'the workers launched by the first open finish');
is( $node->safe_psql('db1',
		q{SELECT coalesce(string_agg(datname || ': ' || coalesce(error, ''), '; ' ORDER BY datname), '')
		  FROM tde.rewrap_progress WHERE state = 'failed'}),
	'', 'opening a keystore without a master key fails no database\'s re-wrap');
my $k1 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'bg k1', password => '$pw', with_backup => true)},
	'SET KEY k1 in db1', 'db1');

# db1: three tables; db2: two tables, one with many key versions and rows
# under several of them.
tde_sql_ok($node,
	q{CREATE TABLE a (id int, plain text, ct bytea);
	  CREATE TABLE b (id int, plain text, ct bytea);
	  CREATE TABLE c (id int, plain text, ct bytea);
	  INSERT INTO a SELECT i, 'db1 a ' || i FROM generate_series(1, 50) i;
	  INSERT INTO b SELECT i, 'db1 b ' || i FROM generate_series(1, 50) i;
	  INSERT INTO c SELECT i, 'db1 c ' || i FROM generate_series(1, 50) i;
	  UPDATE a SET ct = tde.encrypt('a', plain);
	  UPDATE b SET ct = tde.encrypt('b', plain);
	  UPDATE c SET ct = tde.encrypt('c', plain);},
	'db1: encrypt rows in three tables', 'db1');
tde_sql_ok($node,
	qq{CREATE TABLE x (id int, plain text, ct bytea);
	   CREATE TABLE y (id int, plain text, ct bytea);
	   INSERT INTO x SELECT i, 'db2 x ' || i FROM generate_series(1, 100) i;
	   UPDATE x SET ct = tde.encrypt('x', plain) WHERE id <= 50;
	   SELECT tde.rotate_relation_key('x');
	   UPDATE x SET ct = tde.encrypt('x', plain) WHERE id > 50;
	   INSERT INTO y SELECT i, 'db2 y ' || i FROM generate_series(1, 30) i;
	   UPDATE y SET ct = tde.encrypt('y', plain) WHERE id <= 10;
	   SELECT count(tde.rotate_relation_key('y')) FROM generate_series(1, $db2_versions - 1);
	   UPDATE y SET ct = tde.encrypt('y', plain) WHERE id > 10;},
	'db2: encrypt rows, x in 2 key versions, y in 2 of many', 'db2');

my $check1 =
  q{SELECT (SELECT count(*) FILTER (WHERE tde.decrypt_text('a', ct) = plain) FROM a)
         + (SELECT count(*) FILTER (WHERE tde.decrypt_text('b', ct) = plain) FROM b)
         + (SELECT count(*) FILTER (WHERE tde.decrypt_text('c', ct) = plain) FROM c)};
my $check2 =
  q{SELECT (SELECT count(*) FILTER (WHERE tde.decrypt_text('x', ct) = plain) FROM x)
         + (SELECT count(*) FILTER (WHERE tde.decrypt_text('y', ct) = plain) FROM y)};
# "keys|keys under the given master key|keys re-wrapped at least once"
sub keys_under
{
	my ($db, $key) = @_;
	return $node->safe_psql($db,
		qq{SELECT count(*) || '|' || count(*) FILTER (WHERE master_key_id = '$key')
		   || '|' || count(rewrapped_at) FROM tde.relation_keys});
}

is($node->safe_psql('db1', $check1), '150', 'db1: all 150 rows decrypt');
is($node->safe_psql('db2', $check2), '130', 'db2: all 130 rows decrypt');
my $n2 = 2 + $db2_versions;
is(keys_under('db1', $k1), '3|3|0', 'db1: 3 relation keys under k1, none re-wrapped');
is(keys_under('db2', $k1), "$n2|$n2|0", "db2: $n2 relation keys under k1");

# ---------------------------------------------------------------------
# SET KEY in db1: db1 re-wrapped when the statement returns, db2 by a
# background worker, db3 (no extension) skipped.
# ---------------------------------------------------------------------
# (the sessions that encrypted the rows may take a moment to exit)
ok( $node->poll_query_until('db1',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'db2' AND backend_type = 'client backend'}),
	'nobody is connected to db2');
my $k2;
{
	# The check runs in the same session right after the statement.
	my $out = tde_sql_ok($node,
		qq{SELECT tde.set_key(tag => 'bg k2', password => '$pw', with_backup => true) AS k \\gset
		   SELECT :'k';
		   SELECT count(*) || '|' || count(*) FILTER (WHERE master_key_id = :'k')
		     || '|' || count(rewrapped_at) FROM tde.relation_keys;},
		'SET KEY k2 in db1', 'db1');
	my @l = split /\n/, $out;
	$k2 = $l[0] // '';
	isnt($k2, $k1, 'a new key');
	is($l[1], '3|3|3', "when SET KEY returns, all of db1's relation keys name k2");
}

my $p = wait_state('db2', 'done', 'failed');
is($p, "done|$n2|$n2|$k2",
	"db2 re-wrapped in the background: done, keys_done = keys_total = $n2, target k2");
like(wait_state('db3', 'no extension', 'failed'), qr/^no extension\|0\|0\|/,
	'db3 (no extension): "no extension"');
is(sessions_in('db2'), '0', 'still nobody connected to db2 (only the worker was there)');
is(keys_under('db2', $k2), "$n2|$n2|$n2", "db2: all $n2 relation keys now name k2");
is($node->safe_psql('db2', $check2), '130', 'db2: all rows decrypt after the re-wrap');
is($node->safe_psql('db1', $check1), '150', 'db1: all rows decrypt after the rekey');

# ---------------------------------------------------------------------
# Rekey with the keystore closed (FORCE KEYSTORE): db2 waits, its keys
# still work; opening launches the re-wrap.
# ---------------------------------------------------------------------
tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pw')}, 'close the keystore', 'db1');
my $k3;
{
	my $out = tde_sql_ok($node,
		qq{SELECT tde.set_key(tag => 'bg k3', password => '$pw', force_keystore => true, with_backup => true) AS k \\gset
		   SELECT :'k';
		   SELECT count(*) || '|' || count(*) FILTER (WHERE master_key_id = :'k') FROM tde.relation_keys;},
		'SET KEY k3 FORCE KEYSTORE in db1 with the keystore closed', 'db1');
	my @l = split /\n/, $out;
	$k3 = $l[0] // '';
	isnt($k3, $k2, 'a new key k3');
	is($l[1], '3|3', "db1's relation keys name k3 when the statement returns");
}
is(wallet_status($node, 'db1'), 'CLOSED|UNKNOWN', 'the keystore stays closed');

# No worker can re-wrap to k3 while the keystore is closed: db2 is
# "waiting for keystore" (its worker ran and found it closed) or "pending",
# with k3 as its target, and stays so.
$node->poll_query_until('db1',
	q{SELECT state <> 'running' FROM tde.rewrap_progress WHERE datname = 'db2'});
$p = progress('db2');
note("db2 progress while the keystore is closed: $p (k2 = $k2, k3 = $k3)");
like($p, qr/^(?:waiting for keystore|pending)\|0\|0\|\Q$k3\E$/,
	'db2 progress while closed: waiting for the keystore (or pending), nothing done, target k3');
# (not a wait for a state: the state must not change in this time)
sleep 0.5;
like(progress('db2'), qr/^(?:waiting for keystore|pending)\|/, 'and it stays so');
is(keys_under('db2', $k2), "$n2|$n2|$n2", "db2's relation keys still name k2");
{
	my ($ret, $out, $err) = tde_sql($node, "SELECT count(tde.decrypt_text('x', ct)) FROM x", 'db2');
	is(sqlstate_of($err), '55000', 'db2 data does not decrypt while the keystore is closed');
}

# Open the keystore from db2 in a transaction that holds off the worker
# (SHARE lock on tde.relation_key: its UPDATE waits), and check there that
# db2's keys, still wrapped by k2, work.
my $bg = $node->background_psql('db2');
$bg->query_safe('BEGIN');
$bg->query_safe('LOCK TABLE tde.relation_key IN SHARE MODE');
$bg->query_safe(qq{SELECT tde.open_keystore(password => '$pw')});
is($bg->query_safe(q{SELECT status FROM "v$encryption_wallet"}), 'OPEN',
	'keystore open (from db2)');
ok( $node->poll_query_until(
		'db1',
		q{SELECT count(*) > 0 FROM pg_stat_activity
		  WHERE backend_type = 'tde rewrap worker' AND datname = 'db2'
		    AND wait_event_type = 'Lock'}),
	'opening launched a worker for db2 (now waiting for our lock)');
is($bg->query_safe(
		qq{SELECT count(*) || '|' || count(*) FILTER (WHERE master_key_id = '$k2') FROM tde.relation_keys}),
	"$n2|$n2", "before the worker has run, db2's keys still name k2");
is($bg->query_safe($check2), '130', 'and all of db2\'s rows decrypt with them');
like(progress('db2'), qr/^running\|0\|/, 'db2 progress: running, nothing done yet');
$bg->query_safe('COMMIT');
$bg->quit;

$p = wait_state('db2', 'done', 'failed');
is($p, "done|$n2|$n2|$k3", "after the open, db2's re-wrap finishes: done, $n2 keys, target k3");
is(keys_under('db2', $k3), "$n2|$n2|$n2", "db2: all relation keys name k3");
is($node->safe_psql('db2', $check2), '130', 'db2: all rows decrypt');
is($node->safe_psql('db1', $check1), '150', 'db1: all rows decrypt');
like(wait_state('db3', 'no extension', 'failed'), qr/^no extension\|/,
	'db3 still "no extension"');

# Every master key a relation key names is in the keystore.
for my $db (qw(db1 db2))
{
	is( $node->safe_psql($db,
			q{SELECT count(*) FROM tde.relation_keys r
			  WHERE r.master_key_id NOT IN (SELECT key_id FROM "v$encryption_keys")}),
		'0', "$db: every relation key's master key is in v\$encryption_keys");
}

ok(!$node->log_contains('terminated by signal'), 'no server process crashed');
ok(!$node->log_contains('errstart was not called'),
	'no worker reported "errstart was not called" (an error lost in its error handler)');
$node->stop;
done_testing();
