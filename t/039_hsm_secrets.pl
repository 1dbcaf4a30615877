# Client secrets in an HSM keystore (issue 9, item 7): ADD, UPDATE and
# DELETE SECRET ... IDENTIFIED BY with tde.keystore_configuration = 'HSM'
# seal the secret with a data key that the HSM's active master key wraps
# (C_Encrypt in the token) and keep it beside the HSM metadata
# (hsm_keys.sso); the secret is in no file in clear or in hex, and
# v$client_secrets lists it with KEYSTORE_TYPE HSM.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

if (my $why = softhsm_missing())
{
	tde_skip_all($why, hsm => 1);
}

my $pin = $TdeTest::HSM_PIN;
my ($s1, $s2) = ('HSM_GG_S3cret_one', 'HSM_GG_S3cret_two');
my $node = tde_new_node('hsm_secrets');
softhsm_setup($node, conf => "tde.keystore_configuration = 'HSM'\n");

tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pin"}, 'open the HSM');
tde_akm_fails($node, qq{ADD SECRET '$s1' FOR CLIENT 'OGG' IDENTIFIED BY "$pin"}, '55000',
	'no master key in the HSM yet: nothing to seal with');
tde_akm_ok($node, qq{SET KEY IDENTIFIED BY "$pin"}, 'SET KEY in the HSM');
tde_akm_ok($node, qq{ADD SECRET '$s1' FOR CLIENT 'OGG' USING TAG 'gg' IDENTIFIED BY "$pin"},
	'ADD SECRET into the HSM keystore');
tde_akm_fails($node, qq{ADD SECRET '$s2' FOR CLIENT 'OGG' IDENTIFIED BY "$pin"}, '42710',
	'a second ADD for the client');
tde_akm_fails($node, qq{ADD SECRET '$s2' FOR CLIENT 'OGG2' IDENTIFIED BY "wrong_pin_0"}, '28P01',
	'a wrong credential');
my $rows_sql = q{SELECT string_agg(client || ':' || coalesce(secret_tag, '') || ':' || keystore_type
				 || ':' || keystore_location, ',' ORDER BY client) FROM v$client_secrets};
is($node->safe_psql('postgres', $rows_sql), 'OGG:gg:HSM:HSM', 'v$client_secrets lists it as HSM');

my $meta_file = wallet_dir($node) . '/hsm_keys.sso';
ok(-f $meta_file, 'the HSM metadata file is there');
sub holds_secret
{
	my ($s) = @_;
	my $n = 0;
	for my $f (grep { -f } glob(wallet_dir($node) . '/*'))
	{
		my $c = slurp_file($f);
		$n++ if index($c, $s) >= 0 || index(lc $c, lc unpack('H*', $s)) >= 0;
	}
	return $n;
}
is(holds_secret($s1), 0, 'the secret is in no keystore file, raw or hex');

tde_akm_ok($node, qq{UPDATE SECRET '$s2' FOR CLIENT 'OGG' IDENTIFIED BY "$pin"}, 'UPDATE SECRET');
is(holds_secret($s2), 0, 'nor the new one');
$node->restart;
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pin"}, 'open after a restart');
is($node->safe_psql('postgres', $rows_sql), 'OGG:gg:HSM:HSM', 'the secret is still listed');
tde_akm_ok($node, qq{DELETE SECRET FOR CLIENT 'OGG' IDENTIFIED BY "$pin"}, 'DELETE SECRET');
is($node->safe_psql('postgres', $rows_sql), '', 'no secret left');

my $log = slurp_file($node->logfile);
ok(index($log, $s1) < 0 && index($log, $s2) < 0, 'no secret in the server log');
$node->stop;
done_testing();
