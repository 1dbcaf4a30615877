# Backend-local caches and aborted transactions (DESIGN §8): nothing an
# abort undid may survive in a cache, and DROP EXTENSION forgets everything.
#
# Each scenario runs in a database of its own, so that its "first
# encryption" is really the first: the database identity, the relation key
# and the cached key are all made by the statement that aborts.  Another
# session then decrypts what the first one encrypted afterwards; with a
# cache that outlived the abort, it could not.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Abort_Caches_Pw1';
my $node = tde_new_node('abort_caches');


tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE KEYSTORE');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'SET KEYSTORE OPEN');
tde_sql_ok($node, qq{SELECT tde.set_key(password => '$pw', with_backup => true) IS NOT NULL},
	'SET KEY');

sub new_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db,
		'CREATE EXTENSION tde; CREATE TABLE t (id int PRIMARY KEY, c bytea)');
}

# What another session sees: the decrypted rows, "id=text" joined by ','.
sub decrypted
{
	my ($db) = @_;
	my ($ret, $out, $err) = tde_sql($node,
		q{SELECT string_agg(id || '=' || tde.decrypt_text('t', c), ',' ORDER BY id) FROM t},
		$db);
	return $ret == 0 ? $out : "error " . sqlstate_of($err);
}

# --- 1. a rolled-back first encryption --------------------------------------

new_db('rollback');
tde_sql_ok($node,
	q{BEGIN; SELECT length(tde.encrypt('t', 'lost')) > 0; ROLLBACK;
	  INSERT INTO t VALUES (1, tde.encrypt('t', 'kept'));},
	'one session: a rolled-back first encryption, then an insert', 'rollback');
is(decrypted('rollback'), '1=kept',
	'another session decrypts the row encrypted after the rollback');
is($node->safe_psql('rollback', 'SELECT count(*) FROM tde.database_identity'),
	'1', 'one database identity');

# --- 2. a first INSERT that fails on a unique violation ---------------------

new_db('uniq');
$node->safe_psql('uniq', 'CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1)');
# The first encryption and a unique violation in one statement, as an
# application's INSERT would fail.
my ($ret, $out, $err);
($ret, $out, $err) = tde_sql($node,
	q{\set ON_ERROR_STOP 0
	  WITH x AS (INSERT INTO t VALUES (1, tde.encrypt('t', 'first')) RETURNING id)
	    INSERT INTO u SELECT id FROM x;
	  INSERT INTO t VALUES (2, tde.encrypt('t', 'second'));},
	'uniq');
like($err, qr/23505/, 'the first insert fails on a unique violation');
is(decrypted('uniq'), '2=second',
	'another session decrypts the row inserted after the failed one');

# --- 3. a rolled-back savepoint ----------------------------------------------

new_db('savepoint');
tde_sql_ok($node,
	q{BEGIN; SAVEPOINT s; SELECT length(tde.encrypt('t', 'lost')) > 0; ROLLBACK TO s;
	  INSERT INTO t VALUES (1, tde.encrypt('t', 'kept')); COMMIT;},
	'one session: first encryption in a savepoint rolled back', 'savepoint');
is(decrypted('savepoint'), '1=kept',
	'another session decrypts the row encrypted after ROLLBACK TO SAVEPOINT');

# A released savepoint keeps what it made: the identity stays pending
# until the transaction commits, and then is kept.
new_db('released');
tde_sql_ok($node,
	q{BEGIN; SAVEPOINT s; INSERT INTO t VALUES (1, tde.encrypt('t', 'one')); RELEASE s;
	  INSERT INTO t VALUES (2, tde.encrypt('t', 'two')); COMMIT;
	  INSERT INTO t VALUES (3, tde.encrypt('t', 'three'));},
	'one session: a released savepoint, a commit, another insert', 'released');
is(decrypted('released'), '1=one,2=two,3=three',
	'another session decrypts every row (released savepoint)');

# --- 4. DROP EXTENSION and CREATE EXTENSION in one session -------------------

new_db('recreate');
tde_sql_ok($node,
	q{INSERT INTO t VALUES (1, tde.encrypt('t', 'before'));
	  DROP EXTENSION tde; CREATE EXTENSION tde;
	  DELETE FROM t;
	  INSERT INTO t VALUES (2, tde.encrypt('t', 'after'));},
	'one session: encrypt, DROP EXTENSION, CREATE EXTENSION, encrypt', 'recreate');
is(decrypted('recreate'), '2=after',
	'another session decrypts what was encrypted after the extension was re-created');
is($node->safe_psql('recreate', 'SELECT count(*) FROM tde.relation_key'),
	'1', 'the new extension has exactly the new relation key');

# The same inside one transaction, with the drop rolled back: nothing lost.
new_db('dropabort');
tde_sql_ok($node,
	q{INSERT INTO t VALUES (1, tde.encrypt('t', 'one'));
	  BEGIN; DROP EXTENSION tde; ROLLBACK;
	  INSERT INTO t VALUES (2, tde.encrypt('t', 'two'));},
	'one session: DROP EXTENSION rolled back, encrypt again', 'dropabort');
is(decrypted('dropabort'), '1=one,2=two', 'a rolled-back DROP EXTENSION loses nothing');

# --- 5. DROP EXTENSION in another session -----------------------------------

new_db('other');
my $s = tde_session($node, 'other');
my ($sout, $serr) = session_sql($s,
	q{INSERT INTO t VALUES (1, tde.encrypt('t', 'one')); SELECT 'ok'});
is($sout, 'ok', 'a long session encrypts (its cache now holds the key)') or diag($serr);
$node->safe_psql('other', 'DROP EXTENSION tde; CREATE EXTENSION tde; DELETE FROM t');
($sout, $serr) = session_sql($s,
	q{INSERT INTO t VALUES (2, tde.encrypt('t', 'two')); SELECT 'ok'});
is($sout, 'ok', 'the long session encrypts after another session re-created the extension')
  or diag($serr);
is(decrypted('other'), '2=two',
	'a third session decrypts it: the long session did not use its old cached key');
session_close($s);

# --- 6. temporary master keys (FORCE KEYSTORE) and a failed re-wrap ----------

# A relation key whose row is damaged cannot be re-wrapped: the SET KEY
# still sets the key (the wallet is written) and warns; the keys a closed
# keystore lent to the statement are gone with it, also when a savepoint
# is rolled back.
new_db('tempkeys');
$node->safe_psql('tempkeys', q{INSERT INTO t VALUES (1, tde.encrypt('t', 'one'))});
$node->safe_psql('tempkeys', q{CREATE TABLE d (c bytea); INSERT INTO d VALUES (tde.encrypt('d', 'x'));
	UPDATE tde.relation_key SET wrapped_key = overlay(wrapped_key placing '\xff'::bytea from 20 for 1)
	WHERE relid = 'd'::regclass});
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$pw"')},
	'close the keystore', 'tempkeys');
($ret, $out, $err) = tde_sql($node,
	qq{BEGIN;
	   SAVEPOINT s;
	   SELECT tde.set_key(password => '$pw', force_keystore => true, with_backup => true) IS NOT NULL;
	   ROLLBACK TO s;
	   \\set ON_ERROR_STOP 0
	   SELECT tde.encrypt('t', 'after');
	   ROLLBACK;},
	'tempkeys');
like($err, qr/WARNING:\s+XX001: the relation keys of this database were not re-wrapped now/,
	'SET KEY FORCE KEYSTORE with a damaged row: a WARNING, not an error');
like($err, qr/ERROR:\s+\w{5}: .*keystore is not open|ERROR:\s+28365|ORA-28365/,
	'after ROLLBACK TO SAVEPOINT the closed keystore lends no key to tde.encrypt');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'open the keystore again', 'tempkeys');
is(decrypted('tempkeys'), '1=one', 'the intact row still decrypts');

# --- 7. temporary tables: no orphan rows at session end ----------------------

new_db('temp');
$node->safe_psql('temp', q{INSERT INTO t VALUES (1, tde.encrypt('t', 'permanent'))});
my $toid = $node->safe_psql('temp',
	q{CREATE TEMP TABLE tt (c bytea); INSERT INTO tt VALUES (tde.encrypt('tt', 'x'));
	  BEGIN; CREATE TEMP TABLE tc (c bytea) ON COMMIT DROP;
	  INSERT INTO tc VALUES (tde.encrypt('tc', 'y'));
	  SELECT count(*) FROM tde.relation_key WHERE relid::oid IN ('tt'::regclass, 'tc'::regclass);
	  COMMIT;});
is($toid, '2', 'two temporary relations got relation keys');
ok($node->poll_query_until('temp',
		q{SELECT count(*) = 1 FROM tde.relation_key}),
	'after the session ends, only the permanent table\'s key is left');
is(decrypted('temp'), '1=permanent', 'the permanent table still decrypts');

# A session killed by pg_terminate_backend cleans up too.
$s = tde_session($node, 'temp');
($sout, $serr) = session_sql($s,
	q{CREATE TEMP TABLE tt2 (c bytea); INSERT INTO tt2 VALUES (tde.encrypt('tt2', 'x'));
	  SELECT pg_backend_pid()});
like($sout, qr/^\d+$/, 'a session with a temporary encrypted table') or diag($serr);
is($node->safe_psql('temp', 'SELECT count(*) FROM tde.relation_key'), '2',
	'its temporary key is there while it lives');
$node->safe_psql('temp', "SELECT pg_terminate_backend($sout)");
ok($node->poll_query_until('temp', q{SELECT count(*) = 1 FROM tde.relation_key}),
	'terminated: its temporary relation key is gone');
eval { session_close($s) };

$node->stop;
done_testing();
