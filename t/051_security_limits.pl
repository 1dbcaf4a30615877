# Security suite, part 2 (issue 11, item 6): no escalation through tde,
# and no text past its documented length.
#
# e. The subquery of WITH IDENTIFIER IN runs with the caller's rights and
#    read-only (the reference, "Grammar"): a tde_admin that is not
#    superuser reads through it nothing it could not read itself (a
#    superuser-only table, directly or through a SECURITY INVOKER
#    function), and writes nothing with it (a data-modifying WITH, a
#    second statement, a function that inserts, nextval, FOR UPDATE).
#    Nor does a location reach outside tde.wallet_root without
#    pg_write_server_files (what is written) or pg_read_server_files
#    (what is read), '..' included.
# f. Every text with a documented maximum is refused beyond it, with the
#    documented SQLSTATE, and quickly (well under a second) also when it
#    is megabytes long: the statement (65536 bytes counted in bytes of the
#    server encoding, 54000), passwords and secrets (1024, 22023), tags
#    (255), client identifiers (127), backup identifiers (128),
#    tde.wallet_root (960), key lists (8192); values of a fixed form (keys,
#    KEY_IDs, algorithms) and paths, megabytes long, are refused quickly
#    too.  Each value at its limit passes the length check.
#
# Parts a and b are t/050_security.pl's, c and d t/052_security_leaks.pl's.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;


# Checks per part, for the final diag line.
my %count;
sub part { counted_part(\%count, @_) }

my $pw = 'Sec051_Wallet_Pw1';
my $node = tde_new_node('limits');
my $root = wallet_root($node);
my $wdir = wallet_dir($node);
my $outside = PostgreSQL::Test::Utils::tempdir();

tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'setup: CREATE KEYSTORE');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'setup: open');
tde_akm_ok($node, qq{SET KEY USING TAG 'first' IDENTIFIED BY "$pw" WITH BACKUP}, 'setup: SET KEY');
tde_akm_ok($node, qq{CREATE KEY USING TAG 'second' IDENTIFIED BY "$pw" WITH BACKUP}, 'setup: CREATE KEY');
tde_akm_ok($node, qq{CREATE KEYSTORE '$root/other' IDENTIFIED BY "$pw"}, 'setup: a second keystore');
my ($k1, $k2) = split /\n/,
  $node->safe_psql('postgres', q{SELECT key_id FROM v$encryption_keys ORDER BY creation_time});
tde_sql_ok($node, q{
CREATE TABLE su_only (k text);
-- SECURITY INVOKER (the default): it reads as its caller
CREATE FUNCTION read_su_only() RETURNS SETOF text LANGUAGE sql AS 'SELECT k FROM su_only';
-- says when a subquery of WITH IDENTIFIER IN runs
CREATE FUNCTION subquery_probe() RETURNS SETOF text LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'subquery probe ran'; RETURN QUERY SELECT key_id FROM v$encryption_keys; END$$;
CREATE ROLE nobody LOGIN;
CREATE ROLE kadmin LOGIN IN ROLE tde_admin;
CREATE SCHEMA kadmin AUTHORIZATION kadmin;
}, 'setup: tables, functions and roles');
# su_only holds a KEY_ID the wallet has: read, it would select a key
$node->safe_psql('postgres', "INSERT INTO su_only VALUES ('$k1')");

sub akm_call
{
	my ($statement) = @_;
	return "SELECT tde.administer_key_management(\$akm\$$statement\$akm\$)";
}

# --- e: WITH IDENTIFIER IN and locations as a tde_admin that is not superuser --

part('e', sub {
	my $s = tde_session_as($node, 'kadmin');
	session_sql($s, 'SET statement_timeout = 60000');
	session_sql($s, q{CREATE TABLE ktab (k text); INSERT INTO ktab VALUES ('one row');
		CREATE SEQUENCE kseq;
		CREATE FUNCTION kwrite() RETURNS text LANGUAGE plpgsql AS
		  $$BEGIN INSERT INTO ktab VALUES ('written'); RETURN '} . $k2 . q{'; END$$});
	my $export = sub {
		my ($file, $in) = @_;
		return akm_call(qq{EXPORT KEYS WITH SECRET "Kadmin_Export" TO '$root/$file' IDENTIFIED BY "$pw" WITH IDENTIFIER IN $in});
	};

	# the subquery runs for a tde_admin (t/050 shows that it does not run
	# for a role without tde_admin)
	my ($out, $err) = session_sql($s, $export->('e0.exp', qq{(SELECT k FROM subquery_probe() k WHERE k = '$k2')}));
	ok($err =~ /subquery probe ran/ && $err !~ /ERROR/ && -f "$root/e0.exp", 'kadmin: a subquery runs, as tde_admin')
	  or diag($err);

	my $su_denied = [ '42501', qr/permission denied for table su_only/ ];
	outcome_is($s, $export->('e1.exp', '(SELECT k FROM su_only)'), $su_denied, 'kadmin: a superuser-only table in the subquery');
	outcome_is($s, $export->('e2.exp', '(SELECT read_su_only())'), $su_denied,
		'kadmin: a superuser-only table through an invoker function');
	outcome_is($s, akm_call(qq{MOVE KEYS TO NEW KEYSTORE '$root/e3' IDENTIFIED BY "$pw" FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN (SELECT k FROM su_only) WITH BACKUP}),
		$su_denied, 'kadmin: MOVE KEYS with a superuser-only table');
	outcome_is($s, qq{SELECT tde.export_keys('Kadmin_Export', '$root/e4.exp', password => '$pw', key_ids => ARRAY(SELECT k FROM su_only))},
		$su_denied, 'kadmin: the typed export with a superuser-only table');
	ok(!-e "$root/e1.exp" && !-e "$root/e2.exp" && !-e "$root/e3" && !-e "$root/e4.exp", 'kadmin: none of them wrote a file');

	# read-only: nothing the subquery does is kept, and a refused one exports nothing
	my $kstate = sub {
		return (session_sql($s, q{SELECT string_agg(k, ',' ORDER BY k) || '|' || (SELECT last_value || ':' || is_called FROM kseq) FROM ktab}))[0];
	};
	my $before = $kstate->();
	my $n = 5;
	for my $w (
		[ 'a data-modifying WITH', q{(WITH d AS (DELETE FROM ktab RETURNING k) SELECT k FROM d)} ],
		[ 'two statements', q{(SELECT k FROM ktab; DELETE FROM ktab)} ],
		[ 'a function that inserts', q{(SELECT kwrite())} ],
		[ 'nextval', qq{(SELECT '$k2'::text WHERE nextval('kseq') > 0)} ],
		[ 'SELECT FOR UPDATE', q{(SELECT k FROM ktab FOR UPDATE)} ])
	{
		my ($desc, $in) = @$w;
		my $file = 'e' . $n++ . '.exp';
		($out, $err) = session_sql($s, $export->($file, $in));
		my $after = $kstate->();
		# below the top level, the read-only transaction refuses it (25006)
		my $want = $desc eq 'a function that inserts' || $desc eq 'nextval' ? '25006' : '';
		ok(sqlstate_of($err) ne '' && ($want eq '' || sqlstate_of($err) eq $want)
			  && $after eq $before && !-e "$root/$file",
			"kadmin: the subquery cannot write: $desc")
		  or diag("error: " . ($err =~ /(ERROR:.*)/ ? $1 : 'none') . "\nktab|kseq before: $before, after: $after"
			. (-e "$root/$file" ? "\n$file was written" : ''));
		$before = $after;
	}
	outcome_is($s, $export->('e10.exp', q{(SELECT k FROM ktab; DELETE FROM ktab)}),
		[ '22023', qr/must be one SELECT/ ], 'kadmin: two statements are refused as such');

	# locations: outside tde.wallet_root, writing needs pg_write_server_files,
	# reading pg_read_server_files ('..' is resolved first)
	$node->safe_psql('postgres', qq{SELECT tde.export_keys('Su_Export', '$outside/su.exp', password => '$pw', key_ids => ARRAY['$k2']);
		SELECT tde.create_keystore('$pw', '$outside/ksrc')});
	my $w_denied = [ '42501', qr/permission denied to write keystore files outside tde.wallet_root/ ];
	my $r_denied = [ '42501', qr/permission denied to read keystore files outside tde.wallet_root/ ];
	my @loc = (
		[ 'EXPORT KEYS outside', akm_call(qq{EXPORT KEYS WITH SECRET "Kadmin_Loc_Secret" TO '$outside/k.exp' IDENTIFIED BY "$pw"}), $w_denied ],
		[ 'EXPORT KEYS to wallet_root/..', akm_call(qq{EXPORT KEYS WITH SECRET "Kadmin_Loc_Secret" TO '$root/../escape.exp' IDENTIFIED BY "$pw"}), $w_denied ],
		[ 'the typed export outside', qq{SELECT tde.export_keys('Kadmin_Loc_Secret', '$outside/t.exp', password => '$pw')}, $w_denied ],
		[ 'BACKUP KEYSTORE TO outside', akm_call(qq{BACKUP KEYSTORE IDENTIFIED BY "$pw" TO '$outside'}), $w_denied ],
		[ 'CREATE KEYSTORE outside', akm_call(qq{CREATE KEYSTORE '$outside/ks' IDENTIFIED BY "$pw"}), $w_denied ],
		[ 'MOVE KEYS outside', akm_call(qq{MOVE KEYS TO NEW KEYSTORE '$outside/moved' IDENTIFIED BY "$pw" FROM KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$k2' WITH BACKUP}), $w_denied ],
		[ 'MERGE INTO NEW KEYSTORE outside', akm_call(qq{MERGE KEYSTORE '$wdir' IDENTIFIED BY "$pw" AND KEYSTORE '$root/other' IDENTIFIED BY "$pw" INTO NEW KEYSTORE '$outside/merged' IDENTIFIED BY "$pw"}), $w_denied ],
		[ 'ADD SECRET to an auto-login keystore outside', akm_call(qq{ADD SECRET 'Kadmin_Loc_Secret' FOR CLIENT 'APP' TO AUTO_LOGIN KEYSTORE '$outside/secrets'}), $w_denied ],
		[ 'IMPORT KEYS from outside', akm_call(qq{IMPORT KEYS WITH SECRET "Su_Export" FROM '$outside/su.exp' IDENTIFIED BY "$pw" WITH BACKUP}), $r_denied ],
		[ 'MERGE from a keystore outside', akm_call(qq{MERGE KEYSTORE '$outside/ksrc' IDENTIFIED BY "$pw" INTO EXISTING KEYSTORE '$root/other' IDENTIFIED BY "$pw" WITH BACKUP}), $r_denied ]);
	outcome_is($s, $_->[1], $_->[2], "kadmin: $_->[0]") for @loc;
	my @left = grep { !/\/(su\.exp|ksrc)$/ } glob("$outside/*");
	ok(!@left && !-e $node->basedir . '/escape.exp', 'kadmin: nothing was written outside tde.wallet_root')
	  or diag("@left");
	# the rule, not something else, refused them
	$node->safe_psql('postgres', 'GRANT pg_write_server_files TO kadmin');
	outcome_is($s, $loc[0][1], undef, 'kadmin with pg_write_server_files: EXPORT KEYS outside');
	$node->safe_psql('postgres', 'REVOKE pg_write_server_files FROM kadmin');
	session_close($s);
});

# --- f: documented maxima ------------------------------------------------------------

# A big argument is made in the server and bound as $1, and the call timed
# there, so that what is timed is tde's refusal (not the transfer).
# Returns (SQLSTATE or 'ok', seconds, message).
$node->safe_psql('postgres', q{
CREATE FUNCTION timed_call(q text, arg text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q USING arg;
	RETURN 'ok|' || extract(epoch FROM clock_timestamp() - t0) || '|';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || '|' || extract(epoch FROM clock_timestamp() - t0) || '|' || SQLERRM;
END $$;
CREATE TABLE big_statement (s text);
});

my $su = tde_session($node);
# keep the megabytes out of the server log
session_sql($su, q{SET log_statement = 'none'});
my $big = 8 * 1024 * 1024;
# Repeated bytes are the worst case for anything that indexes a
# statement's text; 2 MB of them keep the run short should that cost grow
# faster than the length.
my $big_repeated = 2 * 1024 * 1024;
my $quick = 1.0;

sub timed
{
	my ($q, $arg_sql) = @_;
	(my $ql = $q) =~ s/'/''/g;
	my ($out, $err) = session_sql($su, "SELECT timed_call('$ql', $arg_sql)");
	return split /\|/, ($out ne '' ? $out : "none|0|$err"), 3;
}

# A limit: the value at it passes the length check (with the outcome
# $at, 'ok' or a SQLSTATE), one byte more and megabytes are refused with
# $state and a message matching $re, the megabytes quickly.  Options:
# char (the byte repeated), big (SQLSTATE and message for the megabytes,
# when they reach another limit first: the statement's).
sub limit_is
{
	my ($what, $q, $max, $at, $state, $re, %opt) = @_;
	my $char = $opt{char} // 'p';
	my ($big_state, $big_re) = @{ $opt{big} // [ $state, $re ] };
	my ($st, $secs, $msg) = timed($q, "repeat('$char', $max)");
	is($st, $at, "$what of $max bytes is accepted" . ($at eq 'ok' ? '' : " (then $at)")) or diag($msg);
	($st, $secs, $msg) = timed($q, "repeat('$char', " . ($max + 1) . ')');
	ok($st eq $state && $msg =~ $re, "$what of " . ($max + 1) . " bytes: $state") or diag("$st $msg");
	($st, $secs, $msg) = timed($q, "repeat('$char', $big)");
	ok($st eq $big_state && $msg =~ $big_re && $secs < $quick && length($msg) < 1000,
		"$what of $big bytes: $big_state in ${secs}s") or diag("$st $secs " . substr($msg, 0, 300));
	return;
}

part('f', sub {
	# the statement, sent as text; the time is the client's, compared with
	# the same bytes in an ordinary statement
	my $close = 'SET KEYSTORE CLOSE ';
	my $at = $close . (' ' x (65536 - length($close) - 5)) . 'BOGUS';
	my ($out, $err) = session_sql($su, akm_call($at));
	is(sqlstate_of($err), '42601', 'a statement of 65536 bytes is parsed (a syntax error)') or diag($err);
	for my $c ([ 'ASCII', 'y' ], [ 'two-byte characters', "\x{c3}\x{a9}" ])
	{
		my ($desc, $pad) = @$c;
		my $st = $close . 'IDENTIFIED BY "' . ($pad x int((65536 - length($close) - 15) / length($pad)));
		$st .= 'x' x (65537 - length($st) - 1) . '"';
		my $t0 = time;
		($out, $err) = session_sql($su, akm_call($st));
		my $secs = time - $t0;
		ok(sqlstate_of($err) eq '54000' && $err =~ /key management statement is too long/ && $err =~ /65537/
			  && $err !~ /\Q$pad$pad$pad$pad\E/ && $secs < $quick,
			sprintf('a statement of 65537 bytes (%s) is refused with 54000, its length and not its text, in %.3fs', $desc, $secs))
		  or diag(length($st) . " bytes, $secs s: " . substr($err, 0, 500));
	}
	# Megabytes: of one repeated byte (the worst case for anything that
	# indexes the statement's text) and of varied text.  Sent as text, they
	# are timed by the client, less the time the same bytes take in an
	# ordinary statement (the transfer and the SQL scanner).
	my $varied = join('', map { sprintf('%07x ', $_) } 1 .. $big / 8);
	my %baseline;
	for my $c ([ 'repeated', 'x' x $big_repeated ], [ 'varied', $varied ])
	{
		my ($desc, $pad) = @$c;
		my $huge = $close . 'IDENTIFIED BY "' . $pad . '"';
		my $t0 = time;
		session_sql($su, 'SELECT length($b$' . $huge . '$b$)');
		$baseline{$desc} = time - $t0;
		$t0 = time;
		($out, $err) = session_sql($su, akm_call($huge));
		my $secs = time - $t0 - $baseline{$desc};
		ok(sqlstate_of($err) eq '54000' && $secs < $quick && length($err) < 2000,
			sprintf('a statement of %d bytes (%s) is refused with 54000 in %.3fs (and %.3fs of transfer)',
				length($huge), $desc, $secs, $baseline{$desc}))
		  or diag(substr($err, 0, 500));
	}
	# a compressed, stored statement: refused before it is detoasted
	session_sql($su, "INSERT INTO big_statement SELECT 'SET KEYSTORE CLOSE IDENTIFIED BY \"' || repeat('x', $big) || '\"'");
	my ($st, $s2, $msg) = timed('SELECT tde.administer_key_management(s) FROM big_statement WHERE $1 IS NOT NULL', "'x'");
	ok($st eq '54000' && $s2 < $quick, "a stored statement of $big bytes is refused with 54000 in ${s2}s") or diag("$st $msg");
	# a role without tde_admin is refused before the length is looked at
	my $s = tde_session_as($node, 'nobody');
	my $t0 = time;
	($out, $err) = session_sql($s, akm_call($close . 'IDENTIFIED BY "' . $varied . '"'));
	my $secs = time - $t0 - $baseline{varied};
	ok(sqlstate_of($err) eq '42501' && $secs < $quick,
		sprintf('nobody: a statement of %d bytes is refused with 42501 in %.3fs (and the transfer)', length($varied), $secs))
	  or diag(substr($err, 0, 500));
	session_close($s);

	my $long = sub { qr/$_[0] is longer than $_[1] bytes/ };
	my $too_long = [ '54000', qr/key management statement is too long/ ];
	limit_is('a password', 'SELECT tde.close_keystore(password => $1)', 1024, '28P01', '22023', $long->('password', 1024));
	limit_is('a password in the statement',
		q{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "' || $1 || '"')},
		1024, '28P01', '22023', qr/longer than 1024 bytes/, big => $too_long);
	limit_is('a new password', qq{SELECT tde.alter_keystore_password(old_password => 'Wrong_Old_Pw', new_password => \$1, with_backup => true)},
		1024, '28P01', '22023', qr/longer than 1024 bytes/);
	limit_is('an external store secret', q{SELECT tde.add_external_store_secret(secret => $1, client => 'HSM_PASSWORD')},
		1024, 'ok', '22023', qr/longer than 1024 bytes/);
	session_sql($su, q{SELECT tde.delete_external_store_secret(client => 'HSM_PASSWORD')});
	limit_is('a client secret', qq{SELECT tde.add_secret(secret => \$1, client => 'LIMIT', password => '$pw', with_backup => true)},
		1024, 'ok', '22023', qr/longer than 1024 bytes/);
	session_sql($su, qq{SELECT tde.delete_secret(client => 'LIMIT', password => '$pw', with_backup => true)});
	limit_is('an export secret', qq{SELECT tde.export_keys(secret => \$1, path => '$root/limit_' || length(\$1) || '.exp', password => '$pw')},
		1024, 'ok', '22023', qr/longer than 1024 bytes/);
	limit_is('a tag', qq{SELECT tde.set_tag(key_id => '$k2', tag => \$1, password => '$pw', with_backup => true)},
		255, 'ok', '22023', qr/tag is longer than 255 bytes/, char => 't');
	limit_is('a tag in the statement',
		qq{SELECT tde.administer_key_management('SET TAG ''' || \$1 || ''' FOR ''$k2'' IDENTIFIED BY "$pw" WITH BACKUP')},
		255, 'ok', '22023', qr/tag is longer than 255 bytes/, char => 't', big => $too_long);
	limit_is('a client identifier', qq{SELECT tde.add_secret(secret => 'Limit_Secret', client => \$1, password => '$pw', with_backup => true)},
		127, 'ok', '22023', qr/client identifier is longer than 127 bytes/, char => 'c');
	session_sql($su, qq{SELECT tde.delete_secret(client => repeat('c', 127), password => '$pw', with_backup => true)});
	limit_is('a backup identifier', qq{SELECT tde.backup_keystore(password => '$pw', backup_identifier => \$1)},
		128, 'ok', '22023', qr/backup identifier must be 1 to 128/, char => 'b');

	# key lists: at most 8192 KEY_IDs
	($st, $secs, $msg) = timed(qq{SELECT tde.export_keys('Limit_Export', '$root/limit_8192.exp', password => '$pw', key_ids => ARRAY(SELECT \$1 FROM generate_series(1, 8192)))}, "'$k2'");
	is($st, 'ok', '8192 KEY_IDs are accepted') or diag($msg);
	($st, $secs, $msg) = timed(qq{SELECT tde.export_keys('Limit_Export', '$root/limit_8193.exp', password => '$pw', key_ids => ARRAY(SELECT \$1 FROM generate_series(1, 8193)))}, "'$k2'");
	ok($st eq '54000' && $msg =~ /at most 8192 key identifiers/, '8193 KEY_IDs: 54000') or diag("$st $msg");
	($st, $secs, $msg) = timed(
		qq{SELECT tde.administer_key_management('EXPORT KEYS WITH SECRET "Kadmin_Loc_Secret" TO ''$root/limit_q.exp'' IDENTIFIED BY "$pw" WITH IDENTIFIER IN (SELECT ''' || \$1 || '''::text FROM pg_class a, pg_class b, pg_class c)')},
		"'$k2'");
	ok($st eq '54000' && $msg =~ /returned more than 8192 rows/ && $secs < $quick,
		"a subquery of millions of rows: $st in ${secs}s") or diag("$st $secs $msg");

	# locations and file paths: at most 768 bytes, each name in them at
	# most 240 (NAME_MAX less a temporary file's suffix); over either, 22023
	# without the value, not an error of the file system (XX000 for
	# ENAMETOOLONG, with the path)
	my $path_of = sub {
		my ($len, $last) = @_;
		my $p = "$root/";
		$p .= ('d' x 200) . '/' while $len - length($p) - length($last) > 201;
		return $p . ('d' x ($len - length($p) - length($last))) . $last;
	};
	my @paths = (
		[ 'a keystore location', qq{SELECT tde.create_keystore(password => '$pw', location => \$1)}, '' ],
		[ 'a backup location', qq{SELECT tde.backup_keystore(password => '$pw', location => \$1)}, '' ],
		[ 'an export file path', qq{SELECT tde.export_keys(secret => 'Limit_Export', path => \$1, password => '$pw')}, '/x.exp' ]);
	for my $c (@paths)
	{
		my ($desc, $q, $last) = @$c;
		my $what = $desc =~ s/^an? //r;
		# at the limit: past the length check, to the missing directory
		($st, $secs, $msg) = timed($q, "'" . $path_of->(768, $last) . "'");
		ok($st eq '58P01' && $msg !~ /longer than/, "$desc of 768 bytes passes the length check ($st)")
		  or diag("$st " . substr($msg, 0, 200));
		($st, $secs, $msg) = timed($q, "'" . $path_of->(769, $last) . "'");
		ok($st eq '22023' && $msg =~ /^\Q$what\E is longer than 768 bytes$/, "$desc of 769 bytes: 22023")
		  or diag("$st " . substr($msg, 0, 200));
		($st, $secs, $msg) = timed($q, "'$root/" . ('n' x 241) . "'");
		ok($st eq '22023' && $msg =~ /^\Q$what\E has a name longer than 240 bytes$/, "$desc with a name of 241 bytes: 22023")
		  or diag("$st " . substr($msg, 0, 200));
	}
	($st, $secs, $msg) = timed(qq{SELECT tde.export_keys(secret => 'Limit_Export', path => \$1, password => '$pw')},
		"'$root/" . ('n' x 240) . "'");
	is($st, 'ok', 'an export file with a name of 240 bytes is written (its temporary file\'s name fits)') or diag($msg);

	# values without a maximum of their own, megabytes long: refused
	# quickly (a location or path has none in the reference, beyond what
	# the file system takes)
	for my $c (
		[ 'a user-supplied key', qq{SELECT tde.create_key(key => \$1, password => '$pw', with_backup => true)}, '22023' ],
		[ 'a KEY_ID', qq{SELECT tde.use_key(key_id => \$1, password => '$pw', with_backup => true)}, '22023' ],
		[ 'an algorithm', qq{SELECT tde.create_key(algorithm => \$1, password => '$pw', with_backup => true)}, '22023' ],
		[ 'a keystore location', qq{SELECT tde.create_keystore(password => '$pw', location => '$root/' || \$1)}, '22023' ],
		[ 'an export path', qq{SELECT tde.export_keys(secret => 'Limit_Export', path => '$root/' || \$1, password => '$pw')}, '22023' ])
	{
		my ($desc, $q, $want) = @$c;
		($st, $secs, $msg) = timed($q, "repeat('k', $big)");
		ok((defined $want ? $st eq $want && length($msg) < 1000 : $st ne 'ok') && $secs < $quick,
			"$desc of $big bytes: $st in ${secs}s (a message of " . length($msg) . ' bytes)')
		  or diag("$st $secs " . substr($msg, 0, 300));
	}

	# tde.wallet_root: an absolute path of at most 960 bytes
	my $path = '/' . ('w' x 959);
	($out, $err) = session_sql($su, "ALTER SYSTEM SET tde.wallet_root = '$path'");
	is(sqlstate_of($err), '', 'tde.wallet_root of 960 bytes is accepted by ALTER SYSTEM') or diag($err);
	($out, $err) = session_sql($su, "ALTER SYSTEM SET tde.wallet_root = '${path}w'");
	ok(sqlstate_of($err) eq '22023' && $err =~ /tde.wallet_root is too long/, 'tde.wallet_root of 961 bytes: 22023')
	  or diag($err);
	session_sql($su, 'ALTER SYSTEM RESET tde.wallet_root');
});
session_close($su);

diag(sprintf('security: e=%d f=%d', map { $count{$_} // 0 } qw(e f)));
$node->stop;
done_testing();
