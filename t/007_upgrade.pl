# Version 1.0 is released: ALTER EXTENSION tde UPDATE from it must give the
# same objects, definitions and privileges as a new CREATE EXTENSION.
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

done_testing();
