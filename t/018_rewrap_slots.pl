# Background re-wrap progress slots never move while a worker holds one.
#
# A worker keeps the number of its slot in tde.rewrap_progress for as long
# as it runs.  Finished entries of dropped databases are freed in place;
# before, they were compacted away, so a launch while a worker ran shifted
# the entries under it: the worker then finished another database's entry
# (leaving that database never re-wrapped) and its own stayed "running",
# which stopped every later re-wrap.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Rewrap_Slots_Pw1';
# One worker at a time (tde.rewrap_workers = 1), so that a database waits
# its turn behind another and the order of the slots is seen.
my $node = tde_new_node('rewrap_slots', "tde.rewrap_workers = 1\n");

sub rekey
{
	my ($name) = @_;
	tde_sql_ok($node, qq{SELECT tde.set_key(password => '$pw', with_backup => true) IS NOT NULL}, $name);
}

# Wait until no entry is pending or running; false if that does not happen
# within the TAP tests' timeout.
sub settled
{
	return $node->poll_query_until('postgres',
		q{SELECT count(*) FROM tde.rewrap_progress WHERE state IN ('pending', 'running')}, '0');
}

sub state_of
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT string_agg(state, ',') FROM tde.rewrap_progress WHERE datname = '$db'});
}

# Relation keys of a database not wrapped by the active master key.
sub stale
{
	my ($db) = @_;
	my $active = $node->safe_psql('postgres',
		q{SELECT key_id FROM "v$encryption_keys" ORDER BY activation_time DESC NULLS LAST LIMIT 1});
	return $node->safe_psql($db,
		qq{SELECT count(*) FROM tde.relation_keys WHERE master_key_id <> '$active'});
}

tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE KEYSTORE');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'SET KEYSTORE OPEN');
rekey('SET KEY');

# db0 and db1 will be dropped once their entries are finished; dba's worker
# will be held up by a lock; dbb waits its turn after it.
for my $db (qw(db0 db1 dba dbb))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{CREATE EXTENSION tde; CREATE TABLE x (c bytea);
		INSERT INTO x VALUES (tde.encrypt('x', 'v'))});
}
$node->safe_psql('dba', q{SELECT count(tde.rotate_relation_key('x')) FROM generate_series(1, 50)});

rekey('first rekey');
ok(settled(), 'the first background re-wrap finishes');
is(state_of('db0') . ' ' . state_of('db1'), 'done done', 'db0 and db1 re-wrapped');
$node->safe_psql('postgres', 'DROP DATABASE db1');

# Hold dba's worker: it waits for the lock on tde.relation_key.
my $s = tde_session($node, 'dba');
my ($out, $err) = session_sql($s,
	q{BEGIN; LOCK TABLE tde.relation_key IN ACCESS EXCLUSIVE MODE; SELECT 'locked'});
is($out, 'locked', 'a session in dba holds tde.relation_key') or diag($err);

rekey('second rekey: frees the entry of db1');
$node->poll_query_until('postgres',
	q{SELECT string_agg(state, ',') FROM tde.rewrap_progress WHERE datname = 'dba'}, 'running');
is(state_of('dba'), 'running', 'the worker for dba runs (and waits for the lock)');
is(state_of('dbb'), 'pending', 'dbb waits its turn');

# An entry before dba's is now finished and its database gone: the next
# launch frees it while dba's worker holds its slot.
$node->safe_psql('postgres', 'DROP DATABASE db0');
rekey('third rekey while the worker for dba runs');

($out, $err) = session_sql($s, q{COMMIT; SELECT 'released'});
is($out, 'released', 'the lock is released') or diag($err);
session_close($s);

ok(settled(), 'every re-wrap finishes: no entry stays running');
is(state_of('dba'), 'done', 'dba: done');
is(state_of('dbb'), 'done', 'dbb: done');
is(stale('dba'), '0', 'every relation key of dba is wrapped by the active key');
is(stale('dbb'), '0', 'every relation key of dbb is wrapped by the active key');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM tde.rewrap_progress WHERE datname IS NULL OR datid = 0}),
	'0', 'no free or orphaned entry is shown');
is( $node->safe_psql('postgres',
		q{SELECT count(*) - count(DISTINCT datid) FROM tde.rewrap_progress}),
	'0', 'one entry per database');

# And the freed slots serve new databases.
$node->safe_psql('postgres', 'CREATE DATABASE dbc');
$node->safe_psql('dbc', q{CREATE EXTENSION tde; CREATE TABLE x (c bytea);
	INSERT INTO x VALUES (tde.encrypt('x', 'v'))});
rekey('fourth rekey');
ok(settled(), 'the fourth re-wrap finishes');
is(state_of('dbc'), 'done', 'a new database is re-wrapped in a freed slot');
is(stale('dbc') . stale('dba') . stale('dbb'), '000', 'nothing stale anywhere');

$node->stop;
done_testing();
