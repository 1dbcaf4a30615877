# Security suite, part 3 (issue 11, item 6): no secret anywhere, and the
# modes of tde's files.
#
# c. A run with known secrets: master keys set by the user ('mkid:mk' with
#    USING ALGORITHM, 'mk' alone, the typed function, and two refused
#    ones), wallet passwords (old, new and wrong ones), client secrets,
#    the external store's secrets, an auto-login keystore of secrets, an
#    export secret, MOVE and MERGE passwords, and with SoftHSM2 an HSM PIN
#    (MIGRATE, a client secret sealed by the HSM, REVERSE MIGRATE).  The
#    statements succeed and fail (wrong passwords, a syntax error right
#    after a password, errors in the middle of a statement or transaction,
#    a nested statement, a DO block, EXPLAIN ANALYZE, PREPARE/EXECUTE, the
#    extended protocol, a wrapper function), under log_statement = 'all',
#    log_min_duration_statement = 0, log_min_error_statement = debug5,
#    lc_messages = 'de_DE.UTF-8', with pg_stat_statements and auto_explain
#    (every plan, analyzed, verbose, nested statements) loaded.  Then no
#    relation of any database (tables, catalogs and views read as text by
#    a superuser, pg_stat_statements and pg_stat_activity among them), no
#    result or message a client received, no server log line, no file of
#    the data directory (WAL, pg_stat, pg_stat_tmp, ..., running and
#    stopped) and no other file of the test (pg_dumpall's output, the
#    SoftHSM2 token) holds any of those bytes: raw, in hexadecimal of
#    either case, or in base64.
#    "The keystore" is the PKCS#12 files tde writes: ewallet.p12, its
#    backups ewallet_*.p12, cwallet.sso (the auto-login wallet, the
#    external store tde_seps/cwallet.sso, an auto-login keystore of
#    secrets), hsm_keys.sso, and export files (*.exp), wherever they are.
#    They hold the secrets by design, encrypted, so they are searched too,
#    apart: not even there is a secret in clear.
# d. Every file tde writes is 0600 and every directory it makes 0700, in a
#    cluster initialised with group access (so the server's umask is 0027
#    and a mode left to it would show), also a file tde rewrites after it
#    was made 0644; no temporary file is left.
# f (HSM). The HSM credential is at most 255 bytes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use File::Find;
use MIME::Base64;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;


# Checks per part, for the final diag line; a part run inside another
# (f inside c) counts for itself only.
my %count;
my $builder = Test::More->builder;
my $counted = 0;

sub part
{
	my ($p, $code) = @_;
	my ($before, $inner) = ($builder->current_test, $counted);
	$code->();
	my $all = $builder->current_test - $before;
	$count{$p} += $all - ($counted - $inner);
	$counted = $inner + $all;
	return;
}

my $have_german = grep { /^de_DE\.utf-?8$/i } split /\n/, `locale -a 2>/dev/null`;
my $hsm_missing = softhsm_missing();

# Every secret of the run, distinct from anything else by a random tag.
my $r = int(rand(90000)) + 10000;
my %S = map { $_ => "Lk${r}_" . ucfirst($_) . '_Sx' } qw(
  pw1 pw2 wrong wrongold syntax bare cs1 cs2 cs3 mid tx ext al exp expwrong
  move merge do explain prep bound nested wrapper idle pin hsmwrong hsmcs);
my $hex = sub { join '', map { sprintf '%02x', int rand 256 } 1 .. $_[0] };
my ($mkid1, $mkid2) = ($hex->(16), $hex->(16));
my %K = (mk1 => $hex->(32), mk2 => $hex->(32), mk3 => $hex->(32),
	mkbad => $hex->(33), mkdup => $hex->(32));
my $find = secret_finder({ %S, map { $_ => pack('H*', $K{$_}) } keys %K });

my $node = tde_new_node('leaks', q{
shared_preload_libraries = 'pg_stat_statements,tde,auto_explain'
log_min_duration_statement = 0
log_min_error_statement = debug5
log_error_verbosity = verbose
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
pg_stat_statements.save = on
auto_explain.log_min_duration = 0
auto_explain.log_analyze = on
auto_explain.log_nested_statements = on
auto_explain.log_verbose = on
auto_explain.log_buffers = on
auto_explain.log_settings = on
} . ($have_german ? "lc_messages = 'de_DE.UTF-8'\n" : ''), extra => ['--allow-group-access']);
my $root = wallet_root($node);
my $wdir = wallet_dir($node);
my $seps = "$root/tde_seps";
my $outside = PostgreSQL::Test::Utils::tempdir();
my $hsm = !defined $hsm_missing;
if ($hsm)
{
	# a PIN of the run's own, so that it can be looked for
	local $TdeTest::HSM_PIN = $S{pin};
	softhsm_setup($node);
}

# Everything a client received: results and messages.
my $client = '';

# Run SQL (as tde_sql) that must succeed ($state '') or fail with $state:
# one test; returns stdout.
sub run_sql
{
	my ($sql, $state, $name, $db) = @_;
	my ($ret, $out, $err) = tde_sql($node, $sql, $db);
	$client .= "$out\n$err\n";
	(my $e = $err) =~ s/FEHLER:/ERROR:/g;
	if ($state eq '')
	{
		is($ret, 0, "$name: succeeds") or diag($err);
	}
	else
	{
		is(sqlstate_of($e), $state, "$name: fails with $state") or diag($err);
	}
	return $out;
}

sub akm_sql
{
	my ($statement) = @_;
	return "SELECT tde.administer_key_management(\$akm\$$statement\$akm\$)";
}

part('c', sub {
	ok($have_german, 'the de_DE.UTF-8 locale exists (scripts/setup.sh generates it)');
	ok($hsm || !$ENV{TDE_REQUIRE_HSM}, 'SoftHSM2 is there, or not required') or diag($hsm_missing);
	# the finder finds each form, so that finding nothing below means something
	my $probe = 'a ' . uc($K{mk1}) . ' b ' . encode_base64('xy' . pack('H*', $K{mk2}), '') . " c $S{pw1} d";
	is_deeply([ sort $find->($probe) ], [ 'mk1 (hex)', 'mk2 (base64/2)', 'pw1 (raw)' ],
		'the secret finder finds upper-case hex, base64 and raw bytes');

	run_sql('CREATE EXTENSION pg_stat_statements', '', 'pg_stat_statements');
	run_sql(akm_sql(qq{CREATE KEYSTORE IDENTIFIED BY "$S{pw1}"}), '', 'CREATE KEYSTORE');
	run_sql(akm_sql(qq{SET KEYSTORE OPEN IDENTIFIED BY "$S{wrong}"}), '28P01', 'open with a wrong password');
	run_sql(akm_sql(qq{SET KEYSTORE OPEN IDENTIFIED BY "$S{pw1}"}), '', 'open');
	run_sql(akm_sql(qq{SET KEYSTORE CLOSE IDENTIFIED BY "$S{syntax}" BOGUS}), '42601',
		'a syntax error right after a password');
	run_sql(akm_sql(qq{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY $S{bare}, CONTAINER}), '42601',
		'a bare password, then a syntax error');
	run_sql(akm_sql(qq{SET KEY '$mkid1:$K{mk1}' USING TAG 'first' USING ALGORITHM 'AES256' IDENTIFIED BY "$S{pw1}" WITH BACKUP}),
		'', q{SET KEY 'mkid:mk' USING ALGORITHM});
	run_sql(akm_sql(qq{SET KEY '$K{mkbad}' IDENTIFIED BY "$S{pw1}" WITH BACKUP}), '22023',
		'SET KEY with a key of the wrong length');
	run_sql(akm_sql(qq{CREATE KEY '$mkid1:$K{mkdup}' IDENTIFIED BY "$S{pw1}" WITH BACKUP}), '42710',
		'CREATE KEY with an MKID the keystore holds');
	my $k2 = run_sql(qq{SELECT tde.create_key(key => '$mkid2:$K{mk2}', tag => 'second', password => '$S{pw1}', with_backup => true)},
		'', 'tde.create_key with a user-supplied key');
	run_sql(akm_sql(qq{CREATE ENCRYPTION KEY '$K{mk3}' USING ALGORITHM 'ARIA256' USING TAG 'third' FORCE KEYSTORE IDENTIFIED BY "$S{pw1}" WITH BACKUP}),
		'', q{CREATE KEY 'mk' USING ALGORITHM 'ARIA256'});
	run_sql('CREATE DATABASE app', '', 'a second database');
	run_sql('CREATE EXTENSION tde', '', 'tde in it', 'app');
	for my $db ('postgres', 'app')
	{
		run_sql(q{CREATE TABLE cards (id int PRIMARY KEY, card bytea);
				  INSERT INTO cards SELECT i, tde.encrypt('cards', 'card ' || i) FROM generate_series(1, 50) i},
			'', "rows encrypted in $db", $db);
	}

	run_sql(akm_sql(qq{ALTER KEYSTORE PASSWORD IDENTIFIED BY "$S{wrongold}" SET "$S{pw2}" WITH BACKUP}), '28P01',
		'ALTER KEYSTORE PASSWORD with a wrong old password');
	run_sql(akm_sql(qq{ALTER KEYSTORE PASSWORD IDENTIFIED BY "$S{pw1}" SET "$S{pw2}" WITH BACKUP USING 'pwchange'}), '',
		'ALTER KEYSTORE PASSWORD');
	run_sql(akm_sql(qq{BACKUP KEYSTORE USING 'bk' IDENTIFIED BY "$S{pw2}" TO '$outside'}), '', 'BACKUP KEYSTORE outside');
	run_sql(akm_sql(qq{ADD SECRET '$S{cs1}' FOR CLIENT 'OGG' USING TAG 'gg' IDENTIFIED BY "$S{pw2}" WITH BACKUP}), '',
		'ADD SECRET into the keystore');
	run_sql(akm_sql(qq{UPDATE SECRET $S{cs2} FOR CLIENT 'OGG' IDENTIFIED BY "$S{pw2}" WITH BACKUP}), '',
		'UPDATE SECRET with a bare secret');
	run_sql(qq{SELECT tde.add_secret(secret => '$S{cs3}', client => 'OGG2', password => '$S{pw2}', with_backup => true)
			   FROM generate_series(1, 2)}, '42710', 'tde.add_secret twice in a statement: an error in the middle');
	run_sql(qq{SELECT tde.add_secret(secret => '$S{mid}', client => 'MID', password => '$S{pw2}', with_backup => true), 1/0},
		'22012', 'a secret added, then a division by zero');
	run_sql(qq{BEGIN; SELECT tde.add_secret(secret => '$S{tx}', client => 'TX', password => '$S{pw2}', with_backup => true);
			   SELECT 1/0; COMMIT;}, '22012', 'a transaction that fails after a secret');
	run_sql(akm_sql(qq{ADD SECRET '$S{pw2}' FOR CLIENT 'TDE_WALLET' TO AUTO_LOGIN KEYSTORE '$seps'}), '',
		'the wallet password into the external store');
	run_sql(qq{SELECT tde.add_external_store_secret(secret => '$S{ext}', client => 'HSM_PASSWORD')}, '',
		'tde.add_external_store_secret');
	run_sql(akm_sql(qq{ADD SECRET '$S{al}' FOR CLIENT 'APP' TO LOCAL AUTO_LOGIN KEYSTORE '$root/apps'}), '',
		'a secret in an auto-login keystore of its own');
	run_sql(akm_sql(qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$S{pw2}"}), '', 'CREATE AUTO_LOGIN KEYSTORE');
	run_sql(akm_sql(q{SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE}), '', 'close with the external store');
	run_sql(akm_sql(q{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE}), '', 'open with the external store');

	run_sql(akm_sql(qq{EXPORT KEYS WITH SECRET "$S{exp}" TO '$outside/k2.exp' IDENTIFIED BY "$S{pw2}"
		WITH IDENTIFIER IN (SELECT key_id FROM v\$encryption_keys WHERE tag = 'second')}), '', 'EXPORT KEYS');
	run_sql(akm_sql(qq{MOVE KEYS TO NEW KEYSTORE '$root/archive' IDENTIFIED BY "$S{move}"
		FROM KEYSTORE IDENTIFIED BY "$S{pw2}" WITH IDENTIFIER IN '$k2' WITH BACKUP}), '', 'MOVE KEYS');
	run_sql(akm_sql(qq{IMPORT KEYS WITH SECRET "$S{expwrong}" FROM '$outside/k2.exp' IDENTIFIED BY "$S{pw2}" WITH BACKUP}),
		'28P01', 'IMPORT KEYS with a wrong secret');
	run_sql(akm_sql(qq{IMPORT KEYS WITH SECRET "$S{exp}" FROM '$outside/k2.exp' IDENTIFIED BY "$S{pw2}" WITH BACKUP}),
		'', 'IMPORT KEYS');
	run_sql(akm_sql(qq{MERGE KEYSTORE '$root/archive' IDENTIFIED BY "$S{move}" AND KEYSTORE '$wdir' IDENTIFIED BY "$S{pw2}"
		INTO NEW KEYSTORE '$root/merged' IDENTIFIED BY "$S{merge}"}), '', 'MERGE into a new keystore');
	run_sql(akm_sql(qq{MERGE KEYSTORE '$root/merged' IDENTIFIED BY "$S{wrong}" INTO EXISTING KEYSTORE '$root/archive'
		IDENTIFIED BY "$S{move}" WITH BACKUP}), '28P01', 'MERGE with a wrong password');
	run_sql(akm_sql(qq{MERGE KEYSTORE '$root/merged' IDENTIFIED BY "$S{merge}" INTO EXISTING KEYSTORE '$root/archive'
		IDENTIFIED BY "$S{move}" WITH BACKUP}), '', 'MERGE into an existing keystore');
	my ($k1, $k3) = split /\n/, $node->safe_psql('postgres',
		q{SELECT key_id FROM v$encryption_keys WHERE tag IN ('first', 'third') ORDER BY tag});
	run_sql(akm_sql(qq{USE KEY '$k3' USING TAG 'third, active' IDENTIFIED BY "$S{pw2}" WITH BACKUP}), '',
		'USE KEY: the ARIA256 key re-wraps the relation keys');
	run_sql(akm_sql(qq{SET TAG 'first, old' FOR '$k1' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP}), '',
		'SET TAG with the external store');

	# other ways a statement carries its secret
	run_sql(qq{DO \$\$BEGIN PERFORM tde.close_keystore(password => '$S{do}'); END\$\$}, '28P01', 'a DO block');
	run_sql(qq{EXPLAIN (ANALYZE, COSTS OFF) SELECT tde.update_external_store_secret(secret => '$S{explain}', client => 'HSM_PASSWORD')},
		'', 'EXPLAIN ANALYZE');
	run_sql(qq{PREPARE upd(text) AS SELECT tde.update_external_store_secret(secret => \$1, client => 'HSM_PASSWORD');
			   EXECUTE upd('$S{prep}');}, '', 'PREPARE, then EXECUTE with the secret');
	my ($rc, $pgb) = pgbench_extended($node, $S{bound},
		q{SELECT tde.update_external_store_secret(secret => :pw, client => 'HSM_PASSWORD')});
	is($rc, 0, 'the extended protocol with a bound secret: succeeds') or diag($pgb);
	$client .= $pgb;
	run_sql(qq{DO \$\$BEGIN EXECUTE 'SELECT tde.add_secret(secret => ''$S{nested}'', client => ''N'', password => ''$S{pw2}'', force_keystore => 42)'; END\$\$},
		'42883', 'an error in a nested statement');
	run_sql(qq{CREATE FUNCTION keystore_wrap(p text) RETURNS void LANGUAGE sql AS \$\$SELECT tde.close_keystore(password => p)\$\$;
			   SELECT keystore_wrap('$S{wrapper}');}, '28P01', 'a wrapper function named for a key-management word');

	if ($hsm)
	{
		tde_reload_with($node, 'tde.keystore_configuration', 'HSM|FILE');
		run_sql(akm_sql(qq{SET KEY IDENTIFIED BY "user:$S{hsmwrong}" MIGRATE USING "$S{pw2}" WITH BACKUP}), '28P01',
			'MIGRATE with a wrong HSM credential');
		run_sql(akm_sql(qq{SET KEY USING TAG 'hsm' IDENTIFIED BY "user:$S{pin}" MIGRATE USING "$S{pw2}" WITH BACKUP}), '',
			'MIGRATE to the HSM');
		run_sql(akm_sql(qq{UPDATE SECRET '$S{pin}' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '$seps'}), '',
			'the HSM credential into the external store');
		run_sql(akm_sql(qq{ADD SECRET '$S{hsmcs}' FOR CLIENT 'HSM_CLIENT' IDENTIFIED BY "user:$S{pin}" WITH BACKUP}), '',
			'a client secret sealed by the HSM');
		run_sql(q{SELECT tde.rotate_relation_key('cards')}, '', 'a relation key under the HSM key');
		part('f', sub {
			run_sql(q{SELECT tde.open_keystore(password => repeat('h', 255), force_keystore => true)}, '28P01',
				'an HSM credential of 255 bytes is tried');
			run_sql(q{SELECT tde.open_keystore(password => repeat('h', 256), force_keystore => true)}, '22023',
				'an HSM credential of 256 bytes');
			my $t0 = time;
			run_sql(q{SELECT tde.open_keystore(password => repeat('h', 8388608), force_keystore => true)}, '22023',
				'an HSM credential of 8 MB');
			my $secs = time - $t0;
			ok($secs < 1.5, sprintf('and it is refused in %.3fs, psql included', $secs));
		});
		tde_reload_with($node, 'tde.keystore_configuration', 'FILE|HSM');
		run_sql(akm_sql(qq{SET KEY USING TAG 'back' IDENTIFIED BY "$S{pw2}" REVERSE MIGRATE USING "user:$S{pin}"}), '',
			'REVERSE MIGRATE');
	}
	# (pg_stat_statements shows constants as $1: the marker is a name)
	run_sql(q{SELECT 1 AS ordinary_marker_052}, '', 'an ordinary statement');
});

# --- d: modes (before the scans, which then cover the rewritten files too) ---

my $tde_file = qr{/(ewallet[^/]*\.p12|cwallet\.sso|hsm_keys\.sso|[^/]*\.exp)$};
part('d', sub {
	# files made 0644 by someone are rewritten 0600 (a new file, renamed)
	chmod 0644, "$wdir/ewallet.p12", "$wdir/cwallet.sso", "$seps/cwallet.sso";
	my $k = $node->safe_psql('postgres', q{SELECT key_id FROM v$encryption_keys WHERE tag = 'second'});
	run_sql(akm_sql(qq{SET TAG 'rewritten' FOR '$k' IDENTIFIED BY "$S{pw2}" WITH BACKUP}), '', 'SET TAG rewrites the wallets');
	run_sql(akm_sql(qq{UPDATE SECRET '$S{pw2}' FOR CLIENT 'TDE_WALLET' TO AUTO_LOGIN KEYSTORE '$seps'}), '',
		'UPDATE SECRET rewrites the external store');

	my (@files, @dirs);
	find({ no_chdir => 1, wanted => sub {
		push @files, $_ if -f $_;
		push @dirs, $_ if -d $_;
	} }, $root, $outside);
	my %mode = map { $_ => file_mode($_) } @files, @dirs;
	for my $f (sort @files)
	{
		is(sprintf('%04o', $mode{$f}), '0600', "$f is 0600");
	}
	for my $d (sort grep { $_ ne $outside } @dirs)
	{
		is(sprintf('%04o', $mode{$d} & 077), '0000', "$d is not group or world accessible");
	}
	my @want = ("$wdir/ewallet.p12", "$wdir/cwallet.sso", "$seps/cwallet.sso", "$root/apps/cwallet.sso",
		"$root/archive/ewallet.p12", "$root/merged/ewallet.p12", "$outside/k2.exp", ($hsm ? "$wdir/hsm_keys.sso" : ()));
	is_deeply([ grep { !-f $_ } @want ], [], 'every kind of file was written');
	ok((grep { m{/tde/ewallet_\d{16}_pwchange\.p12$} } @files) && (grep { m{^\Q$outside\E/ewallet_\d{16}_bk\.p12$} } @files),
		'the backups were written');
	is_deeply([ grep { /\.tmp\./ } @files ], [], 'no temporary file is left');
	is_deeply([ grep { !/$tde_file/ } @files ], [], 'every file is a keystore file');
});

# --- c: where the secrets must not be ----------------------------------------

# Every file under the given directories: [path, hits].
sub scan_files
{
	my (@dirs) = @_;
	my @found;
	find({ no_chdir => 1, wanted => sub {
		return unless -f $_ && -r _;
		push @found, [ $_, [ $find->(slurp_file($_)) ] ];
	} }, @dirs);
	return @found;
}

# One test: no secret in $text (or in the files scanned); every hit is
# reported.
sub no_secret
{
	my ($text, $name) = @_;
	my @hits = $find->($text);
	return ok(!@hits, $name) || diag('found: ' . join(', ', @hits));
}

sub no_secret_in_files
{
	my ($files, $name) = @_;
	my @hits = map { "$_->[0]: @{ $_->[1] }" } grep { @{ $_->[1] } } @$files;
	return ok(!@hits, $name) || diag(join("\n", 'found:', @hits));
}

part('c', sub {
	my $idle = tde_session($node);
	session_sql($idle, "SELECT tde.close_keystore(password => '$S{idle}')");
	$node->safe_psql('postgres', 'CHECKPOINT');

	# every relation of every database, read as text (TOAST tables through
	# their tables; template1 holds nothing of the run but the shared
	# catalogs, which every database shows).  A relation slow to read is
	# named, so that the dump's time can be told from tde's.
	my $dump = '';
	for my $db ('postgres', 'app')
	{
		# (the dump itself need not be logged: auto_explain would log the
		# plans of every nested call of every row of some views)
		$dump .= $node->safe_psql($db, q{
			SET auto_explain.log_min_duration = -1;
			SET log_statement = 'none';
			SET log_min_duration_statement = -1;
			CREATE FUNCTION pg_temp.dump_relations() RETURNS SETOF text LANGUAGE plpgsql AS $$
			DECLARE r regclass; t0 timestamptz;
			BEGIN
				-- information_schema's views show the catalogs again, slowly
				FOR r IN SELECT c.oid FROM pg_class c
						 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'S')
						   AND c.relnamespace <> 'information_schema'::regnamespace
						 ORDER BY c.oid LOOP
					t0 := clock_timestamp();
					BEGIN
						RETURN QUERY EXECUTE format('SELECT %L || '': '' || t::text FROM %s t', r::text, r);
					EXCEPTION WHEN OTHERS THEN
						RETURN NEXT r::text || ' could not be read: ' || SQLERRM;
					END;
					IF clock_timestamp() - t0 > interval '0.5 s' THEN
						RETURN NEXT '#slow ' || r::text || ' ' || (clock_timestamp() - t0);
					END IF;
				END LOOP;
			END $$;
			SELECT * FROM pg_temp.dump_relations()}) . "\n";
	}
	diag($1) while $dump =~ /^#(slow .*)$/mg;
	my @unread = $dump =~ /^(\S+) could not be read: (.*)$/mg;
	is_deeply(\@unread, [], 'every relation could be read');
	# (ok, not like: a failure must not print megabytes)
	ok($dump =~ /^pg_stat_statements: .*ordinary_marker_052/m, 'the dump holds pg_stat_statements');
	ok($dump =~ /^"v\$encryption_keys": .*first, old/m, 'and the views of tde');
	ok($dump =~ /^pg_stat_activity: .*<redacted by tde>/m, 'and pg_stat_activity, with an idle session after a password');
	no_secret($dump, 'no relation of any database holds a secret ('
		  . length($dump) . ' bytes of ' . scalar(() = $dump =~ /\n/g) . ' rows)');
	no_secret($client, 'no result or message a client received holds a secret');
	session_close($idle);

	{
		local $ENV{PGOPTIONS} = '-c auto_explain.log_min_duration=-1';
		$node->command_ok([ 'pg_dumpall', '-f', $node->basedir . '/dumpall.sql' ], 'pg_dumpall');
	}
	my @running = scan_files($node->data_dir);
	ok((grep { $_->[0] =~ m{/pg_wal/[0-9A-F]{24}$} } @running) && (grep { $_->[0] =~ m{/pgss_query_texts\.stat$} } @running),
		'the running data directory has WAL and pg_stat_statements\' texts');
	no_secret_in_files(\@running, 'no file of the running data directory holds a secret (' . scalar(@running) . ' files)');

	$node->stop;
	my $log = slurp_file($node->logfile);
	no_secret($log, 'no server log line holds a secret (' . length($log) . ' bytes)');
	# the log is what it should be: translated, every statement, auto_explain's plans
	ok($log =~ /LOG:  (00000: )?Anweisung: SELECT 1 AS ordinary_marker_052/, 'the log is in German and has every statement');
	ok($log =~ /LOG:  (00000: )?Anweisung: <redacted by tde>/, 'and redacted statements');
	ok($log =~ /Query Text: SELECT 1 AS ordinary_marker_052/, "and auto_explain's plans");
	ok($log =~ /FEHLER:  (28P01: )?incorrect password for keystore/, 'and the errors');

	my @all = scan_files($node->basedir, $outside);
	my @keystore = grep { $_->[0] =~ $tde_file } @all;
	my @data = grep { $_->[0] =~ m{^\Q${\ $node->data_dir }\E/} } @all;
	my @other = grep { $_->[0] !~ $tde_file && $_->[0] !~ m{^\Q${\ $node->data_dir }\E/} } @all;
	ok((grep { $_->[0] =~ m{/pg_stat/pg_stat_statements\.stat$} } @data)
		  && index(slurp_file($node->data_dir . '/pg_stat/pg_stat_statements.stat'), 'ordinary_marker_052') >= 0,
		'pg_stat_statements was saved at shutdown');
	no_secret_in_files(\@data, 'no file of the stopped data directory holds a secret (' . scalar(@data) . ' files)');
	no_secret_in_files(\@other, 'no other file outside the keystore holds a secret (' . scalar(@other) . ' files)');
	no_secret_in_files(\@keystore, 'no keystore file holds a secret in clear (' . scalar(@keystore) . ' files)');
});

diag(sprintf('security: c=%d d=%d f=%d', map { $count{$_} // 0 } qw(c d f)));
done_testing();
