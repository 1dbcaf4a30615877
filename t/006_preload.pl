# tde refuses to load unless it is in shared_preload_libraries: its keystore
# state lives in shared memory.  The error says so and the hint says how.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use TdeTest;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

my ($rc, $out, $err) = tde_sql($node, 'CREATE EXTENSION tde');
isnt($rc, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
is(sqlstate_of($err), '55000', 'SQLSTATE 55000 (object_not_in_prerequisite_state)');
like($err, qr/tde can only be loaded via shared_preload_libraries/,
	'the message names shared_preload_libraries');
like($err, qr/HINT:\s+Add tde to the shared_preload_libraries configuration variable/,
	'the hint says how');

($rc, $out, $err) = tde_sql($node, q{LOAD 'tde'});
isnt($rc, 0, 'LOAD fails as well');
is(sqlstate_of($err), '55000', 'LOAD: SQLSTATE 55000');

is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_extension WHERE extname = 'tde'}),
	'0', 'nothing was created');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is fine');

# With the library preloaded, the same statement works.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tde'\n");
$node->restart;
($rc, $out, $err) = tde_sql($node, 'CREATE EXTENSION tde');
is($rc, 0, 'CREATE EXTENSION works once tde is preloaded') or diag($err);
is($node->safe_psql('postgres', q{SELECT status FROM v$encryption_wallet}),
	'NOT_AVAILABLE', 'without tde.wallet_root the keystore is NOT_AVAILABLE');

$node->stop;
done_testing();
