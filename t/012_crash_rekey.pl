# A crash (SIGKILL to every server process) at any moment of a rekey
# (SET KEY ... WITH BACKUP) over 2,000 relation keys loses nothing: after
# a restart and an open, every ciphertext decrypts, every relation key
# names a master key the keystore holds, the re-wrap is either all done or
# not done at all in the rekeying database (one transaction) and is
# finished by the open, and nothing the crash left behind breaks the next
# rekey.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep stat);
use TdeTest;

my $pw = 'Crash_Rekey_Pw1';
my $ntables = 2000;
# Extra versions of every relation key, so that the re-wrap UPDATE after
# the wallet write takes long enough to be hit: 2,000 x 5 keys.
my $versions = 5;
my $nkeys = $ntables * $versions;
my $rounds = 10;
# Expensive enough that the wallet write takes a measurable time.
my $iterations = 2000000;

my $node = tde_new_node('crash_rekey', "tde.wallet_kdf_iterations = $iterations\n");
my $t_start = time;

tde_sql_ok($node, qq{SELECT tde.create_keystore(password => '$pw')}, 'create the keystore');
tde_sql_ok($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'open the keystore');
my $k0 = tde_sql_ok($node, set_key_sql($pw, 'crash initial'), 'first SET KEY');

# 2,000 tables, one relation key each, one ciphertext each.
tde_sql_ok($node,
	qq{DO \$\$
	   BEGIN
	     FOR i IN 1 .. $ntables LOOP
	       EXECUTE format('CREATE TABLE t%s (v text)', i);
	     END LOOP;
	   END
	   \$\$;
	   CREATE TABLE cts (relid regclass PRIMARY KEY, ct bytea NOT NULL, plain text NOT NULL);
	   INSERT INTO cts (relid, ct, plain)
	     SELECT format('t%s', i)::regclass,
	            tde.encrypt(format('t%s', i)::regclass, 'plain ' || i || ' ' || md5(i::text)),
	            'plain ' || i || ' ' || md5(i::text)
	     FROM generate_series(1, $ntables) i;
	   SELECT count(tde.rotate_relation_key(format('t%s', i)::regclass))
	     FROM generate_series(1, $ntables) i, generate_series(2, $versions) v;},
	"$ntables tables, one ciphertext in each, $versions key versions each");
note(sprintf('setup took %.1f s', time - $t_start));

my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text(relid, ct) = plain) || '|' || count(*) FROM cts};
# Relation keys naming no master key of the open keystore.
my $orphans_sql =
  q{SELECT count(*) FROM tde.relation_key r
	LEFT JOIN "v$encryption_keys" k ON tde.key_id(r.master_key_id) = k.key_id
	WHERE k.key_id IS NULL};
# "master KEY_ID:count" per master key, as stored (readable while closed).
my $by_master_sql =
  q{SELECT string_agg(master_key_id || ':' || n, ',' ORDER BY master_key_id)
	FROM (SELECT master_key_id, count(*) AS n FROM tde.relation_keys GROUP BY 1) s};
# The active key: the most recently activated one.
my $active_sql =
  q{SELECT key_id FROM "v$encryption_keys" WHERE activation_time IS NOT NULL
	ORDER BY activation_time DESC LIMIT 1};

is($node->safe_psql('postgres', 'SELECT count(*) FROM tde.relation_key'), $nkeys,
	"$nkeys relation keys");
is($node->safe_psql('postgres', $check_sql), "$ntables|$ntables", 'all ciphertexts decrypt');
is($node->safe_psql('postgres', $by_master_sql), "$k0:$nkeys", 'all under the first key');

# ---------------------------------------------------------------------
# Measure an uninterrupted rekey (the second of two), and when its wallet
# write ended (the file's mtime): what follows is the re-wrap UPDATE and
# the commit.
# ---------------------------------------------------------------------
my ($duration, $wallet_done);
my $active = $k0;
for my $i (1 .. 2)
{
	my $t0 = time;
	my ($ret, $out, $err) = tde_sql($node, set_key_sql($pw, "crash measure $i"));
	my $t1 = time;
	is($ret, 0, "uninterrupted rekey $i") or diag($err);
	$active = $out;
	$duration = $t1 - $t0;
	$wallet_done = (stat(ewallet_path($node)))[9] - $t0;
}
is($node->safe_psql('postgres', $by_master_sql), "$active:$nkeys",
	'an uninterrupted rekey re-wraps all relation keys');
note(sprintf('a rekey takes %.2f s; the wallet write ends at %.2f s (re-wrap and commit: %.2f s)',
		$duration, $wallet_done, $duration - $wallet_done));
cmp_ok($duration, '>', 0.3, 'the rekey takes long enough to be interrupted');
$wallet_done = $duration * 0.8 if $wallet_done <= 0 || $wallet_done > $duration;

# Kill points: 4 after a delay spread over the wallet work (reading it,
# deriving keys, writing the backup and the new wallet); 4 triggered by the
# new wallet replacing the old one (its inode changes) plus a random part
# of the measured re-wrap window, so the kill lands in the re-wrap UPDATE or
# the commit; 2 after the statement should have returned.  Shuffled.
my $window = $duration - $wallet_done;
my @plans = shuffle(
	(map { { delay => ($_ + rand()) / 4 * $wallet_done } } 0 .. 3),
	(map { { after_write => 1, delay => ($_ + rand()) / 4 * $window } } 0 .. 3),
	(map { { delay => $duration * (1.05 + rand(0.25)) } } 1 .. 2));

sub wallet_inode { my @st = stat(ewallet_path($node)); return @st ? $st[1] : -1; }

my %phase = (before => 0, during => 0, after => 0);
my @bad_rounds;
for my $round (1 .. $rounds)
{
	my $tag = "crash round $round";
	my $plan = $plans[ $round - 1 ];
	my $delay = $plan->{delay};
	my $inode = wallet_inode();
	my $before = $node->safe_psql('postgres', $by_master_sql);
	my $nmk_before = $node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"');

	my ($stdout, $stderr) = ('', '');
	my $h;
	{
		local %ENV = $node->_get_env();
		$h = IPC::Run::start(
			[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', set_key_sql($pw, $tag) ],
			'>', \$stdout, '2>', \$stderr);
	}
	my $t0 = time;
	if ($plan->{after_write})
	{
		tde_wait_until(sub { wallet_inode() != $inode }, 2 * $duration + 5, 0.001);
		$plan->{seen} = time - $t0;
	}
	sleep($delay);    # the moment of the crash, not a wait for a state
	my $killed_at = time - $t0;
	my $killed = crash_node($node);
	eval { $h->finish; };

	$node->start;
	# Before opening: the stored rows, all under one master key.
	my $at_restart = $node->safe_psql('postgres', $by_master_sql);
	like($at_restart, qr/^[^,]+:$nkeys$/,
		"round $round: at restart all relation keys name one master key ($at_restart)");

	my ($ret, $out, $err) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$pw')});
	is($ret, 0, "round $round: the keystore opens") or diag($err);
	my $new_key = $node->safe_psql('postgres',
		qq{SELECT key_id FROM "v\$encryption_keys" WHERE tag = '$tag'});
	my $now_active = $node->safe_psql('postgres', $active_sql);
	my $nmk = $node->safe_psql('postgres', 'SELECT count(*) FROM "v$encryption_keys"');

	my $phase;
	if ($new_key eq '')
	{
		$phase = 'before';
		is("$nmk|$now_active|$at_restart", "$nmk_before|$active|$before",
			"round $round: no new key: same keys, same active key, rows untouched");
	}
	else
	{
		$phase = $at_restart eq "$new_key:$nkeys" ? 'after' : 'during';
		is("$nmk|$now_active", ($nmk_before + 1) . "|$new_key",
			"round $round: the new key is in the wallet and active");
		is($at_restart, $phase eq 'after' ? "$new_key:$nkeys" : $before,
			"round $round: rows name the new key (committed) or the old one (rolled back)");
		$active = $new_key;
	}
	if ($plan->{after_write})
	{
		isnt($phase, 'before',
			"round $round: killed after the wallet was replaced: the new key survives");
	}
	$phase{$phase}++;
	note(sprintf('round %d: killed %d processes %.3f s after the start%s: %s',
			$round, $killed, $killed_at,
			$plan->{after_write}
			? sprintf(' (%.3f s after the wallet was replaced at %.3f s)', $delay, $plan->{seen})
			: '',
			{ before => 'before the wallet write',
			  during => 'after the wallet write, before the re-wrap committed',
			  after => 'after the commit' }->{$phase}));

	# The open finishes what the crash left undone.
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM tde.rewrap_progress WHERE state IN ('pending', 'running')}),
		"round $round: the re-wrap launched by the open finishes");
	is($node->safe_psql('postgres', $by_master_sql), "$active:$nkeys",
		"round $round: after the open, every relation key names the active key");
	is($node->safe_psql('postgres', $orphans_sql), '0',
		"round $round: every relation key's master key is in v\$encryption_keys");
	my $ok = $node->safe_psql('postgres', $check_sql);
	is($ok, "$ntables|$ntables", "round $round: every ciphertext decrypts to its plaintext");
	push @bad_rounds, $round if $ok ne "$ntables|$ntables";
}
note("crashes before the wallet write: $phase{before}, after it but before the commit "
	  . "(during the re-wrap): $phase{during}, after the commit: $phase{after}");
is(scalar(@bad_rounds), 0, 'no round lost data');

my @tmp = glob(wallet_dir($node) . '/*.tmp*');
note('temporary files left by the crashes: ' . scalar(@tmp) . (@tmp ? " (@tmp)" : ''));

# Every backup is a complete file.
my @bad;
for my $b (glob(wallet_dir($node) . '/ewallet_*.p12'))
{
	push @bad, $b
	  unless IPC::Run::run([ 'openssl', 'asn1parse', '-inform', 'DER', '-in', $b ],
		'>', \my $o, '2>', \my $e);
}
is("@bad", '', 'every backup file is complete DER');

# Nothing left behind breaks the next rekey, and a restart after it.
my ($ret, $out, $err) = tde_sql($node, set_key_sql($pw, 'crash final'));
is($ret, 0, 'a rekey after the crashes succeeds') or diag($err);
is($node->safe_psql('postgres', $by_master_sql), "$out:$nkeys",
	'and re-wraps every relation key');
$node->restart;
($ret, undef, $err) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$pw')});
is($ret, 0, 'open after a clean restart') or diag($err);
is($node->safe_psql('postgres', $check_sql), "$ntables|$ntables",
	'every ciphertext decrypts at the end');
is($node->safe_psql('postgres', $orphans_sql), '0', 'no orphaned relation key at the end');

ok(!$node->log_contains('terminated by signal (?!9\b)'),
	'no process died of a signal other than our SIGKILLs');
note(sprintf('total %.1f s', time - $t_start));
$node->stop;
done_testing();
