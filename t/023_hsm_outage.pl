# The HSM goes away while the server runs, and comes back.  During the
# outage, work that needs the HSM fails cleanly with a connection-class
# SQLSTATE (08006, never an internal error, never a crash) and changes
# nothing; afterwards new and old sessions work again without restarting
# PostgreSQL.
#
# Part 1, a remote HSM: "p11-kit server" exports the SoftHSM2 token on a
# Unix socket and the server uses p11-kit-client.so (P11_KIT_SERVER_ADDRESS
# in the postmaster's environment).  Killing the p11-kit server and its
# per-connection children is the outage; starting it on the same socket is
# the recovery.  Debian 12's p11-kit (0.24.1) does not forward CKM_AES_GCM
# over its RPC (wrapping answers CKR_MECHANISM_INVALID; SoftHSM2 itself
# supports it), so relation keys cannot be wrapped through it: then the
# data steps of part 1 are skipped and part 1 checks what needs no GCM
# (log in, generate keys, find them).
#
# Part 2, the data path: a small fault-injecting PKCS#11 module, compiled
# here, passes every call to SoftHSM2 and answers CKR_DEVICE_REMOVED while
# a state file says "down"; when the state's epoch changes it closes the
# real sessions first, as a restarted device would have lost them.  It is
# switched in with tde.pkcs11_library and a reload.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use TdeTest;

my $client_lib = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';
my $p11kit = find_program('p11-kit');
if (my $why = softhsm_missing())
{
	tde_skip_all($why, hsm => 1);
}
elsif (!$p11kit)
{
	tde_skip_all('p11-kit is missing (install p11-kit)', hsm => 1);
}
elsif (!-e $client_lib)
{
	tde_skip_all("$client_lib is missing (install p11-kit-modules)", hsm => 1);
}

my $pin = $TdeTest::HSM_PIN;
my $nrows = 40;
my $node = tde_new_node('hsm_outage');
softhsm_setup($node, library => $client_lib, restart => 0,
	conf => "tde.keystore_configuration = 'HSM'\n");

# A short private directory for the socket (sun_path is 108 bytes), and
# the fault injector's state file; both in the postmaster's environment.
my $rundir = PostgreSQL::Test::Utils::tempdir_short();
chmod 0700, $rundir;
my $sock = "$rundir/p11.sock";
my $state_file = "$rundir/hsm_state";
$ENV{XDG_RUNTIME_DIR} = $rundir;
$ENV{P11_KIT_SERVER_ADDRESS} = "unix:path=$sock";
$ENV{TDE_TEST_HSM_STATE} = $state_file;
$ENV{TDE_TEST_PKCS11_REAL} = $TdeTest::SOFTHSM_LIB;

sub set_state
{
	my ($s) = @_;
	open(my $fh, '>', "$state_file.tmp") or die "$state_file.tmp: $!";
	print $fh "$s\n";
	close $fh;
	rename("$state_file.tmp", $state_file) or die "rename: $!";
}
set_state('up 0');

# --- the p11-kit server ---------------------------------------------------------

my ($srv, $srv_out, $srv_err);

sub start_hsm
{
	($srv_out, $srv_err) = ('', '');
	$srv = IPC::Run::start(
		[
			$p11kit, 'server', '-f', '-n', $sock,
			'--provider', $TdeTest::SOFTHSM_LIB, "pkcs11:token=$TdeTest::HSM_TOKEN"
		],
		'<', \'', '>', \$srv_out, '2>', \$srv_err);
	my $deadline = time + 30;
	sleep 0.05 while !-S $sock && time < $deadline;
	sleep 0.1;
	ok(-S $sock, 'p11-kit server listens') or diag("p11-kit server: $srv_out $srv_err");
}

# The p11-kit server we started and the children serving connections.
sub hsm_pids
{
	my @pids = grep { alive($_) } map { $_->{PID} } @{ $srv->{KIDS} };
	my @all = @pids;
	while (@pids)
	{
		my @kids = map { TdeTest::children_of($_) } @pids;
		push @all, @kids;
		@pids = @kids;
	}
	return grep { alive($_) } @all;
}

sub kill_hsm
{
	my @pids = hsm_pids();
	note('killing the p11-kit server: ' . join(' ', @pids));
	kill 'KILL', @pids;
	my $deadline = time + 30;
	sleep 0.05 while grep({ alive($_) } @pids) && time < $deadline;
	ok(!grep({ alive($_) } @pids), 'every p11-kit server process is gone');
	$srv->finish;
}

# never leave a p11-kit server behind, whatever happens
END
{
	kill 'KILL', hsm_pids() if defined $srv;
}

start_hsm();
$node->restart;
my $pm_pid = postmaster_pid($node);
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# --- helpers ----------------------------------------------------------------------------

sub sql_ok
{
	my ($sql, $name) = @_;
	my ($ret, $out, $err) = tde_sql($node, $sql);
	is($ret, 0, $name) or diag($err);
	return $out;
}

# Not an internal error; the backend and the server alive, never restarted.
sub no_crash
{
	my ($err, $what) = @_;
	unlike($err, qr/ERROR:\s+XX000/, "$what: not an internal error");
	unlike($err, qr/server closed the connection|terminating connection/,
		"$what: the backend did not die");
	ok(alive($pm_pid), "$what: postmaster alive");
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
		"$what: no crash-restart");
}

# A failure during the outage: class 08 (08006 exactly), the message.
sub outage_error
{
	my ($err, $what) = @_;
	like(sqlstate_of($err), qr/^08/, "$what: connection-class SQLSTATE") or diag($err);
	is(sqlstate_of($err), '08006', "$what: 08006");
	like($err, qr/HSM is not available/, "$what: \"HSM is not available\"");
	no_crash($err, $what);
}

sub check_sql
{
	my ($rel) = @_;
	return qq{SELECT count(*) FILTER (WHERE tde.decrypt_text('$rel', ct) = plain) || '|' || count(*) FROM $rel};
}
my $nkeys_sql = q{SELECT count(*) FROM "v$encryption_keys"};
my $keys_sql = q{SELECT key_id, coalesce(tag, '') FROM "v$encryption_keys" ORDER BY 1};
my $relkeys_sql = q{SELECT relid, key_version, master_key_id FROM tde.relation_keys ORDER BY 1, 2};
my $wallet_sql = q{SELECT wrl_type || '|' || status || '|' || wallet_order FROM v$encryption_wallet};
my $meta_file = wallet_dir($node) . '/hsm_keys.sso';

# The state an outage must not change.
sub snapshot
{
	return join("\n--\n",
		$node->safe_psql('postgres', $keys_sql),
		$node->safe_psql('postgres', $relkeys_sql),
		slurp_file($meta_file));
}

# =====================================================================
# Part 1: p11-kit remote HSM
# =====================================================================

sql_ok(qq{SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY "$pin"')},
	'p11-kit: open the HSM through p11-kit-client');
my $k1 = sql_ok(qq{SELECT tde.set_key(tag => 'outage k1', password => '$pin')},
	'p11-kit: SET KEY (C_GenerateKey through the RPC)');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE', 'p11-kit: HSM open');
my ($rc, $list) = pkcs11_tool('--login', '--pin', $pin, '--list-objects', '--type', 'secrkey');
like($list, qr/TDE_MEK_\Q@{[key_id_mkid_hex($k1)]}\E/i,
	'p11-kit: the key is in the SoftHSM2 token behind the server');

sql_ok('CREATE TABLE a (id int, plain text, ct bytea); CREATE TABLE b (id int, ct bytea);',
	'p11-kit: tables');
my ($ret, $o, $e) = tde_sql($node,
	qq{INSERT INTO a SELECT i, 'outage ' || i FROM generate_series(1, $nrows) i;
	   UPDATE a SET ct = tde.encrypt('a', plain);});
my $gcm = $ret == 0;
if (!$gcm)
{
	like($e, qr/CKR_MECHANISM_INVALID/,
		'p11-kit: wrapping fails only because the RPC does not forward CKM_AES_GCM');
	no_crash($e, 'p11-kit: GCM refused');
	note('p11-kit RPC without CKM_AES_GCM: data steps of part 1 skipped');
	$node->safe_psql('postgres', 'TRUNCATE a');
}

# an old session that logged in to the HSM (and, with GCM, cached a's key)
my $old = tde_session($node);
my ($out, $err) = session_sql($old,
	qq{SELECT tde.set_tag('$k1', 'outage k1 (old session)', password => '$pin')});
is(sqlstate_of($err), '', 'p11-kit: the old session uses the HSM') or diag($err);
SKIP:
{
	skip 'p11-kit RPC without CKM_AES_GCM', 2 unless $gcm;
	is($node->safe_psql('postgres', check_sql('a')), "$nrows|$nrows", 'p11-kit: a decrypts');
	($out, $err) = session_sql($old, check_sql('a'));
	is($out, "$nrows|$nrows", 'p11-kit: the old session decrypts a') or diag($err);
}
my $before = snapshot();

kill_hsm();

($ret, $o, $e) = tde_sql($node, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')});
isnt($ret, 0, 'p11-kit outage: SET KEY in a new session fails');
outage_error($e, 'p11-kit outage: SET KEY in a new session');
($out, $err) = session_sql($old, qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')});
isnt($err, '', 'p11-kit outage: SET KEY in the old session fails');
outage_error($err, 'p11-kit outage: SET KEY in the old session');
($ret, $o, $e) = tde_sql($node,
	qq{SELECT tde.administer_key_management('SET KEY USING TAG ''outage k2'' IDENTIFIED BY "$pin"')});
isnt($ret, 0, 'p11-kit outage: the SET KEY statement fails');
no_crash($e, 'p11-kit outage: SET KEY statement');
SKIP:
{
	skip 'p11-kit RPC without CKM_AES_GCM', 9 unless $gcm;
	($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('a', ct) FROM a WHERE id = 1});
	isnt($ret, 0, 'p11-kit outage: decrypt in a new session fails');
	outage_error($e, 'p11-kit outage: decrypt in a new session');
	($out, $err) = session_sql($old, check_sql('a'));
	is($out, "$nrows|$nrows", 'p11-kit outage: the old session still decrypts a (cached key)')
	  or diag($err);
}
is(snapshot(), $before, 'p11-kit outage: keys, relation keys and hsm_keys.sso unchanged');
is($node->safe_psql('postgres', $nkeys_sql), '1', 'p11-kit outage: still one key');
is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE',
	'p11-kit outage: v$encryption_wallet still shows the HSM open');

start_hsm();
my $k2 = sql_ok(qq{SELECT tde.set_key(tag => 'outage k2', password => '$pin')},
	'p11-kit back: SET KEY in a new session works, without restarting PostgreSQL');
is($node->safe_psql('postgres', $nkeys_sql), '2', 'p11-kit back: two keys');
($out, $err) = session_sql($old, qq{SELECT tde.set_tag('$k2', 'outage k2 (old session)', password => '$pin')});
is(sqlstate_of($err), '', 'p11-kit back: the old session works again') or diag($err);
no_crash($err, 'p11-kit back: old session');
SKIP:
{
	skip 'p11-kit RPC without CKM_AES_GCM', 2 unless $gcm;
	is($node->safe_psql('postgres', check_sql('a')), "$nrows|$nrows",
		'p11-kit back: a new session decrypts a');
	($out, $err) = session_sql($old, check_sql('a'));
	is($out, "$nrows|$nrows", 'p11-kit back: the old session decrypts a') or diag($err);
}
session_close($old);
kill_hsm();

# =====================================================================
# Part 2: the data path, with a fault-injecting module around SoftHSM2
# =====================================================================

my $cc = find_program('cc') // find_program('gcc');
my $p11inc = '/usr/include/p11-kit-1';
SKIP:
{
	skip 'no C compiler or no <p11-kit/pkcs11.h>: part 2 skipped', 1
	  unless $cc && -f "$p11inc/p11-kit/pkcs11.h";

	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $src = "$dir/faulty_p11.c";
	my $shim = "$dir/faulty_p11.so";
	open(my $fh, '>', $src) or die "$src: $!";
	print $fh <<'EOC';
/* PKCS#11 module for tde's outage test: every call goes to the module
 * named by TDE_TEST_PKCS11_REAL, except that while the file named by
 * TDE_TEST_HSM_STATE says "down <epoch>" the calls that reach the device
 * answer CKR_DEVICE_REMOVED.  When the epoch changes, the real sessions
 * of this process are closed first: a restarted device has lost them. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR real = NULL;
static CK_FUNCTION_LIST shim;
static long seen_epoch = -1;
static int initialized = 0;

static int
hsm_down(void)
{
	const char *path = getenv("TDE_TEST_HSM_STATE");
	char buf[64];
	long epoch;
	int fd, down;
	ssize_t n;

	if (path == NULL || (fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	down = strncmp(buf, "down", 4) == 0;
	epoch = strtol(buf + (down ? 4 : 2), NULL, 10);
	if (seen_epoch >= 0 && epoch != seen_epoch && initialized)
	{
		CK_SLOT_ID slots[32];
		CK_ULONG ns = 32, i;

		if (real->C_GetSlotList(CK_FALSE, slots, &ns) == CKR_OK)
			for (i = 0; i < ns; i++)
				(void) real->C_CloseAllSessions(slots[i]);
	}
	seen_epoch = epoch;
	return down;
}

#define CHECK() do { if (hsm_down()) return CKR_DEVICE_REMOVED; } while (0)

static CK_RV s_Initialize(void *a)
{ CK_RV rv = real->C_Initialize(a); if (rv == CKR_OK) initialized = 1; (void) hsm_down(); return rv; }
static CK_RV s_Finalize(void *a)
{ initialized = 0; return real->C_Finalize(a); }
static CK_RV s_GetSlotList(CK_BBOOL t, CK_SLOT_ID_PTR l, CK_ULONG_PTR c)
{ CHECK(); return real->C_GetSlotList(t, l, c); }
static CK_RV s_GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO_PTR i)
{ CHECK(); return real->C_GetTokenInfo(s, i); }
static CK_RV s_OpenSession(CK_SLOT_ID s, CK_FLAGS f, void *a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h)
{ CHECK(); return real->C_OpenSession(s, f, a, n, h); }
static CK_RV s_CloseSession(CK_SESSION_HANDLE h)
{ CHECK(); return real->C_CloseSession(h); }
static CK_RV s_Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG l)
{ CHECK(); return real->C_Login(h, u, p, l); }
static CK_RV s_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{ CHECK(); return real->C_FindObjectsInit(h, t, n); }
static CK_RV s_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n)
{ CHECK(); return real->C_FindObjects(h, o, m, n); }
static CK_RV s_FindObjectsFinal(CK_SESSION_HANDLE h)
{ CHECK(); return real->C_FindObjectsFinal(h); }
static CK_RV s_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k)
{ CHECK(); return real->C_GenerateKey(h, m, t, n, k); }
static CK_RV s_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{ CHECK(); return real->C_EncryptInit(h, m, k); }
static CK_RV s_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{ CHECK(); return real->C_Encrypt(h, d, l, o, ol); }
static CK_RV s_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{ CHECK(); return real->C_DecryptInit(h, m, k); }
static CK_RV s_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{ CHECK(); return real->C_Decrypt(h, d, l, o, ol); }

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (real == NULL)
	{
		const char *path = getenv("TDE_TEST_PKCS11_REAL");
		void *dl = dlopen(path ? path : "/usr/lib/softhsm/libsofthsm2.so", RTLD_NOW | RTLD_LOCAL);
		CK_C_GetFunctionList get;

		if (dl == NULL || (get = (CK_C_GetFunctionList) dlsym(dl, "C_GetFunctionList")) == NULL ||
			get(&real) != CKR_OK)
			return CKR_GENERAL_ERROR;
		shim = *real;
		shim.C_Initialize = s_Initialize;
		shim.C_Finalize = s_Finalize;
		shim.C_GetSlotList = s_GetSlotList;
		shim.C_GetTokenInfo = s_GetTokenInfo;
		shim.C_OpenSession = s_OpenSession;
		shim.C_CloseSession = s_CloseSession;
		shim.C_Login = s_Login;
		shim.C_FindObjectsInit = s_FindObjectsInit;
		shim.C_FindObjects = s_FindObjects;
		shim.C_FindObjectsFinal = s_FindObjectsFinal;
		shim.C_GenerateKey = s_GenerateKey;
		shim.C_EncryptInit = s_EncryptInit;
		shim.C_Encrypt = s_Encrypt;
		shim.C_DecryptInit = s_DecryptInit;
		shim.C_Decrypt = s_Decrypt;
	}
	*list = &shim;
	return CKR_OK;
}
EOC
	close $fh;
	my ($cout, $cerr) = ('', '');
	IPC::Run::run([ $cc, '-shared', '-fPIC', '-O1', "-I$p11inc", '-o', $shim, $src, '-ldl' ],
		'>', \$cout, '2>', \$cerr)
	  or BAIL_OUT("compiling the fault-injecting PKCS#11 module failed: $cout $cerr");

	$node->safe_psql('postgres',
		qq{ALTER SYSTEM SET tde.pkcs11_library = '$shim'; SELECT pg_reload_conf();});
	ok($node->poll_query_until('postgres', 'SHOW tde.pkcs11_library', $shim),
		'part 2: tde.pkcs11_library is the fault injector (reload, no restart)');

	sql_ok(
		qq{CREATE TABLE a2 (id int, plain text, ct bytea); CREATE TABLE b2 (id int, ct bytea);
		   INSERT INTO a2 SELECT i, 'outage2 ' || i FROM generate_series(1, $nrows) i;
		   UPDATE a2 SET ct = tde.encrypt('a2', plain);},
		'part 2: encrypt rows of relation a2 (relation key wrapped in the HSM)');
	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows", 'part 2: a2 decrypts');

	# old sessions: one decrypts (caches a2's key) and works during the
	# outage, one stays idle through it
	my $busy = tde_session($node);
	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2: the busy old session decrypts a2') or diag($err);
	my $idle = tde_session($node);
	($out, $err) = session_sql($idle, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2: the idle old session decrypts a2') or diag($err);
	my $keys_before = $node->safe_psql('postgres', $nkeys_sql);
	$before = snapshot();

	set_state('down 1');

	($ret, $o, $e) = tde_sql($node, q{SELECT tde.decrypt_text('a2', ct) FROM a2 WHERE id = 1});
	isnt($ret, 0, 'part 2 outage: decrypt in a new session (cold cache) fails');
	outage_error($e, 'part 2 outage: decrypt in a new session');
	like($e, qr/DETAIL:.*CKR_DEVICE_REMOVED/, 'part 2 outage: the CKR name is in the detail');

	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 outage: the busy old session still decrypts a2 (cached key)')
	  or diag($err);
	($out, $err) = session_sql($busy, q{INSERT INTO b2 VALUES (1, tde.encrypt('b2', 'b2 one'::text))});
	isnt($err, '', 'part 2 outage: the busy old session cannot encrypt a new relation');
	outage_error($err, 'part 2 outage: old session, new relation');

	($ret, $o, $e) = tde_sql($node, qq{SELECT tde.set_key(tag => 'outage k3', password => '$pin')});
	isnt($ret, 0, 'part 2 outage: SET KEY fails');
	outage_error($e, 'part 2 outage: SET KEY');
	($ret, $o, $e) = tde_sql($node, q{SELECT tde.rotate_relation_key('a2')});
	isnt($ret, 0, 'part 2 outage: rotate_relation_key fails');
	outage_error($e, 'part 2 outage: rotate_relation_key');
	is($node->safe_psql('postgres', $nkeys_sql), $keys_before,
		'part 2 outage: v$encryption_keys count unchanged');
	is(snapshot(), $before, 'part 2 outage: keys, relation keys and hsm_keys.sso unchanged');
	is($node->safe_psql('postgres', $wallet_sql), 'HSM|OPEN|SINGLE',
		'part 2 outage: v$encryption_wallet consistent (HSM keystore open)');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM b2'), '0',
		'part 2 outage: nothing was written to b2');

	set_state('up 1');

	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows",
		'part 2 back: a new session decrypts a2, without restarting PostgreSQL');
	($out, $err) = session_sql($busy, q{INSERT INTO b2 VALUES (1, tde.encrypt('b2', 'b2 one'::text))});
	is(sqlstate_of($err), '', 'part 2 back: the busy old session encrypts into b2') or diag($err);
	my $k3 = sql_ok(qq{SELECT tde.set_key(tag => 'outage k3', password => '$pin')},
		'part 2 back: SET KEY works');
	is($node->safe_psql('postgres', $nkeys_sql), $keys_before + 1, 'part 2 back: one more key');
	is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT master_key_id, ',') FROM tde.relation_keys}),
		$k3, 'part 2 back: relation keys re-wrapped under the new key');
	is($node->safe_psql('postgres', check_sql('a2')), "$nrows|$nrows",
		'part 2 back: a2 decrypts after the rekey');
	($out, $err) = session_sql($busy, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 back: the busy old session decrypts a2 (through the HSM)')
	  or diag($err);
	($out, $err) = session_sql($busy, q{SELECT tde.decrypt_text('b2', ct) FROM b2});
	is($out, 'b2 one', 'part 2 back: the busy old session decrypts b2') or diag($err);
	($out, $err) = session_sql($idle, check_sql('a2'));
	is($out, "$nrows|$nrows", 'part 2 back: the idle old session (dead PKCS#11 session) decrypts a2')
	  or diag($err);
	($out, $err) = session_sql($idle, q{SELECT tde.rotate_relation_key('b2')});
	is(sqlstate_of($err), '', 'part 2 back: the idle old session wraps a new relation key')
	  or diag($err);
	session_close($busy);
	session_close($idle);
}

no_crash('', 'the end');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal/, 'no backend died');
$node->stop;
done_testing();
