# No master key byte is left in a backend's private memory once a key
# operation is over (DESIGN §6, issue 7 item 11): a master key is known
# here because it is user-supplied; another backend then works with it
# (SET TAG with a long tag, which re-serializes the key record; encrypting,
# which wraps a relation key under it; the views) and its private memory
# is read through /proc and searched for the key, raw and in hexadecimal.
# The shared key area, where the open keystore's keys live by design, is a
# shared mapping and is not searched; the backend's secure arena is.
#
# Issue 8 item 6 adds: the other views, a keystore close and open, and
# aborted operations (an error in the statement that wrapped a relation key
# under the master key; an error in a transaction that read FORCE
# KEYSTORE's temporary keys) leave no key byte either, and no per-operation
# memory context (util/opmem.h: ident 'tde operation') outlives its
# operation.  After the wrapping steps the master key's AES key schedule,
# which begins with the key itself, would be found if the wrapping context
# (crypto/cipher.c) survived the statement.  Inside a transaction, FORCE
# KEYSTORE's temporary key set (a secure block of its own, about 450 kB)
# is gone once the operation that read it ends, not only at commit.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Key_Memory_Pw1';
my $node = tde_new_node('key_memory');

# Bytes of the backend's secure arena: its private mappings that are left
# out of core dumps and wiped on fork (VmFlags "dd" and "wf" in
# /proc/<pid>/smaps; PostgreSQL itself asks neither), also named
# "[anon:tde secure]" where the kernel names mappings.  Regions are 64 kB
# and never unmapped; a block larger than 4 kB has a mapping of its own,
# unmapped when its context goes.  So the total is a multiple of 64 kB
# exactly when no such block is live.
sub secure_bytes
{
	my ($pid) = @_;
	my ($total, $size, $private) = (0, 0, 0);
	local $/ = "\n";
	open(my $smaps, '<', "/proc/$pid/smaps") or return undef;
	while (my $line = <$smaps>)
	{
		if ($line =~ /^([0-9a-f]+)-([0-9a-f]+)\s+\S\S\S(\S)/)
		{
			($size, $private) = (hex($2) - hex($1), $3 eq 'p');
		}
		elsif ($line =~ /^VmFlags:(.*)$/)
		{
			my %flags = map { $_ => 1 } split(' ', $1);
			$total += $size if $private && $flags{dd} && $flags{wf};
		}
	}
	return $total;
}

# Private, readable mappings of a process; returns the bytes found there
# matching any of the needles (by name).
sub search_memory
{
	my ($pid, %needles) = @_;
	no warnings 'portable';    # addresses above 4 GiB
	my %found;
	my ($nmaps, $nbytes) = (0, 0);
	local $/ = "\n";
	open(my $maps, '<', "/proc/$pid/maps") or return undef;
	open(my $mem, '<:raw', "/proc/$pid/mem") or return undef;
	while (my $line = <$maps>)
	{
		my ($lo, $hi, $perms, $path) =
		  $line =~ /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/;
		next unless defined $perms && $perms =~ /^r..p/;    # private, readable
		next if $path =~ m{\.so|/usr/|/lib/|\[vvar\]|\[vsyscall\]};
		my ($start, $end) = (hex($lo), hex($hi));
		# Terabytes of reserved address space are a sanitizer's shadow
		# memory or allocator arena (TDE_SANITIZE runs), never a backend's
		# own data: reading them would take hours.  A plain run has none.
		if ($end - $start > 64 * 1024**3)
		{
			note(sprintf('skipped a mapping of %d GiB (a sanitizer reservation)',
				($end - $start) / 1024**3));
			next;
		}
		$nmaps++;
		for (my $off = $start; $off < $end; $off += 1 << 20)
		{
			my $len = $end - $off < (1 << 20) + 64 ? $end - $off : (1 << 20) + 64;
			sysseek($mem, $off, 0) or last;
			my $buf = '';
			my $n = sysread($mem, $buf, $len);
			last unless $n;
			$nbytes += $n;
			for my $name (keys %needles)
			{
				$found{$name} = sprintf('%x', $off + index($buf, $needles{$name}))
				  if index($buf, $needles{$name}) >= 0;
			}
		}
	}
	note("searched $nmaps mappings, $nbytes bytes of process $pid");
	return $nmaps ? \%found : undef;
}

my $mkid_hex = '0123456789abcdef0123456789abcdef';
my $mk_hex = join('', map { sprintf('%02x', (37 * $_ + 11) % 256) } 0 .. 31);
my $mk_raw = pack('H*', $mk_hex);

# The key is set in a session of its own: its text passed through that
# backend's query buffers.
my ($ret, $out, $err) = akm($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"});
is($ret, 0, 'CREATE KEYSTORE') or diag($err);
($ret, $out, $err) = akm($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"});
is($ret, 0, 'SET KEYSTORE OPEN') or diag($err);
($ret, $out, $err) = akm($node, qq{SET KEY '$mkid_hex:$mk_hex' IDENTIFIED BY "$pw" WITH BACKUP});
is($ret, 0, 'SET KEY with a user-supplied key') or diag($err);

# Another backend works with the key without ever seeing it.
my $s = tde_session($node);
my $tag = 'a long tag ' . ('x' x 230);
my ($pid) = session_sql($s, 'SELECT pg_backend_pid()');
like($pid, qr/^\d+$/, 'a second session');
my $key_id = $node->safe_psql('postgres', q{SELECT key_id FROM "v$encryption_keys"});
my @steps = (
	[ 'SET TAG with a long tag (the key record is serialized again)',
	  qq{SELECT tde.administer_key_management('SET TAG ''$tag'' FOR ''$key_id'' IDENTIFIED BY "$pw" WITH BACKUP')} ],
	[ 'encrypt (a relation key wrapped under the master key)',
	  q{CREATE TABLE t (c bytea); INSERT INTO t VALUES (tde.encrypt('t', 'data')); SELECT tde.decrypt_text('t', c) FROM t} ],
	[ 'v$encryption_keys', q{SELECT count(*) FROM "v$encryption_keys"} ],
	[ 'v$encryption_wallet', q{SELECT count(*) FROM "v$encryption_wallet"} ],
	[ 'tde.rewrap_progress', q{SELECT count(*) FROM tde.rewrap_progress} ],
	[ 'SET KEYSTORE CLOSE, then OPEN (the key set read and published again)',
	  qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$pw"');
	     SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"');
	     SELECT count(*) FROM "v\$encryption_keys"} ],
	[ 'BACKUP KEYSTORE', qq{SELECT tde.administer_key_management('BACKUP KEYSTORE IDENTIFIED BY "$pw"') IS NOT NULL} ],
);
# After a step: no key byte in the backend's private memory, no operation's
# memory context left.
sub check_clean
{
	my ($name) = @_;
	my $found = search_memory($pid, raw => $mk_raw, hex => $mk_hex, HEX => uc $mk_hex);
	ok(defined $found, "$name: the backend's memory can be read");
	is(join(',', map { "$_ at $found->{$_}" } sort keys %{ $found // {} }), '',
		"$name: no byte of the master key is left in the backend's private memory");
	my ($ops) = session_sql($s,
		q{SELECT count(*) || ':' || coalesce(string_agg(name, ',' ORDER BY name), '')
		  FROM pg_backend_memory_contexts WHERE ident = 'tde operation'});
	is($ops, '0:', "$name: no operation's memory context is left");
}

for my $step (@steps)
{
	my ($name, $sql) = @$step;
	my ($sout, $serr) = session_sql($s, $sql);
	unlike($serr, qr/ERROR/, "$name: runs") or diag($serr);
	check_clean($name);
}

# An error in the statement that wrapped a new relation key under the
# master key: the wrapping context is freed on abort too.
session_sql($s, 'CREATE TABLE t_abort (c bytea)');
my ($aout, $aerr) = session_sql($s,
	q{SELECT 1 / (length(tde.encrypt('t_abort', 'data')) * 0)});
is(sqlstate_of($aerr), '22012', 'an error after a relation key was wrapped: division by zero');
check_clean('an error after a relation key was wrapped');

# FORCE KEYSTORE on a closed keystore reads the wallet's keys for the
# operation (keystore/keyset.c): they go when it ends, inside the
# transaction; then the transaction fails and rolls back.
($aout, $aerr) = session_sql($s,
	qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$pw"')});
unlike($aerr, qr/ERROR/, 'SET KEYSTORE CLOSE') or diag($aerr);
my $before = secure_bytes($pid);
ok($before && $before % 65536 == 0,
	"the secure arena is in use and holds regions only ($before bytes)")
  or diag("no mapping of the secure arena found in smaps, or a block of its own is live");
($aout, $aerr) = session_sql($s,
	qq{BEGIN; SELECT tde.administer_key_management('SET TAG ''temporary'' FOR ''$key_id'' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP')});
unlike($aerr, qr/ERROR/, 'in a transaction: SET TAG with FORCE KEYSTORE on a closed keystore')
  or diag($aerr);
my $during = secure_bytes($pid);
is($during % 65536, 0,
	"in the transaction, after the operation: no secure block of its own is left ($during bytes)");
check_clean('in the transaction, after SET TAG with FORCE KEYSTORE');
($aout, $aerr) = session_sql($s, 'SELECT 1/0');
is(sqlstate_of($aerr), '22012', 'the transaction fails');
session_sql($s, 'ROLLBACK');
check_clean('after the rollback');

# The check can fail: the key bytes put into the session's own memory are found.
session_sql($s, qq{SELECT decode('$mk_hex', 'hex') IS NOT NULL});
my $found = search_memory($pid, raw => $mk_raw);
ok($found && $found->{raw}, 'control: key bytes the session itself holds are found');
session_close($s);

$node->stop;
done_testing();
