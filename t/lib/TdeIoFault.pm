# t/lib/TdeIoFault.pm: injected I/O failures for the t/053_io_failures*.pl
# tests.
#
# A node made by io_fault_node runs with test/faultfs.so preloaded (see
# that file's header): LD_PRELOAD is in the environment of pg_ctl start
# only, and the postmaster's children inherit it.  The shim fails only
# calls on paths under the node's wallet root and its "outside" directory
# (a backup and export location outside tde.wallet_root), and only in the
# backend of the node's long-lived session, whose pid the control line
# names, so that no other process of the server uses up the fault.
# fsync is on: with PostgreSQL's test default, fsync = off, pg_fsync never
# calls fsync(2), and neither does tde.
#
# io_walk runs one statement under every fault point: for each errno and
# each of open, write, fsync and rename, k = 1, 2, ... until the k-th call
# no longer comes (the fault did not fire, and the statement must then
# succeed).  At each point the statement either
#   - fails with the errno's SQLSTATE (53100 for ENOSPC, 58030 for EIO), a
#     "could not ..." message and no secret in it, and every file under the
#     shim's directories (contents and mode), every directory, and what
#     the views and tde.relation_key show are as before, with no
#     temporary file left: a failed statement changed nothing (DESIGN §8);
#     or
#   - succeeds with a WARNING of that SQLSTATE, the failure coming after
#     the point of no return (a directory fsync'd after the rename, a
#     follower file): the change is made, and no temporary file is left.
# Anything else fails the point's test, with what went wrong; a point
# that changed something is followed by the case's undo and prep, so that
# the next point starts from the statement's preconditions again.  A
# message that quotes a long part of a statement naming a path is cut by
# tde's redaction (sql/redact.c); that is accepted, and counted, where the
# statement names a path.  Every point runs in the suite: the three files
# take well under a minute.

package TdeIoFault;

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha256_hex);
use File::Find;
use File::Path qw(make_path);
use FindBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

our @EXPORT = qw(
	akm_sql io_akm_ok
  io_fault_node io_restart io_sql io_sql_ok io_walk io_summary io_save_files
  io_restore_files io_settle io_snapshot
);

our @OPS = qw(open write fsync rename);
our @ERRNOS = qw(ENOSPC EIO);
our %SQLSTATE = (ENOSPC => '53100', EIO => '58030');

# k beyond this means the statement does not end: a test bug
my $MAX_K = 100;

my $top = "$FindBin::RealBin/..";

# Build the shim with the Makefile's target, in the tree the test runs
# from; returns its path.  The make that runs prove may pass its flags
# down: they are not for this one.
sub build_shim
{
	my ($out, $err) = ('', '');
	local $ENV{MAKEFLAGS};
	local $ENV{MAKELEVEL};
	delete $ENV{MAKEFLAGS};
	delete $ENV{MAKELEVEL};
	IPC::Run::run([ 'make', '-s', '-C', $top, 'test/faultfs.so' ],
		'<', \'', '>', \$out, '2>', \$err)
	  or BAIL_OUT("make test/faultfs.so failed: $out $err");
	return "$top/test/faultfs.so";
}

# Start (or restart) the node with the shim preloaded, and open the
# session whose backend the faults are for.
sub io_restart
{
	my ($ctx) = @_;
	my $node = $ctx->{node};

	session_close($ctx->{session}) if $ctx->{session};
	$node->stop;
	{
		# after a runtime already preloaded: a sanitizer's must come first
		local $ENV{LD_PRELOAD} =
		  join(' ', grep { defined $_ && $_ ne '' } $ENV{LD_PRELOAD}, $ctx->{so});
		$node->start;
	}
	$ctx->{session} = tde_session($node);
	($ctx->{pid}) = session_sql($ctx->{session}, 'SELECT pg_backend_pid()');
	return;
}

# A node like tde_new_node's ($conf: more postgresql.conf), with the shim
# loaded; returns the context the other functions take.
sub io_fault_node
{
	my ($name, $conf) = @_;
	my $so = build_shim();
	my $node = tde_new_node($name, "fsync = on\n" . ($conf // ''));
	my $base = $node->basedir;
	my $ctx = {
		node => $node,
		so => $so,
		root => wallet_root($node),
		outside => "$base/outside",
		ctl => "$base/fault.ctl",
		log => "$base/fault.log",
		log_offset => 0,
		generation => 0,
		secrets => [],
		points => [],
	};
	make_path($ctx->{outside}, { mode => 0700 });
	$ENV{TDE_FAULT_CTL} = $ctx->{ctl};
	$ENV{TDE_FAULT_LOG} = $ctx->{log};
	$ENV{TDE_FAULT_PREFIX} = "$ctx->{root}:$ctx->{outside}";
	set_control($ctx, 'none 0 EIO 0 0');
	io_restart($ctx);

	my $pm = postmaster_pid($node);
	my $maps = slurp_file("/proc/$pm/maps");
	ok(index($maps, 'faultfs.so') >= 0, 'the shim is loaded into the postmaster');
	is($node->safe_psql('postgres', 'SHOW fsync'), 'on', 'fsync is on');
	return $ctx;
}

sub set_control
{
	my ($ctx, $line) = @_;
	my $tmp = "$ctx->{ctl}.new";
	open(my $fh, '>', $tmp) or die "$tmp: $!";
	print $fh "$line\n";
	close $fh or die "$tmp: $!";
	# a new inode: the shim sees the change even within one mtime tick
	rename($tmp, $ctx->{ctl}) or die "rename $tmp: $!";
	return;
}

# Arm the k-th call of $op with $errno for the session's backend; returns
# the generation.
sub arm
{
	my ($ctx, $op, $k, $errno) = @_;
	my $g = ++$ctx->{generation};
	set_control($ctx, "$op $k $errno $g $ctx->{pid}");
	return $g;
}

sub disarm
{
	my ($ctx) = @_;
	my $g = ++$ctx->{generation};
	set_control($ctx, "none 0 EIO $g 0");
	return;
}

# The shim's record of the fault of generation $g, or undef if it did not
# fire: "<generation> <pid> <op> <errno> <function> <path>".
sub fired
{
	my ($ctx, $g) = @_;
	open(my $fh, '<', $ctx->{log}) or return undef;
	seek($fh, $ctx->{log_offset}, 0);
	my $hit;
	while (my $line = <$fh>)
	{
		chomp $line;
		$hit = $line if $line =~ /^$g /;
	}
	$ctx->{log_offset} = tell($fh);
	close $fh;
	return $hit;
}

# Run SQL in the session: (stdout, stderr).
sub io_sql
{
	my ($ctx, $sql) = @_;
	return session_sql($ctx->{session}, $sql);
}

# SQL that must not raise an ERROR, as one test; returns its stdout.
sub io_sql_ok
{
	my ($ctx, $sql, $name) = @_;
	my ($out, $err) = io_sql($ctx, $sql);
	unlike($err, qr/ERROR:/, $name) or diag($err);
	return $out;
}

# Wait until no background re-wrap is pending or running, so that a
# snapshot does not see one change tde.relation_key.
sub io_settle
{
	my ($ctx) = @_;
	my $done = tde_wait_until(
		sub {
			my ($out) = io_sql($ctx,
				q{SELECT count(*) FROM tde.rewrap_progress WHERE state IN ('pending', 'running')});
			return $out eq '0';
		});
	die 'the background re-wrap does not end' unless $done;
	return;
}

# Every directory and file under the shim's directories, with mode and
# digest, then what the server shows: keys, keystores, secrets and
# relation keys.
sub io_snapshot
{
	my ($ctx) = @_;
	my @lines;
	for my $dir ($ctx->{root}, $ctx->{outside})
	{
		find(
			{
				no_chdir => 1,
				wanted => sub {
					my $p = $File::Find::name;
					my $mode = (lstat $p)[2] & 07777;
					if (-d _)
					{
						push @lines, sprintf('dir %s %04o', $p, $mode);
						return;
					}
					open(my $fh, '<:raw', $p) or die "$p: $!";
					local $/;
					my $data = <$fh> // '';
					close $fh;
					push @lines, sprintf('file %s %04o %s', $p, $mode, sha256_hex($data));
				}
			},
			$dir);
	}
	@lines = sort @lines;
	my ($out, $err) = io_sql($ctx, q{
SELECT 'key ' || concat_ws('|', key_id, tag, creation_time, activation_time,
                           keystore_type, origin, backed_up) FROM v$encryption_keys
UNION ALL
SELECT 'wallet ' || concat_ws('|', wrl_type, wrl_parameter, status, wallet_type,
                              wallet_order, fully_backed_up) FROM v$encryption_wallet
UNION ALL
SELECT 'secret ' || concat_ws('|', client, secret_tag, creation_time, activation_time,
                              keystore_type, backed_up) FROM v$client_secrets
UNION ALL
SELECT 'relkey ' || concat_ws('|', key_id, key_version, tde.key_id(master_key_id),
                              md5(wrapped_key), rewrapped_at) FROM tde.relation_key
ORDER BY 1});
	die "snapshot query failed: $err" if $err =~ /ERROR:/;
	return join("\n", @lines, $out);
}

sub tmp_files
{
	my ($snapshot) = @_;
	return map { (split / /)[1] } grep { /^file \S*\.tmp/ } split /\n/, $snapshot;
}

# The lines of two snapshots that differ, for a diagnostic.
sub snapshot_diff
{
	my ($a, $b) = @_;
	my %in_a = map { $_ => 1 } split /\n/, $a;
	my %in_b = map { $_ => 1 } split /\n/, $b;
	return join("\n",
		(map { "- $_" } grep { !$in_b{$_} } split /\n/, $a),
		(map { "+ $_" } grep { !$in_a{$_} } split /\n/, $b));
}

# The bytes and modes of every file under the shim's directories.
sub io_save_files
{
	my ($ctx) = @_;
	my %files;
	for my $dir ($ctx->{root}, $ctx->{outside})
	{
		find(
			{
				no_chdir => 1,
				wanted => sub {
					return unless -f $File::Find::name;
					$files{$File::Find::name} = [ slurp_file($File::Find::name),
						(stat _)[2] & 07777 ];
				}
			},
			$dir);
	}
	return \%files;
}

# Put the files back as io_save_files saw them; files made since are
# removed (directories stay).
sub io_restore_files
{
	my ($ctx, $saved) = @_;
	my @now;
	for my $dir ($ctx->{root}, $ctx->{outside})
	{
		find({ no_chdir => 1, wanted => sub { push @now, $File::Find::name if -f $File::Find::name } },
			$dir);
	}
	unlink grep { !exists $saved->{$_} } @now;
	for my $p (keys %$saved)
	{
		spew_file($p, $saved->{$p}[0]);
		chmod $saved->{$p}[1], $p;
	}
	return;
}

# Does $text hold a secret of the test?
sub leaked
{
	my ($ctx, $text) = @_;
	return grep { index($text, $_) >= 0 } @{ $ctx->{secrets} };
}

# Check one fault point that fired; returns whether the statement
# succeeded (after its point of no return) and whether anything changed.
sub check_point
{
	my ($ctx, $label, $sql, $errno, $hit, $err, $before) = @_;
	my $after = io_snapshot($ctx);
	my @why;
	my $state = sqlstate_of($err);
	my $ok_after_point = $state eq '';

	my $level = $ok_after_point ? 'WARNING' : 'ERROR';
	my ($message) = $err =~ /$level:\s+\w{5}:\s+(.*)/;
	my $redacted = 0;

	push @why, 'a secret is in the messages' if leaked($ctx, $err);
	push @why, 'temporary files left: ' . join(' ', tmp_files($after)) if tmp_files($after);
	if (!defined $message)
	{
		# a success must say what it could not do
		push @why, "it succeeded without a WARNING";
	}
	elsif ($message =~ /<redacted by tde>/ && $sql =~ m{'/})
	{
		# A message that quotes a long part of a statement naming a path
		# is cut from there (sql/redact.c): the SQLSTATE still tells.
		$redacted = 1;
	}
	elsif ($message !~ /^could not \w+ (?:file|directory) ".+": \S/)
	{
		push @why, 'the message is not a "could not ..." of a file or directory';
	}
	if ($ok_after_point)
	{
		push @why, "the WARNING's SQLSTATE is not $SQLSTATE{$errno}"
		  unless $err =~ /WARNING:\s+$SQLSTATE{$errno}:/;
	}
	else
	{
		push @why, "SQLSTATE $state, not $SQLSTATE{$errno}" if $state ne $SQLSTATE{$errno};
		push @why, "files or state changed:\n" . snapshot_diff($before, $after)
		  if $after ne $before;
	}
	# where the fault was and what came of it, for the record
	my (undef, undef, undef, undef, $func, $path) = split / /, $hit, 6;
	note("$label: $func $path: $level " . ($message // ''));
	ok(!@why,
		"$label: " . ($ok_after_point ? 'succeeds with a WARNING' : "fails with $SQLSTATE{$errno}, nothing changed"))
	  or diag(join("\n", "fault: $hit", @why, "stderr: $err"));
	return ($ok_after_point, $after ne $before, $redacted);
}

# Run one statement under every fault point.  %case:
#   name  what the summary calls it
#   sql   the statement, or a sub that returns it (called for each run)
#   prep  run before each series of k, and after a success within one:
#         make the statement's preconditions true (optional)
#   undo  run after each success (optional)
#   ops   the kinds of call to fail (default: open write fsync rename)
#   todo  a known defect that makes points of this statement fail: they
#         are reported as TODO (Test::More) with this reason
sub io_walk
{
	my ($ctx, %case) = @_;
	my $name = $case{name};
	my $builder = Test::More->builder;

	$builder->todo_start($case{todo}) if $case{todo};
	my %count = (points => 0, errors => 0, warnings => 0, redacted => 0);

	# after a success: undone, and, if the series goes on, prepared again
	my $succeeded = sub {
		my ($more) = @_;
		$case{undo}->() if $case{undo};
		io_settle($ctx);
		$case{prep}->() if $more && $case{prep};
	};

	for my $errno (@ERRNOS)
	{
		for my $op (@{ $case{ops} // \@OPS })
		{
			$case{prep}->() if $case{prep};
			my $before = io_snapshot($ctx);
			my $k;
			for ($k = 1; $k <= $MAX_K; $k++)
			{
				my $sql = ref $case{sql} ? $case{sql}->() : $case{sql};
				my $g = arm($ctx, $op, $k, $errno);
				my (undef, $err) = io_sql($ctx, $sql);
				disarm($ctx);
				my $hit = fired($ctx, $g);
				my $label = "$name: $op #$k $errno";

				if (!defined $hit)
				{
					# past the last call of this kind: no fault, a success
					unlike($err, qr/ERROR:/, "$name: $op $errno: succeeds without a fault at call $k")
					  or diag($err);
					$succeeded->(0);
					last;
				}
				$count{points}++;
				my ($success, $changed, $redacted) =
				  check_point($ctx, $label, $sql, $errno, $hit, $err, $before);
				$count{$success ? 'warnings' : 'errors'}++;
				$count{redacted} += $redacted;
				# a change made (or, in error, left): start the next point
				# from the statement's preconditions again
				if ($success || $changed)
				{
					$succeeded->(1);
					$before = io_snapshot($ctx);
				}
			}
			fail("$name: $op $errno: still a $op call at k = $MAX_K") if $k > $MAX_K;
		}
	}
	$builder->todo_end if $case{todo};
	push @{ $ctx->{points} }, [ $name, \%count ];
	return;
}

# The summary for the closing note: fault points tried per operation.
sub io_summary
{
	my ($ctx) = @_;
	my $total = 0;
	diag('io failures: operation: points tried (errors, successes with a WARNING; messages redacted)');
	for my $p (@{ $ctx->{points} })
	{
		my ($name, $c) = @$p;
		diag("io failures: $name: $c->{points} points ($c->{errors} errors, $c->{warnings} warnings; $c->{redacted} redacted)");
		$total += $c->{points};
	}
	diag("io failures: total: $total points");
	return;
}

# The SQL of an ADMINISTER KEY MANAGEMENT statement, and one that must
# succeed on the node of $ctx (io_sql_ok), as one test named $name.
sub akm_sql
{
	my ($statement) = @_;
	return "SELECT tde.administer_key_management(\$akm\$$statement\$akm\$)";
}

sub io_akm_ok
{
	my ($ctx, $statement, $name) = @_;
	return io_sql_ok($ctx, akm_sql($statement), $name);
}

1;
