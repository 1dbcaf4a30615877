# Client secrets in the password keystore (Oracle's 4.3, 4.4.3): kept in
# ewallet.p12 (the secret in no file in clear), in step in its auto-login
# copy (an auto-login open lists them after a restart); v$client_secrets
# for tde_admin only; no secret value in any file or in the server log
# (log_statement = 'all', failing statements with log_min_error_statement =
# debug5; translated messages are t/008's).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Secrets_Wallet_Pw1';
my ($s1, $s2) = ('GoldenGate_S3cret_one', 'GoldenGate_S3cret_two');
my $node = tde_new_node('client_secrets', "log_min_error_statement = debug5\n");

tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE KEYSTORE');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open');
tde_akm_ok($node, qq{ADD SECRET '$s1' FOR CLIENT 'OGG_1' USING TAG 'gg' IDENTIFIED BY "$pw" WITH BACKUP},
	'ADD SECRET into the keystore');
tde_akm_fails($node, qq{ADD SECRET '$s2' FOR CLIENT 'OGG_1' IDENTIFIED BY "$pw" WITH BACKUP}, '42710',
	'ADD SECRET for a client that has one');
tde_akm_fails($node, qq{UPDATE SECRET '$s2' FOR CLIENT 'OGG_1' IDENTIFIED BY "wrong_$pw" WITH BACKUP}, '28P01',
	'UPDATE SECRET with a wrong password');
tde_akm_ok($node, qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"}, 'an auto-login copy');
tde_akm_ok($node, qq{UPDATE SECRET '$s2' FOR CLIENT 'OGG_1' IDENTIFIED BY "$pw" WITH BACKUP}, 'UPDATE SECRET');
is(file_mode(ewallet_path($node)), 0600, 'ewallet.p12 is 0600');
is(file_mode(cwallet_path($node)), 0600, 'cwallet.sso is 0600');

my $rows_sql = q{SELECT string_agg(client || ':' || coalesce(secret_tag, '') || ':' || keystore_type, ',' ORDER BY client)
				 FROM v$client_secrets};
is($node->safe_psql('postgres', $rows_sql), 'OGG_1:gg:SOFTWARE KEYSTORE', 'v$client_secrets');

# the auto-login copy follows: opened without a password, it lists the secret
tde_akm_ok($node, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
$node->restart;
is($node->safe_psql('postgres', $rows_sql), 'OGG_1:gg:SOFTWARE KEYSTORE',
	'after a restart the auto-login keystore opens and lists the secret');
is($node->safe_psql('postgres', q{SELECT wallet_type FROM v$encryption_wallet}), 'AUTOLOGIN',
	'it is the auto-login keystore that is open');

# a role without tde_admin, and pg_monitor, do not see it
$node->safe_psql('postgres', 'CREATE ROLE mon LOGIN IN ROLE pg_monitor; CREATE ROLE nobody LOGIN');
for my $r (qw(mon nobody))
{
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM v$client_secrets',
		extra_params => [ '-U', $r ]);
	isnt($ret, 0, "$r cannot read v\$client_secrets");
}

# no secret in clear in any file of the wallet root or the data directory
my @files = grep { -f } (glob(wallet_dir($node) . '/*'), glob($node->data_dir . '/*'),
	glob($node->data_dir . '/base/*/*'), glob($node->data_dir . '/global/*'));
my $found = 0;
for my $f (@files)
{
	my $c = slurp_file($f);
	$found++ if index($c, $s1) >= 0 || index($c, $s2) >= 0
	  || index(lc $c, lc unpack('H*', $s2)) >= 0;
}
is($found, 0, 'no file holds a secret in clear or in hex (' . scalar(@files) . ' files)');

tde_akm_ok($node, qq{DELETE SECRET FOR CLIENT 'OGG_1' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	'DELETE SECRET with FORCE KEYSTORE');
is($node->safe_psql('postgres', $rows_sql), '', 'no client secret left');

my $log = slurp_file($node->logfile);
ok(index($log, $s1) < 0 && index($log, $s2) < 0, 'no secret value in the server log');
ok(index($log, $pw) < 0, 'no password in the server log');
$node->stop;
done_testing();
