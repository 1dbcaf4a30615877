# The wallet file: a standard PKCS#12 file that the openssl command reads
# with the password, and that the server refuses cleanly (never crashes)
# when it is damaged, truncated or empty.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Copy qw(copy);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'File_Pw-1';
my $node = tde_new_node('wallet_file');
my $ewallet = ewallet_path($node);
my $cwallet = cwallet_path($node);

my ($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'create the keystore') or diag($err);
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'create the auto-login keystore') or diag($err);
my $cwallet_mode = file_mode($cwallet);
# Only the password wallet is used below; without cwallet.sso the keystore
# stays closed until opened with the password.
copy($cwallet, $node->basedir . '/cwallet.sso.saved') or die "copy: $!";
unlink $cwallet or die "unlink: $!";
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.backup_keystore(password => '$pw', backup_identifier => 'modes', force_keystore => true)});
is($ret, 0, 'back up the keystore') or diag($err);
my ($backup) = glob(wallet_dir($node) . '/ewallet_*_modes.p12');
ok(defined $backup && -f $backup, 'the backup file exists');

# --- modes --------------------------------------------------------------
is(sprintf('%04o', file_mode($ewallet)), '0600', 'ewallet.p12 mode 0600');
is(sprintf('%04o', $cwallet_mode), '0600', 'cwallet.sso mode 0600');
is(sprintf('%04o', file_mode($backup)), '0600', 'backup file mode 0600');
is(sprintf('%04o', file_mode(wallet_dir($node))), '0700', 'wallet directory mode 0700');
{
	my $seps = wallet_root($node) . '/tde_seps';
	my ($r, $o, $e) = tde_sql($node,
		qq{SELECT tde.add_external_store_secret(secret => '$pw', client => 'TDE_WALLET', location => '$seps')});
	is($r, 0, 'add a secret to the external store') or diag($e);
	is(sprintf('%04o', file_mode("$seps/cwallet.sso")), '0600', 'external store file mode 0600');
	is(sprintf('%04o', file_mode($seps)), '0700', 'external store directory mode 0700');
}

# --- openssl reads it -----------------------------------------------------
sub openssl
{
	my ($o, $e) = ('', '');
	my $ok = IPC::Run::run([ 'openssl', @_ ], '>', \$o, '2>', \$e);
	return ($ok, $o . $e);
}

my ($ok, $info) = openssl('pkcs12', '-info', '-in', $ewallet, '-passin', "pass:$pw", '-nokeys');
ok($ok, 'openssl pkcs12 -info reads ewallet.p12 with the password') or diag($info);
like($info, qr/PBES2/, 'encrypted with PBES2');
like($info, qr/PBKDF2/, 'key derived with PBKDF2');
like($info, qr/AES-256-CBC/, 'cipher AES-256-CBC');
like($info, qr/hmacWithSHA256/, 'PRF hmacWithSHA256');
like($info, qr/MAC:\s*sha256/i, 'MAC sha256');
like($info, qr/friendlyName: TDE\.KEYSTORE/, 'friendlyName TDE.KEYSTORE');
like($info, qr/Iteration 1000\b/, 'iteration count from tde.wallet_kdf_iterations');

($ok, $info) = openssl('pkcs12', '-info', '-in', $ewallet, '-passin', 'pass:not-the-password', '-nokeys');
ok(!$ok, 'openssl fails with a wrong password');

($ok, $info) = openssl('pkcs12', '-info', '-in', $backup, '-passin', "pass:$pw", '-nokeys');
ok($ok, 'openssl reads the backup with the password');

($ok, $info) = openssl('asn1parse', '-inform', 'DER', '-in', $node->basedir . '/cwallet.sso.saved');
ok($ok, 'cwallet.sso parses as DER');
like($info, qr/pkcs7-data/, 'and is a PKCS#12 structure (pkcs7-data content)');
($ok, $info) = openssl('pkcs12', '-info', '-in', $node->basedir . '/cwallet.sso.saved',
	'-passin', "pass:$pw", '-nokeys');
ok(!$ok, 'cwallet.sso does not open with the keystore password');

# --- the server reads it ----------------------------------------------------
sub try_open
{
	my ($password) = @_;
	my ($r, $o, $e) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$password')});
	if ($r == 0)
	{
		my ($r2, $o2, $e2) = tde_sql($node, qq{SELECT tde.close_keystore(password => '$password')});
		die "close failed: $e2" if $r2 != 0;
	}
	return ($r, $e);
}

sub server_alive
{
	my ($what) = @_;
	my $one = $node->safe_psql('postgres', 'SELECT 1');
	is($one, '1', "server answers after $what");
}

my ($r, $e) = try_open($pw);
is($r, 0, 'the intact wallet opens') or diag($e);
($r, $e) = try_open('wrong-password');
is(sqlstate_of($e), '28P01', 'a wrong password: 28P01');

my $good = slurp_file($ewallet);
my $len = length $good;
copy($ewallet, $node->basedir . '/ewallet.p12.good') or die "copy: $!";

for my $frac (0.1, 0.3, 0.5, 0.7, 0.9)
{
	my $off = int($len * $frac);
	my $bad = $good;
	substr($bad, $off, 1) = chr(ord(substr($bad, $off, 1)) ^ 0x5A);
	spew_file($ewallet, $bad);
	($r, $e) = try_open($pw);
	my $state = sqlstate_of($e);
	ok($r != 0 && ($state eq 'XX001' || $state eq '28P01'),
		"byte $off of $len flipped: refused with XX001 or 28P01 (got '$state')")
	  or diag($e);
	like($e, qr/is damaged|incorrect password/, "byte $off: clear message");
	server_alive("flipped byte $off");
	spew_file($ewallet, $good);
}

# The last 14 bytes are the MAC's salt and iteration count; just before them
# is the MAC value itself.  A damaged MAC cannot be told from a wrong
# password.
{
	my $off = $len - 20;
	my $bad = $good;
	substr($bad, $off, 1) = chr(ord(substr($bad, $off, 1)) ^ 0x5A);
	spew_file($ewallet, $bad);
	($r, $e) = try_open($pw);
	my $state = sqlstate_of($e);
	ok($state eq '28P01' || $state eq 'XX001',
		"byte $off (in the MAC) flipped: refused with 28P01 or XX001 (got '$state')")
	  or diag($e);
	server_alive("flipped MAC byte $off");
	spew_file($ewallet, $good);
}

spew_file($ewallet, substr($good, 0, int($len / 2)));
($r, $e) = try_open($pw);
is(sqlstate_of($e), 'XX001', 'wallet truncated to half: XX001');
like($e, qr/keystore file ".*ewallet\.p12" is damaged/, 'reported as damaged');
server_alive('truncated wallet');

spew_file($ewallet, '');
($r, $e) = try_open($pw);
is(sqlstate_of($e), 'XX001', 'empty wallet: XX001');
server_alive('empty wallet');

spew_file($ewallet, "this is not a wallet\n" x 20);
($r, $e) = try_open($pw);
is(sqlstate_of($e), 'XX001', 'text file: XX001');

# A damaged auto-login wallet is reported as a warning on first use, and
# the view still answers.
spew_file($ewallet, $good);
my $sso = slurp_file($node->basedir . '/cwallet.sso.saved');
{
	my $bad = $sso;
	substr($bad, int(length($bad) / 2), 1) = chr(ord(substr($bad, int(length($bad) / 2), 1)) ^ 0x5A);
	spew_file($cwallet, $bad);
	my ($st, $warn) = wallet_status($node);
	is($st, 'CLOSED|UNKNOWN', 'damaged cwallet.sso: keystore stays CLOSED');
	like($warn, qr/WARNING:\s+(XX001|28P01):/, 'with a warning');
	unlink $cwallet;
}

# Restoring the original file makes it open again.
copy($node->basedir . '/ewallet.p12.good', $ewallet) or die "copy: $!";
($r, $e) = try_open($pw);
is($r, 0, 'the restored wallet opens again') or diag($e);

ok(!$node->log_contains('terminated by signal'), 'no backend crashed');
ok(!$node->log_contains('server process .* was terminated'), 'no server process terminated');
$node->stop;
done_testing();
