/*-------------------------------------------------------------------------
 *
 * mask.c
 *	  Replace every occurrence of some strings in a text by a marker.
 *	  See util/mask.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "tde/util/mask.h"

typedef struct Span
{
	Size		from;
	Size		to;
} Span;

static int
span_cmp(const void *a, const void *b)
{
	const Span *x = a;
	const Span *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return 0;
}

const char *
tde_mask_occurrences(const char *s, const char *const *needles, const Size *lens,
					 int n, const char *marker, int max_hits)
{
	Span	   *spans = NULL;
	int			nspans = 0;
	int			cap = 0;
	int			i;
	Size		done = 0;
	StringInfoData buf;

	for (i = 0; i < n; i++)
	{
		const char *hit;

		if (lens[i] == 0)
			continue;
		for (hit = strstr(s, needles[i]); hit != NULL; hit = strstr(hit + lens[i], needles[i]))
		{
			if (nspans == max_hits)
			{
				if (spans)
					pfree(spans);
				return NULL;
			}
			if (nspans == cap)
			{
				cap = cap ? cap * 2 : 16;
				spans = spans ? repalloc(spans, sizeof(Span) * cap) : palloc(sizeof(Span) * cap);
			}
			spans[nspans].from = hit - s;
			spans[nspans].to = hit - s + lens[i];
			nspans++;
		}
	}
	if (nspans == 0)
		return s;

	qsort(spans, nspans, sizeof(Span), span_cmp);
	initStringInfo(&buf);
	for (i = 0; i < nspans; i++)
	{
		Size		from = spans[i].from;
		Size		to = spans[i].to;

		/* this span and every one that overlaps or touches it: one marker */
		while (i + 1 < nspans && spans[i + 1].from <= to)
		{
			i++;
			to = Max(to, spans[i].to);
		}
		appendBinaryStringInfo(&buf, s + done, from - done);
		appendStringInfoString(&buf, marker);
		done = to;
	}
	appendStringInfoString(&buf, s + done);
	pfree(spans);
	return buf.data;
}
