# t/lib/TdeTest.pm: shared helpers for the tde TAP tests.
#
# A node made here preloads tde, has its own wallet root (mode 0700) under
# the node's base directory, a cheap wallet KDF (1000 iterations) and logs
# every statement, so that the redaction of passwords can be checked in any
# test.
#
# The assertions every test needs live here, take the node first and are
# not redefined in a test file: tde_sql_ok, tde_sql_fails,
# tde_sql_fails_like, tde_fails_with, tde_akm_ok, tde_akm_fails,
# tde_reload_with.  A test waits for a state the server shows with
# $node->poll_query_until, and for anything else (a file, a socket, a
# process) with tde_wait_until, never with a sleep loop of its own.

package TdeTest;

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use Time::HiRes qw(usleep);

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  tde_skip_all tde_sql_ok tde_new_node tde_make_wallet_root wallet_root wallet_dir
  ewallet_path cwallet_path tde_sql sqlstate_of wallet_status file_mode
  postmaster_pid crash_node alive tde_fails_with tde_sql_fails tde_sql_fails_like
  tde_reload_with tde_wait_until spew_file set_key_sql pgbench_extended
);

# Skip the whole file for a missing component, as plan skip_all does;
# with TDE_REQUIRE_HSM=1 in the environment (scripts/test.sh sets it once
# setup has installed SoftHSM2 and p11-kit) a missing HSM component is a
# failure instead, so that no HSM test can silently stop running.
sub tde_skip_all
{
	my ($why, %opt) = @_;
	if ($ENV{TDE_REQUIRE_HSM} && $opt{hsm})
	{
		plan tests => 1;
		fail("TDE_REQUIRE_HSM=1, but the HSM tests cannot run: $why");
		exit 1;
	}
	plan skip_all => $why;
}

# Create, configure and start a node; CREATE EXTENSION tde in postgres.
# Extra postgresql.conf text may be given as the second argument; any
# further "key => value" options go to PostgreSQL::Test::Cluster->init
# (e.g. allows_streaming => 1):
#   tde_new_node('x');  tde_new_node('x', $conf);
#   tde_new_node('x', allows_streaming => 1);  tde_new_node('x', $conf, %init)
sub tde_new_node
{
	my ($name, @rest) = @_;
	my $extra_conf = @rest % 2 ? shift @rest : undef;
	my %init = @rest;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%init);
	my $root = tde_make_wallet_root($node);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'tde'
tde.wallet_root = '$root'
tde.wallet_kdf_iterations = 1000
log_statement = 'all'
});
	$node->append_conf('postgresql.conf', $extra_conf) if defined $extra_conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION tde');
	return $node;
}

# Make the node's wallet root (mode 0700) under its base directory;
# returns its path.  tde_new_node calls it; a node made another way (a
# standby from a backup) calls it and sets tde.wallet_root itself.
sub tde_make_wallet_root
{
	my ($node) = @_;
	my $root = wallet_root($node);
	make_path($root, { mode => 0700 });
	chmod 0700, $root;
	return $root;
}

sub wallet_root  { return $_[0]->basedir . '/wallet_root'; }
sub wallet_dir   { return wallet_root($_[0]) . '/tde'; }
sub ewallet_path { return wallet_dir($_[0]) . '/ewallet.p12'; }
sub cwallet_path { return wallet_dir($_[0]) . '/cwallet.sso'; }

# Run SQL with verbose error reports (SQLSTATE in stderr).  Never dies.
# Returns ($exit_code, $stdout, $stderr).
sub tde_sql
{
	my ($node, $sql, $db) = @_;
	my ($out, $err) = ('', '');
	my $ret = $node->psql(
		$db // 'postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1);
	return ($ret, $out, $err);
}

# Run SQL that must succeed, as one test named $name; returns its stdout
# (and stderr in list context).  The one sql_ok of the test files.
sub tde_sql_ok
{
	my ($node, $sql, $name, $db) = @_;
	my ($ret, $out, $err) = tde_sql($node, $sql, $db);
	is($ret, 0, $name) or diag($err);
	return wantarray ? ($out, $err) : $out;
}

# A statement that must have failed with SQLSTATE $state, given tde_sql's
# exit code and stderr: two tests, "$name: fails" and "$name: SQLSTATE
# $state".  Returns the stderr.
sub tde_fails_with
{
	my ($ret, $err, $state, $name) = @_;
	isnt($ret, 0, "$name: fails");
	is(sqlstate_of($err), $state, "$name: SQLSTATE $state") or diag($err);
	return $err;
}

# Run SQL that must fail with SQLSTATE $state (the two tests of
# tde_fails_with); returns its stderr.  The one sql_fails of the test files.
sub tde_sql_fails
{
	my ($node, $sql, $state, $name, $db) = @_;
	my ($ret, $out, $err) = tde_sql($node, $sql, $db);
	return tde_fails_with($ret, $err, $state, $name);
}

# As tde_sql_fails, and, if $msg (a regex) is defined, a third test
# "$name: message" that the stderr matches it.
sub tde_sql_fails_like
{
	my ($node, $sql, $state, $msg, $name, $db) = @_;
	my $err = tde_sql_fails($node, $sql, $state, $name, $db);
	like($err, $msg, "$name: message") if defined $msg;
	return $err;
}

# The SQLSTATE of the first ERROR in psql's verbose stderr, or '' if none.
sub sqlstate_of
{
	my ($err) = @_;
	return $1 if defined $err && $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return '';
}

# "status|wallet_type" from v$encryption_wallet, with psql's stderr
# (where an auto-open WARNING would appear) as a second value in list
# context.
sub wallet_status
{
	my ($node, $db) = @_;
	my ($ret, $out, $err) = tde_sql($node,
		'SELECT status, wallet_type FROM v$encryption_wallet', $db);
	die "querying v\$encryption_wallet failed: $err" if $ret != 0;
	return wantarray ? ($out, $err) : $out;
}

# ALTER SYSTEM SET $guc = '$value' and reload, then wait until a new
# session sees the value (the reload is asynchronous): one test, named
# $name or "$guc reloaded as '$value'".
sub tde_reload_with
{
	my ($node, $guc, $value, $name) = @_;
	$node->safe_psql('postgres', qq{ALTER SYSTEM SET $guc = '$value'; SELECT pg_reload_conf();});
	return ok($node->poll_query_until('postgres', "SHOW $guc", $value),
		$name // "$guc reloaded as '$value'");
}

# Wait until $cond->() is true, checking every $interval seconds (default
# 0.05) for at most $timeout seconds (default: the TAP tests' timeout);
# returns the last value of $cond->().  For what no query can see (a
# process going away, a file or socket appearing); a state the server
# shows is waited for with $node->poll_query_until.
sub tde_wait_until
{
	my ($cond, $timeout, $interval) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	$interval //= 0.05;
	my $deadline = Time::HiRes::time() + $timeout;
	my $v;
	until (($v = $cond->()) || Time::HiRes::time() >= $deadline)
	{
		usleep(int($interval * 1_000_000));
	}
	return $v;
}

# Write $data to $path as it is (binary), replacing the file.
sub spew_file
{
	my ($path, $data) = @_;
	open(my $fh, '>:raw', $path) or die "could not write $path: $!";
	print $fh $data;
	close $fh or die "could not close $path: $!";
	return;
}

# The typed rekey: SET KEY with a tag and a backup.
sub set_key_sql
{
	my ($password, $tag) = @_;
	return qq{SELECT tde.set_key(tag => '$tag', password => '$password', with_backup => true)};
}

# Run one statement through the extended protocol, with pgbench -M
# extended and :pw bound as $1 to $value; the statement defaults to
# opening the keystore with :pw.  Returns (exit code, stdout and stderr).
sub pgbench_extended
{
	my ($node, $value, $sql) = @_;
	my $script = $node->basedir . '/pgbench_extended.sql';
	open(my $fh, '>', $script) or die "$script: $!";
	print $fh ($sql // 'SELECT tde.open_keystore(password => :pw)'), ";\n";
	close $fh;
	my ($out, $err) = ('', '');
	local %ENV = $node->_get_env();
	IPC::Run::run(
		[
			'pgbench', '-n', '-M', 'extended', '-t', '1', '-c', '1',
			'-D', "pw=$value", '-f', $script, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

# Permission bits of a file, e.g. 0600.
sub file_mode
{
	my ($path) = @_;
	my @st = stat($path) or return -1;
	return $st[2] & 07777;
}

# The postmaster's pid, from postmaster.pid, or undef.
sub postmaster_pid
{
	my ($node) = @_;
	my $file = $node->data_dir . '/postmaster.pid';
	open(my $fh, '<', $file) or return undef;
	my $pid = <$fh>;
	close $fh;
	return undef unless defined $pid;
	chomp $pid;
	return $pid =~ /^\d+$/ ? $pid : undef;
}

# State letter and parent pid of a process, or () if it is gone.
sub proc_state
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return ();
	my $line = <$fh>;
	close $fh;
	return () unless defined $line && $line =~ /\)\s+(\S)\s+(\d+)/;
	return ($1, $2);
}

# Alive means existing and not a zombie: a zombie holds no shared memory.
sub alive
{
	my ($pid) = @_;
	my ($state) = proc_state($pid);
	return defined $state && $state ne 'Z' && $state ne 'X';
}

sub children_of
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or return ();
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		my (undef, $parent) = proc_state($p);
		push @kids, $p if defined $parent && $parent == $ppid;
	}
	closedir $dh;
	return @kids;
}

# Crash the whole server at once, as a power cut or the OOM killer would:
# SIGKILL to the postmaster and then to every one of its children (a
# backend busy in a long computation would otherwise finish its work after
# the postmaster died).  Waits until no process is left (orphans may be
# reaped late here: zombies are counted as gone) and removes the stale
# postmaster.pid.  Returns the number of processes killed.
sub crash_node
{
	my ($node) = @_;
	my $pm = postmaster_pid($node);
	die "no postmaster.pid" unless defined $pm;
	my @family = ($pm, children_of($pm));

	kill 'KILL', $pm;
	kill 'KILL', @family[1 .. $#family] if @family > 1;
	# Tell the Cluster object the node is down (kill9 only sends the
	# signal and forgets the pid).
	$node->kill9;

	tde_wait_until(sub { !grep { alive($_) } @family }, 120);
	die "processes of the killed server are still running: "
	  . join(' ', grep { alive($_) } @family)
	  if grep { alive($_) } @family;

	# A zombie still answers kill(pid, 0), so a new postmaster would take
	# the lock files for live ones.  Give the reaper a moment, then remove
	# them: every process of the old server has exited.
	tde_wait_until(sub { !grep { -e "/proc/$_" } @family }, 5);
	unlink $node->data_dir . '/postmaster.pid';
	unlink $node->host . '/.s.PGSQL.' . $node->port . '.lock';
	return scalar @family;
}
# ---------------------------------------------------------------------
# SoftHSM2 (PKCS#11) helpers for the HSM tests
# ---------------------------------------------------------------------

our $SOFTHSM_LIB = '/usr/lib/softhsm/libsofthsm2.so';
our $HSM_TOKEN   = 'tde';
our $HSM_SO_PIN  = '1234';
our $HSM_PIN     = '5678';

sub find_program
{
	my ($prog) = @_;
	for my $dir ((split /:/, ($ENV{PATH} // '')), '/usr/bin', '/usr/local/bin')
	{
		return "$dir/$prog" if $dir ne '' && -x "$dir/$prog";
	}
	return undef;
}

# Why the HSM tests cannot run here, or undef if they can.
sub softhsm_missing
{
	return "$SOFTHSM_LIB is missing (install softhsm2)" unless -e $SOFTHSM_LIB;
	return 'softhsm2-util is missing (install softhsm2)'
	  unless find_program('softhsm2-util');
	return undef;
}

# Give a node its own SoftHSM2: a config and a token directory under the
# node's base directory (owned by the OS user running the test), a token
# labelled 'tde' with SO PIN 1234 and user PIN 5678, SOFTHSM2_CONF in this
# process's environment (the postmaster inherits it), tde.pkcs11_library
# and tde.pkcs11_token_label in postgresql.conf (options library, label
# and conf, extra postgresql.conf text, override).  Restarts the node
# unless restart => 0.  Returns the SoftHSM2 config's path.
sub softhsm_setup
{
	my ($node, %opt) = @_;
	my $dir  = $node->basedir . '/softhsm';
	my $conf = "$dir/softhsm2.conf";

	make_path("$dir/tokens", { mode => 0700 });
	chmod 0700, $dir, "$dir/tokens";
	open(my $fh, '>', $conf) or die "could not write $conf: $!";
	print $fh <<"EOC";
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = true
EOC
	close $fh;
	$ENV{SOFTHSM2_CONF} = $conf;

	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			find_program('softhsm2-util'), '--init-token', '--free',
			'--label', $HSM_TOKEN, '--so-pin', $HSM_SO_PIN,
			'--pin', $HSM_PIN
		],
		'<', \'', '>', \$out, '2>', \$err)
	  or die "softhsm2-util --init-token failed: $out $err";

	my $lib   = $opt{library} // $SOFTHSM_LIB;
	my $label = $opt{label}   // $HSM_TOKEN;
	$node->append_conf(
		'postgresql.conf', qq{
tde.pkcs11_library = '$lib'
tde.pkcs11_token_label = '$label'
});
	$node->append_conf('postgresql.conf', $opt{conf}) if defined $opt{conf};
	$node->restart unless defined $opt{restart} && !$opt{restart};
	return $conf;
}

# Run pkcs11-tool on the 'tde' token of the SoftHSM2 in SOFTHSM2_CONF;
# returns (exit code, stdout and stderr together).
sub pkcs11_tool
{
	my (@args) = @_;
	my $tool = find_program('pkcs11-tool') or die 'pkcs11-tool is missing';
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ $tool, '--module', $SOFTHSM_LIB, '--token-label', $HSM_TOKEN, @args ],
		'<', \'', '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

# The MKID in a KEY_ID, in lower-case hex: base64 decoded, bytes 2..17.
sub key_id_mkid_hex
{
	my ($key_id) = @_;
	require MIME::Base64;
	my $raw = MIME::Base64::decode_base64($key_id);
	return lc unpack('H*', substr($raw, 1, 16));
}

# Run a statement through tde.administer_key_management; the statement is
# given as Oracle writes it and quoted here.  Returns tde_sql's list.
sub akm
{
	my ($node, $statement, $db) = @_;
	(my $quoted = $statement) =~ s/'/''/g;
	return tde_sql($node, "SELECT tde.administer_key_management('$quoted')", $db);
}

# An ADMINISTER KEY MANAGEMENT statement that must succeed, as one test
# named $name; returns its stdout (and stderr in list context).
sub tde_akm_ok
{
	my ($node, $statement, $name, $db) = @_;
	my ($ret, $out, $err) = akm($node, $statement, $db);
	is($ret, 0, $name) or diag($err);
	return wantarray ? ($out, $err) : $out;
}

# An ADMINISTER KEY MANAGEMENT statement that must fail with SQLSTATE
# $state (the two tests of tde_fails_with); returns its stderr.
sub tde_akm_fails
{
	my ($node, $statement, $state, $name, $db) = @_;
	my ($ret, $out, $err) = akm($node, $statement, $db);
	return tde_fails_with($ret, $err, $state, $name);
}

push @EXPORT, qw(softhsm_missing softhsm_setup pkcs11_tool key_id_mkid_hex
  akm tde_akm_ok tde_akm_fails find_program);

# ---------------------------------------------------------------------
# A long-lived psql session (one backend for several statements)
# ---------------------------------------------------------------------

my $session_marker = 0;

# Start psql on a database; returns a session for session_sql.
sub tde_session
{
	my ($node, $db) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$s->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr($db // 'postgres'), '-f', '-' ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, $s->{timer});
	session_sql($s, '\set VERBOSITY verbose');
	return $s;
}

# Run SQL in the session; returns (stdout, stderr) of that SQL alone.  An
# error does not end the session.  A final semicolon is added if missing.
sub session_sql
{
	my ($s, $sql) = @_;
	my $m = '__tde_session_' . ++$session_marker . '__';
	# psql sends the query buffer at a semicolon: end the SQL with one
	$sql .= ';' unless $sql =~ /;\s*\z/ || $sql =~ /^\s*\\/;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql\n\\echo $m\n\\warn $m\n";
	$s->{timer}->start($PostgreSQL::Test::Utils::timeout_default);
	$s->{h}->pump
	  until ($s->{out} =~ /\Q$m\E\n/ && $s->{err} =~ /\Q$m\E\n/)
	  || $s->{timer}->is_expired;
	die "psql session timed out on: $sql" if $s->{timer}->is_expired;
	(my $out = $s->{out}) =~ s/\Q$m\E\n//;
	(my $err = $s->{err}) =~ s/\Q$m\E\n//;
	chomp $out;
	return ($out, $err);
}

sub session_close
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

# One statement in a session, with the outcome $want: [SQLSTATE, message
# pattern] for a refusal, or undef for success (one check).
sub outcome_is
{
	my ($s, $sql, $want, $name) = @_;
	my ($out, $err) = session_sql($s, $sql);
	if (!defined $want)
	{
		return ok($err !~ /ERROR/, "$name: runs") || diag("$sql\n$err");
	}
	my ($state, $re) = @$want;
	return ok(sqlstate_of($err) eq $state && $err =~ $re, "$name: refused ($state)")
	  || diag("$sql\nwanted $state $re, got:\n$err$out");
}

push @EXPORT, qw(tde_session session_sql session_close outcome_is);

# counted_part(\%count, PART, CODE): run CODE and add the number of checks
# it made to $count{PART} (the security suites' per-part totals).
sub counted_part
{
	my ($count, $p, $code) = @_;
	my $builder = Test::More->builder;
	my $before = $builder->current_test;
	$code->();
	$count->{$p} += $builder->current_test - $before;
	return;
}
push @EXPORT, qw(counted_part);

# ---------------------------------------------------------------------
# A fault-injecting PKCS#11 module around SoftHSM2
# ---------------------------------------------------------------------

# The module passes every call to the module named by TDE_TEST_PKCS11_REAL
# (SoftHSM2 by default).  The file named by TDE_TEST_HSM_STATE holds
# "<up|down> <epoch> [flag ...]", read at each call:
#   down      the calls that reach the device answer CKR_DEVICE_REMOVED
#   <epoch>   when it changes, the real sessions of the process are closed
#             first, as a restarted device would have lost them
#   nogcm     CKM_AES_GCM is refused (CKR_MECHANISM_INVALID), as p11-kit's
#             RPC does
#   moduleiv  a FIPS-mode HSM: C_EncryptInit with CKM_AES_GCM refuses a
#             caller's IV (CKR_MECHANISM_PARAM_INVALID) and, given a zeroed
#             one, writes its own into the caller's IV buffer
#   pinlocked C_Login answers CKR_PIN_LOCKED (a token whose user PIN was
#             locked by too many wrong tries)
#   handles=N object handles are shown as real + N * 2^20; a handle of
#             another N is CKR_KEY_HANDLE_INVALID (an HSM whose handles
#             changed, after a restore or a fail-over)
# Every C_Login, C_FindObjectsInit, C_GenerateKey, C_EncryptInit and
# C_DecryptInit appends "<function> <mechanism or 0> <rv>" to the file
# named by TDE_TEST_HSM_LOG, if set (hsm_log_count counts them).
our $FAULTY_P11_SOURCE = <<'EOC';
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST_PTR real = NULL;
static CK_FUNCTION_LIST shim;
static long seen_epoch = -1;
static int initialized = 0;
static int f_nogcm, f_moduleiv, f_pinlocked;
static unsigned long f_handles;

#define HANDLE_SPAN 0x100000UL

static int
hsm_down(void)
{
	const char *path = getenv("TDE_TEST_HSM_STATE");
	char buf[256];
	long epoch;
	int fd, down;
	ssize_t n;
	char *h;

	f_nogcm = f_moduleiv = f_pinlocked = 0;
	f_handles = 0;
	if (path == NULL || (fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	down = strncmp(buf, "down", 4) == 0;
	epoch = strtol(buf + (down ? 4 : 2), NULL, 10);
	f_nogcm = strstr(buf, "nogcm") != NULL;
	f_moduleiv = strstr(buf, "moduleiv") != NULL;
	f_pinlocked = strstr(buf, "pinlocked") != NULL;
	if ((h = strstr(buf, "handles=")) != NULL)
		f_handles = strtoul(h + 8, NULL, 10);
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

static void
logcall(const char *fn, unsigned long mech, CK_RV rv)
{
	const char *path = getenv("TDE_TEST_HSM_LOG");
	char line[128];
	int fd, len;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600)) < 0)
		return;
	len = snprintf(line, sizeof(line), "%s 0x%lx 0x%lx\n", fn, mech, (unsigned long) rv);
	if (write(fd, line, len) != len)
		(void) 0;
	close(fd);
}

/* shown handle -> real one; 0 if it belongs to another numbering */
static CK_OBJECT_HANDLE
real_handle(CK_OBJECT_HANDLE h)
{
	CK_OBJECT_HANDLE base = f_handles * HANDLE_SPAN;

	if (h < base || h >= base + HANDLE_SPAN)
		return CK_INVALID_HANDLE;
	return h - base;
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
{ CK_RV rv; if (hsm_down()) rv = CKR_DEVICE_REMOVED;
  else if (f_pinlocked) rv = CKR_PIN_LOCKED; else rv = real->C_Login(h, u, p, l);
  logcall("C_Login", 0, rv); return rv; }
static CK_RV s_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{ CK_RV rv; if (hsm_down()) rv = CKR_DEVICE_REMOVED; else rv = real->C_FindObjectsInit(h, t, n);
  logcall("C_FindObjectsInit", 0, rv); return rv; }
static CK_RV s_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n)
{
	CK_RV rv; CK_ULONG i;
	CHECK();
	rv = real->C_FindObjects(h, o, m, n);
	if (rv == CKR_OK)
		for (i = 0; i < *n; i++)
			o[i] += f_handles * HANDLE_SPAN;
	return rv;
}
static CK_RV s_FindObjectsFinal(CK_SESSION_HANDLE h)
{ CHECK(); return real->C_FindObjectsFinal(h); }
static CK_RV s_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k)
{
	CK_RV rv;
	if (hsm_down()) rv = CKR_DEVICE_REMOVED;
	else rv = real->C_GenerateKey(h, m, t, n, k);
	if (rv == CKR_OK)
		*k += f_handles * HANDLE_SPAN;
	logcall("C_GenerateKey", m->mechanism, rv);
	return rv;
}
static CK_RV
crypt_init(int enc, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	CK_OBJECT_HANDLE rk;

	if (hsm_down())
		return CKR_DEVICE_REMOVED;
	if ((rk = real_handle(k)) == CK_INVALID_HANDLE)
		return CKR_KEY_HANDLE_INVALID;
	if (m->mechanism == CKM_AES_GCM && f_nogcm)
		return CKR_MECHANISM_INVALID;
	if (m->mechanism == CKM_AES_GCM && f_moduleiv && enc)
	{
		CK_GCM_PARAMS *gp = (CK_GCM_PARAMS *) m->pParameter;
		CK_ULONG i;

		if (gp == NULL || gp->pIv == NULL || gp->ulIvLen != 12)
			return CKR_MECHANISM_PARAM_INVALID;
		for (i = 0; i < gp->ulIvLen; i++)
			if (gp->pIv[i] != 0)
				return CKR_MECHANISM_PARAM_INVALID;
		if (real->C_GenerateRandom(h, gp->pIv, gp->ulIvLen) != CKR_OK)
			return CKR_FUNCTION_FAILED;
	}
	return enc ? real->C_EncryptInit(h, m, rk) : real->C_DecryptInit(h, m, rk);
}
static CK_RV s_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{ CK_RV rv = crypt_init(1, h, m, k); logcall("C_EncryptInit", m->mechanism, rv); return rv; }
static CK_RV s_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{ CHECK(); return real->C_Encrypt(h, d, l, o, ol); }
static CK_RV s_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{ CK_RV rv = crypt_init(0, h, m, k); logcall("C_DecryptInit", m->mechanism, rv); return rv; }
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

# Why the fault-injecting module cannot be built here, or undef.
sub faulty_pkcs11_missing
{
	my $cc = find_program('cc') // find_program('gcc');
	return 'no C compiler (cc or gcc)' unless $cc;
	return 'no <p11-kit/pkcs11.h> (install libp11-kit-dev)'
	  unless -f '/usr/include/p11-kit-1/p11-kit/pkcs11.h';
	return undef;
}

# Compile the fault-injecting module into $dir; returns the .so's path.
# Dies if it does not compile.
sub faulty_pkcs11_build
{
	my ($dir) = @_;
	my $cc = find_program('cc') // find_program('gcc');
	my $src = "$dir/faulty_p11.c";
	my $so = "$dir/faulty_p11.so";
	open(my $fh, '>', $src) or die "$src: $!";
	print $fh $FAULTY_P11_SOURCE;
	close $fh;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ $cc, '-shared', '-fPIC', '-O1', '-I/usr/include/p11-kit-1', '-o', $so, $src, '-ldl' ],
		'<', \'', '>', \$out, '2>', \$err)
	  or die "compiling the fault-injecting PKCS#11 module failed: $out $err";
	return $so;
}

# Write the fault-injecting module's state file atomically.
sub faulty_pkcs11_state
{
	my ($file, $state) = @_;
	open(my $fh, '>', "$file.tmp") or die "$file.tmp: $!";
	print $fh "$state\n";
	close $fh;
	rename("$file.tmp", $file) or die "rename $file: $!";
}

# The number of lines of the module's call log that match $re (0 if there
# is no log yet).
sub hsm_log_count
{
	my ($file, $re) = @_;
	open(my $fh, '<', $file) or return 0;
	my $n = grep { /$re/ } <$fh>;
	close $fh;
	return $n;
}

push @EXPORT, qw(faulty_pkcs11_missing faulty_pkcs11_build faulty_pkcs11_state
  hsm_log_count);

# ---------------------------------------------------------------------
# Sessions as another role, and searching text for known secrets
# ---------------------------------------------------------------------

# Start psql as the login role $user on a database; returns a session for
# session_sql, as tde_session does (a real login, not SET ROLE, so that the
# session user is $user too).
sub tde_session_as
{
	my ($node, $user, $db) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{timer} = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$s->{h} = IPC::Run::start(
		[
			'psql', '-XAtq', '-d',
			$node->connstr($db // 'postgres') . " user=$user", '-f', '-'
		],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err}, $s->{timer});
	session_sql($s, '\set VERBOSITY verbose');
	return $s;
}

# A finder of known secrets in text: takes { name => bytes } and returns a
# sub that, given a text (a file's bytes, a log, a dump), returns the list
# of "name (form)" found in it.  The forms are the bytes themselves and
# their hexadecimal (both matched without regard to case, so upper, lower
# and mixed case alike), and their base64 at each of the three alignments
# the bytes can have inside a longer base64 text (only the characters that
# depend on the secret's bytes alone).  One pass of a regular expression
# over the text tells whether anything is there, so that megabytes of WAL
# are searched quickly.
sub secret_finder
{
	my ($secrets) = @_;
	require MIME::Base64;
	my (@ci, @cs);
	for my $name (sort keys %$secrets)
	{
		my $b = $secrets->{$name};
		push @ci, [ "$name (raw)", lc $b ], [ "$name (hex)", lc unpack('H*', $b) ];
		for my $k (0 .. 2)
		{
			my $enc = MIME::Base64::encode_base64(("\0" x $k) . $b, '');
			my $first = int(($k + 2) / 3);               # first group of the secret's bytes only
			my $last = int(($k + length($b)) / 3) - 1;    # and the last
			next if $last - $first < 3;                   # too short to tell
			push @cs, [ "$name (base64/$k)", substr($enc, 4 * $first, 4 * ($last - $first + 1)) ];
		}
	}
	my $re_ci = join('|', map { quotemeta $_->[1] } @ci);
	my $re_cs = join('|', map { quotemeta $_->[1] } @cs);
	$re_ci = qr/$re_ci/;
	$re_cs = qr/$re_cs/;
	return sub {
		my ($text) = @_;
		my $lc = lc $text;
		return () unless $lc =~ $re_ci || $text =~ $re_cs;
		return ((map { $_->[0] } grep { index($lc, $_->[1]) >= 0 } @ci),
			(map { $_->[0] } grep { index($text, $_->[1]) >= 0 } @cs));
	};
}

push @EXPORT, qw(tde_session_as secret_finder);

1;
