# Passwords and secrets never reach the server log, whatever logs the
# statement: log_statement, log_min_duration_statement, the STATEMENT line
# of an error, the extended protocol's execute/parameters lines.  Ordinary
# statements are still logged as usual.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

# log_parameter_max_length_on_error is user-settable: any session may ask
# for its bound parameters to be logged with its errors.
my $node = tde_new_node('log_redaction', q{
log_min_duration_statement = 0
log_min_error_statement = error
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
});
my $seps = wallet_root($node) . '/tde_seps';

# Every secret used below; none may appear in the log.
my %secret = (
	alpha   => 'Pw-ALPHA-123',     # the keystore password
	beta    => 'Pw BETA 456',      # a wrong password
	gamma   => 'Pw-GAMMA-789',     # in a statement with a SQL syntax error
	delta   => 'Pw-DELTA-000',     # PREPARE / EXECUTE
	epsilon => 'Sec-EPSILON-321',  # ADD SECRET
	zeta    => 'Sec-ZETA-654',     # add_external_store_secret
	eta     => 'Pw-ETA-111',       # a syntax error inside the Oracle statement
	theta   => 'Pw-THETA-222',     # last password: bound parameter, log_statement = none
	iota    => 'Pw-IOTA-333',      # new password of ALTER KEYSTORE PASSWORD
	kappa   => 'Pw-KAPPA-444',     # wrong password of ALTER KEYSTORE PASSWORD
	lambda  => 'Sec-LAMBDA-555',   # UPDATE SECRET
	mu      => 'Pw-MU-666',        # inside a DO block
	nu      => 'Pw-NU-777',        # extended protocol, wrong password
);

my ($A, $I) = ($secret{alpha}, $secret{iota});

# [description, SQL, expected SQLSTATE or '' for success]
my @cases = (
	[ 'CREATE KEYSTORE', qq{SELECT tde.administer_key_management('CREATE KEYSTORE IDENTIFIED BY "$A"')}, '' ],
	[ 'open with a wrong password', qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$secret{beta}"')}, '28P01' ],
	[ 'open', qq{SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "$A"')}, '' ],
	[ 'SQL syntax error around a call', qq{SELECT tde.open_keystore(password => '$secret{gamma}'}, '42601' ],
	[ 'syntax error inside the statement', qq{SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY "$secret{eta}" BOGUS')}, '42601' ],
	[ 'ADD SECRET', qq{SELECT tde.administer_key_management('ADD SECRET ''$secret{epsilon}'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''$seps''')}, '' ],
	[ 'UPDATE SECRET', qq{SELECT tde.administer_key_management('UPDATE SECRET ''$secret{lambda}'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''$seps''')}, '' ],
	[ 'add_external_store_secret', qq{SELECT tde.add_external_store_secret(secret => '$secret{zeta}', client => 'HSM_PASSWORD', location => '$seps')}, '' ],
	[ 'ALTER KEYSTORE PASSWORD with a wrong old password', qq{SELECT tde.administer_key_management('ALTER KEYSTORE PASSWORD IDENTIFIED BY "$secret{kappa}" SET "$I" WITH BACKUP')}, '28P01' ],
	[ 'ALTER KEYSTORE PASSWORD', qq{SELECT tde.administer_key_management('ALTER KEYSTORE PASSWORD IDENTIFIED BY "$A" SET "$I" WITH BACKUP USING ''pwchange''')}, '' ],
	[ 'BACKUP KEYSTORE', qq{SELECT tde.backup_keystore(password => '$I', backup_identifier => 'bk')}, '' ],
	[ 'close with a password', qq{SELECT tde.close_keystore(password => '$I')}, '' ],
	[ 'DO block', qq{DO \$\$BEGIN PERFORM tde.open_keystore(password => '$secret{mu}'); END\$\$}, '28P01' ],
	# one session, two statements sent one after the other
	[ 'PREPARE, then EXECUTE with the password', qq{PREPARE p(text) AS SELECT tde.open_keystore(password => \$1);\nEXECUTE p('$secret{delta}');}, '28P01' ],
	[ 'open through external store', q{SELECT tde.open_keystore(external_store => true)}, '28P01' ],
);

for my $c (@cases)
{
	my ($desc, $sql, $state) = @$c;
	my ($ret, $out, $err) = tde_sql($node, $sql);
	if ($state eq '')
	{
		is($ret, 0, "$desc: succeeds") or diag($err);
	}
	else
	{
		is(sqlstate_of($err), $state, "$desc: fails with $state") or diag($err);
	}
}

# The extended protocol with a bind parameter: pgbench -M extended sends
# :pw as $1.
my ($rc, $pgb) = pgbench_extended($node, $I);
is($rc, 0, 'extended protocol: open with a bound password parameter succeeds') or diag($pgb);
is(wallet_status($node), 'OPEN_NO_MASTER_KEY|PASSWORD', 'the keystore is open');
$node->safe_psql('postgres', 'SELECT tde.close_keystore()');
($rc, $pgb) = pgbench_extended($node, $secret{nu});
isnt($rc, 0, 'extended protocol: a wrong bound password fails');
like($pgb, qr/incorrect password/, 'with the incorrect-password error');

# A bound parameter of a successful call.
$node->safe_psql('postgres', qq{SELECT tde.alter_keystore_password(old_password => '$I', new_password => '$secret{theta}', with_backup => true, force_keystore => true)});
($rc, $pgb) = pgbench_extended($node, $secret{theta});
is($rc, 0, 'extended protocol: open with the changed password') or diag($pgb);

# An ordinary statement through the extended protocol keeps its parameters
# in the log.
($rc, $pgb) = pgbench_extended($node, 'ordinary-param-value', 'SELECT length(:pw) AS n');
is($rc, 0, 'extended protocol: an ordinary statement') or diag($pgb);

# With log_statement off, log_min_duration_statement logs the statement
# text on the duration line.
my ($ret, $out, $err) = tde_sql($node, qq{SET log_statement = 'none';
SELECT tde.backup_keystore(password => '$secret{theta}', backup_identifier => 'duration');
SELECT 'ordinary-duration-marker' AS y;});
is($ret, 0, 'a key statement and an ordinary one with log_statement = none') or diag($err);

# Ordinary statements, successful and failing.
$node->safe_psql('postgres', q{SELECT 'ordinary-marker-42' AS x});
($ret, $out, $err) = tde_sql($node, q{SELECT 1/0 AS "ordinary-error-marker"});
is(sqlstate_of($err), '22012', 'an ordinary failing statement fails');

# Make sure everything has reached the log.
$node->safe_psql('postgres', q{SELECT 'end-of-test-marker'});
my $log = slurp_file($node->logfile);

my @lines = split /\n/, $log;

# Lines of the log matching a pattern (compact diagnostics on failure).
sub log_lines
{
	my ($re) = @_;
	return [ grep { /$re/ } @lines ];
}

for my $k (sort keys %secret)
{
	my $s = $secret{$k};
	# The distinctive middle part too, in case the text was split.
	my ($core) = $s =~ /^\S+[- ](\S+[- ]\d+)$/;
	is_deeply(log_lines(qr/\Q$s\E|\Q$core\E/), [],
		"the log does not contain '$s' ($k) or '$core'");
}

ok(@{ log_lines(qr/LOG:  statement: <redacted by tde>$/) } > 0,
	'log_statement lines are redacted');
ok(@{ log_lines(qr/LOG:  duration: [0-9.]+ ms  statement: <redacted by tde>$/) } > 0,
	'log_min_duration_statement lines with the statement are redacted');
ok(@{ log_lines(qr/LOG:  (duration: [0-9.]+ ms  )?execute [^:]*: <redacted by tde>$/) } > 0,
	'extended protocol execute lines are redacted');
ok(@{ log_lines(qr/DETAIL:  parameters: <redacted by tde>$/) } > 0,
	'and their parameters');
is_deeply(log_lines(qr/parameters: \$1 = '(?!ordinary-param-value')/), [],
	'no bound parameter value is logged for a key statement');
ok(@{ log_lines(qr/ERROR:  incorrect password for keystore/) } >= 5,
	'the errors themselves are logged');
is_deeply(log_lines(qr/STATEMENT:  .*(keystore|secret|administer|EXECUTE p)/i), [],
	'no STATEMENT line for a key statement');

# The duration of a key statement is no secret: it should stay in the log
# even when the statement text is redacted.
is_deeply(log_lines(qr/LOG:  duration: <redacted by tde>/), [],
	'duration lines keep their duration (no "duration: <redacted by tde>")');

# Ordinary statements are logged as usual.
like($log, qr/\[(\d+)\] \S+ LOG:  statement: SELECT 'ordinary-marker-42' AS x\n.*\[\1\] \S+ LOG:  duration: [0-9.]+ ms\n/,
	'ordinary statement logged, then its duration');
like($log, qr/LOG:  duration: [0-9.]+ ms  statement: SELECT 'ordinary-duration-marker' AS y/,
	'ordinary statement logged with its duration when log_statement = none');
like($log, qr/LOG:  execute <unnamed>: SELECT length\(\$1\) AS n;?\n.*DETAIL:  parameters: \$1 = 'ordinary-param-value'/,
	'an ordinary extended-protocol statement is logged with its parameters');
like($log, qr/ERROR:  division by zero\n.*STATEMENT:  SELECT 1\/0 AS "ordinary-error-marker"/,
	'an ordinary failing statement gets its STATEMENT line');

$node->stop;
done_testing();
