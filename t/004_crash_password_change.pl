# A crash (SIGKILL to every server process) during ALTER KEYSTORE PASSWORD
# leaves a wallet that opens with the old or the new password, exactly one
# of them, and nothing that breaks a later change.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use TdeTest;

# Expensive enough that the change takes a measurable time.
my $iterations = 2000000;
my $rounds = 5;

my $node = tde_new_node('crash_pwchange',
	"tde.wallet_kdf_iterations = $iterations\n");
is($node->safe_psql('postgres', 'SHOW tde.wallet_kdf_iterations'), $iterations,
	"tde.wallet_kdf_iterations = $iterations");

my $n = 0;
my $current = 'Crash_Pw_' . $n;

my ($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.create_keystore(password => '$current')});
is($ret, 0, 'create the keystore') or diag($err);

sub change_sql
{
	my ($old, $new) = @_;
	return qq{SELECT tde.alter_keystore_password(old_password => '$old', new_password => '$new', with_backup => true, force_keystore => true)};
}

# Does the wallet open with this password?  (Closes it again.)
sub opens_with
{
	my ($password) = @_;
	my ($r, $o, $e) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$password')});
	if ($r == 0)
	{
		my ($r2, $o2, $e2) = tde_sql($node, 'SELECT tde.close_keystore()');
		die "close failed: $e2" if $r2 != 0;
		return 1;
	}
	die "unexpected error opening the keystore: $e" unless sqlstate_of($e) eq '28P01';
	return 0;
}

# Measure an uninterrupted change (the second of two: the first warms up).
# It reads the wallet (two PBKDF2 derivations: MAC and encryption key) and
# writes it again (two more); the atomic write comes at the very end.
my $duration;
for my $i (1 .. 2)
{
	my $next = 'Crash_Pw_' . ++$n;
	my $t0 = time;
	($ret, $out, $err) = tde_sql($node, change_sql($current, $next));
	$duration = time - $t0;
	is($ret, 0, "uninterrupted password change $i succeeds") or diag($err);
	$current = $next;
}
note(sprintf('a password change takes %.2f s', $duration));
cmp_ok($duration, '>', 0.2, 'the change takes long enough to be interrupted');

# Delays spread over the measured duration, in random order, each with some
# jitter; one round kills after the change should have finished (so that
# the new password is usually seen at least once).
my @fractions = shuffle((map { ($_ + rand()) / ($rounds - 1) } 0 .. $rounds - 2),
	1.3 + rand(0.2));
my %outcome = (old => 0, new => 0);

for my $round (1 .. $rounds)
{
	my $old = $current;
	my $new = 'Crash_Pw_' . ++$n;
	my $delay = $fractions[ $round - 1 ] * $duration;

	my ($stdout, $stderr) = ('', '');
	my $h;
	{
		local %ENV = $node->_get_env();
		$h = IPC::Run::start(
			[
				'psql', '-XAtq', '-d', $node->connstr('postgres'),
				'-c', change_sql($old, $new)
			],
			'>', \$stdout, '2>', \$stderr);
	}
	sleep($delay);    # the moment of the crash, not a wait for a state
	my $killed = crash_node($node);
	eval { $h->finish; };
	note(sprintf('round %d: killed %d processes after %.2f s', $round, $killed, $delay));

	$node->start;
	my $with_old = opens_with($old);
	my $with_new = opens_with($new);
	ok($with_old + $with_new == 1,
		sprintf('round %d (kill after %.2f s): the wallet opens with exactly one of old/new (old=%d new=%d)',
			$round, $delay, $with_old, $with_new));
	if ($with_new)
	{
		$current = $new;
		$outcome{new}++;
	}
	else
	{
		$outcome{old}++;
	}

	# Every backup present is a complete file.
	my @bad;
	for my $b (glob(wallet_dir($node) . '/ewallet_*.p12'))
	{
		push @bad, $b
		  unless IPC::Run::run([ 'openssl', 'asn1parse', '-inform', 'DER', '-in', $b ],
			'>', \my $o, '2>', \my $e);
	}
	is("@bad", '', "round $round: every backup file is complete DER");
}
note("outcomes: old password $outcome{old} times, new password $outcome{new} times");

my @tmp = glob(wallet_dir($node) . '/*.tmp.*');
note('temporary files left: ' . scalar(@tmp) . (@tmp ? " (@tmp)" : ''));

# A later change must succeed whatever the crashes left behind.
my $final = 'Crash_Pw_final';
{
	my ($r, $o, $e) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$current')});
	is($r, 0, 'open with the surviving password') or diag($e);
}
($ret, $out, $err) = tde_sql($node, change_sql($current, $final));
is($ret, 0, 'a password change after the crashes succeeds') or diag($err);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'keystore still open after the change');
{
	my ($r, $o, $e) = tde_sql($node, 'SELECT tde.close_keystore()');
	is($r, 0, 'close') or diag($e);
}
ok(opens_with($final), 'the wallet opens with the final password');
ok(!opens_with($current), 'and no longer with the previous one');

# A stale temp file of exactly the name a backend uses (its pid) is
# replaced, not an obstacle.
{
	my $ewallet = ewallet_path($node);
	# Make a stale temp file for the next backend: we cannot know its pid in
	# advance, so plant one for a range of likely pids.
	my $last = $node->safe_psql('postgres', 'SELECT pg_backend_pid()');
	my @planted;
	for my $p ($last + 1 .. $last + 50)
	{
		my $f = "$ewallet.tmp.$p";
		next if -e $f;
		open(my $fh, '>', $f) or die "plant $f: $!";
		print $fh "stale";
		close $fh;
		push @planted, $f;
	}
	($ret, $out, $err) = tde_sql($node, change_sql($final, 'Crash_Pw_after_tmp'));
	is($ret, 0, 'a change succeeds with stale temp files in the way') or diag($err);
	ok(opens_with('Crash_Pw_after_tmp'), 'and the wallet opens with the new password');
	my @used = grep { !-e $_ } @planted;
	note('stale temp files replaced by the change: ' . scalar(@used));
	unlink @planted;
}

ok(!$node->log_contains('terminated by signal (?!9\b)'),
	'no process died of a signal other than our SIGKILLs');
$node->stop;
done_testing();
