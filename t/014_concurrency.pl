# Encryption and decryption under load while the master key is changed
# over and over: 8 pgbench clients encrypt new rows and decrypt old and
# recent ones (a wrong plaintext raises division_by_zero), while another
# session runs SET KEY ... WITH BACKUP about every second.  No transaction
# may fail, and afterwards every row decrypts and every relation key names
# the final active key.  Two SET KEY sessions at once serialize, both
# succeed, and leave every relation key wrapped by the later one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use TdeTest;

my $pw = 'Concurrency_Pw1';
my $clients = 8;
my $seconds = 20;
my $prefill = 1000;
# Tables without a relation key yet: the clients create their keys while
# the rekeys run (and race each other for the same table's first key).
my $fresh = 300;

my $node = tde_new_node('concurrency', "max_connections = 50\nlog_statement = 'none'\n");
is($node->safe_psql('postgres', 'SHOW tde.wallet_kdf_iterations'), '1000', 'kdf iterations 1000');

tde_sql_ok($node, qq{SELECT tde.create_keystore(password => '$pw')}, 'create the keystore');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the keystore');
tde_sql_ok($node, set_key_sql($pw, 'conc initial'), 'first SET KEY');
tde_sql_ok($node,
	qq{CREATE TABLE data (id bigserial PRIMARY KEY, plain text NOT NULL, ct bytea NOT NULL);
	   INSERT INTO data (plain, ct)
	     SELECT 'pre ' || i, tde.encrypt('data', 'pre ' || i) FROM generate_series(1, $prefill) i;
	   -- a second relation with a few key versions, decrypted by the clients too
	   CREATE TABLE other (id int PRIMARY KEY, plain text NOT NULL, ct bytea NOT NULL);
	   INSERT INTO other SELECT i, 'other ' || i, tde.encrypt('other', 'other ' || i) FROM generate_series(1, 100) i;
	   SELECT tde.rotate_relation_key('other');
	   INSERT INTO other SELECT i, 'other ' || i, tde.encrypt('other', 'other ' || i) FROM generate_series(101, 200) i;
	   DO \$\$ BEGIN FOR i IN 1 .. $fresh LOOP EXECUTE format('CREATE TABLE e%s ()', i); END LOOP; END \$\$;
	   CREATE TABLE multi (id bigserial PRIMARY KEY, relid regclass NOT NULL, plain text NOT NULL, ct bytea NOT NULL);},
	"prefill $prefill rows, $fresh tables without keys");

my $check_sql = q{
	SELECT (SELECT count(*) FILTER (WHERE tde.decrypt_text('data', ct) = plain) FROM data)
	     + (SELECT count(*) FILTER (WHERE tde.decrypt_text('other', ct) = plain) FROM other)
	     + (SELECT count(*) FILTER (WHERE tde.decrypt_text(relid, ct) = plain) FROM multi)
	  || '|' || ((SELECT count(*) FROM data) + (SELECT count(*) FROM other) + (SELECT count(*) FROM multi))};
my $active_sql =
  q{SELECT key_id FROM "v$encryption_keys" WHERE activation_time IS NOT NULL
	ORDER BY activation_time DESC LIMIT 1};
# "master KEY_ID:count" per master key
my $by_master_sql =
  q{SELECT string_agg(master_key_id || ':' || n, ',' ORDER BY master_key_id)
	FROM (SELECT master_key_id, count(*) AS n FROM tde.relation_keys GROUP BY 1) s};
# relation keys expected: data, other v1 and v2, one per e table used
my $nkeys_sql = q{SELECT 3 + count(DISTINCT relid) FROM multi};

# The check must be able to fail: a wrong plaintext raises an error.
is( $node->psql('postgres',
		q{SELECT 1 / (tde.decrypt_text('data', ct) = plain || 'x')::int FROM data WHERE id = 1}),
	3, 'the pgbench check raises an error on a wrong plaintext');

# ---------------------------------------------------------------------
# pgbench clients against a rekey every second.
# ---------------------------------------------------------------------
my $script = $node->basedir . '/tde_bench.sql';
PostgreSQL::Test::Utils::append_to_file($script, qq{
\\set r random(1, 1000000000)
\\set old random(1, $prefill)
\\set oth random(1, 200)
\\set off random(0, 100)
\\set e random(1, $fresh)
INSERT INTO data (plain, ct) VALUES ('v' || :r, tde.encrypt('data', 'v' || :r));
INSERT INTO multi (relid, plain, ct) VALUES ('e:e', 'm' || :r, tde.encrypt('e:e', 'm' || :r));
SELECT 1 / (tde.decrypt_text(relid, ct) = plain)::int FROM multi WHERE id = (SELECT max(id) FROM multi) - :off;
SELECT 1 / (tde.decrypt_text('data', ct) = plain)::int FROM data WHERE id = :old;
SELECT 1 / (tde.decrypt_text('other', ct) = plain)::int FROM other WHERE id = :oth;
SELECT 1 / (tde.decrypt_text('data', d.ct) = d.plain)::int
  FROM (SELECT ct, plain FROM data WHERE id <= (SELECT max(id) FROM data) - :off
        ORDER BY id DESC LIMIT 1) d;
});

my ($bout, $berr) = ('', '');
my $bench;
{
	local %ENV = $node->_get_env();
	$bench = IPC::Run::start(
		[
			'pgbench', '-n', '-c', $clients, '-j', 2, '-T', $seconds,
			'-f', $script, 'postgres'
		],
		'>', \$bout, '2>', \$berr);
}

my ($rekeys, $rekey_fail, $last_key) = (0, 0, '');
my @rekey_err;
# one rekey a second while pgbench runs: a pace, not a wait for a state
my $t_end = time + $seconds;
sleep 1;
while (time < $t_end - 0.5)
{
	my $t0 = time;
	my ($ret, $out, $err) = tde_sql($node, set_key_sql($pw, "conc loop $rekeys"));
	if ($ret == 0) { $rekeys++; $last_key = $out; }
	else { $rekey_fail++; push @rekey_err, $err; }
	my $left = 1 - (time - $t0);
	sleep($left) if $left > 0;
}
$bench->finish;
my $bench_ret = $?;

note("pgbench output:\n$bout");
note("pgbench stderr:\n$berr") if $berr ne '';
is($bench_ret, 0, 'pgbench exits with status 0 (no client aborted)');
unlike($berr, qr/ERROR|aborted/, 'pgbench reports no error');
like($bout, qr/number of failed transactions: 0 \(/, 'pgbench: 0 failed transactions');
my ($processed) = $bout =~ /number of transactions actually processed: (\d+)/;
$processed //= 0;
cmp_ok($processed, '>', 100, "pgbench processed transactions ($processed)");
cmp_ok($rekeys, '>=', $seconds / 2, "rekeys during the run ($rekeys)");
is($rekey_fail, 0, 'every rekey succeeded') or diag(join("\n", @rekey_err));

my $rows = $node->safe_psql('postgres',
	'SELECT (SELECT count(*) FROM data) + (SELECT count(*) FROM multi) + 200');
my $nkeys = $node->safe_psql('postgres', $nkeys_sql);
is($node->safe_psql('postgres', 'SELECT count(*) FROM tde.relation_key'), $nkeys,
	"one relation key per relation and version, no duplicates from racing first encryptions ($nkeys)");
is($node->safe_psql('postgres', $check_sql), "$rows|$rows",
	"after the run every row decrypts ($rows rows)");
is($node->safe_psql('postgres', $active_sql), $last_key, 'the last rekey\'s key is active');
is($node->safe_psql('postgres', $by_master_sql), "$last_key:$nkeys",
	'all relation keys name the last key');

# ---------------------------------------------------------------------
# Two SET KEY sessions at once: the second waits for the first to commit.
# ---------------------------------------------------------------------
my $a = $node->background_psql('postgres');
my $b = $node->background_psql('postgres');
my $b_pid = $b->query_safe('SELECT pg_backend_pid()');
$a->query_safe('BEGIN');
my $ka = $a->query_safe(set_key_sql($pw, 'conc A'));
is(length($ka), 52, 'session A: SET KEY in an open transaction');
$b->query_until(qr/b started/, "\\echo b started\n" . set_key_sql($pw, 'conc B') . ";\n");
ok( $node->poll_query_until('postgres',
		qq{SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $b_pid}),
	'session B\'s SET KEY waits for session A');
# Data keeps working meanwhile.
is($node->safe_psql('postgres', q{SELECT tde.decrypt_text('data', ct) FROM data WHERE id = 1}),
	'pre 1', 'decryption works while both rekeys are in progress');
$a->query_safe('COMMIT');
my $bres = $b->query_safe(q{SELECT 'b finished'});
my ($kb) = split /\n/, $bres;
$kb //= '';
like($bres, qr/\nb finished$/, 'session B\'s SET KEY completes after A commits');
is(length($kb), 52, 'session B got a key id');
isnt($kb, $ka, 'two different keys');
$a->quit;
$b->quit;
is( $node->safe_psql('postgres',
		qq{SELECT count(*) FROM "v\$encryption_keys" WHERE key_id IN ('$ka', '$kb')}),
	'2', 'both keys are in the keystore');
is($node->safe_psql('postgres', $active_sql), $kb, 'the later key (B) is active');
is($node->safe_psql('postgres', $by_master_sql), "$kb:$nkeys", 'every relation key names B\'s key');
is($node->safe_psql('postgres', $check_sql), "$rows|$rows", 'every row decrypts');

# Two rekeys started at the same moment in autocommit: both succeed and
# the rows end under whichever was activated last.
my @h;
my @out = ('', '');
my @err = ('', '');
{
	local %ENV = $node->_get_env();
	for my $i (0, 1)
	{
		push @h,
		  IPC::Run::start(
			[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
			  '-c', set_key_sql($pw, "conc race $i") ],
			'>', \$out[$i], '2>', \$err[$i]);
	}
}
my @rc;
for my $i (0, 1)
{
	$h[$i]->finish;
	push @rc, $?;
}
is("@rc", '0 0', 'two simultaneous SET KEY both succeed') or diag("@err");
chomp(@out);
my $final = $node->safe_psql('postgres', $active_sql);
ok($final eq $out[0] || $final eq $out[1], 'one of them is the active key');
is($node->safe_psql('postgres', $by_master_sql), "$final:$nkeys",
	'every relation key names the active key');
is($node->safe_psql('postgres', $check_sql), "$rows|$rows", 'every row decrypts at the end');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM tde.relation_key r
		  LEFT JOIN "v$encryption_keys" k ON tde.key_id(r.master_key_id) = k.key_id
		  WHERE k.key_id IS NULL}),
	'0', 'no relation key names a master key missing from the keystore');

ok(!$node->log_contains('terminated by signal'), 'no server process crashed');
$node->stop;
done_testing();
