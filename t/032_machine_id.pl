# A LOCAL auto-login keystore is bound to the host name, /etc/machine-id
# and the server's OS user.  Without a machine id the binding is weaker
# (host name and user only), which used to happen silently.  Now each
# process that creates or opens a local auto-login wallet without a machine
# id says so once, in a WARNING with a hint.  A host without
# /etc/machine-id is simulated by starting the server in a user and mount
# namespace (no privilege needed) where an empty file is bind-mounted over
# it, with the same uid and host name.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $empty = PostgreSQL::Test::Utils::tempdir() . '/machine-id';
open(my $fh, '>', $empty) or die "create $empty: $!";
close $fh;

# Run a command as the same uid, with an empty /etc/machine-id.
sub no_machine_id_cmd
{
	return (
		'unshare', '-U', '-m', '--map-current-user', '--keep-caps', 'sh', '-c',
		'mount --bind "$0" /etc/machine-id && exec "$@"', $empty, @_);
}

# Is it possible here?
{
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ no_machine_id_cmd('sh', '-c', 'wc -c < /etc/machine-id; id -u') ],
			'>', \$out, '2>', \$err);
	};
	if (!$ok || $out !~ /^\s*0\n$<\n\z/)
	{
		$err =~ s/\s+$//;
		plan skip_all =>
		  "unprivileged user and mount namespaces are not available here (unshare: $err)";
	}
}
ok(-s '/etc/machine-id', 'this host has a machine id');

my $pw = 'Machine_Pw1';
my $warning = qr/WARNING:\s+58P01: local auto-login keystore is not bound to a machine id/;
my $node = tde_new_node('machine_id');

sub start_without_machine_id
{
	my ($out, $err) = ('', '');
	local %ENV = %ENV;
	delete $ENV{PGAPPNAME};
	my $ok = IPC::Run::run(
		[
			no_machine_id_cmd(
				'pg_ctl', '-w', '-D', $node->data_dir, '-l', $node->logfile,
				'-o', '--cluster-name=' . $node->name, 'start')
		],
		'>', \$out, '2>', \$err);
	die "pg_ctl start without a machine id failed: $out $err" unless $ok;
	$node->_update_pid(1);
	return;
}

sub server_machine_id_size
{
	return $node->safe_psql('postgres',
		q{SELECT length(pg_read_file('/etc/machine-id'))});
}

my ($ret, $out, $err) = tde_sql($node, qq{SELECT tde.create_keystore(password => '$pw')});
is($ret, 0, 'create the password keystore') or diag($err);
($ret, $out, $err) = akm($node, qq{CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"});
is($ret, 0, 'create a local auto-login keystore with a machine id') or diag($err);
unlike($err, $warning, 'with a machine id: no warning');

# --- without a machine id: opening the wallet made with one -------------
$node->stop;
start_without_machine_id();
is(server_machine_id_size(), '0', 'the server sees an empty /etc/machine-id');
my $s = tde_session($node);
my ($o1, $e1) = session_sql($s, 'SELECT status FROM v$encryption_wallet');
like($e1, $warning, 'opening a local auto-login wallet without a machine id: WARNING');
like($e1, qr/DETAIL:.*host name and the operating system user only/,
	'the detail says what the binding is reduced to');
like($e1, qr/HINT:.*systemd-machine-id-setup.*CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE/,
	'the hint says how to bind it again');
is($o1, 'CLOSED', 'the wallet bound to the machine id does not open without it');
my ($o2, $e2) = session_sql($s, 'SELECT status FROM v$encryption_wallet');
unlike($e2, $warning, 'the warning comes once per process');
session_close($s);

# --- without a machine id: creating one -----------------------------------
unlink cwallet_path($node) or die "unlink: $!";
($ret, $out, $err) = akm($node, qq{CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"});
is($ret, 0, 'create a local auto-login keystore without a machine id') or diag($err);
like($err, $warning, 'creating a local auto-login wallet without a machine id: WARNING');
my @n = ($err =~ /$warning/g);
is(scalar @n, 1, 'exactly one warning for the statement');

# it opens after a restart there, with the warning again
$node->stop;
start_without_machine_id();
my ($st, $e3) = wallet_status($node);
like($st, qr/^OPEN\w*\|LOCAL_AUTOLOGIN$/, 'the wallet made without a machine id opens without it')
  or diag($e3);
like($e3, $warning, 'and opening it warns');

# --- with the machine id back, the wallet made without it does not open ---
$node->stop;
$node->start;
isnt(server_machine_id_size(), '0', 'the server sees the machine id again');
my $e4;
($st, $e4) = wallet_status($node);
like($st, qr/^CLOSED\|/, 'a wallet made without the machine id does not open with it')
  or diag($e4);
unlike($e4, $warning, 'with a machine id: no warning');

$node->stop;
done_testing();
