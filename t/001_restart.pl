# Restart semantics of the keystore: a password keystore opened before a
# restart is closed after it; auto-login (and local auto-login) keystores
# open by themselves on first use; the open status is instance-wide; the
# files and directory have private modes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Restart_Pw1';
my $node = tde_new_node('restart');

is(wallet_status($node), 'NOT_AVAILABLE|UNKNOWN', 'no keystore yet: NOT_AVAILABLE');

my ($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'CREATE KEYSTORE succeeds') or diag($err);
is(wallet_status($node), 'CLOSED|UNKNOWN', 'new keystore is CLOSED');

# Directory and file modes.
is(sprintf('%04o', file_mode(wallet_dir($node))), '0700', 'tde directory has mode 0700');
is(sprintf('%04o', file_mode(ewallet_path($node))), '0600', 'ewallet.p12 has mode 0600');

($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')});
is($ret, 0, 'SET KEYSTORE OPEN succeeds') or diag($err);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'password keystore open');

# Instance-wide: another session (every psql call is a new connection) and
# another database see it open.
$node->safe_psql('postgres', 'CREATE DATABASE otherdb');
$node->safe_psql('otherdb', 'CREATE EXTENSION tde');
is(wallet_status($node, 'otherdb'), 'OPEN_NO_MASTER_KEY|PASSWORD',
	'open in another database');
is($node->safe_psql('postgres', 'SELECT status FROM v$encryption_wallet'),
	'OPEN_NO_MASTER_KEY', 'open in another session');

# The other database's session can close it, and the first sees that.
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.close_keystore(password => '$pw')}, 'otherdb');
is($ret, 0, 'close from the other database') or diag($err);
is(wallet_status($node), 'CLOSED|UNKNOWN', 'closed for the first database too');
($ret, $out, $err) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$pw')}, 'otherdb');
is($ret, 0, 'open again from the other database') or diag($err);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'open seen from postgres');

# A restart closes a password keystore.
$node->restart;
is(wallet_status($node), 'CLOSED|UNKNOWN', 'password keystore CLOSED after restart');
is(wallet_status($node, 'otherdb'), 'CLOSED|UNKNOWN', 'and closed in the other database');

# Auto-login keystore: opens by itself on first use after a restart.
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'CREATE AUTO_LOGIN KEYSTORE succeeds') or diag($err);
ok(-f cwallet_path($node), 'cwallet.sso exists');
is(sprintf('%04o', file_mode(cwallet_path($node))), '0600', 'cwallet.sso has mode 0600');

$node->restart;
my ($st, $warn) = wallet_status($node);
is($st, 'OPEN_NO_MASTER_KEY|AUTOLOGIN', 'auto-login keystore opens on first use after restart');
unlike($warn, qr/WARNING/, 'no warning while opening it');
is(wallet_status($node, 'otherdb'), 'OPEN_NO_MASTER_KEY|AUTOLOGIN',
	'auto-login keystore open in the other database too');

# With the auto-login keystore open, opening the password keystore needs
# FORCE KEYSTORE.
($ret, $out, $err) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$pw')});
is(sqlstate_of($err), '55000', 'open over auto-login without FORCE: 55000');
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.open_keystore(password => '$pw', force_keystore => true)});
is($ret, 0, 'FORCE KEYSTORE opens the password keystore') or diag($err);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'password keystore open now');

# The first use in another database after a restart opens it as well.
$node->restart;
is(wallet_status($node, 'otherdb'), 'OPEN_NO_MASTER_KEY|AUTOLOGIN',
	'first use in the other database opens the auto-login keystore');
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|AUTOLOGIN', 'seen from postgres');

# Local auto-login keystore.
unlink cwallet_path($node) or die "unlink: $!";
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'CREATE LOCAL AUTO_LOGIN KEYSTORE succeeds') or diag($err);
is(sprintf('%04o', file_mode(cwallet_path($node))), '0600', 'local cwallet.sso has mode 0600');

$node->restart;
($st, $warn) = wallet_status($node);
is($st, 'OPEN_NO_MASTER_KEY|LOCAL_AUTOLOGIN',
	'local auto-login keystore opens on first use after restart');
unlike($warn, qr/WARNING/, 'no warning on the same host');

# Closing an auto-login keystore needs no password.
($ret, $out, $err) = tde_sql($node, 'SELECT tde.close_keystore()');
is($ret, 0, 'close the local auto-login keystore') or diag($err);

# Without the auto-login file, a restart leaves the keystore CLOSED.
unlink cwallet_path($node) or die "unlink: $!";
$node->restart;
is(wallet_status($node), 'CLOSED|UNKNOWN', 'no auto-login file: CLOSED after restart');

# Modes after all these writes.
is(sprintf('%04o', file_mode(wallet_dir($node))), '0700', 'tde directory still 0700');
is(sprintf('%04o', file_mode(ewallet_path($node))), '0600', 'ewallet.p12 still 0600');
my @stray = glob(wallet_dir($node) . '/*.tmp.*');
is(scalar @stray, 0, 'no temporary files left in the wallet directory');

$node->stop;
done_testing();
