/* ident.c - see ident.h. */
#include "ident.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a, to turn the format name and role into numbers. */
static uint64_t fnv(const char *s)
{
	uint64_t h = 0xCBF29CE484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
	return h;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ x >> 30) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ x >> 27) * 0x94D049BB133111EBull;
	return x ^ x >> 31;
}

struct uuid uuid_derive(const struct digest *sum, const char *format, const char *role)
{
	uint64_t key = fnv(format) ^ mix(fnv(role));
	uint64_t hi = mix(sum->h[0] ^ key), lo = mix(sum->h[1] ^ mix(key));
	struct uuid u;

	for (int i = 0; i < 8; i++) {
		u.b[i] = (uint8_t)(hi >> (56 - 8 * i));
		u.b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	u.b[6] = (uint8_t)((u.b[6] & 0x0F) | 0x40);	/* version 4: looks random */
	u.b[8] = (uint8_t)((u.b[8] & 0x3F) | 0x80);	/* RFC 4122 variant */
	return u;
}

uint32_t ident_u32(const struct digest *sum, const char *format, const char *role)
{
	return (uint32_t)(mix(sum->h[0] ^ mix(sum->h[1]) ^ fnv(format) ^ mix(fnv(role))) >> 32);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool uuid_parse(const char *s, struct uuid *u)
{
	int i = 0;

	if (strlen(s) != 36)
		return false;
	for (int pos = 0; pos < 36; pos++) {
		if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
			if (s[pos] != '-')
				return false;
			continue;
		}
		int hi = hexval(s[pos]), lo = hexval(s[pos + 1]);

		if (hi < 0 || lo < 0)
			return false;
		u->b[i++] = (uint8_t)(hi << 4 | lo);
		pos++;
	}
	return i == 16;
}

void uuid_format(const struct uuid *u, char *buf)
{
	const uint8_t *b = u->b;

	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

bool uuid_is_null(const struct uuid *u)
{
	for (int i = 0; i < 16; i++)
		if (u->b[i])
			return false;
	return true;
}

void uuid_to_guid(const struct uuid *u, uint8_t out[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

	for (int i = 0; i < 16; i++)
		out[i] = u->b[order[i]];
}

struct uuid uuid_from_guid(const uint8_t in[16])
{
	struct uuid u, g;

	memcpy(g.b, in, 16);
	uuid_to_guid(&g, u.b);	/* the swap is its own inverse */
	return u;
}

int uuid_option(const struct opts *o, const struct digest *sum, const char *format,
		const char *role, struct uuid *u, struct msg *m)
{
	const char *s = opt_get(o, "uuid");

	if (!s) {
		*u = uuid_derive(sum, format, role);
		return 0;
	}
	if (!uuid_parse(s, u))
		return fail(m, "-o uuid=%s: a UUID is 32 hex digits as "
			    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.", s);
	if (uuid_is_null(u))
		return fail(m, "-o uuid=%s: the null UUID marks no disk at all; give another.", s);
	return 0;
}

int source_date_epoch(int64_t *t, struct msg *m)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	*t = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return fail(m, "SOURCE_DATE_EPOCH=%s is not a count of seconds since 1970.", s);
	*t = v;
	return 0;
}
