# Injected I/O failures (issue 11, item 3), keys between keystores: EXPORT
# KEYS, IMPORT KEYS, MERGE KEYSTORE into a new and into an existing
# keystore, MOVE KEYS, each under every fault point of test/faultfs.c (see
# t/lib/TdeIoFault.pm and t/053_io_failures.pl).

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

my ($pw, $exp_secret, $mv_pw) = ('Io_Wallet_Pw1', 'Io_Export_Secret2', 'Io_Moved_Pw3');
my ($merge_pw, $target_pw) = ('Io_Merged_Pw4', 'Io_Target_Pw5');

my $ctx = io_fault_node('io_transfer');
my $node = $ctx->{node};
my $root = $ctx->{root};
my $dir = wallet_dir($node);
push @{ $ctx->{secrets} }, $pw, $exp_secret, $mv_pw, $merge_pw, $target_pw;

make_path($dir, "$root/exports", { mode => 0700 });

sub akm_ok { return io_akm_ok($ctx, @_); }

# A new key, not active and wrapping nothing: one MOVE KEYS may move.
sub new_key
{
	my ($tag) = @_;
	my ($key_id, $err) = io_sql($ctx,
		qq{SELECT tde.create_key(tag => '$tag', password => '$pw', with_backup => true)});
	die "CREATE KEY failed: $err" if $err =~ /ERROR:/;
	return $key_id;
}

# Close and open the keystore, so that what is open is the wallet's file.
sub reopen
{
	akm_ok(qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"}, 'close');
	akm_ok(qq{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY "$pw"}, 'open again');
	return;
}

# The keystore, an active key wrapping a relation key, an auto-login copy
# that every change of the wallet rewrites.
akm_ok(qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE KEYSTORE');
akm_ok(qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'open');
akm_ok(qq{SET KEY USING TAG 'k1' IDENTIFIED BY "$pw" WITH BACKUP}, 'SET KEY');
io_sql_ok($ctx, q{CREATE TABLE t (id int, ct bytea);
INSERT INTO t VALUES (1, tde.encrypt('t', 'row one'))}, 'a relation key and a row');
akm_ok(qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"}, 'CREATE AUTO_LOGIN KEYSTORE');

# --- EXPORT KEYS ------------------------------------------------------------

# An export never overwrites a file: each success takes the next name.
my $nexport = 0;
io_walk($ctx,
	name => 'EXPORT KEYS',
	sql => sub {
		akm_sql(qq{EXPORT KEYS WITH SECRET "$exp_secret" TO '$root/exports/all_$nexport.exp'
IDENTIFIED BY "$pw"});
	},
	undo => sub { $nexport++ });

# --- IMPORT KEYS ------------------------------------------------------------

# A key the wallet no longer holds, in an export file: exported, then
# moved out.  Each success is undone by putting the files back.
my $kimp = new_key('imported');
akm_ok(qq{EXPORT KEYS WITH SECRET "$exp_secret" TO '$root/exports/imp.exp'
IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$kimp'}, 'export the key to import');
akm_ok(qq{MOVE KEYS TO NEW KEYSTORE '$root/moved' IDENTIFIED BY "$mv_pw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$kimp' WITH BACKUP},
	'move it out of the wallet');
my $saved;
io_walk($ctx,
	name => 'IMPORT KEYS',
	sql => akm_sql(qq{IMPORT KEYS WITH SECRET "$exp_secret" FROM '$root/exports/imp.exp'
IDENTIFIED BY "$pw" WITH BACKUP USING 'imp'}),
	prep => sub { $saved = io_save_files($ctx) },
	undo => sub { io_restore_files($ctx, $saved); reopen() });

# --- MERGE KEYSTORE ---------------------------------------------------------

# Into a new keystore: a new directory for each success (made before:
# see t/053_io_failures.pl).
my $nmerge = 0;
io_walk($ctx,
	name => 'MERGE KEYSTORE INTO NEW KEYSTORE',
	sql => sub {
		akm_sql(qq{MERGE KEYSTORE '$root/moved' IDENTIFIED BY "$mv_pw"
AND KEYSTORE '$dir' IDENTIFIED BY "$pw"
INTO NEW KEYSTORE '$root/merged_$nmerge' IDENTIFIED BY "$merge_pw"});
	},
	prep => sub { make_path("$root/merged_$nmerge", { mode => 0700 }) },
	undo => sub { $nmerge++ });

# Into an existing keystore with an auto-login copy, from the server's
# auto-login wallet: the backup, the target and its copy.
akm_ok(qq{CREATE KEYSTORE '$root/target' IDENTIFIED BY "$target_pw"}, 'a target keystore');
akm_ok(qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE '$root/target' IDENTIFIED BY "$target_pw"},
	'with an auto-login copy');
io_walk($ctx,
	name => 'MERGE KEYSTORE INTO EXISTING KEYSTORE',
	sql => akm_sql(qq{MERGE KEYSTORE '$dir' INTO EXISTING KEYSTORE '$root/target'
IDENTIFIED BY "$target_pw" WITH BACKUP USING 'merge'}),
	prep => sub { $saved = io_save_files($ctx) },
	undo => sub { io_restore_files($ctx, $saved) });

# --- MOVE KEYS --------------------------------------------------------------

# A new key and a new directory for each success.
my $nmove = 0;
my $kmove;
io_walk($ctx,
	name => 'MOVE KEYS',
	sql => sub {
		akm_sql(qq{MOVE KEYS TO NEW KEYSTORE '$root/moved_$nmove' IDENTIFIED BY "$mv_pw"
FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$kmove' WITH BACKUP USING 'mv'});
	},
	prep => sub {
		$kmove = new_key("to move $nmove");
		make_path("$root/moved_$nmove", { mode => 0700 });
	},
	undo => sub { $nmove++ });

# --- after all of it --------------------------------------------------------

reopen();
my ($row) = io_sql($ctx, q{SELECT tde.decrypt_text('t', ct) FROM t});
is($row, 'row one', 'the row decrypts');
is(scalar(grep { /\.tmp/ } split /\n/, io_snapshot($ctx)), 0, 'no temporary file anywhere');

io_summary($ctx);
done_testing();
