/*-------------------------------------------------------------------------
 *
 * keyid.c
 *	  Master-key identifiers: MKID <-> KEY_ID.  See util/keyid.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "utils/builtins.h"

#include "tde/util/keyid.h"

/* KEY_ID = base64(0x01 || MKID || 22 zero bytes), 52 characters */
void
tde_mkid_to_key_id(const uint8 *mkid, char *out)
{
	char		raw[39] = {0};
	int			n;

	raw[0] = 0x01;
	memcpy(raw + 1, mkid, TDE_MKID_LEN);
	n = pg_b64_encode(raw, sizeof(raw), out, TDE_KEY_ID_LEN + 1);
	Assert(n == TDE_KEY_ID_LEN);
	out[n] = '\0';
}

bool
tde_key_id_to_mkid(const char *key_id, uint8 *mkid)
{
	char		raw[40];
	int			i;
	int			n;

	if (strlen(key_id) != TDE_KEY_ID_LEN)
		return false;
	n = pg_b64_decode(key_id, TDE_KEY_ID_LEN, raw, sizeof(raw));
	if (n != 39 || raw[0] != 0x01)
		return false;
	for (i = 1 + TDE_MKID_LEN; i < 39; i++)
		if (raw[i] != 0)
			return false;
	memcpy(mkid, raw + 1, TDE_MKID_LEN);
	return true;
}

/* Parse hex into a buffer of exactly len bytes. */
bool
tde_parse_hex(const char *s, int slen, uint8 *out, int len)
{
	int			i;

	if (slen != len * 2)
		return false;
	for (i = 0; i < slen; i++)
		if (!isxdigit((unsigned char) s[i]))
			return false;
	(void) hex_decode(s, slen, (char *) out);
	return true;
}
