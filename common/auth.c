/* auth.c - see auth.h. */
#include "auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "sha256.h"

bool auth_hex_valid(const char *s, size_t len)
{
	if (!s || len != AUTH_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}


static int nonce(char out[AUTH_HEX + 1], unsigned flags)
{
	uint8_t r[AUTH_HEX / 2];
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, flags);

		if (n < 0 && errno == EINTR)
			continue;
		/* GRND_INSECURE is Linux 5.6's: before it, wait as auth_nonce does */
		if (n < 0 && errno == EINVAL && flags) {
			flags = 0;
			continue;
		}
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	sha256_hex(r, out);
	explicit_bzero(r, sizeof r);
	return 0;
}

int auth_nonce(char out[AUTH_HEX + 1])
{
	return nonce(out, 0);
}

int auth_nonce_unwaited(char out[AUTH_HEX + 1])
{
	return nonce(out, GRND_INSECURE);
}

static uint8_t nibble(char c)
{
	return (uint8_t)(c <= '9' ? c - '0' : c - 'a' + 10);
}

void auth_proof(const char *secret, const char *label, const char *client_nonce,
		const char *server_nonce, char out[AUTH_HEX + 1])
{
	uint8_t key[AUTH_HEX / 2], mac[SHA256_SIZE];
	const void *parts[] = { label, client_nonce, server_nonce };
	const size_t lens[] = { strlen(label), AUTH_HEX, AUTH_HEX };

	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(nibble(secret[2 * i]) << 4 | nibble(secret[2 * i + 1]));
	hmac_sha256(key, sizeof key, parts, lens, 3, mac);
	sha256_hex(mac, out);
	explicit_bzero(key, sizeof key);
	explicit_bzero(mac, sizeof mac);
}

bool auth_equal(const char *a, const char *b)
{
	unsigned diff = 0;

	for (size_t i = 0; i < AUTH_HEX; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return diff == 0;
}
