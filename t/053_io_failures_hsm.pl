# Injected I/O failures (issue 11, item 3), with an HSM (SoftHSM2): MIGRATE
# WITH BACKUP, the changes of HSM master keys and of client secrets sealed
# by the HSM (each rewrites tde/hsm_keys.sso), and REVERSE MIGRATE WITH
# BACKUP, each under every fault point of test/faultfs.c (see
# t/lib/TdeIoFault.pm and t/053_io_failures.pl).  The token's own files
# are not under the shim's directories: only tde's files fail.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;
use TdeIoFault;

if (my $why = softhsm_missing())
{
	tde_skip_all($why, hsm => 1);
}

my $pin = $TdeTest::HSM_PIN;
my ($pw, $secret1, $secret2) = ('Io_Wallet_Pw1', 'Io_Sealed_Secret2', 'Io_Sealed_Secret3');

my $ctx = io_fault_node('io_hsm');
my $node = $ctx->{node};
my $dir = wallet_dir($node);
push @{ $ctx->{secrets} }, $pin, $pw, $secret1, $secret2;
make_path($dir, { mode => 0700 });
softhsm_setup($node, restart => 0);
io_restart($ctx);

sub akm_ok { return io_akm_ok($ctx, @_); }

# Change tde.keystore_configuration and wait until the session sees it.
sub configure
{
	my ($value) = @_;
	tde_reload_with($node, 'tde.keystore_configuration', $value);
	ok( tde_wait_until(
			sub { (io_sql($ctx, 'SHOW tde.keystore_configuration'))[0] eq $value }),
		"the session sees $value");
	return;
}

# A file keystore with an active key wrapping a relation key.
akm_ok(qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE KEYSTORE');
akm_ok(qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open');
akm_ok(qq{SET KEY USING TAG 'file k1' IDENTIFIED BY "$pw" WITH BACKUP}, 'SET KEY');
io_sql_ok($ctx, q{CREATE TABLE t (id int, ct bytea);
INSERT INTO t VALUES (1, tde.encrypt('t', 'row one'))}, 'a relation key and a row');

# --- HSM|FILE: MIGRATE and the HSM's keys -----------------------------------

configure('HSM|FILE');
io_walk($ctx,
	name => 'MIGRATE WITH BACKUP',
	sql => akm_sql(qq{SET ENCRYPTION KEY USING TAG 'migrated' IDENTIFIED BY "$pin"
MIGRATE USING "$pw" WITH BACKUP USING 'mig'}));
my ($wallets) = io_sql($ctx,
	q{SELECT string_agg(wrl_type || ' ' || status || ' ' || wallet_order, ', ' ORDER BY wallet_order)
	  FROM v$encryption_wallet});
is($wallets, 'HSM OPEN PRIMARY, FILE OPEN SECONDARY', 'the HSM is the primary keystore');

io_walk($ctx,
	name => 'SET KEY (HSM)',
	sql => akm_sql(qq{SET KEY USING TAG 'hsm rekey' IDENTIFIED BY "$pin"}));
my ($hk) = io_sql($ctx,
	qq{SELECT tde.create_key(tag => 'hsm spare', password => '$pin')});
io_walk($ctx,
	name => 'CREATE KEY (HSM)',
	sql => akm_sql(qq{CREATE KEY USING TAG 'hsm created' IDENTIFIED BY "$pin"}));
io_walk($ctx,
	name => 'USE KEY (HSM)',
	sql => akm_sql(qq{USE KEY '$hk' IDENTIFIED BY "$pin"}));
io_walk($ctx,
	name => 'SET TAG (HSM)',
	sql => akm_sql(qq{SET TAG 'hsm retagged' FOR '$hk' IDENTIFIED BY "$pin"}));

# Client secrets sealed by the HSM's active key, kept in hsm_keys.sso.
io_walk($ctx,
	name => 'ADD SECRET (HSM)',
	sql => akm_sql(qq{ADD SECRET '$secret1' FOR CLIENT 'IO_ADDED' IDENTIFIED BY "$pin"}),
	undo => sub {
		akm_ok(qq{DELETE SECRET FOR CLIENT 'IO_ADDED' IDENTIFIED BY "$pin"},
			'delete the added secret');
	});
# whatever an earlier point left: delete (an error if absent), then add
my $have_kept = sub {
	io_sql($ctx, akm_sql(qq{DELETE SECRET FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pin"}));
	akm_ok(qq{ADD SECRET '$secret1' FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pin"},
		'a secret to update and delete');
};
$have_kept->();
io_walk($ctx,
	name => 'UPDATE SECRET (HSM)',
	sql => akm_sql(qq{UPDATE SECRET '$secret2' FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pin"}));
io_walk($ctx,
	name => 'DELETE SECRET (HSM)',
	sql => akm_sql(qq{DELETE SECRET FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pin"}),
	prep => $have_kept);

# --- FILE|HSM: REVERSE MIGRATE -----------------------------------------------

configure('FILE|HSM');
io_walk($ctx,
	name => 'REVERSE MIGRATE WITH BACKUP',
	sql => akm_sql(qq{SET ENCRYPTION KEY USING TAG 'back' IDENTIFIED BY "$pw"
REVERSE MIGRATE USING "$pin" WITH BACKUP USING 'rev'}));
($wallets) = io_sql($ctx,
	q{SELECT string_agg(wrl_type || ' ' || status || ' ' || wallet_order, ', ' ORDER BY wallet_order)
	  FROM v$encryption_wallet});
is($wallets, 'FILE OPEN PRIMARY, HSM OPEN SECONDARY', 'the wallet is the primary keystore again');

my ($row) = io_sql($ctx, q{SELECT tde.decrypt_text('t', ct) FROM t});
is($row, 'row one', 'the row decrypts');
is(scalar(grep { /\.tmp/ } split /\n/, io_snapshot($ctx)), 0, 'no temporary file anywhere');

io_summary($ctx);
done_testing();
