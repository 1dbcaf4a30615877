/*-------------------------------------------------------------------------
 *
 * relkey_row.h
 *	  The rows of tde.relation_key: catalog access, the database identity,
 *	  and wrapping a relation key under a master key.
 *
 * For keys/relkey.c (creating, finding, caching relation keys) and
 * keys/relkey_rewrap.c (re-wrapping them); nothing above the keys layer
 * uses it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_RELKEY_ROW_H
#define TDE_RELKEY_ROW_H

#include "executor/spi.h"

#include "tde/keystore/keyrecord.h"
#include "tde/keystore/keystore.h"

#define TDE_RELKEY_ID_LEN	16	/* a uuid */
#define TDE_RELKEY_LEN		32	/* AES-256 */

/*
 * Catalog queries run between tde_catalog_begin and tde_catalog_end: as
 * the bootstrap superuser, search_path pg_catalog, inside SPI.
 */
typedef struct TdeCatalogAccess
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
} TdeCatalogAccess;

extern void tde_catalog_begin(TdeCatalogAccess *ca);
extern void tde_catalog_end(TdeCatalogAccess *ca);

/* A plan prepared once per backend and kept in *slot. */
extern SPIPlanPtr tde_kept_plan(SPIPlanPtr *slot, const char *sql,
								int nargs, Oid *argtypes);
extern Oid	tde_relation_key_table(void);

/* Columns of the first row of the last SPI result (none is NULL) */
extern Datum tde_spi_value(int col);
extern bytea *tde_spi_bytea(int col);
extern void tde_spi_uuid(int col, uint8 *out);
extern Datum tde_uuid_datum(const uint8 *id);
extern bytea *tde_mkid_bytea(const uint8 *mkid);

/*
 * This database's identity (16 bytes), inside catalog access; with create,
 * made on first use.  Kept for the backend only once committed.
 */
extern bool tde_database_identity(bool create, uint8 *out);
extern void tde_require_database_identity(uint8 *out);
/* the kept identity without a query; false if there is none */
extern bool tde_kept_database_identity(uint8 *out);
extern void tde_forget_database_identity(void);
/* the identity without SPI (kept, or read under the active snapshot) */
extern bool tde_database_identity_direct(uint8 *out);
/* one relation key row by its primary key, without SPI */
extern bool tde_relkey_row_fetch(const uint8 *key_id, int32 version,
								 Oid *relid, bytea **mkid, bytea **wrapped);

/* The active master key of the primary keystore, or a clear error. */
extern void tde_require_active_key(TdeMasterKey *mk);
extern void tde_missing_master_key(const uint8 *mkid) pg_attribute_noreturn();

/* A row's relation key: unwrapped into out, or wrapped under mk. */
extern void tde_relkey_unwrap_row(const uint8 *dbident, const uint8 *key_id,
								  int32 version, const bytea *mkid,
								  const bytea *wrapped, uint8 *out);
extern bytea *tde_relkey_wrap(const TdeMasterKey *mk, const uint8 *dbident,
							  const uint8 *key_id, int32 version,
							  const uint8 *key);

extern bytea *tde_relkey_rewrap_with(TdeMkCipher *from, TdeMkCipher *to,
									 const uint8 *dbident, const uint8 *key_id,
									 int32 version, const bytea *wrapped);

#endif							/* TDE_RELKEY_ROW_H */
