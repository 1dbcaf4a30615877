# Security suite, part 1 (issue 11, item 6): who may do what.
#
# a. A role without tde_admin is refused every statement form of
#    tde.administer_key_management and every function of schema tde.  The
#    functions are read from pg_proc, so a new one is covered: until it is
#    classified below it counts as a key-management function.  Each is
#    called with arguments that would work, with no grant, with USAGE on
#    the schema only (no function is PUBLIC's) and with USAGE and EXECUTE
#    on everything: the check is made in C, so a GRANT does not widen it,
#    nor do the predefined roles (pg_write_server_files, ...), nor a
#    NOINHERIT membership in tde_admin.  The data functions have another
#    rule, tested as such: EXECUTE, and INSERT or UPDATE on the relation to
#    encrypt, SELECT to decrypt.  No refused call leaves a trace: the
#    keystore files and what the views show are as they were.
# b. A pg_monitor role reads v$encryption_wallet, v$encryption_keys,
#    tde.relation_keys and tde.rewrap_progress (the reference's list), and
#    nothing else: no statement, no key-management or data function, no
#    client secret, no keystore file, no password in pg_stat_activity.
#
# t/051_security_limits.pl has parts e (WITH IDENTIFIER IN, locations) and
# f (documented maxima); t/052_security_leaks.pl parts c (no secret
# anywhere) and d (file modes).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use Digest::SHA qw(sha256_hex);
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TdeTest;

# Checks per part, for the final diag line.
my %count;
sub part { counted_part(\%count, @_) }

my $pw = 'Sec050_Wallet_Pw1';
my $mkid1 = '5ec05000a1b2c3d4e5f60718293a4b5c';
my $mk1 = join('', map { sprintf('%02x', (97 * $_ + 13) % 256) } 0 .. 31);
# the key a refused SET KEY would have set
my $mkid_n = '5ec050ffeeddccbbaa99887766554433';
my $mk_n = join('', map { sprintf('%02x', (59 * $_ + 101) % 256) } 0 .. 31);

my $node = tde_new_node('security');
my $root = wallet_root($node);
my $wdir = wallet_dir($node);
my $seps = "$root/tde_seps";

# --- a keystore in use: every refused call below would change it ------------

tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, 'setup: CREATE KEYSTORE');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, 'setup: open');
tde_akm_ok($node, qq{SET KEY '$mkid1:$mk1' USING TAG 'first' IDENTIFIED BY "$pw" WITH BACKUP},
	'setup: SET KEY with a known key');
tde_akm_ok($node, qq{CREATE KEY USING TAG 'second' IDENTIFIED BY "$pw" WITH BACKUP}, 'setup: CREATE KEY');
tde_akm_ok($node, qq{ADD SECRET '$pw' FOR CLIENT 'TDE_WALLET' TO AUTO_LOGIN KEYSTORE '$seps'},
	'setup: the external store');
tde_akm_ok($node, qq{ADD SECRET 'Sec050_client_secret' FOR CLIENT 'OGG' IDENTIFIED BY "$pw" WITH BACKUP},
	'setup: a client secret');
tde_akm_ok($node, qq{CREATE KEYSTORE '$root/other' IDENTIFIED BY "$pw"}, 'setup: a second keystore');
my ($k1, $k2) = split /\n/,
  $node->safe_psql('postgres', q{SELECT key_id FROM v$encryption_keys ORDER BY creation_time});
my $mkid2 = key_id_mkid_hex($k2);
tde_sql_ok($node, qq{SELECT tde.export_keys('Sec050_export', '$root/probe.exp', password => '$pw',
								  key_ids => ARRAY['$k2'])}, 'setup: an export file');

tde_sql_ok($node, q{
CREATE TABLE sec_t (id int PRIMARY KEY, ct bytea);
CREATE TABLE sec_u (id int PRIMARY KEY, ct bytea);
INSERT INTO sec_t VALUES (1, tde.encrypt('sec_t', 'sec_t plaintext'));
INSERT INTO sec_u VALUES (1, tde.encrypt('sec_u', 'sec_u plaintext'));
-- says when a subquery of WITH IDENTIFIER IN runs
CREATE FUNCTION subquery_probe() RETURNS SETOF text LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'subquery probe ran'; RETURN QUERY SELECT key_id FROM v$encryption_keys; END$$;
CREATE ROLE nobody LOGIN;
CREATE ROLE strong LOGIN IN ROLE pg_read_all_data, pg_write_all_data, pg_read_server_files,
  pg_write_server_files, pg_execute_server_program, pg_signal_backend, pg_read_all_settings,
  pg_read_all_stats, pg_stat_scan_tables, pg_checkpoint;
CREATE ROLE noinh LOGIN NOINHERIT IN ROLE tde_admin;
CREATE ROLE mon LOGIN IN ROLE pg_monitor;
}, 'setup: tables, functions and roles');
my $ct_t = $node->safe_psql('postgres', 'SELECT ct FROM sec_t');
my $ct_u = $node->safe_psql('postgres', 'SELECT ct FROM sec_u');
my ($rk_uuid, $rk_wrapped) = split /\|/, $node->safe_psql('postgres',
	q{SELECT key_id, wrapped_key FROM tde.relation_key WHERE relid = 'sec_t'::regclass});

# What a refused call must not change: every file of the wallet root, and
# what the views show a superuser.
sub keystore_state
{
	my @files;
	find({ no_chdir => 1, wanted => sub {
		push @files, "$File::Find::name " . sha256_hex(slurp_file($_)) if -f $_;
	} }, $root);
	return join("\n", sort(@files), $node->safe_psql('postgres', q{
		SELECT (SELECT string_agg(w::text, ';') FROM v$encryption_wallet w),
			   (SELECT string_agg(k::text, ';' ORDER BY key_id) FROM v$encryption_keys k),
			   (SELECT string_agg(c::text, ';' ORDER BY client) FROM v$client_secrets c)}));
}
my $state_before = keystore_state();

# --- the functions of schema tde, from pg_proc --------------------------------

# How each function is protected, as the reference documents it; any other
# function, a new one included, is a key-management function (tde_admin,
# checked in C).
my %class = (
	encryption_wallet      => 'monitor',    # pg_monitor or tde_admin, in C
	encryption_keys        => 'monitor',
	rewrap_progress        => 'monitor',
	encrypt                => 'data',       # EXECUTE, and the relation's privileges
	decrypt                => 'data',
	decrypt_text           => 'data',
	relation_key_version   => 'data',
	reencrypt              => 'data',
	# Pure functions of their argument, which read no key and no keystore:
	# a KEY_ID from an MKID, a version number from a ciphertext's header.
	# Only their EXECUTE grant guards them (key_id is granted to pg_monitor).
	key_id                 => 'pure',
	ciphertext_key_version => 'pure',
);

# Arguments that work (for tde_admin), by parameter name, by function and
# name where the name alone does not tell, else by type.
my %arg = (
	statement         => q{'SET KEYSTORE CLOSE'},
	password          => "'$pw'",
	old_password      => "'$pw'",
	existing_password => "'$pw'",
	password1         => "'$pw'",
	password2         => "'$pw'",
	wallet_password   => "'$pw'",
	new_password      => q{'Nobody_New_Pw1'},
	hsm_credential    => q{'user:1234'},
	secret            => q{'Nobody_Secret'},
	client            => q{'NOBODY'},
	tag               => q{'nobody'},
	algorithm         => q{'AES256'},
	key               => "'$mkid_n:$mk_n'",
	key_id            => "'$k2'",
	key_ids           => "ARRAY['$k2']",
	backup_identifier => q{'nobody'},
	with_backup       => 'true',
	force_keystore    => 'true',
	external_store    => 'false',
	local             => 'false',
	location          => "'$wdir'",
	location1         => "'$wdir'",
	location2         => "'$root/other'",
	existing_location => "'$wdir'",
	new_location      => "'$root/nobody_new'",
	path              => "'$root/probe.exp'",
	relation          => q{'sec_t'},
	master_key_id     => "'\\x$mkid1'",
	new_master_key_id => "'\\x$mkid2'",
	wrapped_key       => "'$rk_wrapped'",
	key_version       => '1',
	column_name       => q{'ct'},
	batch_size        => '10');
my %arg_of = (
	'create_keystore.location'              => "'$root/nobody_ks'",
	'add_external_store_secret.location'    => "'$seps'",
	'update_external_store_secret.location' => "'$seps'",
	'delete_external_store_secret.location' => "'$seps'",
	'add_external_store_secret.client'      => q{'HSM_PASSWORD'},
	'update_external_store_secret.client'   => q{'TDE_WALLET'},
	'delete_external_store_secret.client'   => q{'TDE_WALLET'},
	'update_secret.client'                  => q{'OGG'},
	'delete_secret.client'                  => q{'OGG'},
	'export_keys.path'                      => "'$root/nobody.exp'",
	'merge_into_existing_keystore.location' => "'$root/other'");
my %arg_type = (
	uuid     => "'$rk_uuid'",
	bytea    => "'$ct_t'",
	text     => q{'nobody'},
	boolean  => 'false',
	integer  => '1',
	regclass => q{'sec_t'},
	name     => q{'ct'},
	'text[]' => "ARRAY['$k2']");

sub arg_value
{
	my ($fn, $name, $type) = @_;
	my $v = $type eq 'uuid' ? $arg_type{uuid}
	  : $arg_of{"$fn.$name"} // ($name ne '' ? $arg{$name} : undef) // $arg_type{$type} // 'NULL';
	return "($v)::$type";
}

my @functions;
for my $row (split /\n/, $node->safe_psql('postgres', q{
	SELECT p.proname, p.prokind, p.prorettype::regtype,
		   coalesce(array_to_string(p.proargnames, ',', ''), ''),
		   coalesce(array_to_string(p.proargmodes, ','), ''),
		   coalesce((SELECT string_agg(format_type(t, NULL), ',' ORDER BY o)
					 FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, o)), ''),
		   p.oid::regprocedure
	FROM pg_proc p WHERE p.pronamespace = 'tde'::regnamespace
	ORDER BY p.oid::regprocedure::text}))
{
	my ($name, $kind, $ret, $names, $modes, $types, $sig) = split /\|/, $row, -1;
	my @names = split /,/, $names, -1;
	my @modes = split /,/, $modes;
	my @types = split /,/, $types;
	# the input parameters' names (proargnames also names OUT parameters)
	my @in = @modes
	  ? map { $names[$_] // '' } grep { $modes[$_] =~ /^[ibv]$/ } 0 .. $#modes
	  : map { $names[$_] // '' } 0 .. $#types;
	my @args = map {
		my $v = arg_value($name, $in[$_], $types[$_]);
		$in[$_] ne '' ? "$in[$_] => $v" : $v
	} 0 .. $#types;
	push @functions, {
		name  => $name,
		sig   => $sig,
		class => $ret eq 'event_trigger' ? 'event' : $class{$name} // 'admin',
		call  => ($kind eq 'p' ? 'CALL' : 'SELECT') . " tde.$name(" . join(', ', @args) . ')',
	};
}
ok(@functions >= 40, 'pg_proc lists ' . scalar(@functions) . ' routines in schema tde');

# The outcome a role must get from a function: [SQLSTATE, message] or
# undef for success.  Phases: 'none' (no grant), 'usage' (USAGE on the
# schema, EXECUTE as the extension grants it), 'execute' (USAGE, and
# EXECUTE on every routine of the schema).
my $admin_denied = qr/permission denied for key management\n/;
my $views_denied = qr/permission denied for key management views/;

sub expected
{
	my ($f, $role, $phase) = @_;
	my $c = $f->{class};
	return [ '42501', qr/permission denied for schema tde/ ] if $phase eq 'none';
	if ($phase eq 'usage')
	{
		return undef if $role eq 'mon' && ($c eq 'monitor' || $f->{name} eq 'key_id');
		return [ '42501', qr/permission denied for (function|procedure) $f->{name}\n/ ];
	}
	return [ '42501', $admin_denied ] if $c eq 'admin';
	return $role eq 'mon' ? undef : [ '42501', $views_denied ] if $c eq 'monitor';
	return [ '0A000', qr/trigger functions can only be called as triggers/ ] if $c eq 'event';
	return undef if $c eq 'pure';
	# data: the predefined roles pg_read_all_data and pg_write_all_data are
	# table privileges, as for PostgreSQL's own checks
	return undef if $role eq 'strong';
	return [ '42501', qr/permission denied to (en|de)crypt data of relation sec_t/ ];
}

sub check_functions
{
	my ($s, $role, $phase) = @_;
	outcome_is($s, $_->{call}, expected($_, $role, $phase), "$role, $phase: $_->{sig}") for @functions;
	return;
}

# --- every statement form -----------------------------------------------------

my @statements = (
	qq{CREATE KEYSTORE '$root/nobody_ks' IDENTIFIED BY "$pw"},
	qq{ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY "$pw" CONTAINER = ALL;},
	qq{CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "$pw"},
	qq{CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE '$wdir' IDENTIFIED BY "$pw"},
	qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"},
	q{SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE},
	q{SET KEYSTORE CLOSE},
	qq{SET KEYSTORE CLOSE IDENTIFIED BY "$pw"},
	q{SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE CONTAINER = CURRENT},
	qq{ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY "$pw" SET "Nobody_New_Pw1" WITH BACKUP USING 'nobody'},
	qq{BACKUP KEYSTORE USING 'nobody' FORCE KEYSTORE IDENTIFIED BY "$pw" TO '$root'},
	q{BACKUP KEYSTORE IDENTIFIED BY EXTERNAL STORE},
	qq{SET KEY '$mkid_n:$mk_n' USING TAG 'nobody' USING ALGORITHM 'AES256' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP USING 'nobody'},
	q{SET ENCRYPTION KEY IDENTIFIED BY EXTERNAL STORE WITH BACKUP},
	qq{CREATE KEY '$mk_n' IDENTIFIED BY "$pw" WITH BACKUP},
	qq{CREATE ENCRYPTION KEY USING ALGORITHM 'ARIA256' USING TAG 'nobody' IDENTIFIED BY "$pw" WITH BACKUP},
	qq{SET KEY USING TAG 'nobody' IDENTIFIED BY "user:1234" MIGRATE USING "$pw" WITH BACKUP},
	qq{SET ENCRYPTION KEY IDENTIFIED BY "$pw" REVERSE MIGRATE USING "user:1234"},
	qq{USE KEY '$k2' USING TAG 'nobody' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	qq{USE ENCRYPTION KEY '$k2' IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING 'nobody'},
	qq{SET TAG 'nobody' FOR '$k1' IDENTIFIED BY "$pw" WITH BACKUP},
	qq{ADD SECRET 'Nobody_Secret' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '$seps'},
	qq{UPDATE SECRET Nobody_Secret FOR CLIENT 'TDE_WALLET' INTO LOCAL AUTO_LOGIN KEYSTORE '$seps' WITH BACKUP},
	qq{DELETE SECRET FOR CLIENT 'TDE_WALLET' FROM AUTO_LOGIN KEYSTORE '$seps'},
	qq{ADD SECRET 'Nobody_Secret' FOR CLIENT 'APP' TO AUTO_LOGIN KEYSTORE '$root/nobody_secrets'},
	qq{ADD SECRET 'Nobody_Secret' FOR CLIENT 'NOBODY' USING TAG 'nobody' IDENTIFIED BY "$pw" WITH BACKUP},
	qq{UPDATE SECRET 'Nobody_Secret' FOR CLIENT 'OGG' TO KEYSTORE '$wdir' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	qq{DELETE SECRET FOR CLIENT 'OGG' FROM KEYSTORE '$wdir' IDENTIFIED BY EXTERNAL STORE WITH BACKUP},
	qq{EXPORT ENCRYPTION KEYS WITH SECRET "Nobody_Secret" TO '$root/nobody1.exp' FORCE KEYSTORE IDENTIFIED BY "$pw"},
	qq{EXPORT KEYS WITH SECRET 'Nobody_Secret' TO '$root/nobody2.exp' IDENTIFIED BY EXTERNAL STORE WITH IDENTIFIER IN '$k1', '$k2'},
	qq{EXPORT KEYS WITH SECRET Nobody_Secret TO '$root/nobody3.exp' IDENTIFIED BY "$pw" WITH IDENTIFIER IN (SELECT * FROM subquery_probe())},
	qq{IMPORT ENCRYPTION KEYS WITH SECRET "Sec050_export" FROM '$root/probe.exp' FORCE KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP USING 'nobody'},
	qq{MERGE KEYSTORE '$wdir' IDENTIFIED BY "$pw" AND KEYSTORE '$root/other' IDENTIFIED BY "$pw" INTO NEW KEYSTORE '$root/nobody_merged' IDENTIFIED BY "$pw"},
	qq{MERGE KEYSTORE '$root/other' IDENTIFIED BY "$pw" INTO EXISTING KEYSTORE '$wdir' IDENTIFIED BY EXTERNAL STORE WITH BACKUP},
	qq{MOVE ENCRYPTION KEYS TO NEW KEYSTORE '$root/nobody_moved' IDENTIFIED BY "$pw" FROM FORCE KEYSTORE IDENTIFIED BY "$pw" WITH IDENTIFIER IN '$k2' WITH BACKUP},
	qq{MOVE KEYS TO NEW KEYSTORE '$root/nobody_moved' IDENTIFIED BY "$pw" FROM KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH IDENTIFIER IN (SELECT k FROM subquery_probe() k WHERE k = '$k2') WITH BACKUP USING 'nobody'},
	qq{ISOLATE KEYSTORE IDENTIFIED BY "$pw" FROM ROOT KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	qq{UNITE KEYSTORE IDENTIFIED BY "$pw" WITH ROOT KEYSTORE IDENTIFIED BY "$pw" WITH BACKUP},
	# refused before it is parsed, or its length looked at
	q{NOT A STATEMENT},
	q{},
	'SET KEYSTORE CLOSE' . (' ' x 70000));

sub akm_call
{
	my ($statement) = @_;
	return "SELECT tde.administer_key_management(\$akm\$$statement\$akm\$)";
}

sub statement_label
{
	my ($statement) = @_;
	(my $l = $statement) =~ s/^ADMINISTER KEY MANAGEMENT //;
	$l =~ s/\s+/ /g;
	$l = substr($l, 0, 60);
	return $l eq '' ? 'an empty statement' : length($statement) > 60000 ? 'a statement over the limit' : $l;
}

# Every statement form as $role: refused in C before the statement is read,
# so that a subquery in it never runs.
sub check_statements
{
	my ($s, $role) = @_;
	my $probe = 0;
	for my $st (@statements)
	{
		my ($out, $err) = session_sql($s, akm_call($st));
		ok(sqlstate_of($err) eq '42501' && $err =~ $admin_denied, "$role: " . statement_label($st) . ': refused')
		  or diag(substr($st, 0, 300) . "\n$err");
		$probe++ if $err =~ /subquery probe ran/;
	}
	is($probe, 0, "$role: no subquery of WITH IDENTIFIER IN ran");
	return;
}

# The views as $role, after GRANT SELECT on them: the functions behind
# them check in C.
sub check_granted_views
{
	my ($s, $role) = @_;
	for my $v ('v$encryption_wallet', 'v$encryption_keys', 'tde.rewrap_progress')
	{
		outcome_is($s, "SELECT count(*) FROM $v", [ '42501', $views_denied ], "$role, granted: $v");
	}
	outcome_is($s, 'SELECT count(*) FROM v$client_secrets', [ '42501', $admin_denied ],
		"$role, granted: v\$client_secrets");
	return;
}

my $find_mk = secret_finder({ mk1 => pack('H*', $mk1) });

# --- a: no tde_admin ----------------------------------------------------------

part('a', sub {
	my $s = tde_session_as($node, 'nobody');
	check_functions($s, 'nobody', 'none');
	for my $v ('v$encryption_wallet', 'v$encryption_keys', 'v$client_secrets')
	{
		outcome_is($s, "SELECT count(*) FROM $v", [ '42501', qr/permission denied for view/ ], "nobody: $v");
	}
	for my $r ('tde.relation_keys', 'tde.rewrap_progress', 'tde.relation_key', 'tde.database_identity')
	{
		outcome_is($s, "SELECT count(*) FROM $r", [ '42501', qr/permission denied for schema tde/ ], "nobody: $r");
	}

	$node->safe_psql('postgres', 'GRANT USAGE ON SCHEMA tde TO nobody');
	check_functions($s, 'nobody', 'usage');
	for my $r ('tde.relation_key', 'tde.database_identity')
	{
		outcome_is($s, "SELECT count(*) FROM $r", [ '42501', qr/permission denied for table/ ], "nobody, usage: $r");
	}

	my $grant_all = q{GRANT USAGE ON SCHEMA tde TO %1$s;
		GRANT EXECUTE ON ALL ROUTINES IN SCHEMA tde TO %1$s;
		GRANT SELECT ON public."v$encryption_wallet", public."v$encryption_keys",
						public."v$client_secrets", tde.rewrap_progress TO %1$s};
	$node->safe_psql('postgres', sprintf($grant_all, 'nobody'));
	check_functions($s, 'nobody', 'execute');
	check_statements($s, 'nobody');
	check_granted_views($s, 'nobody');

	# the data functions: EXECUTE (granted above) and the relation's privileges
	$node->safe_psql('postgres', 'GRANT SELECT ON sec_t TO nobody');
	my ($out, $err) = session_sql($s, "SELECT tde.decrypt_text('sec_t', '$ct_t')");
	is($out, 'sec_t plaintext', 'nobody with SELECT: decrypt_text') or diag($err);
	($out, $err) = session_sql($s, "SELECT tde.decrypt('sec_t', '$ct_t') = convert_to('sec_t plaintext', 'UTF8')");
	is($out, 't', 'nobody with SELECT: decrypt') or diag($err);
	my $enc_denied = [ '42501', qr/permission denied to encrypt data of relation sec_t/ ];
	my $dec_denied = [ '42501', qr/permission denied to decrypt data of relation/ ];
	outcome_is($s, q{SELECT tde.encrypt('sec_t', 'x'::text)}, $enc_denied, 'nobody with SELECT: encrypt');
	outcome_is($s, q{SELECT tde.encrypt('sec_t', '\x00'::bytea)}, $enc_denied, 'nobody with SELECT: encrypt bytea');
	outcome_is($s, q{SELECT tde.relation_key_version('sec_t')}, $enc_denied, 'nobody with SELECT: relation_key_version');
	outcome_is($s, q{CALL tde.reencrypt('sec_t', 'ct', 10)}, $enc_denied, 'nobody with SELECT: reencrypt');
	outcome_is($s, "SELECT tde.decrypt_text('sec_u', '$ct_u')", $dec_denied, 'nobody: decrypt_text of a table it cannot read');
	# nor by naming a table it can read: the ciphertext is bound to its relation
	outcome_is($s, "SELECT tde.decrypt_text('sec_t', '$ct_u')",
		[ '22023', qr/ciphertext was not encrypted for relation/ ],
		"nobody: another table's ciphertext through a readable table");
	# a REVOKE reaches the session's next statement, through the kept check
	$node->safe_psql('postgres', 'REVOKE SELECT ON sec_t FROM nobody');
	outcome_is($s, "SELECT tde.decrypt_text('sec_t', ct) FROM (VALUES ('$ct_t'::bytea), ('$ct_t')) v(ct)",
		$dec_denied, 'nobody after REVOKE SELECT: decrypt_text');
	for my $priv ('INSERT', 'UPDATE')
	{
		$node->safe_psql('postgres', "GRANT $priv ON sec_t TO nobody");
		($out, $err) = session_sql($s, q{SELECT tde.encrypt('sec_t', 'by nobody'::text)});
		is($node->safe_psql('postgres', "SELECT tde.decrypt_text('sec_t', '$out')"), 'by nobody',
			"nobody with $priv: encrypt") or diag($err);
		outcome_is($s, "SELECT tde.decrypt_text('sec_t', '$ct_t')", $dec_denied, "nobody with $priv: decrypt_text");
		$node->safe_psql('postgres', "REVOKE $priv ON sec_t FROM nobody");
	}
	outcome_is($s, q{SELECT tde.encrypt('sec_t', 'x'::text)}, $enc_denied, 'nobody after REVOKE: encrypt');
	session_close($s);

	# every predefined role but pg_monitor, with every grant: still no key
	# management (pg_write_server_files is about locations, not keys)
	$node->safe_psql('postgres', sprintf($grant_all, 'strong'));
	$s = tde_session_as($node, 'strong');
	check_functions($s, 'strong', 'execute');
	check_statements($s, 'strong');
	check_granted_views($s, 'strong');
	session_close($s);

	# a NOINHERIT member of tde_admin has its privileges only after SET ROLE
	$node->safe_psql('postgres', sprintf($grant_all, 'noinh'));
	$s = tde_session_as($node, 'noinh');
	outcome_is($s, akm_call('SET KEYSTORE CLOSE'), [ '42501', $admin_denied ], 'noinh: SET KEYSTORE CLOSE');
	outcome_is($s, 'SELECT count(*) FROM tde.client_secrets()', [ '42501', $admin_denied ], 'noinh: client_secrets');
	($out, $err) = session_sql($s, 'SET ROLE tde_admin; SELECT count(*) FROM tde.client_secrets()');
	is($out, '2', 'noinh after SET ROLE tde_admin: client_secrets') or diag($err);
	session_close($s);
});

# --- b: pg_monitor ---------------------------------------------------------------

part('b', sub {
	my $s = tde_session_as($node, 'mon');
	my $seen = '';
	for my $v ('v$encryption_wallet', 'v$encryption_keys', 'tde.relation_keys', 'tde.rewrap_progress')
	{
		my $q = "SELECT count(*) || ':' || coalesce(string_agg(v::text, ';' ORDER BY v::text), '') FROM $v v";
		my ($out, $err) = session_sql($s, $q);
		my $want = $node->safe_psql('postgres', $q);
		is($out, $want, "mon reads $v as a superuser does") or diag($err);
		$seen .= $out;
	}
	# (each on its own: the rows are ordered by their text, and the key
	# ids are random)
	ok(index($seen, $k1) >= 0 && index($seen, $k2) >= 0, 'mon sees both keys');
	is_deeply([ $find_mk->($seen) ], [], 'what mon reads holds no key material');
	my ($out, $err) = session_sql($s, "SELECT tde.key_id('\\x$mkid1')");
	is($out, $k1, 'mon: tde.key_id') or diag($err);

	outcome_is($s, 'SELECT count(*) FROM v$client_secrets', [ '42501', qr/permission denied for view/ ],
		'mon: v$client_secrets');
	for my $r ('tde.relation_key', 'tde.database_identity')
	{
		outcome_is($s, "SELECT count(*) FROM $r", [ '42501', qr/permission denied for table/ ], "mon: $r");
	}
	outcome_is($s, "SELECT length(pg_read_binary_file('$wdir/ewallet.p12'))",
		[ '42501', qr/permission denied for function pg_read_binary_file/ ], 'mon: reading ewallet.p12');
	outcome_is($s, "SELECT count(*) FROM pg_ls_dir('$wdir')",
		[ '42501', qr/permission denied for function pg_ls_dir/ ], 'mon: listing the wallet directory');

	# pg_monitor sees every session's query: not a password
	my $admin = tde_session($node);
	session_sql($admin, "SELECT tde.open_keystore(password => '$pw')");
	my $pid = (session_sql($admin, 'SELECT pg_backend_pid()'))[0];
	session_sql($admin, "SELECT tde.open_keystore(password => '$pw')");
	($out, $err) = session_sql($s, "SELECT query FROM pg_stat_activity WHERE pid = $pid");
	is($out, '<redacted by tde>', "mon: pg_stat_activity of a session idle after a password") or diag($err);
	session_close($admin);

	check_functions($s, 'mon', 'usage');
	$node->safe_psql('postgres', q{GRANT EXECUTE ON ALL ROUTINES IN SCHEMA tde TO mon;
								   GRANT SELECT ON public."v$client_secrets" TO mon});
	check_functions($s, 'mon', 'execute');
	check_statements($s, 'mon');
	outcome_is($s, 'SELECT count(*) FROM v$client_secrets', [ '42501', $admin_denied ], 'mon, granted: v$client_secrets');
	session_close($s);
});

is(keystore_state(), $state_before, 'a, b: no refused call changed a keystore file or what the views show');
$count{a}++;

diag(sprintf('security: a=%d b=%d', map { $count{$_} // 0 } qw(a b)));
$node->stop;
done_testing();
