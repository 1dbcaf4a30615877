# The fast paths of issue 10, each where it could go wrong:
# - tde.decrypt in parallel workers (PARALLEL SAFE): a parallel plan
#   decrypts every row in a fresh session, right after a rekey, and fails
#   cleanly from a worker with the keystore closed;
# - the per-call fast path (fn_extra): a privilege is checked again for a
#   new user and after REVOKE in the middle of a loop that reuses one call
#   site, and in the next statement of a session after another session's
#   REVOKE;
# - the rekey with master keys held per statement: rows wrapped under
#   more master keys than one statement holds (17 of them) re-wrap and
#   decrypt;
# - parallel background re-wrap (tde.rewrap_workers): two databases at
#   once, every key re-wrapped;
# - parallel decrypt with an HSM keystore: each worker logs in to the
#   token itself.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Fast_Paths_Pw1';
my $node = tde_new_node('fast_paths', q{
max_worker_processes = 16
max_parallel_workers = 8
tde.rewrap_workers = 2
});

tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE KEYSTORE');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open');
tde_akm_ok($node, qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP}, 'SET KEY');

my $rows = 30000;
tde_sql_ok($node, qq{
CREATE TABLE t (id int PRIMARY KEY, ct bytea NOT NULL);
INSERT INTO t SELECT i, tde.encrypt('t', 'value ' || i) FROM generate_series(1, $rows) i;
ANALYZE t;}, 'table of encrypted rows');

is($node->safe_psql('postgres',
	q{SELECT proparallel::text || provolatile::text FROM pg_proc
	  WHERE oid IN ('tde.decrypt(regclass,bytea)'::regprocedure,
	                'tde.decrypt_text(regclass,bytea)'::regprocedure)
	  GROUP BY 1}),
	'ss', 'tde.decrypt and tde.decrypt_text are PARALLEL SAFE and STABLE');

# Only the workers evaluate the function: the leader does not take part.
my $parallel = q{SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;};
my $count_sql = q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = 'value ' || id) || '|' || count(*) FROM t};

sub parallel_run
{
	my ($name, $on) = @_;
	$on //= $node;
	my $plan = $on->safe_psql('postgres',
		"$parallel EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $count_sql");
	like($plan, qr/Workers Launched: 2/, "$name: two workers launched");
	is($on->safe_psql('postgres', "$parallel $count_sql"),
		"$rows|$rows", "$name: every row decrypts in the workers");
}

parallel_run('fresh session');
tde_akm_ok($node, qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP}, 'rekey');
parallel_run('after the rekey');
is($node->safe_psql('postgres',
	q{SELECT count(DISTINCT master_key_id) FROM tde.relation_key}),
	'1', 'the relation key is under the new master key');

tde_akm_ok($node, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
my $err = tde_sql_fails($node, "$parallel $count_sql", '55000',
	'parallel decrypt with the keystore closed');
like($err, qr/keystore is not open/, 'the worker says the keystore is not open');
unlike($err, qr/$pw/, 'no password in the error');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'reopen');
parallel_run('reopened');

# ---- privileges and the per-call fast path

$node->safe_psql('postgres', q{
CREATE ROLE reader LOGIN;
CREATE ROLE stranger LOGIN;
GRANT USAGE ON SCHEMA tde TO reader, stranger;
GRANT EXECUTE ON FUNCTION tde.decrypt_text(regclass, bytea) TO reader, stranger;
GRANT SELECT ON t TO reader, stranger;});

# One call site (a plpgsql assignment keeps its expression state across
# iterations) sees a new user, then a REVOKE made in the same transaction.
my $loop = q{DO $$
DECLARE c bytea; x text; i int;
BEGIN
  SELECT ct INTO c FROM t WHERE id = 1;
  FOR i IN 1..4 LOOP
    IF i = 2 THEN RESET ROLE; REVOKE SELECT ON t FROM reader; SET ROLE reader; END IF;
    IF i = 1 THEN SET ROLE reader; END IF;
    x := tde.decrypt_text('t', c);
    RAISE NOTICE 'iteration % decrypted', i;
  END LOOP;
END $$;};
($err) = tde_sql_fails($node, $loop, '42501', 'REVOKE in the middle of a loop');
like($err, qr/iteration 1 decrypted/, 'the first iteration decrypted');
unlike($err, qr/iteration 2 decrypted/, 'the call after the REVOKE is refused');
$node->safe_psql('postgres', 'GRANT SELECT ON t TO reader');

my $user_loop = q{DO $$
DECLARE c bytea; x text; i int;
BEGIN
  SELECT ct INTO c FROM t WHERE id = 1;
  REVOKE SELECT ON t FROM stranger;
  FOR i IN 1..3 LOOP
    IF i = 1 THEN SET ROLE reader; END IF;
    IF i = 2 THEN RESET ROLE; SET ROLE stranger; END IF;
    x := tde.decrypt_text('t', c);
    RAISE NOTICE 'iteration % decrypted', i;
  END LOOP;
END $$;};
($err) = tde_sql_fails($node, $user_loop, '42501', 'another user at the same call site');
like($err, qr/iteration 1 decrypted/, 'the first user decrypted');
unlike($err, qr/iteration 2 decrypted/, 'the second user, without SELECT, is refused');

# A session keeps decrypting until another session revokes; its next
# statement is refused.
my $s = tde_session($node);
session_sql($s, 'SET ROLE reader');
my ($out) = session_sql($s, q{SELECT count(tde.decrypt_text('t', ct)) FROM t WHERE id <= 100});
is($out, '100', 'the reader decrypts');
$node->safe_psql('postgres', 'REVOKE SELECT ON t FROM reader');
my $serr;
($out, $serr) = session_sql($s, q{SELECT count(tde.decrypt_text('t', ct)) FROM t WHERE id <= 100});
like($serr, qr/42501/, 'after a REVOKE from another session, the next statement is refused');
session_close($s);

# ---- a rekey whose rows are under more master keys than one statement holds

$node->safe_psql('postgres', 'CREATE DATABASE many');
$node->safe_psql('many', 'CREATE EXTENSION tde');
$node->safe_psql('many', 'CREATE TABLE m (v int PRIMARY KEY, ct bytea)');
my $nkeys = 17;
for my $v (1 .. $nkeys)
{
	$node->safe_psql('postgres', 'ALTER DATABASE many ALLOW_CONNECTIONS true');
	$node->safe_psql('many', q{SELECT tde.rotate_relation_key('m')}) if $v > 1;
	$node->safe_psql('many', "INSERT INTO m VALUES ($v, tde.encrypt('m', 'v$v'))");
	$node->safe_psql('postgres', 'ALTER DATABASE many ALLOW_CONNECTIONS false');
	# from postgres: database many is not re-wrapped, it allows no connections
	akm($node, qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP});
}
$node->safe_psql('postgres', 'ALTER DATABASE many ALLOW_CONNECTIONS true');
is($node->safe_psql('many', 'SELECT count(DISTINCT master_key_id) FROM tde.relation_key'),
	$nkeys, "$nkeys relation key versions under $nkeys master keys");
tde_akm_ok($node, qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP}, 'rekey from database many', 'many');
is($node->safe_psql('many', q{SELECT count(DISTINCT master_key_id) FROM tde.relation_key}),
	'1', 'every version re-wrapped under the new key');
is($node->safe_psql('many', q{SELECT count(*) FILTER (WHERE tde.decrypt_text('m', ct) = 'v' || v) FROM m}),
	$nkeys, 'every version decrypts');

# ---- parallel background re-wrap

my @dbs = map { "rw$_" } 1 .. 4;
for my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{CREATE EXTENSION tde;
CREATE TABLE r (i int PRIMARY KEY, ct bytea);
SELECT tde.rotate_relation_key('r') FROM generate_series(1, 1500);
INSERT INTO r SELECT i, tde.encrypt('r', 'r' || i) FROM generate_series(1, 50) i;});
}
tde_akm_ok($node, qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP}, 'rekey: four databases in the background');
my $in = join(', ', map { "'$_'" } @dbs);
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 4 FROM tde.rewrap_progress WHERE datname IN ($in) AND state = 'done'}),
	'the four databases are re-wrapped');
is($node->safe_psql('postgres',
	qq{SELECT sum(keys_done) FROM tde.rewrap_progress WHERE datname IN ($in)}),
	4 * 1500, 'every key counted');
is($node->safe_psql('postgres',
	qq{SELECT count(*) > 0 FROM tde.rewrap_progress a, tde.rewrap_progress b
	   WHERE a.datname IN ($in) AND b.datname IN ($in) AND a.datname < b.datname
	     AND a.started < b.finished AND b.started < a.finished}),
	't', 'two workers ran at the same time');
for my $db (@dbs)
{
	is($node->safe_psql($db,
		q{SELECT count(*) FILTER (WHERE master_key_id = (SELECT master_key_id FROM tde.relation_key LIMIT 1)) = count(*) FROM tde.relation_key}),
		't', "$db: one master key");
	is($node->safe_psql($db, q{SELECT count(*) FILTER (WHERE tde.decrypt_text('r', ct) = 'r' || i) FROM r}),
		'50', "$db: rows decrypt");
}

# ---- the database identity shared between backends

# Each safe_psql is a new backend: the first reads tde.database_identity
# and publishes it, the next ones take it from shared memory.  After DROP
# EXTENSION and CREATE EXTENSION the database has a new identity table
# and, with its first key, a new identity: no backend may take the old
# one for it, or the new keys would be wrapped for the wrong identity.
$node->safe_psql('postgres', 'CREATE DATABASE ident');
my $ident_sql = q{CREATE EXTENSION tde;
CREATE TABLE d (id int, ct bytea);
INSERT INTO d VALUES (1, tde.encrypt('d', 'first'));};
$node->safe_psql('ident', $ident_sql);
my $id1 = $node->safe_psql('ident', 'SELECT id FROM tde.database_identity');
is($node->safe_psql('ident', q{SELECT tde.decrypt_text('d', ct) FROM d}), 'first',
	'identity: a new backend decrypts');
is($node->safe_psql('ident', q{SELECT tde.decrypt_text('d', ct) FROM d}), 'first',
	'identity: and another');
$node->safe_psql('ident', 'DROP TABLE d; DROP EXTENSION tde');
$node->safe_psql('ident', $ident_sql);
my $id2 = $node->safe_psql('ident', 'SELECT id FROM tde.database_identity');
isnt($id2, $id1, 'identity: a new one after DROP and CREATE EXTENSION');
is($node->safe_psql('ident', q{SELECT tde.decrypt_text('d', ct) FROM d}), 'first',
	'identity: a new backend decrypts under the new identity');
$node->safe_psql('ident', q{INSERT INTO d VALUES (2, tde.encrypt('d', 'second'))});
$node->restart;
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'identity: open after a restart');
is($node->safe_psql('ident', q{SELECT string_agg(tde.decrypt_text('d', ct), ',' ORDER BY id) FROM d}),
	'first,second', 'identity: both rows decrypt after a restart (read from the table again)');

# ---- parallel decrypt with the master key in an HSM

if (my $why = softhsm_missing())
{
	SKIP: { skip $why, 4; }
}
else
{
	my $pin = $TdeTest::HSM_PIN;
	my $hsm = tde_new_node('fast_paths_hsm', "max_parallel_workers = 8\n");
	softhsm_setup($hsm, conf => "tde.keystore_configuration = 'HSM'\n");
	tde_akm_ok($hsm, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pin"}, 'HSM: open');
	tde_akm_ok($hsm, qq{SET KEY IDENTIFIED BY "$pin"}, 'HSM: SET KEY');
	$hsm->safe_psql('postgres', qq{
CREATE TABLE t (id int PRIMARY KEY, ct bytea NOT NULL);
INSERT INTO t SELECT i, tde.encrypt('t', 'value ' || i) FROM generate_series(1, $rows) i;
ANALYZE t;});
	parallel_run('HSM', $hsm);
	$hsm->stop;
}

done_testing();
