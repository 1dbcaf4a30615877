/*-------------------------------------------------------------------------
 *
 * mask.h
 *	  Replace every occurrence of some strings in a text by a marker.
 *
 * The log redaction (sql/redact.c) hides a statement's text and its
 * secrets in every field of a message.  Occurrences are found in the text
 * as it is, each needle's left to right without overlap, and those of all
 * needles are merged before anything is replaced, so that one marker
 * covers overlapping or adjacent occurrences and no needle is ever looked
 * for inside a marker put in for another (a secret such as "e" is in the
 * marker's own words).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_UTIL_MASK_H
#define TDE_UTIL_MASK_H

/*
 * s with the occurrences of needles[0..n-1] (lengths lens[], each > 0)
 * replaced by marker, in the current memory context; s itself if none
 * occurs; NULL if more than max_hits occur (the caller hides the whole).
 */
extern const char *tde_mask_occurrences(const char *s, const char *const *needles,
										const Size *lens, int n,
										const char *marker, int max_hits);

#endif							/* TDE_UTIL_MASK_H */
