# The longest value tde.encrypt takes: a ciphertext is the plaintext plus
# 49 bytes (header, nonce, GCM tag) and, with its 4-byte varlena header, at
# most MaxAllocSize (1073741823) bytes, so the longest plaintext is
# 1073741770 bytes.  One byte more is refused with 54000 and the limit in
# the message, for the text and the bytea variant, before anything is
# allocated (it failed with XX000 "invalid memory alloc request size").
#
# Each value over the limit is itself a 1 GB allocation of the server
# (repeat builds it).  Encrypting a value at the limit itself needs about
# 2 GB of server memory for some seconds (the value and its ciphertext);
# it runs only where MemAvailable is at least 8 GiB and is skipped
# otherwise.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Limits_Pw1';
my $limit = 1073741823 - 4 - 49;
my $node = tde_new_node('encrypt_limits');

tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE KEYSTORE');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'SET KEYSTORE OPEN');
tde_sql_ok($node, qq{SELECT tde.set_key(password => '$pw', with_backup => true)}, 'SET KEY');
tde_sql_ok($node, 'CREATE TABLE t (v bytea)', 'a table');

my $over = $limit + 1;
for my $case ([ 'text', "repeat('x', $over)" ],
	[ 'bytea', "convert_to(repeat('x', $over), 'UTF8')" ])
{
	my ($kind, $expr) = @$case;
	my ($ret, $out, $err) = tde_sql($node, "SELECT length(tde.encrypt('t', $expr))");
	isnt($ret, 0, "$kind of limit+1 bytes: refused");
	is(sqlstate_of($err), '54000', "$kind of limit+1 bytes: SQLSTATE 54000") or diag($err);
	like($err, qr/value of $over bytes is too long to encrypt/, "$kind: the message gives the length");
	like($err, qr/at most $limit bytes/, "$kind: the detail gives the limit");
	unlike($err, qr/invalid memory alloc/, "$kind: not an allocation failure");
}
is(scalar(tde_sql_ok($node, q{SELECT count(*) FROM tde.relation_key}, 'count relation keys')),
	'0', 'no relation key was made for a refused value');

# the same value just below: works (a small one, as the limit is a formula)
is(scalar(tde_sql_ok($node, q{SELECT length(tde.encrypt('t', repeat('x', 1000)))}, 'a small value')),
	'1049', 'a ciphertext is the plaintext plus 49 bytes');

SKIP:
{
	my $avail = 0;
	if (open(my $fh, '<', '/proc/meminfo'))
	{
		while (<$fh>) { $avail = $1 * 1024 if /^MemAvailable:\s+(\d+) kB/; }
		close $fh;
	}
	skip 'a value at the limit needs 8 GiB of available memory', 2
	  if $avail < 8 * 1024**3;

	my $t0 = time;
	is(scalar(tde_sql_ok($node, qq{SELECT length(tde.encrypt('t', repeat('x', $limit)))}, 'encrypt at the limit')),
		1073741823 - 4, 'the ciphertext at the limit is MaxAllocSize bytes with its header');
	note('at the limit: ' . (time - $t0) . ' s');
}

$node->stop;
done_testing();
