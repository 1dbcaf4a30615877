# A statement that fails changes nothing (DESIGN §8): every operation that
# writes several files (the password wallet, its auto-login copy, a backup)
# prepares all of them before it replaces any.  Each file is made
# unreadable or unwritable in turn; the statement fails with a clear error
# and every file, the open keys and the active key are as they were, also
# after a restart.  And ALTER KEYSTORE PASSWORD ... WITH BACKUP counts as a
# backup (spec 001 §4.1.6).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use Digest::SHA qw(sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my $pw = 'Atomic_Pw1';
my $node = tde_new_node('wallet_atomic');
my $dir = wallet_dir($node);
my $backups = $node->basedir . '/backups';
mkdir $backups, 0700;


# Every file of the wallet directory and the backup directory, with a
# digest of its contents; and what the server shows of the keys.
sub snapshot
{
	my @lines;
	for my $d ($dir, $backups)
	{
		opendir(my $dh, $d) or die "$d: $!";
		for my $f (sort grep { !/^\.\.?$/ } readdir $dh)
		{
			my $p = "$d/$f";
			chmod 0600, $p if -f $p;
			open(my $fh, '<:raw', $p) or die "$p: $!";
			local $/;
			my $data = <$fh>;
			close $fh;
			push @lines, "$p " . sha256_hex($data);
		}
		closedir $dh;
	}
	push @lines,
	  $node->safe_psql('postgres',
		q{SELECT string_agg(key_id || ' ' || coalesce(tag, '') || ' ' ||
		                    (activation_time IS NOT NULL) || ' ' || backed_up, E'\n' ORDER BY key_id)
		  FROM "v$encryption_keys"});
	push @lines,
	  $node->safe_psql('postgres',
		q{SELECT status || ' ' || fully_backed_up FROM "v$encryption_wallet" WHERE wallet_order = 'SINGLE' OR wallet_order = 'PRIMARY'});
	return join("\n", @lines);
}

tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE KEYSTORE');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pw"')},
	'SET KEYSTORE OPEN');
my $k1 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'k1', password => '$pw', with_backup => true)},
	'SET KEY');
my $k2 = tde_sql_ok($node, qq{SELECT tde.create_key(tag => 'k2', password => '$pw', with_backup => true)},
	'CREATE KEY (inactive)');
tde_sql_ok($node, qq{SELECT tde.administer_key_management('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"')},
	'CREATE AUTO_LOGIN KEYSTORE');
tde_sql_ok($node, q{CREATE TABLE t (c bytea); INSERT INTO t VALUES (tde.encrypt('t', 'row one'))},
	'encrypt a row');
ok(-f cwallet_path($node), 'cwallet.sso exists');

# Each operation that writes several files, as Oracle writes it.
my @ops = (
	[ 'SET KEY WITH BACKUP', qq{SET KEY IDENTIFIED BY "$pw" WITH BACKUP} ],
	[ 'CREATE KEY WITH BACKUP', qq{CREATE KEY IDENTIFIED BY "$pw" WITH BACKUP} ],
	[ 'USE KEY WITH BACKUP', qq{USE KEY '$k2' IDENTIFIED BY "$pw" WITH BACKUP} ],
	[ 'SET TAG WITH BACKUP', qq{SET TAG 'changed' FOR '$k1' IDENTIFIED BY "$pw" WITH BACKUP} ],
	[ 'BACKUP KEYSTORE', qq{BACKUP KEYSTORE USING 'b' IDENTIFIED BY "$pw"} ],
	[ 'BACKUP KEYSTORE TO a location', qq{BACKUP KEYSTORE USING 'b' IDENTIFIED BY "$pw" TO '$backups'} ],
	[ 'ALTER KEYSTORE PASSWORD WITH BACKUP',
	  qq{ALTER KEYSTORE PASSWORD IDENTIFIED BY "$pw" SET "Other_Pw2" WITH BACKUP} ],
);

# What is made unusable, how, and how it is put back.
my @faults = (
	[ 'ewallet.p12 unreadable', sub { chmod 0000, ewallet_path($node) },
	  sub { chmod 0600, ewallet_path($node) } ],
	[ 'cwallet.sso unreadable', sub { chmod 0000, cwallet_path($node) },
	  sub { chmod 0600, cwallet_path($node) } ],
	[ 'wallet directory read-only', sub { chmod 0500, $dir }, sub { chmod 0700, $dir } ],
	[ 'backup directory read-only', sub { chmod 0500, $backups }, sub { chmod 0700, $backups } ],
);

for my $op (@ops)
{
	my ($opname, $stmt) = @$op;
	for my $fault (@faults)
	{
		my ($fname, $break, $mend) = @$fault;
		# the backup directory matters only where a statement writes there
		next if $fname =~ /^backup directory/ && $opname !~ /location/;
		my $before = snapshot();
		$break->();
		my ($ret, $out, $err) = akm($node, $stmt);
		$mend->();
		isnt($ret, 0, "$opname, $fname: fails");
		like(sqlstate_of($err), qr/^(42501|58030)$/,
			"$opname, $fname: a file-access SQLSTATE") or diag($err);
		unlike($err, qr/\Q$pw\E|Other_Pw2/, "$opname, $fname: no password in the error");
		is(snapshot(), $before, "$opname, $fname: every file and key as it was");
		my @tmp = glob("$dir/*.tmp* $backups/*.tmp*");
		is(scalar(@tmp), 0, "$opname, $fname: no temporary file left") or diag("@tmp");
	}
}

# After a restart the auto-login wallet opens with the same keys, and the
# active key is the one set before all the failures.
my $before = snapshot();
$node->restart;
is( $node->safe_psql('postgres',
		q{SELECT tde.decrypt_text('t', c) FROM t}),
	'row one', 'after a restart the auto-login keystore decrypts the row');
is( $node->safe_psql('postgres',
		q{SELECT key_id FROM "v$encryption_keys" ORDER BY activation_time DESC NULLS LAST LIMIT 1}),
	$k1, 'the active key is still the first one');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM "v$encryption_keys"}),
	'2', 'no key was added by a failed statement');

# --- ALTER KEYSTORE PASSWORD ... WITH BACKUP is a backup -------------------

tde_sql_ok($node, qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY "$pw"')},
	'open the password keystore over the auto-login one');
tde_sql_ok($node, qq{SELECT tde.create_key(tag => 'k3', password => '$pw', with_backup => true) IS NOT NULL},
	'CREATE KEY WITH BACKUP: the new key is in no backup yet');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(backed_up, ',' ORDER BY tag) || ' ' || min(w.fully_backed_up)
		  FROM "v$encryption_keys", "v$encryption_wallet" w}),
	'YES,YES,NO NO', 'before: k3 is not backed up, the keystore is not fully backed up');
my @bk_before = glob("$dir/ewallet_*.p12");
tde_sql_ok($node, qq{SELECT tde.administer_key_management('ALTER KEYSTORE PASSWORD IDENTIFIED BY "$pw" SET "New_Pw3" WITH BACKUP USING ''pwchange''')},
	'ALTER KEYSTORE PASSWORD ... WITH BACKUP');
my @bk_after = glob("$dir/ewallet_*_pwchange.p12");
is(scalar(@bk_after), 1, 'the backup file is there');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(backed_up, ',' ORDER BY tag) || ' ' || min(w.fully_backed_up)
		  FROM "v$encryption_keys", "v$encryption_wallet" w}),
	'YES,YES,YES YES', 'after: every key BACKED_UP = YES and FULLY_BACKED_UP = YES');
$node->restart;
tde_sql_ok($node, q{SELECT count(*) FROM t}, 'the auto-login keystore opens after the restart');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(backed_up, ',' ORDER BY tag) FROM "v$encryption_keys"}),
	'YES,YES,YES', 'the auto-login wallet followed: every key backed up after the restart');
my ($ret, $out, $err) = akm($node, qq{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY "New_Pw3"});
is($ret, 0, 'the new password opens the password keystore') or diag($err);

done_testing();
