# No master key byte is left in a backend's private memory once a key
# operation is over (DESIGN §6, issue 7 item 11): a master key is known
# here because it is user-supplied; another backend then works with it
# (SET TAG with a long tag, which re-serializes the key record; encrypting,
# which wraps a relation key under it; the views) and its private memory
# is read through /proc and searched for the key, raw and in hexadecimal.
# The shared key area, where the open keystore's keys live by design, is a
# shared mapping and is not searched.
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

# Private, readable mappings of a process; returns the bytes found there
# matching any of the needles (by name).
sub search_memory
{
	my ($pid, %needles) = @_;
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
	[ 'BACKUP KEYSTORE', qq{SELECT tde.administer_key_management('BACKUP KEYSTORE IDENTIFIED BY "$pw"') IS NOT NULL} ],
);
for my $step (@steps)
{
	my ($name, $sql) = @$step;
	my ($sout, $serr) = session_sql($s, $sql);
	unlike($serr, qr/ERROR/, "$name: runs") or diag($serr);
	my $found = search_memory($pid, raw => $mk_raw, hex => $mk_hex, HEX => uc $mk_hex);
	ok(defined $found, "$name: the backend's memory can be read");
	is(join(',', map { "$_ at $found->{$_}" } sort keys %{ $found // {} }), '',
		"$name: no byte of the master key is left in the backend's private memory");
}

# The check can fail: the key bytes put into the session's own memory are found.
session_sql($s, qq{SELECT decode('$mk_hex', 'hex') IS NOT NULL});
my $found = search_memory($pid, raw => $mk_raw);
ok($found && $found->{raw}, 'control: key bytes the session itself holds are found');
session_close($s);

$node->stop;
done_testing();
