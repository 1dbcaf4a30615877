# Every ereport in the sources gives an errcode: a client that checks
# SQLSTATEs must never see the default (XX000 for an ERROR, 01000 or 00000
# below it).  elog is for can't-happen conditions and is not checked.
# Read from the source tree; no server is needed.

use strict;
use warnings;

use FindBin;
use Test::More;

my $src = "$FindBin::RealBin/../src";
my @files = sort(glob("$src/*.c"), glob("$src/*/*.c"));
ok(@files > 10, 'the sources are there') or diag("no sources in $src");

my @missing;
my $count = 0;
for my $file (@files)
{
	open(my $fh, '<', $file) or die "open $file: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	# each ereport( ... ) with balanced parentheses
	while ($text =~ /\bereport\s*(\((?:[^()]++|(?1))*\))/g)
	{
		my $call = $1;
		my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
		$count++;
		push @missing, "$file:$line" unless $call =~ /\berrcode(?:_for_file_access|_for_socket_access)?\s*\(/;
	}
}
ok($count > 100, "found the ereport calls ($count)");
is(join("\n", @missing), '', 'every ereport gives an errcode');

done_testing();
