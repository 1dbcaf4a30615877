# Key material must not reach swap or a core file.  The shared key area is
# page-aligned, locked by the postmaster (VmFlags "lo") and excluded from
# core dumps ("dd"); a backend's secure buffers come from an arena that is
# locked, excluded from core dumps and wiped in a forked child ("wf").
# Where RLIMIT_MEMLOCK refuses (the server started under "ulimit -l 0"),
# the server still works, logs the failure once with a hint, and the memory
# is still excluded from core dumps.

use strict;
use warnings;
no warnings 'portable';    # 64-bit addresses in smaps

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Locked_Pw1';
my $node = tde_new_node('locked_memory');

# The mappings of a process: [ start, end, name, { flag => 1 } ], from smaps.
sub mappings
{
	my ($pid) = @_;
	my @maps;
	open(my $fh, '<', "/proc/$pid/smaps") or die "smaps of $pid: $!";
	while (<$fh>)
	{
		if (/^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(.*)$/)
		{
			push @maps, [ hex($1), hex($2), $3, {} ];
		}
		elsif (/^VmFlags:\s*(.*)$/ && @maps)
		{
			$maps[-1][3] = { map { $_ => 1 } split ' ', $1 };
		}
	}
	close $fh;
	return @maps;
}

sub describe
{
	return join("\n",
		map { sprintf('%x-%x %s [%s]', $_->[0], $_->[1], $_->[2], join(' ', sort keys %{ $_->[3] })) }
		  @_);
}

# The shared key area: a shared mapping excluded from core dumps, at least
# as large as the master-key sets (two of 512 keys, more than 512 kB).
sub key_area
{
	my ($pid) = @_;
	return grep { $_->[3]{sh} && $_->[3]{dd} && $_->[1] - $_->[0] >= 512 * 1024 } mappings($pid);
}

# The secure arena of a backend: private, excluded from core dumps, wiped
# on fork.
sub arena
{
	my ($pid) = @_;
	return grep { !$_->[3]{sh} && $_->[3]{dd} && $_->[3]{wf} } mappings($pid);
}

sub open_in_session
{
	my ($s, $how) = @_;    # 'create', 'open' (closed), 'reopen' (open)
	my $first = $how eq 'create';
	my ($out, $err);
	if ($first)
	{
		($out, $err) = session_sql($s, qq{SELECT tde.create_keystore(password => '$pw')});
		is($err, '', 'create the keystore');
	}
	elsif ($how eq 'reopen')
	{
		($out, $err) = session_sql($s,
			qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$pw"')});
		is($err, '', 'close the keystore in the session');
	}
	($out, $err) = session_sql($s,
		qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')});
	is($err, '', 'open the keystore in the session');
	if ($first)
	{
		($out, $err) = session_sql($s, qq{SELECT tde.set_key(password => '$pw', with_backup => true)});
		is($err, '', 'SET KEY');
	}
	my ($pid) = session_sql($s, 'SELECT pg_backend_pid()');
	return $pid;
}

# --- locked ------------------------------------------------------------
my $pm = postmaster_pid($node);
# AddressSanitizer (a TDE_SANITIZE run) makes mlock() a no-op that
# succeeds: nothing is locked and nothing fails, so the checks on locking
# cannot hold there; those on core dumps and wiping still do.
my $asan = grep { /libasan/ } split /\n/, slurp_file("/proc/$pm/maps");
my $no_lock = 'AddressSanitizer makes mlock a no-op';
my @area = key_area($pm);
is(scalar @area, 1, 'postmaster: one shared mapping excluded from core dumps (the key area)')
  or diag(describe(mappings($pm)));
SKIP:
{
	skip $no_lock, 1 if $asan;
	ok(@area && $area[0][3]{lo}, 'postmaster: the key area is locked in memory')
	  or diag(describe(@area));
}
ok(@area && $area[0][0] % 4096 == 0 && ($area[0][1] - $area[0][0]) % 4096 == 0,
	'the key area is whole pages');

my $s = tde_session($node);
my $backend = open_in_session($s, 'create');
like($backend, qr/^\d+$/, 'the backend pid');
is(scalar(key_area($backend)), 1, 'backend: the shared key area is excluded from core dumps (inherited)');
my @arena = arena($backend);
ok(@arena >= 1, 'backend: a secure arena after opening the keystore')
  or diag(describe(mappings($backend)));
SKIP:
{
	skip $no_lock, 1 if $asan;
	ok(@arena && !grep({ !$_->[3]{lo} } @arena), 'backend: the secure arena is locked in memory')
	  or diag(describe(@arena));
}
session_close($s);
unlike(slurp_file($node->logfile), qr/could not lock tde key memory/,
	'no locking failure logged with the default limit');

# --- RLIMIT_MEMLOCK 0: the fallback ---------------------------------------
my ($real_pg_ctl) = grep { -x "$_/pg_ctl" } split /:/, $ENV{PATH};
die 'no pg_ctl in PATH' unless defined $real_pg_ctl;
my $bin = $node->basedir . '/lowlimit_bin';
make_path($bin);
open(my $fh, '>', "$bin/pg_ctl") or die "create $bin/pg_ctl: $!";
print $fh "#!/bin/sh\nulimit -l 0 || exit 1\nexec '$real_pg_ctl/pg_ctl' \"\$@\"\n";
close $fh;
chmod 0755, "$bin/pg_ctl";

$node->stop;
my $log_offset = -s $node->logfile;
{
	local $ENV{PATH} = "$bin:$ENV{PATH}";
	$node->start;
}
$pm = postmaster_pid($node);
my $limit = '';
if (open(my $lf, '<', "/proc/$pm/limits"))
{
	($limit) = map { /^Max locked memory\s+(\S+)/ ? $1 : () } <$lf>;
	close $lf;
}
is($limit, '0', 'the server runs with RLIMIT_MEMLOCK 0');
@area = key_area($pm);
is(scalar @area, 1, 'low limit: the key area is still excluded from core dumps');
ok(@area && !$area[0][3]{lo}, 'low limit: the key area is not locked');

$s = tde_session($node);
$backend = open_in_session($s, 'open');
@arena = arena($backend);
ok(@arena >= 1, 'low limit: the keystore opens, from an arena excluded from core dumps')
  or diag(describe(mappings($backend)));
my ($out, $err) = session_sql($s, 'SELECT status FROM v$encryption_wallet');
is($out, 'OPEN', 'low limit: the keystore is open');
session_close($s);
# a second backend fails to lock too: still one message
$s = tde_session($node);
open_in_session($s, 'reopen');
session_close($s);

my $log = substr(slurp_file($node->logfile), $log_offset);
SKIP:
{
	skip $no_lock, 3 if $asan;
	my @msgs = ($log =~ /could not lock tde key memory/g);
	is(scalar @msgs, 1, 'low limit: the failure to lock is logged once') or diag($log);
	like($log, qr/WARNING:.*could not lock tde key memory of \d+ bytes in RAM/,
		'low limit: the postmaster warns about the key area');
	like($log, qr/HINT:.*RLIMIT_MEMLOCK.*LimitMEMLOCK=/, 'low limit: with a hint on the limit');
}

$node->stop;
done_testing();
