/*-------------------------------------------------------------------------
 *
 * ciphertext.c (fuzz harness)
 *	  The ciphertext decoder: tde.decrypt, tde.decrypt_text and
 *	  tde.ciphertext_key_version (sql/data_sql.c, the real entry points,
 *	  called through a FunctionCallInfo as the executor calls them).
 *
 * decrypt_value parses the header inline, between a privilege check and
 * the relation key lookup, so the catalog around it is stood in for here
 * (the decoding itself is all tde's): relation FUZZ_RELID is an ordinary
 * table the user may read; tde_relkey_for_decrypt knows one relation key
 * id in versions 1 and 2 and refuses any other as the real one does
 * (22023, "ciphertext was not encrypted for relation"), so a header
 * naming another key is a rejection and one naming a known key reaches
 * the AES-GCM open with the real key.  The input's first byte chooses the
 * value's form (bit 0: a 1-byte varlena header, as a short value on disk
 * has) and the function (bit 1: decrypt_text); the rest is the value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace_d.h"
#include "fmgr.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "harness.h"
#include "tde/keys/relkey.h"

#define FUZZ_RELID		16384
#define FUZZ_TDE_SCHEMA 16390
/* header (format, key id, version, nonce) and GCM tag: data_sql.c's CT_OVERHEAD */
#define FUZZ_CT_OVERHEAD (1 + TDE_RELKEY_ID_LEN + 4 + TDE_GCM_IV_LEN + TDE_GCM_TAG_LEN)

extern Datum tde_decrypt(PG_FUNCTION_ARGS);
extern Datum tde_decrypt_text(PG_FUNCTION_ARGS);
extern Datum tde_encrypt(PG_FUNCTION_ARGS);
extern Datum tde_ciphertext_key_version(PG_FUNCTION_ARGS);

static const uint8 fuzz_key_id[TDE_RELKEY_ID_LEN] = {
	0x6b, 0x9c, 0x2e, 0x11, 0x8f, 0x20, 0x4d, 0x3a,
	0xa1, 0x57, 0x0c, 0xe4, 0x93, 0x7d, 0x5b, 0x02
};
static TdeRelKey fuzz_keys[2];	/* versions 1 and 2, set up once */

/* ---------------------------------------------------------------------
 * The catalog and the key cache, as the decrypt path sees them
 * ---------------------------------------------------------------------
 */

void
tde_require_loaded(void)
{
}

uint64
tde_acl_epoch(void)
{
	return 1;
}

Oid
GetUserId(void)
{
	return 16385;
}

HeapTuple
SearchSysCache1(int cacheId, Datum key1)
{
	HeapTuple	tup;
	Size		hoff = MAXALIGN(offsetof(HeapTupleHeaderData, t_bits));
	Form_pg_class form;

	if (cacheId != RELOID)
		tde_fuzz_fail("SearchSysCache1 of cache %d", cacheId);
	if (DatumGetObjectId(key1) != FUZZ_RELID)
		return NULL;
	tup = palloc0(HEAPTUPLESIZE + hoff + sizeof(FormData_pg_class));
	tup->t_data = (HeapTupleHeader) ((char *) tup + HEAPTUPLESIZE);
	tup->t_data->t_hoff = hoff;
	tup->t_len = hoff + sizeof(FormData_pg_class);
	form = (Form_pg_class) GETSTRUCT(tup);
	form->oid = FUZZ_RELID;
	strlcpy(NameStr(form->relname), "fuzz_table", NAMEDATALEN);
	form->relnamespace = PG_PUBLIC_NAMESPACE;
	form->relkind = RELKIND_RELATION;
	return tup;
}

void
ReleaseSysCache(HeapTuple tuple)
{
	pfree(tuple);
}

bool
IsCatalogRelationOid(Oid relid)
{
	return relid < FirstUnpinnedObjectId;
}

Oid
get_namespace_oid(const char *nspname, bool missing_ok)
{
	return strcmp(nspname, "tde") == 0 ? FUZZ_TDE_SCHEMA : InvalidOid;
}

AclMode
pg_class_aclmask(Oid table_oid, Oid roleid, AclMode mask, AclMaskHow how)
{
	return mask;
}

char *
get_rel_name(Oid relid)
{
	return pstrdup("fuzz_table");
}

uint64
tde_relkey_epoch(void)
{
	return 1;
}

bool
tde_relkey_still_cached(uint64 epoch)
{
	return epoch == 1;
}

static TdeRelKey *
fuzz_key(int32 version)
{
	TdeRelKey  *k = &fuzz_keys[version - 1];

	if (k->version == 0)
	{
		uint8		key[TDE_RELKEY_LEN];
		int			i;

		for (i = 0; i < TDE_RELKEY_LEN; i++)
			key[i] = (uint8) (0x3c + version * 7 + i);
		memcpy(k->key_id, fuzz_key_id, TDE_RELKEY_ID_LEN);
		k->version = version;
		k->relid = FUZZ_RELID;
		tde_gcm_key_init(&k->gcm, key);
	}
	return k;
}

TdeRelKey *
tde_relkey_for_decrypt(Oid relid, const uint8 *key_id, int32 version)
{
	if (relid != FUZZ_RELID ||
		memcmp(key_id, fuzz_key_id, TDE_RELKEY_ID_LEN) != 0 ||
		(version != 1 && version != 2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ciphertext was not encrypted for relation \"%s\"",
						"fuzz_table")));
	return fuzz_key(version);
}

/* For the seeds: tde.encrypt under version 2 */
TdeRelKey *
tde_relkey_for_encrypt(Oid relid)
{
	return fuzz_key(2);
}

void
tde_relkey_next_nonce(TdeRelKey *k, uint8 *nonce)
{
	tde_counter_nonce(&k->nonces, nonce);
}

Size
toast_raw_datum_size(Datum value)
{
	return VARSIZE_ANY(DatumGetPointer(value));
}

/* ---------------------------------------------------------------------
 * The harness
 * ---------------------------------------------------------------------
 */

static Datum
call(PGFunction fn, bytea *value, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	FmgrInfo   *flinfo = palloc0(sizeof(FmgrInfo));
	Datum		result;

	flinfo->fn_mcxt = CurrentMemoryContext;
	flinfo->fn_nargs = 2;
	InitFunctionCallInfoData(*fcinfo, flinfo, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(FUZZ_RELID);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(value);
	fcinfo->args[1].isnull = false;
	if (fn == tde_ciphertext_key_version)
	{
		fcinfo->nargs = 1;
		fcinfo->args[0] = fcinfo->args[1];
	}
	result = fn(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/* The value as a varlena: a 1-byte header if asked and it fits */
static bytea *
make_value(const uint8_t *data, size_t size, bool shortform)
{
	bytea	   *v;

	if (shortform && size + VARHDRSZ_SHORT <= VARATT_SHORT_MAX)
	{
		v = palloc(size + VARHDRSZ_SHORT);
		SET_VARSIZE_SHORT(v, size + VARHDRSZ_SHORT);
		memcpy(VARDATA_SHORT(v), data, size);
		return v;
	}
	v = palloc(size + VARHDRSZ);
	SET_VARSIZE(v, size + VARHDRSZ);
	memcpy(VARDATA(v), data, size);
	return v;
}

static void
one_input(const uint8_t *data, size_t size)
{
	bytea	   *value;
	bool		isnull;
	Datum		result;

	if (size < 1)
		return;
	value = make_value(data + 1, size - 1, data[0] & 1);
	(void) call(tde_ciphertext_key_version, value, &isnull);
	result = call((data[0] & 2) ? tde_decrypt_text : tde_decrypt, value, &isnull);
	if (isnull || VARSIZE_ANY_EXHDR(DatumGetPointer(result)) + FUZZ_CT_OVERHEAD != size - 1)
		tde_fuzz_fail("a plaintext of the wrong length was returned");
}

static void
seed_of(const char *name, int flags, const char *plaintext)
{
	bool		isnull;
	Datum		ct = call(tde_encrypt, make_value((const uint8 *) plaintext,
												  strlen(plaintext), false),
						  &isnull);
	Size		len = VARSIZE_ANY_EXHDR(DatumGetPointer(ct));
	uint8	   *seed = palloc(len + 1);

	seed[0] = (uint8) flags;
	memcpy(seed + 1, VARDATA_ANY(DatumGetPointer(ct)), len);
	tde_fuzz_seed(name, seed, len + 1);
}

static void
write_seeds(const uint8_t *data, size_t size)
{
	seed_of("gen-bytea", 0, "4111 1111 1111 1111");
	seed_of("gen-short-header", 1, "a short value");
	seed_of("gen-text", 2, "déjà vu: UTF-8 text");
	seed_of("gen-empty", 0, "");
}

static void
init(void)
{
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
