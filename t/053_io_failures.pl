# Injected I/O failures (issue 11, item 3), the keystore and its keys: every
# statement that writes a keystore file, with the k-th open, write, fsync
# or rename under the wallet root failing with ENOSPC or EIO (the shim
# test/faultfs.c; see t/lib/TdeIoFault.pm for what each point checks).  A
# statement that fails gives 53100 or 58030 and changes no file and no
# state; one that succeeds after its point of no return says so in a
# WARNING; with no fault left it succeeds.  Export, import, merge and move
# are in t/053_io_failures_transfer.pl, the HSM in t/053_io_failures_hsm.pl.

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

my ($pw, $pw2, $side_pw) = ('Io_Wallet_Pw1', 'Io_Wallet_Pw2', 'Io_Side_Pw3');
my ($secret1, $secret2, $pin) = ('Io_Client_Secret4', 'Io_Client_Secret5', 'Io_Hsm_Pin6');

my $ctx = io_fault_node('io_failures');
my $node = $ctx->{node};
my $root = $ctx->{root};
my $dir = wallet_dir($node);
my $seps = "$root/tde_seps";
push @{ $ctx->{secrets} }, $pw, $pw2, $side_pw, $secret1, $secret2, $pin;

# The directories exist before: creating one is no file I/O of the shim's
# kinds, and a statement that fails leaves a directory it made (see
# doc/reliability.md).
make_path($dir, $seps, "$root/side", "$root/secrets", "$ctx->{outside}/backups",
	{ mode => 0700 });

sub akm_ok { return io_akm_ok($ctx, @_); }

# Make sure a client has a secret, whatever an earlier point left: delete
# it (an error if it has none), then add it.
sub fresh_secret
{
	my ($delete, $add, $name) = @_;
	io_sql($ctx, akm_sql($delete));
	return akm_ok($add, $name);
}

# --- creating the keystore ------------------------------------------------

io_walk($ctx,
	name => 'CREATE KEYSTORE',
	sql => akm_sql(qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}),
	prep => sub { unlink "$dir/ewallet.p12" });
ok(-f "$dir/ewallet.p12", 'the keystore exists after the walk');

akm_ok(qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open the keystore');
my ($k1) = io_sql($ctx,
	qq{SELECT tde.set_key(tag => 'k1', password => '$pw', with_backup => true)});
my ($k2) = io_sql($ctx,
	qq{SELECT tde.create_key(tag => 'k2', password => '$pw', with_backup => true)});
like("$k1 $k2", qr/^\S{52} \S{52}$/, 'two master keys');
io_sql_ok($ctx, q{CREATE TABLE t (id int, ct bytea);
INSERT INTO t VALUES (1, tde.encrypt('t', 'row one'))}, 'a relation key and a row');

io_walk($ctx,
	name => 'CREATE KEYSTORE (another location)',
	sql => akm_sql(qq{CREATE KEYSTORE '$root/side' IDENTIFIED BY "$side_pw"}),
	undo => sub { unlink "$root/side/ewallet.p12" });

io_walk($ctx,
	name => 'CREATE LOCAL AUTO_LOGIN KEYSTORE',
	sql => akm_sql(qq{CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"}));
io_walk($ctx,
	name => 'CREATE AUTO_LOGIN KEYSTORE',
	sql => akm_sql(qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"}));
ok(-f "$dir/cwallet.sso", 'the auto-login wallet exists: changes rewrite it from here on');

# --- the password and backups ---------------------------------------------

io_walk($ctx,
	name => 'ALTER KEYSTORE PASSWORD WITH BACKUP',
	sql => akm_sql(qq{ALTER KEYSTORE PASSWORD IDENTIFIED BY "$pw" SET "$pw2" WITH BACKUP USING 'pw'}),
	undo => sub {
		akm_ok(qq{ALTER KEYSTORE PASSWORD IDENTIFIED BY "$pw2" SET "$pw" WITH BACKUP},
			'ALTER KEYSTORE PASSWORD back');
	});

# With a key not backed up, BACKUP KEYSTORE writes the backup, the wallet
# and its auto-login copy; with every key backed up, the backup alone.
my $unmarked = sub {
	io_sql($ctx, akm_sql(qq{CREATE KEY USING TAG 'unmarked' IDENTIFIED BY "$pw" WITH BACKUP}));
};
io_walk($ctx,
	name => 'BACKUP KEYSTORE (marks keys)',
	sql => akm_sql(qq{BACKUP KEYSTORE USING 'bk' IDENTIFIED BY "$pw"}),
	prep => $unmarked);
io_walk($ctx,
	name => 'BACKUP KEYSTORE (a copy)',
	sql => akm_sql(qq{BACKUP KEYSTORE USING 'copy' IDENTIFIED BY "$pw"}),
	prep => sub { io_sql($ctx, akm_sql(qq{BACKUP KEYSTORE IDENTIFIED BY "$pw"})) });
io_walk($ctx,
	name => 'BACKUP KEYSTORE TO (outside the wallet root)',
	sql => akm_sql(qq{BACKUP KEYSTORE USING 'out' IDENTIFIED BY "$pw" TO '$ctx->{outside}/backups'}),
	prep => $unmarked);

# --- master keys ----------------------------------------------------------

io_walk($ctx,
	name => 'SET KEY WITH BACKUP',
	sql => akm_sql(qq{SET KEY USING TAG 'rekey' IDENTIFIED BY "$pw" WITH BACKUP USING 'sk'}));
io_walk($ctx,
	name => 'CREATE KEY WITH BACKUP',
	sql => akm_sql(qq{CREATE KEY USING TAG 'spare' IDENTIFIED BY "$pw" WITH BACKUP}));
io_walk($ctx,
	name => 'USE KEY WITH BACKUP',
	sql => akm_sql(qq{USE KEY '$k2' USING TAG 'used' IDENTIFIED BY "$pw" WITH BACKUP}));
io_walk($ctx,
	name => 'SET TAG WITH BACKUP',
	sql => akm_sql(qq{SET TAG 'retagged' FOR '$k1' IDENTIFIED BY "$pw" WITH BACKUP}));

# --- client secrets in the wallet -----------------------------------------

io_walk($ctx,
	name => 'ADD SECRET IDENTIFIED BY',
	sql => akm_sql(qq{ADD SECRET '$secret1' FOR CLIENT 'IO_ADDED' USING TAG 'io'
IDENTIFIED BY "$pw" WITH BACKUP}),
	undo => sub {
		akm_ok(qq{DELETE SECRET FOR CLIENT 'IO_ADDED' IDENTIFIED BY "$pw" WITH BACKUP},
			'delete the added secret');
	});
my $have_kept = sub {
	fresh_secret(qq{DELETE SECRET FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pw" WITH BACKUP},
		qq{ADD SECRET '$secret1' FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pw" WITH BACKUP},
		'a secret to update and delete');
};
$have_kept->();
io_walk($ctx,
	name => 'UPDATE SECRET IDENTIFIED BY',
	sql => akm_sql(qq{UPDATE SECRET '$secret2' FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pw" WITH BACKUP}));
io_walk($ctx,
	name => 'DELETE SECRET IDENTIFIED BY',
	sql => akm_sql(qq{DELETE SECRET FOR CLIENT 'IO_KEPT' IDENTIFIED BY "$pw" WITH BACKUP}),
	prep => $have_kept);

# --- the external store ---------------------------------------------------

io_walk($ctx,
	name => 'ADD SECRET TO AUTO_LOGIN KEYSTORE (external store, new)',
	sql => akm_sql(qq{ADD SECRET '$pw' FOR CLIENT 'TDE_WALLET' TO AUTO_LOGIN KEYSTORE '$seps'}),
	prep => sub { unlink "$seps/cwallet.sso" });
io_walk($ctx,
	name => 'UPDATE SECRET TO LOCAL AUTO_LOGIN KEYSTORE (external store)',
	sql => akm_sql(qq{UPDATE SECRET '$pw' FOR CLIENT 'TDE_WALLET' TO LOCAL AUTO_LOGIN KEYSTORE '$seps'}));
io_walk($ctx,
	name => 'DELETE SECRET FROM AUTO_LOGIN KEYSTORE (external store)',
	sql => akm_sql(qq{DELETE SECRET FOR CLIENT 'HSM_PASSWORD' FROM AUTO_LOGIN KEYSTORE '$seps'}),
	prep => sub {
		fresh_secret(qq{DELETE SECRET FOR CLIENT 'HSM_PASSWORD' FROM AUTO_LOGIN KEYSTORE '$seps'},
			qq{ADD SECRET '$pin' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '$seps'},
			'a secret to delete from the external store');
	});
io_walk($ctx,
	name => 'ADD SECRET TO AUTO_LOGIN KEYSTORE (another directory)',
	sql => akm_sql(qq{ADD SECRET '$secret1' FOR CLIENT 'IO_APP' TO AUTO_LOGIN KEYSTORE '$root/secrets'}),
	undo => sub {
		akm_ok(qq{DELETE SECRET FOR CLIENT 'IO_APP' FROM AUTO_LOGIN KEYSTORE '$root/secrets'},
			'delete the secret again');
	});

# --- after all of it ------------------------------------------------------

# The keystore still opens with its password, and the external store
# gives it; the row still decrypts.
akm_ok(qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
akm_ok(q{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE},
	'open with the password from the external store');
my ($row) = io_sql($ctx, q{SELECT tde.decrypt_text('t', ct) FROM t});
is($row, 'row one', 'the row decrypts');
is(scalar(grep { /\.tmp/ } split /\n/, io_snapshot($ctx)), 0, 'no temporary file anywhere');

io_summary($ctx);
done_testing();
