# Stale temporary files (issue 11, the crash campaign's finding): a writer
# killed between writing "<file>.tmp.<pid>" and renaming it over <file>
# leaves the temporary file.  The server removes those of writers that are
# gone at each start and at each reinitialization after a backend crash,
# everywhere below tde.wallet_root; and every write of a file first removes
# the stale temporary files of the same file, wherever it is.  A live
# writer's file, a file of another name, anything outside the wallet root
# (at start) and anything behind a symbolic link is kept.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Path qw(make_path);
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Stale_Temp_Pw1';
my $node = tde_new_node('stale_temp', "restart_after_crash = on\n");
my $root = wallet_root($node);
my $base = $node->basedir;
my $dir = wallet_dir($node);
my $outside = $node->basedir . '/outside';
make_path("$root/backups", "$root/a/b/c", "$root/a/b/c/d/e", $outside,
	"$outside/linked", { mode => 0700 });
symlink("$outside/linked", "$root/link") or die "symlink: $!";

tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT CREATE KEYSTORE '$dir' IDENTIFIED BY "$pw"},
	'create the wallet');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pw"},
	'open it');
tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY "$pw" WITH BACKUP},
	'set a master key');
$node->safe_psql('postgres',
	q{CREATE TABLE t (v bytea);
	  INSERT INTO t SELECT tde.encrypt('t', convert_to('canary', 'UTF8'));});

# A pid no process has (beyond any pid_max), and one of a process that has
# exited; and a live process standing for a writer still at work.
my $dead = 2147483000;
my $exited = fork() // die "fork: $!";
POSIX::_exit(0) if $exited == 0;
waitpid($exited, 0);
my $live = fork() // die "fork: $!";
if ($live == 0) { sleep 600; POSIX::_exit(0); }

sub plant
{
	my ($path) = @_;
	spew_file($path, "left by a killed writer\n");
	chmod 0600, $path;
	return $path;
}

my $ewallet_tmp = "$dir/ewallet.p12.tmp.$dead";
my @stale = map { plant($_) } ($ewallet_tmp, "$dir/cwallet.sso.tmp.$exited",
	"$root/backups/ewallet_2026.p12.tmp.$dead", "$root/a/b/c/moved.tmp.$exited",
	"$root/a/b/c/d/export.exp.tmp.$dead");
my @kept = map { plant($_) } ("$dir/ewallet.p12.tmp.$live", "$dir/notes.tmp.abc",
	"$dir/notes.tmp.", "$dir/notes.tmp.12x", "$dir/.tmp.$dead",
	"$root/a/b/c/d/e/too_deep.tmp.$dead", "$outside/linked/behind_link.tmp.$dead",
	"$outside/outside.exp.tmp.$dead");

$node->restart;
ok(!-e $_, "removed at start: " . ($_ =~ s/^\Q$base\E\///r)) for @stale;
ok(-e $_, "kept at start: " . ($_ =~ s/^\Q$base\E\///r)) for @kept;
my $log = slurp_file($node->logfile);
like($log, qr/LOG:  removed stale temporary file "\Q$ewallet_tmp\E"/,
	'each removal is logged');
like($log, qr/DETAIL:  Process $dead, which was writing it, is gone\./,
	'with the pid of its writer');

tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pw"},
	'the wallet opens after the start');
is($node->safe_psql('postgres',
		q{SELECT convert_from(tde.decrypt('t', v), 'UTF8') FROM t}),
	'canary', 'the ciphertext decrypts');

# A backend crash: the postmaster reinitializes, with no backend running.
my $after_crash = plant("$dir/ewallet.p12.tmp.$exited");
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'});
ok($victim =~ /^\d+$/, 'a child process to kill');
kill 'KILL', $victim;
ok( $node->poll_query_until('postgres', q{SELECT 1}, '1'),
	'the server is back after the crash');
ok(!-e $after_crash, 'removed at the reinitialization after a crash');
ok(-e "$dir/ewallet.p12.tmp.$live", "a live writer's file is still kept");
like(scalar wallet_status($node), qr/^CLOSED/, 'the crash closed the keystore');
tde_akm_ok($node, qq{ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$pw"},
	'and it opens again');

# A write removes the stale temporary files of the same file, also outside
# the wallet root; those of other files and of a live writer stay.
my $exp = "$outside/keys.exp";
my $exp_stale = plant("$exp.tmp.$dead");
my $exp_stale2 = plant("$exp.tmp.$exited");
my $exp_live = plant("$exp.tmp.$live");
my $other = plant("$outside/keys.exp2.tmp.$dead");
tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT EXPORT KEYS WITH SECRET "Stale_Exp_S2" TO '$exp' IDENTIFIED BY "$pw"},
	'export the keys outside the wallet root');
ok(-s $exp, 'the export file is written');
ok(!-e $exp_stale && !-e $exp_stale2, 'the stale temporary files of the export file are removed');
ok(-e $exp_live, "a live writer's temporary file of it is kept");
ok(-e $other, 'a temporary file of another file is kept');
ok(-e "$outside/outside.exp.tmp.$dead", 'and nothing else outside the root is touched');

# The same for a wallet write under the directory lock.
my $wallet_stale = plant("$dir/ewallet.p12.tmp.$dead");
tde_akm_ok($node,
	qq{ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY "$pw" WITH BACKUP},
	'a rekey writes the wallet');
ok(!-e $wallet_stale, "the wallet's stale temporary file is removed by the write");
is($node->safe_psql('postgres',
		q{SELECT convert_from(tde.decrypt('t', v), 'UTF8') FROM t}),
	'canary', 'the ciphertext still decrypts');
my @left = grep { /\/[^\/]+\.tmp\.\d+$/ && !/\.tmp\.$live$/ } glob("$dir/*");
is_deeply(\@left, [], 'no temporary file of tde is left in the wallet directory');

kill 'TERM', $live;
waitpid($live, 0);
$node->stop;
done_testing();
