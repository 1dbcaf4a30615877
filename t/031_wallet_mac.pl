# A damaged MAC is a damaged file, not a wrong password.  The PKCS#12 MAC
# is keyed by the password, so a byte flipped in its MacData (the digest or
# the salt) made the right password look wrong (28P01, or 28000 "other
# host" for a local auto-login wallet).  Now the encrypted part, intact by
# its digest, decides: with the right password it decrypts, and the file
# is reported damaged (XX001); a wrong password is still 28P01, whether
# the MAC is intact or not.  The MacData is located with openssl asn1parse.

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

my $pw = 'Mac_Pw-1';
my $node = tde_new_node('wallet_mac');
my $ewallet = ewallet_path($node);
my $cwallet = cwallet_path($node);

# Offsets of the first content byte of the MAC digest and of the MAC salt:
# MacData is the last SEQUENCE at depth 1 of the PFX; in it the digest is
# the OCTET STRING at depth 3 (in DigestInfo), the salt the OCTET STRING at
# depth 2.
sub mac_offsets
{
	my ($path) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 'asn1parse', '-inform', 'DER', '-in', $path ],
		'>', \$out, '2>', \$err)
	  or die "openssl asn1parse $path: $err";
	my @lines = map { [/^\s*(\d+):d=(\d+)\s+hl=\s*(\d+)\s+l=\s*(\d+)\s+(\w+):\s*(\S+(?: \S+)?)/] }
	  split /\n/, $out;
	my $macdata;
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		next unless @$l;
		$macdata = $i if $l->[1] == 1 && $l->[5] eq 'SEQUENCE';
	}
	die "no MacData in $path" unless defined $macdata;
	my ($digest, $salt);
	for my $i ($macdata + 1 .. $#lines)
	{
		my $l = $lines[$i];
		next unless @$l && $l->[5] eq 'OCTET STRING';
		$digest = $l->[0] + $l->[2] if $l->[1] == 3 && !defined $digest;
		$salt = $l->[0] + $l->[2] if $l->[1] == 2 && !defined $salt;
	}
	die "no MAC digest or salt in $path:\n$out" unless defined $digest && defined $salt;
	return (digest => $digest, salt => $salt);
}

# A copy of $data with the byte at $offset flipped
sub flipped
{
	my ($data, $offset) = @_;
	substr($data, $offset, 1) = chr(ord(substr($data, $offset, 1)) ^ 0x5a);
	return $data;
}

sub open_with
{
	my ($password) = @_;
	return akm($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$password"});
}

# Close the keystore if it is open (an auto-login wallet opens by itself).
sub close_keystore
{
	return unless wallet_status($node) =~ /^OPEN/;
	my ($ret, $out, $err) = akm($node, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"});
	is($ret, 0, 'close the keystore') or diag($err);
}

# --- the password wallet -------------------------------------------------
my ($ret, $out, $err) = akm($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"});
is($ret, 0, 'CREATE KEYSTORE') or diag($err);
($ret, $out, $err) = open_with($pw);
is($ret, 0, 'open') or diag($err);
tde_sql_ok($node, qq{SELECT tde.set_key(password => '$pw', with_backup => true)}, 'SET KEY');
close_keystore();

my $pristine = slurp_file($ewallet);
my %off = mac_offsets($ewallet);
ok($off{digest} > 0 && $off{salt} > 0 && $off{digest} < length($pristine),
	'openssl asn1parse locates the MAC digest and salt');

($ret, $out, $err) = open_with('not-the-password');
is(sqlstate_of($err), '28P01', 'intact wallet, wrong password: 28P01') or diag($err);

for my $field ('digest', 'salt')
{
	spew_file($ewallet, flipped($pristine, $off{$field}));
	($ret, $out, $err) = open_with($pw);
	isnt($ret, 0, "MAC $field flipped, right password: refused");
	is(sqlstate_of($err), 'XX001', "MAC $field flipped, right password: XX001 data_corrupted")
	  or diag($err);
	like($err, qr/is damaged/, "MAC $field flipped: the message says damaged");
	is(wallet_status($node), 'CLOSED|UNKNOWN', "MAC $field flipped: the keystore stays closed");
	($ret, $out, $err) = open_with('not-the-password');
	is(sqlstate_of($err), '28P01', "MAC $field flipped, wrong password: still 28P01")
	  or diag($err);
}

spew_file($ewallet, $pristine);
($ret, $out, $err) = open_with($pw);
is($ret, 0, 'the restored wallet opens with the password') or diag($err);

# --- auto-login wallets ----------------------------------------------------
for my $local (0, 1)
{
	my $what = $local ? 'LOCAL AUTO_LOGIN' : 'AUTO_LOGIN';
	($ret, $out, $err) =
	  akm($node, qq{CREATE $what KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"});
	is($ret, 0, "CREATE $what KEYSTORE") or diag($err);
	my $sso = slurp_file($cwallet);
	my %o = mac_offsets($cwallet);
	for my $field ('digest', 'salt')
	{
		close_keystore();
		spew_file($cwallet, flipped($sso, $o{$field}));
		my ($status, $stderr) = wallet_status($node);
		like($stderr, qr/(?:WARNING|ERROR):\s+XX001:.*is damaged/,
			"$what, MAC $field flipped: opening it reports XX001 damaged")
		  or diag($stderr);
		unlike($stderr, qr/28P01|28000/, "$what, MAC $field flipped: not a password or host error");
		like($status, qr/^CLOSED\|/, "$what, MAC $field flipped: the keystore stays closed");
	}
	spew_file($cwallet, $sso);
	my ($status, $stderr) = wallet_status($node);
	like($status, qr/^OPEN\|/, "$what: the restored cwallet.sso opens") or diag($stderr);
	unlink $cwallet or die "unlink: $!";
}

$node->stop;
done_testing();
