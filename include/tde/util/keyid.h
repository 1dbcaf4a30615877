/*-------------------------------------------------------------------------
 *
 * keyid.h
 *	  Master-key identifiers: the 16-byte MKID and Oracle's KEY_ID.
 *
 * A master key is named by its MKID; its KEY_ID, as Oracle shows it, is
 * base64(0x01 || MKID || 22 zero bytes): 52 characters.  Every layer that
 * names a master key (the HSM's token objects, the key records, the
 * views) uses these, so they live at the bottom.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_UTIL_KEYID_H
#define TDE_UTIL_KEYID_H

#define TDE_MKID_LEN		16
#define TDE_KEY_ID_LEN		52	/* base64 of 39 bytes */

extern void tde_mkid_to_key_id(const uint8 *mkid, char *out);
extern bool tde_key_id_to_mkid(const char *key_id, uint8 *mkid);

/* Parse slen hex digits into exactly len bytes; false if they are not that. */
extern bool tde_parse_hex(const char *s, int slen, uint8 *out, int len);

#endif							/* TDE_UTIL_KEYID_H */
