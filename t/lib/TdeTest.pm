# t/lib/TdeTest.pm: shared helpers for the tde TAP tests.
#
# A node made here preloads tde, has its own wallet root (mode 0700) under
# the node's base directory, a cheap wallet KDF (1000 iterations) and logs
# every statement, so that the redaction of passwords can be checked in any
# test.

package TdeTest;

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use Time::HiRes qw(usleep);

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  tde_new_node wallet_root wallet_dir ewallet_path cwallet_path
  tde_sql sqlstate_of wallet_status file_mode postmaster_pid crash_node alive
);

# Create, configure and start a node; CREATE EXTENSION tde in postgres.
# Extra postgresql.conf text may be given as the second argument.
sub tde_new_node
{
	my ($name, $extra_conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	my $root = $node->basedir . '/wallet_root';
	make_path($root, { mode => 0700 });
	chmod 0700, $root;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'tde'
tde.wallet_root = '$root'
tde.wallet_kdf_iterations = 1000
log_statement = 'all'
});
	$node->append_conf('postgresql.conf', $extra_conf) if defined $extra_conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION tde');
	return $node;
}

sub wallet_root  { return $_[0]->basedir . '/wallet_root'; }
sub wallet_dir   { return wallet_root($_[0]) . '/tde'; }
sub ewallet_path { return wallet_dir($_[0]) . '/ewallet.p12'; }
sub cwallet_path { return wallet_dir($_[0]) . '/cwallet.sso'; }

# Run SQL with verbose error reports (SQLSTATE in stderr).  Never dies.
# Returns ($exit_code, $stdout, $stderr).
sub tde_sql
{
	my ($node, $sql, $db) = @_;
	my ($out, $err) = ('', '');
	my $ret = $node->psql(
		$db // 'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return ($ret, $out, $err);
}

# The SQLSTATE of the first ERROR in psql's verbose stderr, or '' if none.
sub sqlstate_of
{
	my ($err) = @_;
	return $1 if defined $err && $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return '';
}

# "status|wallet_type" from v$encryption_wallet, with psql's stderr
# (where an auto-open WARNING would appear) as a second value in list
# context.
sub wallet_status
{
	my ($node, $db) = @_;
	my ($ret, $out, $err) = tde_sql($node,
		'SELECT status, wallet_type FROM v$encryption_wallet', $db);
	die "querying v\$encryption_wallet failed: $err" if $ret != 0;
	return wantarray ? ($out, $err) : $out;
}

# Permission bits of a file, e.g. 0600.
sub file_mode
{
	my ($path) = @_;
	my @st = stat($path) or return -1;
	return $st[2] & 07777;
}

# The postmaster's pid, from postmaster.pid, or undef.
sub postmaster_pid
{
	my ($node) = @_;
	my $file = $node->data_dir . '/postmaster.pid';
	open(my $fh, '<', $file) or return undef;
	my $pid = <$fh>;
	close $fh;
	return undef unless defined $pid;
	chomp $pid;
	return $pid =~ /^\d+$/ ? $pid : undef;
}

# State letter and parent pid of a process, or () if it is gone.
sub proc_state
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return ();
	my $line = <$fh>;
	close $fh;
	return () unless defined $line && $line =~ /\)\s+(\S)\s+(\d+)/;
	return ($1, $2);
}

# Alive means existing and not a zombie: a zombie holds no shared memory.
sub alive
{
	my ($pid) = @_;
	my ($state) = proc_state($pid);
	return defined $state && $state ne 'Z' && $state ne 'X';
}

sub children_of
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or return ();
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		my (undef, $parent) = proc_state($p);
		push @kids, $p if defined $parent && $parent == $ppid;
	}
	closedir $dh;
	return @kids;
}

# Crash the whole server at once, as a power cut or the OOM killer would:
# SIGKILL to the postmaster and then to every one of its children (a
# backend busy in a long computation would otherwise finish its work after
# the postmaster died).  Waits until no process is left (orphans may be
# reaped late here: zombies are counted as gone) and removes the stale
# postmaster.pid.  Returns the number of processes killed.
sub crash_node
{
	my ($node) = @_;
	my $pm = postmaster_pid($node);
	die "no postmaster.pid" unless defined $pm;
	my @family = ($pm, children_of($pm));

	kill 'KILL', $pm;
	kill 'KILL', @family[1 .. $#family] if @family > 1;
	# Tell the Cluster object the node is down (kill9 only sends the
	# signal and forgets the pid).
	$node->kill9;

	my $deadline = time + 120;
	while (time < $deadline && grep { alive($_) } @family)
	{
		usleep(50_000);
	}
	die "processes of the killed server are still running: "
	  . join(' ', grep { alive($_) } @family)
	  if grep { alive($_) } @family;

	# A zombie still answers kill(pid, 0), so a new postmaster would take
	# the lock files for live ones.  Give the reaper a moment, then remove
	# them: every process of the old server has exited.
	$deadline = time + 5;
	while (time < $deadline && grep { -e "/proc/$_" } @family)
	{
		usleep(50_000);
	}
	unlink $node->data_dir . '/postmaster.pid';
	unlink $node->host . '/.s.PGSQL.' . $node->port . '.lock';
	return scalar @family;
}
1;
