# A LOCAL auto-login keystore is bound to the host (host name, machine id,
# the server's OS user).  Another host is simulated by starting the same
# data directory in a new UTS namespace with another host name and the same
# uid (nested user namespaces, no privilege needed): the local wallet must
# refuse to open there, a plain auto-login wallet must open.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $other_host = 'tde-otherhost';
my ($uid, $gid) = ($<, (split ' ', $()[0]);

# Run a command as the same uid/gid but with host name $other_host.
sub other_host_cmd
{
	my @cmd = @_;
	return (
		'unshare', '-Ur', '-u', 'sh', '-c',
		qq{hostname $other_host && exec unshare -U --map-user=$uid --map-group=$gid "\$@"},
		'sh', @cmd);
}

# Is it possible here?
{
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ other_host_cmd('sh', '-c', 'hostname; id -u') ],
			'>', \$out, '2>', \$err);
	};
	if (!$ok || $out ne "$other_host\n$uid\n")
	{
		$err =~ s/\s+$//;
		plan skip_all =>
		  "unprivileged user and UTS namespaces are not available here (unshare: $err)";
	}
}

my $pw = 'Local_Pw1';
my $node = tde_new_node('localhost_binding');
my $datadir = $node->data_dir;
my $hostname = `hostname`;
chomp $hostname;
isnt($hostname, $other_host, "this host is not called $other_host");

# Start the stopped node under the other host name.
sub start_on_other_host
{
	my ($out, $err) = ('', '');
	local %ENV = %ENV;
	delete $ENV{PGAPPNAME};
	my $ok = IPC::Run::run(
		[
			other_host_cmd(
				'pg_ctl', '-w', '-D', $datadir, '-l', $node->logfile,
				'-o', '--cluster-name=' . $node->name, 'start')
		],
		'>', \$out, '2>', \$err);
	die "pg_ctl start on the other host failed: $out $err" unless $ok;
	# Tell the Cluster object about the running postmaster.
	$node->_update_pid(1);
	return;
}

sub server_hostname
{
	my $h = $node->safe_psql('postgres',
		q{SELECT pg_read_file('/proc/sys/kernel/hostname')});
	$h =~ s/\s+$//;
	return $h;
}

sub postmaster_uid
{
	my $pid = postmaster_pid($node);
	open(my $fh, '<', "/proc/$pid/status") or die "status of $pid: $!";
	while (<$fh>)
	{
		return (split)[1] if /^Uid:/;
	}
	return -1;
}

my ($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.create_keystore(password => '$pw')});
is($ret, 0, 'create the password keystore') or diag($err);
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'create the local auto-login keystore') or diag($err);

$node->restart;
is(server_hostname(), $hostname, 'server runs on the real host name');
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|LOCAL_AUTOLOGIN',
	'local auto-login keystore opens on its own host');

# --- the other host -----------------------------------------------------
$node->stop;
start_on_other_host();
is(server_hostname(), $other_host, "server now sees host name $other_host");
is(postmaster_uid(), $uid, 'with the same OS uid');

my ($st, $warn) = wallet_status($node);
is($st, 'CLOSED|UNKNOWN', 'local auto-login keystore stays CLOSED on another host');
like($warn, qr/WARNING:\s+28000: local auto-login keystore ".*cwallet\.sso" cannot be opened on this host/,
	'with a WARNING (28000) saying it cannot be opened on this host');
ok(!$node->log_contains('terminated by signal'), 'no crash');

# The password keystore still opens there with its password.
($ret, $out, $err) = tde_sql($node, qq{SELECT tde.open_keystore(password => '$pw')});
is($ret, 0, 'the password keystore opens on the other host') or diag($err);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'PASSWORD open there');
$node->stop;

# --- back home ----------------------------------------------------------
$node->start;
is(server_hostname(), $hostname, 'back on the real host name');
($st, $warn) = wallet_status($node);
is($st, 'OPEN_NO_MASTER_KEY|LOCAL_AUTOLOGIN', 'local auto-login keystore opens again at home');
unlike($warn, qr/WARNING/, 'without a warning');

# A local wallet made on the other host does not open here.
$node->stop;
start_on_other_host();
unlink cwallet_path($node) or die "unlink: $!";
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.create_auto_login_keystore(password => '$pw', local => true)});
is($ret, 0, 'create a local auto-login keystore on the other host') or diag($err);
$node->stop;
start_on_other_host();
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|LOCAL_AUTOLOGIN',
	'it opens on the other host');
$node->stop;
$node->start;
($st, $warn) = wallet_status($node);
is($st, 'CLOSED|UNKNOWN', 'but not on the real host');
like($warn, qr/cannot be opened on this host/, 'with the warning');

# --- a plain auto-login wallet is not bound to the host ------------------
unlink cwallet_path($node) or die "unlink: $!";
($ret, $out, $err) = tde_sql($node,
	qq{SELECT tde.administer_key_management('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')});
is($ret, 0, 'create a (non-local) auto-login keystore') or diag($err);
$node->stop;
start_on_other_host();
is(server_hostname(), $other_host, "running as $other_host again");
($st, $warn) = wallet_status($node);
is($st, 'OPEN_NO_MASTER_KEY|AUTOLOGIN', 'a plain auto-login keystore opens on another host');
unlike($warn, qr/WARNING/, 'without a warning');
$node->stop;
$node->start;
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|AUTOLOGIN', 'and at home');

ok(!$node->log_contains('terminated by signal'), 'no backend crashed');
$node->stop;
done_testing();
