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
  tde_skip_all tde_new_node wallet_root wallet_dir ewallet_path cwallet_path
  tde_sql sqlstate_of wallet_status file_mode postmaster_pid crash_node alive
);

# Skip the whole file for a missing component, as plan skip_all does;
# with TDE_REQUIRE_HSM=1 in the environment (scripts/test.sh sets it once
# setup has installed SoftHSM2 and p11-kit) a missing HSM component is a
# failure instead, so that no HSM test can silently stop running.
sub tde_skip_all
{
	my ($why, %opt) = @_;
	if ($ENV{TDE_REQUIRE_HSM} && $opt{hsm})
	{
		plan tests => 1;
		fail("TDE_REQUIRE_HSM=1, but the HSM tests cannot run: $why");
		exit 1;
	}
	plan skip_all => $why;
}

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
# ---------------------------------------------------------------------
# SoftHSM2 (PKCS#11) helpers for the HSM tests
# ---------------------------------------------------------------------

our $SOFTHSM_LIB = '/usr/lib/softhsm/libsofthsm2.so';
our $HSM_TOKEN   = 'tde';
our $HSM_SO_PIN  = '1234';
our $HSM_PIN     = '5678';

sub find_program
{
	my ($prog) = @_;
	for my $dir ((split /:/, ($ENV{PATH} // '')), '/usr/bin', '/usr/local/bin')
	{
		return "$dir/$prog" if $dir ne '' && -x "$dir/$prog";
	}
	return undef;
}

# Why the HSM tests cannot run here, or undef if they can.
sub softhsm_missing
{
	return "$SOFTHSM_LIB is missing (install softhsm2)" unless -e $SOFTHSM_LIB;
	return 'softhsm2-util is missing (install softhsm2)'
	  unless find_program('softhsm2-util');
	return undef;
}

# Give a node its own SoftHSM2: a config and a token directory under the
# node's base directory (owned by the OS user running the test), a token
# labelled 'tde' with SO PIN 1234 and user PIN 5678, SOFTHSM2_CONF in this
# process's environment (the postmaster inherits it), tde.pkcs11_library
# and tde.pkcs11_token_label in postgresql.conf (options library, label
# and conf, extra postgresql.conf text, override).  Restarts the node
# unless restart => 0.  Returns the SoftHSM2 config's path.
sub softhsm_setup
{
	my ($node, %opt) = @_;
	my $dir  = $node->basedir . '/softhsm';
	my $conf = "$dir/softhsm2.conf";

	make_path("$dir/tokens", { mode => 0700 });
	chmod 0700, $dir, "$dir/tokens";
	open(my $fh, '>', $conf) or die "could not write $conf: $!";
	print $fh <<"EOC";
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = true
EOC
	close $fh;
	$ENV{SOFTHSM2_CONF} = $conf;

	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			find_program('softhsm2-util'), '--init-token', '--free',
			'--label', $HSM_TOKEN, '--so-pin', $HSM_SO_PIN,
			'--pin', $HSM_PIN
		],
		'<', \'', '>', \$out, '2>', \$err)
	  or die "softhsm2-util --init-token failed: $out $err";

	my $lib   = $opt{library} // $SOFTHSM_LIB;
	my $label = $opt{label}   // $HSM_TOKEN;
	$node->append_conf(
		'postgresql.conf', qq{
tde.pkcs11_library = '$lib'
tde.pkcs11_token_label = '$label'
});
	$node->append_conf('postgresql.conf', $opt{conf}) if defined $opt{conf};
	$node->restart unless defined $opt{restart} && !$opt{restart};
	return $conf;
}

# Run pkcs11-tool on the 'tde' token of the SoftHSM2 in SOFTHSM2_CONF;
# returns (exit code, stdout and stderr together).
sub pkcs11_tool
{
	my (@args) = @_;
	my $tool = find_program('pkcs11-tool') or die 'pkcs11-tool is missing';
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ $tool, '--module', $SOFTHSM_LIB, '--token-label', $HSM_TOKEN, @args ],
		'<', \'', '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

# The MKID in a KEY_ID, in lower-case hex: base64 decoded, bytes 2..17.
sub key_id_mkid_hex
{
	my ($key_id) = @_;
	require MIME::Base64;
	my $raw = MIME::Base64::decode_base64($key_id);
	return lc unpack('H*', substr($raw, 1, 16));
}

# Run a statement through tde.administer_key_management; the statement is
# given as Oracle writes it and quoted here.  Returns tde_sql's list.
sub akm
{
	my ($node, $statement, $db) = @_;
	(my $quoted = $statement) =~ s/'/''/g;
	return tde_sql($node, "SELECT tde.administer_key_management('$quoted')", $db);
}

push @EXPORT, qw(softhsm_missing softhsm_setup pkcs11_tool key_id_mkid_hex
  akm find_program);

# ---------------------------------------------------------------------
# A long-lived psql session (one backend for several statements)
# ---------------------------------------------------------------------

my $session_marker = 0;

# Start psql on a database; returns a session for session_sql.
sub tde_session
{
	my ($node, $db) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$s->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr($db // 'postgres'), '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, $s->{timer});
	session_sql($s, '\set VERBOSITY verbose');
	return $s;
}

# Run SQL in the session; returns (stdout, stderr) of that SQL alone.  An
# error does not end the session.  A final semicolon is added if missing.
sub session_sql
{
	my ($s, $sql) = @_;
	my $m = '__tde_session_' . ++$session_marker . '__';
	# psql sends the query buffer at a semicolon: end the SQL with one
	$sql .= ';' unless $sql =~ /;\s*\z/ || $sql =~ /^\s*\\/;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql\n\\echo $m\n\\warn $m\n";
	$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	$s->{h}->pump
	  until ($s->{out} =~ /\Q$m\E\n/ && $s->{err} =~ /\Q$m\E\n/)
	  || $s->{timer}->is_expired;
	die "psql session timed out on: $sql" if $s->{timer}->is_expired;
	(my $out = $s->{out}) =~ s/\Q$m\E\n//;
	(my $err = $s->{err}) =~ s/\Q$m\E\n//;
	chomp $out;
	return ($out, $err);
}

sub session_close
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

push @EXPORT, qw(tde_session session_sql session_close);

1;
