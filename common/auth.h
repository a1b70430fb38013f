/* auth.h - the proofs of vmd's handshake (docs/PROTOCOL.md, "Authentication").
 *
 * Neither side ever sends the VM's secret. The client's upgrade request carries a
 * fresh nonce; vmd answers the upgrade with its own nonce and a proof that it holds
 * the secret, bound to both nonces; only when that checks out does the client send
 * its own proof, as the connection's first frame. Whoever listens on the port in
 * vmd's place learns nothing it can use elsewhere: it never sees the secret, and a
 * proof is good for one pair of nonces only.
 *
 * Secrets, nonces and proofs are all 32 bytes written as 64 lowercase hex digits.
 */
#ifndef COMMON_AUTH_H
#define COMMON_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_HEX 64
/* The response and request headers, as libwebsockets names them (lowercase, with
 * the colon). */
#define AUTH_NONCE_HEADER "x-vmd-nonce:"
#define AUTH_PROOF_HEADER "x-vmd-proof:"
/* Who proves: the two labels keep a proof of one side from serving as the other's. */
#define AUTH_SERVER "vmd server"
#define AUTH_CLIENT "vmctl client"

/* Exactly AUTH_HEX lowercase hex digits in s[0..len). */
bool auth_hex_valid(const char *s, size_t len);
/* A fresh random nonce; -1 with errno when the kernel gives no random bytes. */
int auth_nonce(char out[AUTH_HEX + 1]);
/* vmd's nonce: the same, but not waiting for the kernel's random generator to be
 * seeded. A fresh guest seeds it about 2 s after vmd listens under TCG, and the
 * first connection (vmctl start's ping) would wait that long. The server's nonce
 * need not be secret, only never repeat under one secret, so that a client's proof
 * cannot be replayed; the generator's output does not repeat within one boot, and
 * each boot has a secret of its own. */
int auth_nonce_unwaited(char out[AUTH_HEX + 1]);
/* HMAC-SHA256 under the secret's 32 bytes of the label, then the client's nonce,
 * then the server's (as their hex digits), in hex. secret must be auth_hex_valid. */
void auth_proof(const char *secret, const char *label, const char *client_nonce,
		const char *server_nonce, char out[AUTH_HEX + 1]);
/* a and b are the same AUTH_HEX characters; the time taken does not depend on
 * where they differ. */
bool auth_equal(const char *a, const char *b);

#endif
