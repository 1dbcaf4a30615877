/*-------------------------------------------------------------------------
 *
 * data_sql.c
 *	  tde.encrypt and tde.decrypt: data under a relation key.
 *
 * A ciphertext is a header followed by AES-256-GCM output:
 *
 *	 offset  size  field
 *	 0		 1	   format (1)
 *	 1		 16    relation key id
 *	 17		 4	   relation key version, big-endian
 *	 21		 12    nonce: 8 random bytes per cached key, then a counter
 *	 33		 n	   ciphertext
 *	 33+n	 16    GCM tag
 *
 * The header (with the nonce) is the associated data, so a ciphertext can
 * not be moved to another key or version.  Decryption takes the key and
 * version the header names, so ciphertexts under every version of a
 * relation key decrypt while a relation is being re-keyed.
 *
 * Privileges: besides EXECUTE on the function, encrypting needs INSERT or
 * UPDATE on the relation and decrypting needs SELECT on it, checked here.
 *
 * Relations: only tables whose rows users write have relation keys:
 * ordinary and partitioned tables, permanent, unlogged or temporary.  Every
 * function that takes a relation refuses (42809) views, materialized views,
 * sequences, indexes, composite types, foreign tables and TOAST tables, the
 * objects initdb creates (system catalogs, information_schema) and the
 * tables of the tde extension itself (every relation in schema tde: a
 * syscache lookup, where asking pg_depend would cost a scan per value),
 * before it looks at a key, so that no
 * relation key is ever created for them and an old ciphertext that names
 * one does not decrypt either.
 *
 * Size: a ciphertext is the plaintext plus CT_OVERHEAD bytes and, like any
 * value, at most MaxAllocSize bytes with its varlena header, so the longest
 * plaintext is CT_MAX_PLAINTEXT bytes; a longer one is refused (54000)
 * from its stored size, before it is detoasted or anything is allocated.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "port/pg_bswap.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "tde/crypto/cipher.h"
#include "tde/keys/relkey.h"
#include "tde/keys/relkey_rewrap.h"
#include "tde/keystore/state.h"
#include "tde/sql/privs.h"

#define CT_FORMAT		1
#define CT_HEADER_LEN	(1 + TDE_RELKEY_ID_LEN + 4 + TDE_GCM_IV_LEN)
#define CT_OVERHEAD		(CT_HEADER_LEN + TDE_GCM_TAG_LEN)
/* The longest plaintext whose ciphertext still fits in one value */
#define CT_MAX_PLAINTEXT ((Size) MaxAllocSize - VARHDRSZ - CT_OVERHEAD)

PG_FUNCTION_INFO_V1(tde_encrypt);
PG_FUNCTION_INFO_V1(tde_decrypt);
PG_FUNCTION_INFO_V1(tde_encrypt_text);
PG_FUNCTION_INFO_V1(tde_decrypt_text);
PG_FUNCTION_INFO_V1(tde_rotate_relation_key);
PG_FUNCTION_INFO_V1(tde_ciphertext_key_version);
PG_FUNCTION_INFO_V1(tde_relation_key_version);
PG_FUNCTION_INFO_V1(tde_invalidate_key_caches);
PG_FUNCTION_INFO_V1(tde_rewrap_relation_key);

/*
 * Refuse every relation but a user's table (see the file header).  The
 * error names the relation and says why; it comes before any key lookup.
 */
static void
check_relation_kind(Oid relid)
{
	HeapTuple	tup;
	Form_pg_class form;
	char		relkind;
	char	   *name;
	Oid			relnamespace;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tup);
	relkind = form->relkind;
	relnamespace = form->relnamespace;
	name = pstrdup(NameStr(form->relname));
	ReleaseSysCache(tup);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("tde does not encrypt data of relation \"%s\"", name),
				 errdetail_relkind_not_supported(relkind),
				 errhint("tde encrypts data of ordinary and partitioned tables only.")));
	if (relid < FirstNormalObjectId || IsCatalogRelationOid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("tde does not encrypt data of relation \"%s\"", name),
				 errdetail("\"%s\" is a system table.", name),
				 errhint("tde encrypts data of ordinary and partitioned tables only.")));
	if (relnamespace == get_namespace_oid("tde", true))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("tde does not encrypt data of relation \"%s\"", name),
				 errdetail("\"%s\" is a table of the tde extension, in its schema tde.", name),
				 errhint("tde encrypts data of ordinary and partitioned tables only.")));
	pfree(name);
}

static void
check_relation_access(Oid relid, AclMode mode, const char *what)
{
	char	   *name;

	check_relation_kind(relid);
	if (pg_class_aclmask(relid, GetUserId(), mode, ACLMASK_ANY) != 0)
		return;
	name = get_rel_name(relid);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s data of relation %s", what,
					name ? name : "?")));
}

/*
 * The per-call fast path: what one call site (its FmgrInfo) checked and
 * found last, kept in fn_extra.  The privilege check holds for the same
 * relation and user while no privilege may have changed (tde_acl_epoch);
 * the key while the relation key cache has not been dropped (a rekey, the
 * keystore closed, a rotation committed, a transaction that made a key
 * aborted).  Repeated calls in one query then skip the catalog probes and
 * the hash lookup.
 */
typedef struct CallCache
{
	Oid			relid;			/* checked for this relation */
	Oid			userid;			/* and this user */
	uint64		acl_epoch;
	TdeRelKey  *key;			/* the key used last, or NULL */
	uint64		key_epoch;
} CallCache;

static CallCache *
call_cache(FunctionCallInfo fcinfo)
{
	FmgrInfo   *fl = fcinfo->flinfo;

	if (fl->fn_extra == NULL)
		fl->fn_extra = MemoryContextAllocZero(fl->fn_mcxt, sizeof(CallCache));
	return (CallCache *) fl->fn_extra;
}

/* The privilege check for relid, unless this call site made it already */
static void
check_access_cached(CallCache *cc, Oid relid, AclMode mode, const char *what)
{
	Oid			userid = GetUserId();
	uint64		epoch = tde_acl_epoch();

	if (cc->acl_epoch == epoch && cc->relid == relid && cc->userid == userid)
		return;
	cc->acl_epoch = 0;
	check_relation_access(relid, mode, what);
	cc->relid = relid;
	cc->userid = userid;
	cc->acl_epoch = epoch;
}

/* The key the call site used last, if it is still the one wanted */
static TdeRelKey *
kept_key(CallCache *cc, Oid relid, const uint8 *key_id, int32 version)
{
	TdeRelKey  *k = cc->key;

	if (k == NULL || !tde_relkey_still_cached(cc->key_epoch) || k->relid != relid)
		return NULL;
	if (key_id != NULL &&
		(k->version != version || memcmp(k->key_id, key_id, TDE_RELKEY_ID_LEN) != 0))
		return NULL;
	return k;
}

static void
keep_key(CallCache *cc, TdeRelKey *k)
{
	cc->key = k;
	cc->key_epoch = tde_relkey_epoch();
}

/*
 * Refuse a plaintext whose ciphertext would not fit in a value.  It reads
 * the size the datum records, so a value too long is never detoasted.
 */
static void
check_plaintext_size(Datum value)
{
	Size		len = toast_raw_datum_size(value) - VARHDRSZ;

	if (len > CT_MAX_PLAINTEXT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of %zu bytes is too long to encrypt", len),
				 errdetail("tde.encrypt accepts at most %zu bytes: the ciphertext adds %d bytes (header, nonce and GCM tag) and a value is at most %zu bytes.",
						   CT_MAX_PLAINTEXT, CT_OVERHEAD,
						   (Size) MaxAllocSize - VARHDRSZ)));
}

static bytea *
encrypt_bytes(FunctionCallInfo fcinfo, Oid relid, const char *data, int len)
{
	CallCache  *cc = call_cache(fcinfo);
	TdeRelKey  *k;
	bytea	   *out;
	uint8	   *p;
	uint32		v;

	tde_require_loaded();
	check_access_cached(cc, relid, ACL_INSERT | ACL_UPDATE, "encrypt");
	Assert((Size) len <= CT_MAX_PLAINTEXT);
	if ((k = kept_key(cc, relid, NULL, 0)) == NULL)
	{
		k = tde_relkey_for_encrypt(relid);
		keep_key(cc, k);
	}

	out = palloc(VARHDRSZ + CT_OVERHEAD + len);
	SET_VARSIZE(out, VARHDRSZ + CT_OVERHEAD + len);
	p = (uint8 *) VARDATA(out);
	p[0] = CT_FORMAT;
	memcpy(p + 1, k->key_id, TDE_RELKEY_ID_LEN);
	v = pg_hton32((uint32) k->version);
	memcpy(p + 1 + TDE_RELKEY_ID_LEN, &v, 4);
	tde_relkey_next_nonce(k, p + 1 + TDE_RELKEY_ID_LEN + 4);
	tde_gcm_seal(&k->gcm, p + 1 + TDE_RELKEY_ID_LEN + 4, p, CT_HEADER_LEN,
				 (const uint8 *) data, len, p + CT_HEADER_LEN,
				 p + CT_HEADER_LEN + len);
	return out;
}

/*
 * The plaintext as a varlena, decrypted in place into the result (bytea and
 * text share the layout).
 */
static struct varlena *
decrypt_value(FunctionCallInfo fcinfo, Oid relid, const bytea *ct)
{
	CallCache  *cc = call_cache(fcinfo);
	const uint8 *p = (const uint8 *) VARDATA_ANY(ct);
	int			ctlen = VARSIZE_ANY_EXHDR(ct);
	int			len = ctlen - CT_OVERHEAD;
	TdeRelKey  *k;
	uint32		v;
	int32		version;
	struct varlena *out;

	tde_require_loaded();
	check_access_cached(cc, relid, ACL_SELECT, "decrypt");
	if (ctlen < CT_OVERHEAD || p[0] != CT_FORMAT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("value is not a tde ciphertext"),
				 errdetail("A tde ciphertext is at least %d bytes and starts with format byte %d.",
						   CT_OVERHEAD, CT_FORMAT)));
	memcpy(&v, p + 1 + TDE_RELKEY_ID_LEN, 4);
	version = (int32) pg_ntoh32(v);
	if ((k = kept_key(cc, relid, p + 1, version)) == NULL)
	{
		k = tde_relkey_for_decrypt(relid, p + 1, version);
		keep_key(cc, k);
	}

	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	if (!tde_gcm_open(&k->gcm, p + 1 + TDE_RELKEY_ID_LEN + 4, p, CT_HEADER_LEN,
					  p + CT_HEADER_LEN, len, p + CT_HEADER_LEN + len,
					  (uint8 *) VARDATA(out)))
	{
		explicit_bzero(VARDATA(out), len);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ciphertext failed authentication"),
				 errdetail("The value was altered after it was encrypted.")));
	}
	return out;
}

/* tde.encrypt(relation regclass, data bytea) returns bytea */
Datum
tde_encrypt(PG_FUNCTION_ARGS)
{
	bytea	   *data;

	check_plaintext_size(PG_GETARG_DATUM(1));
	data = PG_GETARG_BYTEA_PP(1);
	PG_RETURN_BYTEA_P(encrypt_bytes(fcinfo, PG_GETARG_OID(0), VARDATA_ANY(data),
									VARSIZE_ANY_EXHDR(data)));
}

/* tde.decrypt(relation regclass, data bytea) returns bytea */
Datum
tde_decrypt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(decrypt_value(fcinfo, PG_GETARG_OID(0), PG_GETARG_BYTEA_PP(1)));
}

/* tde.encrypt(relation regclass, data text) returns bytea */
Datum
tde_encrypt_text(PG_FUNCTION_ARGS)
{
	text	   *data;

	check_plaintext_size(PG_GETARG_DATUM(1));
	data = PG_GETARG_TEXT_PP(1);
	PG_RETURN_BYTEA_P(encrypt_bytes(fcinfo, PG_GETARG_OID(0), VARDATA_ANY(data),
									VARSIZE_ANY_EXHDR(data)));
}

/* tde.decrypt_text(relation regclass, data bytea) returns text */
Datum
tde_decrypt_text(PG_FUNCTION_ARGS)
{
	text	   *out = (text *) decrypt_value(fcinfo, PG_GETARG_OID(0), PG_GETARG_BYTEA_PP(1));

	(void) pg_verifymbstr(VARDATA(out), VARSIZE(out) - VARHDRSZ, false);
	PG_RETURN_TEXT_P(out);
}

/* tde.rotate_relation_key(relation regclass) returns integer */
Datum
tde_rotate_relation_key(PG_FUNCTION_ARGS)
{
	tde_require_loaded();
	tde_require_admin();
	check_relation_kind(PG_GETARG_OID(0));
	PG_RETURN_INT32(tde_relkey_rotate(PG_GETARG_OID(0)));
}

/*
 * tde.ciphertext_key_version(data bytea) returns integer: the relation key
 * version a ciphertext names, NULL if the value is not a tde ciphertext.
 * It reads the header only, so it needs no key.
 */
Datum
tde_ciphertext_key_version(PG_FUNCTION_ARGS)
{
	bytea	   *ct = PG_GETARG_BYTEA_PP(0);
	const uint8 *p = (const uint8 *) VARDATA_ANY(ct);
	uint32		v;

	if (VARSIZE_ANY_EXHDR(ct) < CT_OVERHEAD || p[0] != CT_FORMAT)
		PG_RETURN_NULL();
	memcpy(&v, p + 1 + TDE_RELKEY_ID_LEN, 4);
	PG_RETURN_INT32((int32) pg_ntoh32(v));
}

/*
 * tde.relation_key_version(relation regclass) returns integer: the version
 * new encryptions of the relation use (creating version 1 if it has none).
 */
Datum
tde_relation_key_version(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	tde_require_loaded();
	check_relation_access(relid, ACL_INSERT | ACL_UPDATE, "encrypt");
	PG_RETURN_INT32(tde_relkey_for_encrypt(relid)->version);
}

/*
 * tde.invalidate_key_caches(): once this transaction commits, every
 * backend drops its unwrapped relation keys before its next use of one.
 * Called when relations with keys are dropped, since a later relation may
 * get the same OID.
 */
Datum
tde_invalidate_key_caches(PG_FUNCTION_ARGS)
{
	tde_require_loaded();
	tde_require_admin();
	tde_relkey_invalidate_at_commit();
	PG_RETURN_VOID();
}

/*
 * tde.rewrap_relation_key(key_id, key_version, master_key_id, wrapped_key,
 * new_master_key_id): the wrapped key under the new master key.  Called by
 * the re-wrap UPDATE only; it returns ciphertext, never a key, and checks
 * the caller in C all the same.
 */
Datum
tde_rewrap_relation_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *key_id = PG_GETARG_UUID_P(0);
	int32		version = PG_GETARG_INT32(1);
	bytea	   *old_mkid = PG_GETARG_BYTEA_PP(2);
	bytea	   *wrapped = PG_GETARG_BYTEA_PP(3);
	bytea	   *new_mkid = PG_GETARG_BYTEA_PP(4);

	/* checked once for tde's own re-wrap statement, else per call */
	if (!tde_relkey_rewrap_running())
		tde_require_admin();
	PG_RETURN_BYTEA_P(tde_relkey_rewrap_one(key_id->data, version, old_mkid,
											wrapped, new_mkid));
}
