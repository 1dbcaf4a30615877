# MERGE KEYSTORE (Oracle's 4.1.8): two keystores into a new one, one into
# an existing one with a backup, an auto-login keystore as a source, the
# merge reversed from that backup (4.1.8.5), and a merge into the
# configured keystore that makes another cluster's data decrypt once the
# keystore is opened again, and a restored backup that lacks a key in use,
# named by the open.  The result is always a password wallet that
# openssl opens; the sources are never written; a refused merge leaves
# every file as it was; no password reaches the log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

my ($pw1, $pw2, $pw3) = ('Merge_Src_Pw1', 'Merge_Dst_Pw2', 'Merge_New_Pw3');
my $dir = PostgreSQL::Test::Utils::tempdir();

my $c1 = tde_new_node('merge_src');
my $c2 = tde_new_node('merge_dst');

# c1: two keys, rows encrypted, and an auto-login copy
tde_akm_ok($c1, qq{CREATE KEYSTORE IDENTIFIED BY "$pw1"}, 'c1: CREATE KEYSTORE');
tde_akm_ok($c1, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw1"}, 'c1: open');
tde_akm_ok($c1, qq{SET KEY USING TAG 'c1 a' IDENTIFIED BY "$pw1" WITH BACKUP}, 'c1: key a');
tde_akm_ok($c1, qq{SET KEY USING TAG 'c1 b' IDENTIFIED BY "$pw1" WITH BACKUP}, 'c1: key b');
tde_akm_ok($c1, qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw1"}, 'c1: auto-login copy');
tde_sql_ok($c1,
	q{CREATE TABLE t (id int PRIMARY KEY, plain text NOT NULL, ct bytea);
	  INSERT INTO t SELECT i, 'row ' || i, tde.encrypt('t', 'row ' || i) FROM generate_series(1, 50) i;},
	'c1: encrypted rows');
my $check_sql = q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};

# c2: one key of its own
tde_akm_ok($c2, qq{CREATE KEYSTORE IDENTIFIED BY "$pw2"}, 'c2: CREATE KEYSTORE');
tde_akm_ok($c2, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw2"}, 'c2: open');
tde_akm_ok($c2, qq{SET KEY USING TAG 'c2 own' IDENTIFIED BY "$pw2" WITH BACKUP}, 'c2: its key');

# copies of the keystores as directories of their own
make_path("$dir/k1", "$dir/k2", "$dir/auto", { mode => 0700 });
copy(ewallet_path($c1), "$dir/k1/ewallet.p12") or die;
copy(ewallet_path($c2), "$dir/k2/ewallet.p12") or die;
copy(cwallet_path($c1), "$dir/auto/cwallet.sso") or die;
chmod 0600, glob("$dir/*/*");
my %before = map { $_ => slurp_file($_) } glob("$dir/*/*");

sub wallet_keys
{
	my ($path, $pw) = @_;
	my $openssl = find_program('openssl') or return -1;
	my ($out, $err);
	IPC::Run::run([ $openssl, 'pkcs12', '-info', '-nokeys', '-in', $path, '-passin', "pass:$pw" ],
		'>', \$out, '2>', \$err) or return -1;
	my @k = ($out =~ /friendlyName: TDE\.MK\./g);
	return scalar(@k);
}

# --- two keystores into a new one (4.1.8.3) -------------------------------------
tde_akm_ok($c2, qq{ADMINISTER KEY MANAGEMENT MERGE KEYSTORE '$dir/k1'
IDENTIFIED BY "$pw1"
AND KEYSTORE '$dir/k2'
IDENTIFIED BY "$pw2"
INTO NEW KEYSTORE '$dir/k3'
IDENTIFIED BY "$pw3"}, 'merge k1 and k2 into the new k3');
ok(-f "$dir/k3/ewallet.p12", 'k3 is a password wallet (ewallet.p12)');
is(file_mode("$dir/k3/ewallet.p12"), 0600, 'k3 is 0600');
SKIP:
{
	skip 'openssl is not installed', 1 unless find_program('openssl');
	is(wallet_keys("$dir/k3/ewallet.p12", $pw3), 3, 'openssl opens k3 with its password: 3 keys');
}
is(slurp_file($_), $before{$_}, "the source $_ is unchanged") for sort keys %before;
tde_akm_fails($c2, qq{MERGE KEYSTORE '$dir/k1' IDENTIFIED BY "$pw1" AND KEYSTORE '$dir/k2' IDENTIFIED BY "$pw2"
INTO NEW KEYSTORE '$dir/k3' IDENTIFIED BY "$pw3"}, '58P02', 'a new keystore where one exists is refused');
tde_akm_fails($c2, qq{MERGE KEYSTORE '$dir/k1' IDENTIFIED BY "wrong" AND KEYSTORE '$dir/k2' IDENTIFIED BY "$pw2"
INTO NEW KEYSTORE '$dir/k5' IDENTIFIED BY "$pw3"}, '28P01', 'a wrong source password is refused');
ok(!-e "$dir/k5/ewallet.p12", 'and writes nothing');
# an auto-login source and a password source (the example of 4.1.8.3)
is( $c2->safe_psql('postgres',
		qq{SELECT tde.merge_into_new_keystore(location1 => '$dir/auto', location2 => '$dir/k2',
			password2 => '$pw2', new_location => '$dir/k6', new_password => '$pw3')}),
	'3', 'the typed merge of the auto-login k1 and k2 into k6: 3 keys');

# --- one keystore into an existing one, and back (4.1.8.2, 4.1.8.4, 4.1.8.5) ---
tde_akm_fails($c2, qq{MERGE KEYSTORE '$dir/auto' INTO EXISTING KEYSTORE '$dir/k2' IDENTIFIED BY "$pw2"},
	'55000', 'into an existing keystore without WITH BACKUP (ORA-46631)');
is(slurp_file("$dir/k2/ewallet.p12"), $before{"$dir/k2/ewallet.p12"}, 'k2 unchanged');
tde_akm_ok($c2, qq{ADMINISTER KEY MANAGEMENT MERGE KEYSTORE '$dir/auto'
INTO EXISTING KEYSTORE '$dir/k2'
IDENTIFIED BY "$pw2" WITH BACKUP USING 'merge1'}, 'merge the auto-login keystore into k2, with a backup');
my ($backup) = glob("$dir/k2/ewallet_*_merge1.p12");
ok(defined $backup, 'the backup of k2 is beside it');
is(slurp_file($backup), $before{"$dir/k2/ewallet.p12"}, 'the backup is k2 as it was');
SKIP:
{
	skip 'openssl is not installed', 2 unless find_program('openssl');
	is(wallet_keys("$dir/k2/ewallet.p12", $pw2), 3, 'k2 now holds 3 keys');
	# reversing the merge: the backup put back
	copy($backup, "$dir/k2/ewallet.p12") or die;
	is(wallet_keys("$dir/k2/ewallet.p12", $pw2), 1, 'reversed from the backup: k2 holds its 1 key again');
}
tde_akm_fails($c2, qq{MERGE KEYSTORE '$dir/k2' IDENTIFIED BY "$pw2" INTO EXISTING KEYSTORE '$dir/k2' IDENTIFIED BY "$pw2" WITH BACKUP},
	'22023', 'a keystore cannot be merged into itself');

# --- into the configured keystore: c1's data decrypts in c2 -----------------------
my $dump = "$dir/db.dump";
$c1->command_ok([ 'pg_dump', '-Fc', '-d', $c1->connstr('postgres'), '-t', 't', '-f', $dump ], 'pg_dump t from c1');
$c2->command_ok([ 'pg_restore', '-d', $c2->connstr('postgres'), '--exit-on-error', $dump ], 'pg_restore t into c2');
# tde.relation_key and tde.database_identity come with a whole-database dump;
# for one table, copy its relation keys and the identity by hand
my $ident = $c1->safe_psql('postgres', 'SELECT id FROM tde.database_identity');
my $rows = $c1->safe_psql('postgres',
	q{SELECT string_agg(format('(%L, %s, %L::regclass, %L, %L, %L, %L)', key_id, key_version, relid::regclass::text,
		master_key_id, wrapped_key, created_at, rewrapped_at), ',') FROM tde.relation_key});
tde_sql_ok($c2, qq{DELETE FROM tde.database_identity; INSERT INTO tde.database_identity VALUES ('$ident');
	INSERT INTO tde.relation_key (key_id, key_version, relid, master_key_id, wrapped_key, created_at, rewrapped_at) VALUES $rows},
	'c2: the relation keys and the identity of c1');
tde_sql_fails($c2, $check_sql, '42704', 'c2: before the merge the rows name keys c2 lacks');
tde_akm_ok($c2, qq{MERGE KEYSTORE '$dir/k1' IDENTIFIED BY "$pw1" INTO EXISTING KEYSTORE '} . wallet_dir($c2)
	  . qq{' IDENTIFIED BY "$pw2" WITH BACKUP USING 'merge_c1'}, 'merge k1 into c2\'s configured keystore');
is($c2->safe_psql('postgres', q{SELECT count(*) FROM v$encryption_keys}), '1',
	'the open keystore is unchanged until it is opened again (4.1.8.1)');
tde_akm_ok($c2, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw2"}, 'c2: close');
tde_akm_ok($c2, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw2"}, 'c2: open again');
is($c2->safe_psql('postgres', q{SELECT count(*) FROM v$encryption_keys}), '3', 'c2: 3 keys now');
is($c2->safe_psql('postgres', q{SELECT tag FROM v$encryption_keys ORDER BY activation_time DESC NULLS LAST LIMIT 1}),
	'c2 own', 'c2: its own key is still the active one');
is($c2->safe_psql('postgres', $check_sql), '50|50', 'c2: c1\'s rows decrypt');

# --- a restored backup that lacks a key in use -------------------------------------
# c1: a backup, then a new key that re-wraps every relation key; putting
# the backup back loses that key, and the open names it.
tde_akm_ok($c1, qq{BACKUP KEYSTORE USING 'before_c' IDENTIFIED BY "$pw1"}, 'c1: a backup');
my ($c1_backup) = glob(wallet_dir($c1) . '/ewallet_*_before_c.p12');
ok(defined $c1_backup, 'c1: the backup is there');
tde_akm_ok($c1, qq{SET KEY USING TAG 'c1 c' IDENTIFIED BY "$pw1" WITH BACKUP}, 'c1: key c re-wraps the relation keys');
my $key_c = $c1->safe_psql('postgres', q{SELECT key_id FROM v$encryption_keys WHERE tag = 'c1 c'});
is($c1->safe_psql('postgres', q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
	$key_c, 'c1: every relation key is under key c');
my $newest = slurp_file(ewallet_path($c1));
tde_akm_ok($c1, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw1"}, 'c1: close to restore');
unlink(cwallet_path($c1));
copy($c1_backup, ewallet_path($c1) . '.new') or die;
rename(ewallet_path($c1) . '.new', ewallet_path($c1)) or die;
my ($out, $err) = tde_akm_ok($c1, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw1"}, 'c1: open the old backup');
like($err, qr/WARNING:.*lacks 1 master key that relation keys of this database need/,
	'c1: the open warns that a key in use is missing');
like($err, qr/\Q$key_c\E/, 'c1: the warning names its KEY_ID');
tde_sql_fails($c1, $check_sql, '42704', 'c1: the rows do not decrypt');
tde_akm_ok($c1, qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw1"}, 'c1: close again');
spew_file(ewallet_path($c1), $newest);
chmod 0600, ewallet_path($c1);
($out, $err) = tde_akm_ok($c1, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw1"}, 'c1: open the newest wallet put back');
unlike($err, qr/WARNING/, 'c1: no warning: every key in use is there');
is($c1->safe_psql('postgres', $check_sql), '50|50', 'c1: the rows decrypt again');

for my $n ([ 'c1', $c1 ], [ 'c2', $c2 ])
{
	my $log = slurp_file($n->[1]->logfile);
	ok(index($log, $pw1) < 0 && index($log, $pw2) < 0 && index($log, $pw3) < 0,
		"$n->[0]: no password in the server log");
}
$c1->stop;
$c2->stop;
done_testing();
