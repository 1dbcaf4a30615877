/*-------------------------------------------------------------------------
 *
 * openssl_loop.c
 *	  The physical limit of tde.encrypt and tde.decrypt: the OpenSSL calls
 *	  they make for one value, in a loop, with nothing of PostgreSQL around.
 *
 * Usage: openssl_loop SIZE COUNT REPS
 *
 * Prints REPS lines "encrypt_ns decrypt_ns": the nanoseconds per value of
 * one pass that encrypts COUNT values of SIZE bytes and of one pass that
 * decrypts them again.  bench/run.sh builds it (cc -O2 ... -lcrypto) into
 * its temporary directory and compares its medians with tde's net cost per
 * value.
 *
 * The call sequence is tde's (src/crypto/cipher.c, src/sql/data_sql.c):
 * AES-256-GCM fetched once with EVP_CIPHER_fetch; one encryption and one
 * decryption context, each keyed once (EVP_*Init_ex with the key and no
 * nonce), as a cached relation key is; then per value
 *
 *	 encrypt: the 33-byte header (format byte, 16-byte key id, 4-byte
 *			  version, 12-byte nonce: 8 fixed bytes and a big-endian
 *			  counter); EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce);
 *			  EVP_EncryptUpdate of the header as associated data;
 *			  EVP_EncryptUpdate of the value; EVP_EncryptFinal_ex;
 *			  EVP_CTRL_GCM_GET_TAG (16 bytes)
 *	 decrypt: EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce from the
 *			  header); EVP_DecryptUpdate of the header as associated data;
 *			  EVP_DecryptUpdate of the ciphertext; EVP_CTRL_GCM_SET_TAG;
 *			  EVP_DecryptFinal_ex, which must accept the tag
 *
 * The values are distinct (a pool of up to POOL_BYTES of random
 * plaintexts, cycled through when COUNT is larger), so the loop reads
 * memory as a table scan does rather than one hot buffer; an untimed pass
 * over the pool comes first, so that no timed pass pays for page faults.
 * Decryption writes into one output buffer, as tde writes into a per-row
 * allocation that the executor reuses.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define KEY_LEN		32
#define NONCE_LEN	12
#define TAG_LEN		16
#define KEYID_LEN	16
#define HEADER_LEN	(1 + KEYID_LEN + 4 + NONCE_LEN)
#define POOL_BYTES	(64L * 1024 * 1024)

static void
fail(const char *what)
{
	fprintf(stderr, "openssl_loop: %s\n", what);
	exit(1);
}

static long
parse_positive(const char *s, const char *name)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0)
	{
		fprintf(stderr, "openssl_loop: %s must be a positive integer, not \"%s\"\n", name, s);
		exit(2);
	}
	return v;
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The header of a value, with the next nonce from the counter */
static void
make_header(uint8_t *h, const uint8_t *key_id, const uint8_t *prefix, uint32_t counter)
{
	h[0] = 1;
	memcpy(h + 1, key_id, KEYID_LEN);
	memset(h + 1 + KEYID_LEN, 0, 3);
	h[1 + KEYID_LEN + 3] = 1;	/* version 1, big-endian */
	memcpy(h + 1 + KEYID_LEN + 4, prefix, 8);
	h[HEADER_LEN - 4] = (uint8_t) (counter >> 24);
	h[HEADER_LEN - 3] = (uint8_t) (counter >> 16);
	h[HEADER_LEN - 2] = (uint8_t) (counter >> 8);
	h[HEADER_LEN - 1] = (uint8_t) counter;
}

/* One value: header, ciphertext and tag at rec */
static void
seal(EVP_CIPHER_CTX *ctx, const uint8_t *in, int len, uint8_t *rec)
{
	int			n;

	if (!EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, rec + 1 + KEYID_LEN + 4) ||
		!EVP_EncryptUpdate(ctx, NULL, &n, rec, HEADER_LEN) ||
		!EVP_EncryptUpdate(ctx, rec + HEADER_LEN, &n, in, len) ||
		!EVP_EncryptFinal_ex(ctx, rec + HEADER_LEN + len, &n) ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, rec + HEADER_LEN + len) != 1)
		fail("encryption failed");
}

static void
open_value(EVP_CIPHER_CTX *ctx, const uint8_t *rec, int len, uint8_t *out)
{
	int			n;

	if (!EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, rec + 1 + KEYID_LEN + 4) ||
		!EVP_DecryptUpdate(ctx, NULL, &n, rec, HEADER_LEN) ||
		!EVP_DecryptUpdate(ctx, out, &n, rec + HEADER_LEN, len) ||
		!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *) (rec + HEADER_LEN + len)) ||
		EVP_DecryptFinal_ex(ctx, out + len, &n) != 1)
		fail("a value failed authentication");
}

int
main(int argc, char **argv)
{
	long		size,
				count,
				reps,
				pool,
				rec_len,
				i,
				r;
	uint8_t		key[KEY_LEN],
				key_id[KEYID_LEN],
				prefix[8];
	uint8_t    *plain,
			   *recs,
			   *out;
	uint32_t	counter = 0;
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *enc,
			   *dec;

	if (argc != 4)
	{
		fprintf(stderr, "usage: openssl_loop SIZE COUNT REPS\n");
		return 2;
	}
	size = parse_positive(argv[1], "SIZE");
	count = parse_positive(argv[2], "COUNT");
	reps = parse_positive(argv[3], "REPS");
	pool = POOL_BYTES / size;
	if (pool < 1)
		pool = 1;
	if (pool > count)
		pool = count;
	rec_len = HEADER_LEN + size + TAG_LEN;

	plain = malloc(pool * size);
	recs = malloc(pool * rec_len);
	out = malloc(size + 16);
	if (plain == NULL || recs == NULL || out == NULL)
		fail("out of memory");
	if (RAND_bytes(plain, (int) (pool * size)) != 1 ||
		RAND_bytes(key, KEY_LEN) != 1 || RAND_bytes(key_id, KEYID_LEN) != 1 ||
		RAND_bytes(prefix, sizeof(prefix)) != 1)
		fail("RAND_bytes failed");

	/* keyed once, as tde_gcm_key_init keys a cached relation key */
	cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	enc = EVP_CIPHER_CTX_new();
	dec = EVP_CIPHER_CTX_new();
	if (cipher == NULL || enc == NULL || dec == NULL ||
		!EVP_EncryptInit_ex(enc, cipher, NULL, key, NULL) ||
		!EVP_DecryptInit_ex(dec, cipher, NULL, key, NULL))
		fail("could not set up AES-256-GCM");

	/* an untimed pass, so that no timed one pays for first page faults */
	for (i = 0; i < pool; i++)
	{
		make_header(recs + i * rec_len, key_id, prefix, counter++);
		seal(enc, plain + i * size, (int) size, recs + i * rec_len);
		open_value(dec, recs + i * rec_len, (int) size, out);
	}

	for (r = 0; r < reps; r++)
	{
		double		t0,
					t1,
					t2;

		t0 = now_ns();
		for (i = 0; i < count; i++)
		{
			uint8_t    *rec = recs + (i % pool) * rec_len;

			make_header(rec, key_id, prefix, counter++);
			seal(enc, plain + (i % pool) * size, (int) size, rec);
		}
		t1 = now_ns();
		for (i = 0; i < count; i++)
			open_value(dec, recs + (i % pool) * rec_len, (int) size, out);
		t2 = now_ns();
		printf("%.1f %.1f\n", (t1 - t0) / count, (t2 - t1) / count);
	}
	/* the last pass must have given back the plaintexts */
	for (i = 0; i < pool; i++)
	{
		open_value(dec, recs + i * rec_len, (int) size, out);
		if (memcmp(out, plain + i * size, size) != 0)
			fail("a value did not decrypt to its plaintext");
	}

	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	EVP_CIPHER_free(cipher);
	free(plain);
	free(recs);
	free(out);
	return 0;
}
