# Secrets stay out of the server log whatever the language of its messages
# (lc_messages = 'de_DE.UTF-8') and whatever else logs or keeps the
# statement: pgaudit's AUDIT lines, debug_print_parse/rewritten/plan,
# pg_stat_statements (the view and its files), pg_stat_activity, and
# errors that echo an argument.  Run twice: with pg_stat_statements and
# pgaudit loaded before tde in shared_preload_libraries, and after it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

# The SQLSTATE of a German psql error report (FEHLER is ERROR).
sub sqlstate_de { return sqlstate_of(($_[0] // '') =~ s/FEHLER:/ERROR:/gr); }

my $pglib = `pg_config --pkglibdir`;
chomp $pglib;
$pglib = '/usr/lib/postgresql/15/lib' unless -d $pglib;
my $have_pgaudit = -f "$pglib/pgaudit.so";
my $have_german  = grep { /^de_DE\.utf-?8$/i } split /\n/, `locale -a 2>/dev/null`;

plan skip_all => 'locale de_DE.UTF-8 is missing (scripts/setup.sh generates it)'
  unless $have_german;

# Messages and their labels as this server writes them in German.
my %de = (
	statement => 'Anweisung: ',
	duration  => 'Dauer: ',
	params    => 'Parameter: ',
	prepare   => 'Vorbereiten: ',
	error     => 'FEHLER:  ',
);

sub run_node
{
	my ($name, $preload) = @_;
	my $audit_conf = $have_pgaudit ? q{
pgaudit.log = 'all'
pgaudit.log_parameter = on
pgaudit.log_relation = on
} : '';
	my $node = tde_new_node($name, qq{
shared_preload_libraries = '$preload'
lc_messages = 'de_DE.UTF-8'
log_min_duration_statement = 0
log_min_error_statement = error
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
pg_stat_statements.save = on
$audit_conf});
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements');
	$node->safe_psql('postgres', 'CREATE EXTENSION pgaudit') if $have_pgaudit;
	my $seps = wallet_root($node) . '/tde_seps';
	my $tag = uc substr($name, 0, 3);

	# Every secret used below; none may appear anywhere.
	my %secret = map { $_ => "Sx$tag-" . uc($_) . '-' . int(rand(90000) + 10000) } qw(
	  create wrong akmsecret do explain prepexec extended extbad
	  parsetree swapped swappedloc wrapper nested activity duration);

	my $upd = sub {
		my ($s) = @_;
		return qq{tde.update_external_store_secret(secret => '$s', client => 'TDE_WALLET', location => '$seps')};
	};

	# [description, SQL, expected SQLSTATE or '' for success]
	my @cases = (
		[ 'CREATE KEYSTORE', qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$secret{create}"')}, '' ],
		[ 'open with a wrong password', qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$secret{wrong}"')}, '28P01' ],
		[ 'open', qq{SELECT tde.open_keystore(password => '$secret{create}')}, '' ],
		[ 'ADD SECRET', qq{SELECT tde.administer_key_management('ADD SECRET ''$secret{akmsecret}'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''$seps''')}, '' ],
		[ 'DO block', qq{DO \$\$BEGIN PERFORM } . $upd->($secret{do}) . q{; END$$}, '' ],
		[ 'EXPLAIN ANALYZE', q{EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT } . $upd->($secret{explain}), '' ],
		[ 'PREPARE, then EXECUTE with the secret',
		  qq{PREPARE upd(text) AS SELECT tde.update_external_store_secret(secret => \$1, client => 'TDE_WALLET', location => '$seps');\nEXECUTE upd('$secret{prepexec}');}, '' ],
		[ 'debug_print_parse, _rewritten, _plan',
		  qq{SET debug_print_parse = on; SET debug_print_rewritten = on; SET debug_print_plan = on;\nSELECT } . $upd->($secret{parsetree}) . ';', '' ],
		[ 'swapped arguments: the secret as the client', qq{SELECT tde.add_external_store_secret('TDE_WALLET', '$secret{swapped}', '$seps')}, '0A000' ],
		[ 'swapped arguments: the password as the location', qq{SELECT tde.create_keystore('/x', '$secret{swappedloc}')}, '22023' ],
		[ 'log_statement = none: the duration line holds the statement',
		  qq{SET log_statement = 'none';\nSELECT } . $upd->($secret{duration}) . ';', '' ],
		# a wrapper function whose call names a key-management word
		[ 'a wrapper function', qq{CREATE FUNCTION rotate_secret(s text) RETURNS void LANGUAGE sql AS \$\$SELECT tde.update_external_store_secret(secret => s, client => 'TDE_WALLET', location => '$seps')\$\$;\nSELECT rotate_secret('$secret{wrapper}');}, '' ],
		# an error inside a nested statement: CONTEXT and QUERY lines
		[ 'an error in a nested statement', qq{DO \$\$BEGIN EXECUTE 'SELECT tde.open_keystore(password => ''$secret{nested}'', force_keystore => 42)'; END\$\$}, '42883' ],
	);

	for my $c (@cases)
	{
		my ($desc, $sql, $state) = @$c;
		my ($ret, $out, $err) = tde_sql($node, $sql);
		if ($state eq '')
		{
			is($ret, 0, "$name: $desc: succeeds") or diag($err);
		}
		else
		{
			is(sqlstate_de($err), $state, "$name: $desc: fails with $state") or diag($err);
		}
		# what the client sees of an echoed argument
		unlike($err, qr/\Q$secret{swapped}\E|\Q$secret{swappedloc}\E/,
			"$name: $desc: the error does not echo a secret given in another argument");
	}

	# The extended protocol: pgbench -M extended binds :pw as $1.
	my ($rc, $pgb) = pgbench_extended($node, $secret{extended},
		qq{SELECT tde.update_external_store_secret(secret => :pw, client => 'TDE_WALLET', location => '$seps')});
	is($rc, 0, "$name: extended protocol with a bound secret succeeds") or diag($pgb);
	($rc, $pgb) = pgbench_extended($node, $secret{extbad}, 'SELECT tde.open_keystore(password => :pw, force_keystore => true)');
	isnt($rc, 0, "$name: extended protocol with a wrong bound password fails");
	($rc, $pgb) = pgbench_extended($node, 'ordinary-bound-value', 'SELECT length(:pw) AS n');
	is($rc, 0, "$name: an ordinary extended-protocol statement") or diag($pgb);

	# pg_stat_activity of an idle session shows its last statement.
	my $s = tde_session($node);
	session_sql($s, 'SELECT ' . $upd->($secret{activity}));
	my $pid = (session_sql($s, 'SELECT pg_backend_pid()'))[0];
	session_sql($s, 'SELECT ' . $upd->($secret{activity}));
	my $activity = $node->safe_psql('postgres',
		"SELECT query FROM pg_stat_activity WHERE pid = $pid");
	is($activity, '<redacted by tde>',
		"$name: pg_stat_activity shows the marker for a statement with a secret");
	session_close($s);

	# Ordinary statements: logged, audited and counted as usual.
	$node->safe_psql('postgres', q{SELECT 'ordinary-marker-42' AS x});
	$node->safe_psql('postgres', q{DO $$BEGIN PERFORM 'ordinary-do-marker'; END$$});
	my ($ret, $out, $err) = tde_sql($node, q{SELECT 1/0 AS "ordinary-error-marker"});
	is(sqlstate_de($err), '22012', "$name: an ordinary failing statement fails");

	# pg_stat_statements, as pg_monitor reads it; the searched strings are
	# built in SQL so that the query cannot find itself.
	my $pgss = $node->safe_psql('postgres', q{SELECT string_agg(query, E'\n') FROM pg_stat_statements});
	like($pgss, qr/ordinary-do-marker/, "$name: pg_stat_statements keeps an ordinary DO block");
	for my $k (sort keys %secret)
	{
		unlike($pgss, qr/\Q$secret{$k}\E/, "$name: pg_stat_statements does not hold the $k secret");
	}
	my $texts = slurp_file($node->data_dir . '/pg_stat_tmp/pgss_query_texts.stat');
	like($texts, qr/ordinary-do-marker/, "$name: the query text file holds an ordinary DO block");
	for my $k (sort keys %secret)
	{
		unlike($texts, qr/\Q$secret{$k}\E/, "$name: pgss_query_texts.stat does not hold the $k secret");
	}

	# The statistics saved at shutdown, and read back after the restart.
	$node->stop;
	my $stat = slurp_file($node->data_dir . '/pg_stat/pg_stat_statements.stat');
	like($stat, qr/ordinary-do-marker/, "$name: pg_stat_statements.stat holds an ordinary DO block");
	for my $k (sort keys %secret)
	{
		unlike($stat, qr/\Q$secret{$k}\E/, "$name: pg_stat_statements.stat does not hold the $k secret");
	}
	$node->start;
	$pgss = $node->safe_psql('postgres', q{SELECT string_agg(query, E'\n') FROM pg_stat_statements});
	like($pgss, qr/ordinary-do-marker/, "$name: after the restart, pg_stat_statements keeps the ordinary DO block");
	unlike($pgss, qr/SxBEF|SxAFT/, "$name: after the restart, pg_stat_statements holds no secret");
	$node->stop;

	my $log = slurp_file($node->logfile);
	my @lines = split /\n/, $log;
	my $lines = sub {
		my ($re) = @_;
		return [ grep { /$re/ } @lines ];
	};

	for my $k (sort keys %secret)
	{
		is_deeply($lines->(qr/\Q$secret{$k}\E/), [], "$name: the log does not contain the $k secret");
	}

	# The messages are in German, and redacted where the statement was.
	ok(@{ $lines->(qr/LOG:  \Q$de{statement}\E<redacted by tde>$/) } >= 8,
		"$name: log_statement lines (German) are redacted");
	ok(@{ $lines->(qr/LOG:  \Q$de{duration}\E[0-9.,]+ ms  \Q$de{statement}\E<redacted by tde>$/) } > 0,
		"$name: duration lines with the statement are redacted and keep their duration");
	ok(@{ $lines->(qr/LOG:  \S+ <unnamed>: <redacted by tde>$/) } > 0,
		"$name: extended-protocol execute lines are redacted");
	ok(@{ $lines->(qr/DETAIL:  \Q$de{params}\E<redacted by tde>$/) } > 0,
		"$name: their parameters are redacted");
	ok(@{ $lines->(qr/DETAIL:  \Q$de{prepare}\E<redacted by tde>$/) } > 0,
		"$name: the prepared statement of an EXECUTE is redacted");
	is_deeply($lines->(qr/\$1 = '(?!ordinary-bound-value')/), [],
		"$name: no bound parameter of a key statement is logged");
	ok(@{ $lines->(qr/\Q$de{error}\Eincorrect password for keystore/) } > 0,
		"$name: the errors themselves are logged");
	is_deeply($lines->(qr/(STATEMENT|ANWEISUNG):  .*(keystore|secret|administer|EXECUTE upd|rotate_secret)/i), [],
		"$name: no STATEMENT line for a key statement");
	# a node tree prints a constant as its bytes in decimal
	for my $k (sort keys %secret)
	{
		my $bytes = join(' ', map { ord } split //, $secret{$k});
		unlike($log, qr/\b$bytes\b/, "$name: no node tree holds the bytes of the $k secret");
	}
	like($log, qr/LOG:  parse tree:\n[^\n]*DETAIL:  <redacted by tde>\n/,
		"$name: the parse tree of a key statement is redacted");
	like($log, qr/LOG:  rewritten parse tree:\n[^\n]*DETAIL:  <redacted by tde>\n/,
		"$name: its rewritten parse tree is redacted");
	like($log, qr/LOG:  plan:\n[^\n]*DETAIL:  <redacted by tde>\n/,
		"$name: its plan is redacted");
	like($log, qr/DETAIL:     \{QUERY/, "$name: the parse tree of an ordinary statement is printed");
	if ($have_pgaudit)
	{
		ok(@{ $lines->(qr/AUDIT: SESSION,.*ordinary-marker-42/) } > 0,
			"$name: pgaudit logs ordinary statements");
		ok(@{ $lines->(qr/AUDIT: SESSION,.*<redacted by tde>/) } > 0,
			"$name: pgaudit lines of key statements are redacted");
	}

	# Ordinary statements are logged as usual, in German.
	like($log, qr/LOG:  \Q$de{statement}\ESELECT 'ordinary-marker-42' AS x/,
		"$name: an ordinary statement is logged");
	like($log, qr/LOG:  \S+ <unnamed>: SELECT length\(\$1\) AS n;?\n.*DETAIL:  \Q$de{params}\E\$1 = 'ordinary-bound-value'/,
		"$name: an ordinary extended-protocol statement is logged with its parameters");
	like($log, qr/Division durch Null\n.*ANWEISUNG:  SELECT 1\/0 AS "ordinary-error-marker"/,
		"$name: an ordinary failing statement gets its STATEMENT line");
}

run_node('before', 'pg_stat_statements' . ($have_pgaudit ? ',pgaudit' : '') . ',tde');
run_node('after', 'tde,pg_stat_statements' . ($have_pgaudit ? ',pgaudit' : ''));

done_testing();
