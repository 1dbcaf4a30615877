# HSM misconfiguration and wrong credentials: a PKCS#11 library that cannot
# be loaded (58P01, with its path) or is no PKCS#11 module, a token label
# that matches no token (42704), a wrong PIN (28P01), a locked PIN (28000),
# and one C_Login per
# attempt (counted by TdeTest.pm's fault-injecting module): a wrong
# credential costs the token's lockout counter one try, never two.  After each failure
# the server is alive (no crash, no crash-restart), v$encryption_wallet
# and v$encryption_keys are as before, and once the setting is fixed and
# reloaded (no restart) a correct open works, in new sessions and in a
# session that saw the failure.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

if (my $why = softhsm_missing() // faulty_pkcs11_missing())
{
	tde_skip_all($why, hsm => 1);
}

# the fault-injecting module's call log, in the postmaster's environment
my $call_log = PostgreSQL::Test::Utils::tempdir() . '/hsm_calls';
$ENV{TDE_TEST_HSM_LOG} = $call_log;
# the fault-injecting module's state (absent: no fault)
my $hsm_state = PostgreSQL::Test::Utils::tempdir() . '/hsm_state';
$ENV{TDE_TEST_HSM_STATE} = $hsm_state;
$ENV{TDE_TEST_PKCS11_REAL} = $TdeTest::SOFTHSM_LIB;

my $pin = $TdeTest::HSM_PIN;
my $badlib = '/nonexistent/lib.so';
my $node = tde_new_node('hsm_failures');
softhsm_setup($node, library => $badlib, conf => "tde.keystore_configuration = 'HSM'\n");

my $pm_pid = postmaster_pid($node);
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

sub open_sql
{
	my ($cred) = @_;
	return qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$cred"')};
}

# The server survived: same postmaster, never restarted, answers.
sub server_alive
{
	my ($when) = @_;
	ok(alive($pm_pid), "$when: postmaster alive");
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
		"$when: no crash-restart");
}

my $wallet_sql = q{SELECT wrl_type || '|' || status || '|' || wallet_type || '|' || wallet_order
       FROM v$encryption_wallet};
my $nkeys_sql = q{SELECT count(*) FROM "v$encryption_keys"};

# --- a library that cannot be loaded ---------------------------------------

is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE',
	'with a missing library the view still answers: HSM CLOSED');
my $err = tde_sql_fails_like($node, open_sql($pin), '58P01',
	qr/could not load PKCS#11 library "\Q$badlib\E"/, 'open with a missing library');
like($err, qr/DETAIL:.*\Q$badlib\E.*No such file or directory/, 'detail from dlerror');
unlike($err, qr/\Q$pin\E/, 'the PIN is not in the error');
server_alive('missing library');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE', 'still CLOSED');
is($node->safe_psql('postgres', $nkeys_sql), '0', 'no keys');

# a session that saw the failure, reused after the fix
my $old = tde_session($node);
my ($out, $serr) = session_sql($old, open_sql($pin));
is(sqlstate_of($serr), '58P01', 'a long-lived session sees the same failure');

# a file that is a shared library but no PKCS#11 module
my $notp11 = $node->safe_psql('postgres', q{SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'})
  . '/tde.so';
$notp11 = '' unless -f $notp11;
SKIP:
{
	skip 'tde.so not found in PKGLIBDIR', 5 unless $notp11;
	tde_reload_with($node, 'tde.pkcs11_library', $notp11);
	tde_sql_fails_like($node, open_sql($pin), '42883', qr/could not load PKCS#11 library "\Q$notp11\E"/,
		'open with a library that is no PKCS#11 module');
	server_alive('not a PKCS#11 module');
}

# a relative path is refused by the setting itself
my ($ret, $o, $e) = tde_sql($node, q{ALTER SYSTEM SET tde.pkcs11_library = 'libsofthsm2.so'});
is(sqlstate_of($e), '22023', 'a relative library path is refused (22023)');

tde_reload_with($node, 'tde.pkcs11_library', $TdeTest::SOFTHSM_LIB);
tde_sql_ok($node, open_sql($pin), 'after fixing the library (reload, no restart) the open works');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN_NO_MASTER_KEY|HSM|SINGLE', 'HSM open');
my $k1 = tde_sql_ok($node, qq{SELECT tde.set_key(tag => 'failures k1', password => '$pin')}, 'SET KEY');
tde_sql_ok($node,
	q{CREATE TABLE t (id int, plain text, ct bytea);
	  INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 20) i;
	  UPDATE t SET ct = tde.encrypt('t', plain);},
	'encrypt rows');
my $check_sql =
  q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};
is($node->safe_psql('postgres', $check_sql), '20|20', 'rows decrypt');
($out, $serr) = session_sql($old, $check_sql);
is($out, '20|20', 'the session that saw the failure decrypts too') or diag($serr);

# The library breaks while the HSM is open: a new backend cannot reach the
# HSM; fixing the setting is enough (the credential is still in memory).
tde_reload_with($node, 'tde.pkcs11_library', $badlib);
tde_sql_fails_like($node, $check_sql, '58P01', qr/could not load PKCS#11 library/,
	'decrypt in a new session with the library gone');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|HSM|SINGLE',
	'the HSM keystore stays open (the status is instance-wide)');
server_alive('library gone while open');
tde_reload_with($node, 'tde.pkcs11_library', $TdeTest::SOFTHSM_LIB);
is($node->safe_psql('postgres', $check_sql), '20|20',
	'library fixed: a new session decrypts without reopening');

# --- a token label that matches no token -----------------------------------

tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pin')}, 'close the HSM');
tde_reload_with($node, 'tde.pkcs11_token_label', 'no_such_token');
tde_sql_fails_like($node, open_sql($pin), '42704', qr/could not get slot: no PKCS#11 token is labelled "no_such_token"/,
	'open with a wrong token label');
server_alive('wrong token label');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE', 'still CLOSED');
is($node->safe_psql('postgres', $nkeys_sql), '0', 'no keys visible');
tde_sql_fails_like($node, $check_sql, '55000', undef, 'decrypt while closed');
tde_reload_with($node, 'tde.pkcs11_token_label', $TdeTest::HSM_TOKEN);
tde_sql_ok($node, open_sql($pin), 'label fixed: open works');
is($node->safe_psql('postgres', $check_sql), '20|20', 'rows decrypt');
($out, $serr) = session_sql($old, $check_sql);
is($out, '20|20', 'the long-lived session decrypts after close/open') or diag($serr);

# A reload of the label reaches a session already logged in, at its next
# HSM call: its session with the old token is not kept.
tde_reload_with($node, 'tde.pkcs11_token_label', 'no_such_token');
($out, $serr) = session_sql($old, q{SELECT tde.rotate_relation_key('t')});
is(sqlstate_of($serr), '08006',
	'a logged-in session follows a changed token label (no such token now: 08006)')
  or diag($serr);
tde_reload_with($node, 'tde.pkcs11_token_label', $TdeTest::HSM_TOKEN);
($out, $serr) = session_sql($old, q{SELECT tde.rotate_relation_key('t')});
is(sqlstate_of($serr), '', 'the label back: the same session wraps again') or diag($serr);
is($node->safe_psql('postgres', $check_sql), '20|20', 'rows decrypt');

# --- a wrong PIN ----------------------------------------------------------------

tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pin')}, 'close the HSM');
my $keys_closed = $node->safe_psql('postgres', $nkeys_sql);
for my $cred ('0000', "tde_user:0000", '')
{
	my $what = $cred eq '' ? 'empty PIN' : "wrong credential '$cred'";
	if ($cred eq '')
	{
		tde_sql_fails_like($node, open_sql($cred), "22023", undef, "open with an $what");
	}
	else
	{
		$err = tde_sql_fails_like($node, open_sql($cred), '28P01', qr/incorrect HSM credential for token "tde"/,
			"open with a $what");
		like($err, qr/ORA-28353/, "$what: ORA-28353 in the detail");
		like($err, qr/CKR_PIN_INCORRECT/, "$what: CKR_PIN_INCORRECT in the detail");
	}
	is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE',
		"$what: the keystore stays CLOSED");
	is($node->safe_psql('postgres', $nkeys_sql), $keys_closed, "$what: no keys visible");
	tde_sql_fails_like($node, $check_sql, '55000', undef, "$what: decrypt still refused");
	server_alive($what);
}
($out, $serr) = session_sql($old, open_sql('1111'));
is(sqlstate_of($serr), '28P01', 'wrong PIN in the long-lived session');
($out, $serr) = session_sql($old, open_sql($pin));
is(sqlstate_of($serr), '', 'the same session then opens with the right PIN') or diag($serr);
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|HSM|SINGLE', 'HSM open');
is($node->safe_psql('postgres', $check_sql), '20|20', 'rows decrypt in a new session');
($out, $serr) = session_sql($old, $check_sql);
is($out, '20|20', 'and in the long-lived session') or diag($serr);

# While open, a statement with a wrong PIN changes nothing.
my $keys_before = $node->safe_psql('postgres', q{SELECT key_id, tag FROM "v$encryption_keys"});
tde_sql_fails_like($node, qq{SELECT tde.set_key(tag => 'never', password => '0000')}, '28P01', undef,
	'SET KEY with a wrong PIN');
tde_sql_fails_like($node, qq{SELECT tde.close_keystore(password => '0000')}, '28P01', undef,
	'close with a wrong PIN');
is($node->safe_psql('postgres', q{SELECT key_id, tag FROM "v$encryption_keys"}), $keys_before,
	'keys unchanged');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|HSM|SINGLE', 'still open');
my ($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
my @objs = ($list =~ /label:\s+TDE_MEK_/g);
is(scalar(@objs), 1, 'the token holds exactly one tde key');

# --- one C_Login per attempt -------------------------------------------------
#
# The credential is the PIN, or Oracle's "user:pin", whose PIN is the part
# after the first colon: one rule, one C_Login.

my $shim = faulty_pkcs11_build(PostgreSQL::Test::Utils::tempdir());
tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pin')}, 'close the HSM');
tde_reload_with($node, 'tde.pkcs11_library', $shim);

sub logins { return hsm_log_count($call_log, qr/^C_Login /); }

for my $cred ('tde_user:0000', '0000', 'x:tde_user:0000')
{
	my $before = logins();
	tde_sql_fails_like($node, open_sql($cred), '28P01', qr/incorrect HSM credential for token "tde"/,
		"one login: open with the wrong credential '$cred'");
	is(logins() - $before, 1, "one login: '$cred' cost exactly one C_Login");
	is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE',
		"one login: '$cred': the keystore stays CLOSED");
}
is(hsm_log_count($call_log, qr/^C_Login \S+ 0xa0$/), 3,
	'one login: the three wrong credentials were three CKR_PIN_INCORRECT, nothing else');

for my $cred ("tde_user:$pin", $pin)
{
	my $before = logins();
	tde_sql_ok($node, open_sql($cred), "one login: open with '$cred'");
	is(logins() - $before, 1, "one login: opening with '$cred' cost one C_Login");
	is($node->safe_psql('postgres', $check_sql), '20|20', "one login: '$cred': rows decrypt");
	tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$cred')}, "one login: close ('$cred')");
}

# --- a locked PIN ---------------------------------------------------------------
#
# A token that locked its user PIN after too many wrong tries answers
# CKR_PIN_LOCKED: 28000, its own message, and nothing opens.

faulty_pkcs11_state($hsm_state, 'up 0 pinlocked');
$err = tde_sql_fails_like($node, open_sql($pin), '28000', qr/the HSM user PIN is locked/,
	'locked PIN: open refused');
like($err, qr/CKR_PIN_LOCKED/, 'locked PIN: CKR_PIN_LOCKED in the detail');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|CLOSED|HSM|SINGLE',
	'locked PIN: the keystore stays CLOSED');
server_alive('locked PIN');
faulty_pkcs11_state($hsm_state, 'up 0');
tde_sql_ok($node, open_sql($pin), 'PIN unlocked: open works');
is($node->safe_psql('postgres', $check_sql), '20|20', 'PIN unlocked: rows decrypt');
tde_sql_ok($node, qq{SELECT tde.close_keystore(password => '$pin')}, 'PIN unlocked: close');

# A PIN with a colon: the part after the first colon is the PIN, so it is
# given behind one more "user:" part.
my ($prc, $pout) = pkcs11_tool('--login', '--pin', $pin, '--change-pin', '--new-pin', 'ab:cd');
is($prc, 0, 'one login: the user PIN changed to "ab:cd"') or diag($pout);
tde_sql_fails_like($node, open_sql('ab:cd'), '28P01', undef,
	'one login: "ab:cd" is user "ab" with PIN "cd", refused');
tde_sql_ok($node, open_sql('u:ab:cd'), 'one login: "u:ab:cd" logs in with PIN "ab:cd"');
is($node->safe_psql('postgres', $check_sql), '20|20', 'one login: rows decrypt');
tde_sql_ok($node, q{SELECT tde.close_keystore(password => 'u:ab:cd')}, 'one login: close');
($prc, $pout) = pkcs11_tool('--login', '--pin', 'ab:cd', '--change-pin', '--new-pin', $pin);
is($prc, 0, 'one login: the user PIN changed back') or diag($pout);
tde_sql_ok($node, open_sql($pin), 'one login: open with the PIN again');

session_close($old);
server_alive('the end');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/,
	'no backend died');
$node->stop;
done_testing();
