/* sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for vmd's handshake.
 *
 * Small and dependency-free, since vmd, vmctl and the tests' own WebSocket client
 * all need the same two functions and nothing else from a crypto library. Checked
 * against FIPS 180-4's examples and RFC 4231's vectors (tests/unit/test_sha256.c).
 */
#ifndef COMMON_SHA256_H
#define COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32		/* bytes of a digest */
#define SHA256_BLOCK 64		/* bytes of a message block */

struct sha256 {
	uint32_t h[8];		/* the hash value so far (FIPS 180-4 section 6.2) */
	uint64_t bits;		/* message length so far, in bits */
	uint8_t block[SHA256_BLOCK];
	size_t used;		/* bytes of block filled */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Pad, finish and write the digest; c is wiped. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_SIZE]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_SIZE]);
/* A digest (or any SHA256_SIZE bytes) as 64 lowercase hex digits and a NUL. */
void sha256_hex(const uint8_t sum[SHA256_SIZE], char out[2 * SHA256_SIZE + 1]);

/* HMAC-SHA256 of the n parts msg[0..n-1] taken as one message, under key. */
void hmac_sha256(const void *key, size_t key_len, const void *const *msg,
		 const size_t *msg_len, size_t n, uint8_t out[SHA256_SIZE]);

#endif
