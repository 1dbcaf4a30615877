# Version 1.0 is released: ALTER EXTENSION tde UPDATE from it must give the
# same objects, definitions and privileges as a new CREATE EXTENSION; rows
# encrypted under 1.0 decrypt after the update, and the statements and
# functions 1.1 adds (export, import, merge, client secrets,
# v$client_secrets) work.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use TdeTest;

my $node = tde_new_node('upgrade');

# Everything the extension owns, described with what matters about it.
my $describe = q{
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' | ' ||
       coalesce((SELECT p.prosrc || ' | ' || p.provolatile::text || p.proparallel::text ||
                        p.prosecdef::text || ' | ' || coalesce(p.proacl::text, '') ||
                        ' | ' || coalesce(p.proconfig::text, '') || ' | ' ||
                        pg_get_function_arguments(p.oid) || ' -> ' ||
                        pg_get_function_result(p.oid)
                 FROM pg_proc p
                 WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid), '') ||
       coalesce((SELECT pg_get_viewdef(c.oid) || ' | ' || coalesce(c.relacl::text, '') ||
                        ' | ' || coalesce(c.reloptions::text, '') || ' | ' ||
                        (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
                                           CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                                           ', ' ORDER BY a.attnum)
                         FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
                 FROM pg_class c
                 WHERE d.classid = 'pg_class'::regclass AND c.oid = d.objid), '') ||
       coalesce((SELECT e.evtevent::text || ' ' || e.evtfoid::regproc::text || ' ' ||
                        coalesce(e.evttags::text, '')
                 FROM pg_event_trigger e
                 WHERE d.classid = 'pg_event_trigger'::regclass AND e.oid = d.objid), '')
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tde')
  AND d.deptype = 'e'
ORDER BY 1
};

my $fresh = $node->safe_psql('postgres', $describe);
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'tde'}),
	'1.1', 'a new CREATE EXTENSION installs version 1.1');

$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{CREATE EXTENSION tde VERSION '1.0'});
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'tde'}),
	'1.0', 'version 1.0 can still be installed');
# keys and encrypted rows under 1.0
my $pw = 'Upgrade_Pw_1';
tde_akm_ok($node, qq{CREATE KEYSTORE IDENTIFIED BY "$pw"}, '1.0: CREATE KEYSTORE', 'old');
tde_akm_ok($node, qq{SET KEYSTORE OPEN IDENTIFIED BY "$pw"}, '1.0: open', 'old');
tde_akm_ok($node, qq{SET KEY USING TAG 'v10' IDENTIFIED BY "$pw" WITH BACKUP}, '1.0: SET KEY', 'old');
tde_sql_ok($node, q{CREATE TABLE t AS SELECT i, 'row ' || i AS plain FROM generate_series(1, 100) i;
	ALTER TABLE t ADD COLUMN ct bytea; UPDATE t SET ct = tde.encrypt('t', plain);},
	'1.0: encrypted rows', 'old');
my $check_sql = q{SELECT count(*) FILTER (WHERE tde.decrypt_text('t', ct) = plain) || '|' || count(*) FROM t};
is($node->safe_psql('old', $check_sql), '100|100', '1.0: the rows decrypt');
tde_akm_fails($node, qq{EXPORT KEYS WITH SECRET "s1_secret" TO '/nonexistent/x.exp' IDENTIFIED BY "$pw"},
	'58P01', '1.0 objects, this library: EXPORT KEYS runs (and finds no directory)', 'old');

$node->safe_psql('old', 'ALTER EXTENSION tde UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'tde'}),
	'1.1', 'ALTER EXTENSION tde UPDATE reaches 1.1');

my $updated = $node->safe_psql('old', $describe);
ok(length($fresh) > 1000, 'the description of the extension is not empty');
is($updated, $fresh, 'an updated 1.0 has the same objects, definitions and privileges as a new 1.1');

# The schema-level grants and the tables' contents survive the update.
is($node->safe_psql('old', q{SELECT nspacl::text FROM pg_namespace WHERE nspname = 'tde'}),
	$node->safe_psql('postgres', q{SELECT nspacl::text FROM pg_namespace WHERE nspname = 'tde'}),
	'schema tde has the same privileges');

# after the update: the rows still decrypt, and the statements of 1.1 work
is($node->safe_psql('old', $check_sql), '100|100', 'updated: every row still decrypts');
my $dir = PostgreSQL::Test::Utils::tempdir();
is($node->safe_psql('old', qq{SELECT tde.export_keys('Upgrade_S3cret', '$dir/k.exp', password => '$pw')}),
	'1', 'updated: tde.export_keys');
tde_akm_ok($node, qq{ADD SECRET 'gg_s3cret_upg' FOR CLIENT 'OGG' IDENTIFIED BY "$pw" WITH BACKUP},
	'updated: ADD SECRET into the keystore', 'old');
is($node->safe_psql('old', q{SELECT client FROM v$client_secrets WHERE keystore_type = 'SOFTWARE KEYSTORE'}),
	'OGG', 'updated: v$client_secrets');
tde_akm_ok($node, qq{MERGE KEYSTORE '} . wallet_dir($node) . qq{' IDENTIFIED BY "$pw" AND KEYSTORE '}
	  . wallet_dir($node) . qq{' IDENTIFIED BY "$pw" INTO NEW KEYSTORE '$dir/merged' IDENTIFIED BY "$pw"},
	'updated: MERGE KEYSTORE', 'old');
tde_akm_fails($node, qq{IMPORT KEYS WITH SECRET "Upgrade_S3cret" FROM '$dir/k.exp' IDENTIFIED BY "$pw" WITH BACKUP},
	'42710', 'updated: IMPORT KEYS runs (the key is there already)', 'old');

done_testing();
