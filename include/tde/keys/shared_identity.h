/*-------------------------------------------------------------------------
 *
 * shared_identity.h
 *	  Database identities shared by every backend of the instance.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_SHARED_IDENTITY_H
#define TDE_KEYS_SHARED_IDENTITY_H

extern void tde_shared_identity_shmem_request(void);
extern void tde_shared_identity_shmem_startup(void);

extern bool tde_shared_identity_get(Oid dboid, Oid relid, uint8 *out);
extern void tde_shared_identity_put(Oid dboid, Oid relid, const uint8 *id);
extern void tde_shared_identity_forget(Oid dboid);

#endif							/* TDE_KEYS_SHARED_IDENTITY_H */
