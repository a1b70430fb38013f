/* identity.c - see identity.h. */
#include "identity.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* The lines after "vmd-identity 1", in their only order. */
static const char *const keys[] = { "secret", "seed", "time", "hostname", "proxy",
				    "ro_shares", "home" };
#define NKEYS (sizeof keys / sizeof keys[0])

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* upper case too: the host writes lower case only */
}

/* 64 lowercase hex digits; into out (32 bytes) when out is not NULL. */
static bool hex64(const char *v, size_t len, unsigned char *out)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(v[i]), lo = hex_value(v[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		if (out)
			out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool parse_time(const char *v, size_t len, struct timespec *t)
{
	const char *dot = memchr(v, '.', len);
	uint64_t s = 0;
	long ns = 0;

	if (!dot || dot == v || v + len - dot - 1 != 9)
		return false;
	for (const char *p = v; p < dot; p++) {
		if (!is_digit(*p) || s > (INT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		s = s * 10 + (uint64_t)(*p - '0');
	}
	for (const char *p = dot + 1; p < v + len; p++) {
		if (!is_digit(*p))
			return false;
		ns = ns * 10 + (*p - '0');
	}
	t->tv_sec = (time_t)s;
	t->tv_nsec = ns;
	return true;
}

static bool hostname_ok(const char *v, size_t len)
{
	if (len < 1 || len > 63 || v[0] == '-' || v[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(is_digit(v[i]) || (v[i] >= 'a' && v[i] <= 'z') || v[i] == '-'))
			return false;
	return true;
}

/* A.B.C.D:PORT, the port 1 to 65535 without leading zeros. */
static bool proxy_ok(const char *v, size_t len)
{
	char addr[16];
	const char *colon = memchr(v, ':', len);
	size_t alen, plen;
	unsigned long port = 0;
	unsigned char bin[4];

	if (!colon)
		return false;
	alen = (size_t)(colon - v);
	plen = len - alen - 1;
	if (alen >= sizeof addr || plen < 1 || plen > 5 || colon[1] == '0')
		return false;
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1)
		return false;
	for (size_t i = 0; i < plen; i++) {
		if (!is_digit(colon[1 + i]))
			return false;
		port = port * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	return port >= 1 && port <= 65535;
}

bool identity_tag_ok(const char *tag, size_t len)
{
	if (len == 0 || (len == 1 && tag[0] == '.') || (len == 2 && !memcmp(tag, "..", 2)))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = tag[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool tags_ok(const char *v, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return true;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ',')
			continue;
		if (!identity_tag_ok(v + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

bool identity_tag_listed(const char *ro, const char *tag)
{
	size_t n = strlen(tag);

	for (const char *p = ro; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && !memcmp(p, tag, n))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* Check and store the value of line keys[k]. */
static int take(size_t k, const char *v, size_t len, struct identity *id, struct msg *m)
{
	switch (k) {
	case 0:
		if (!hex64(v, len, NULL))
			return fail(m, "the identity's secret must be 64 lowercase hex digits.");
		memcpy(id->secret, v, VMD_SECRET_LEN);
		id->secret[VMD_SECRET_LEN] = '\0';
		return 0;
	case 1:
		if (!hex64(v, len, id->seed))
			return fail(m, "the identity's seed must be 64 lowercase hex digits.");
		return 0;
	case 2:
		if (!parse_time(v, len, &id->time))
			return fail(m, "the identity's time must be seconds since 1970, a dot "
				    "and 9 digits of nanoseconds.");
		return 0;
	case 3:
		if (!hostname_ok(v, len))
			return fail(m, "the identity's hostname must be 1 to 63 of a-z, 0-9 "
				    "and '-', not starting or ending with '-'.");
		memcpy(id->hostname, v, len);
		id->hostname[len] = '\0';
		return 0;
	case 4:
		if (len && !proxy_ok(v, len))
			return fail(m, "the identity's proxy must be empty or IPv4:PORT, the "
				    "port from 1 to 65535.");
		memcpy(id->proxy, v, len);
		id->proxy[len] = '\0';
		return 0;
	case 5:
		if (!tags_ok(v, len))
			return fail(m, "the identity's ro_shares must be empty or 9p tags (of "
				    "A-Z, a-z, 0-9, '_', '.' and '-') separated by commas.");
		memcpy(id->ro_shares, v, len);
		id->ro_shares[len] = '\0';
		return 0;
	default:
		if (len == 4 && !memcmp(v, "disk", 4))
			id->home_disk = true;
		else if (len == 3 && !memcmp(v, "ram", 3))
			id->home_disk = false;
		else
			return fail(m, "the identity's home must be disk or ram.");
		return 0;
	}
}

/* What may follow a template's first line: nothing, or one line home=disk|ram (the
 * disk the template mounts before its identity comes, read-only). */
static enum identity_kind template_rest(const char *p, const char *end, struct identity *id,
					struct msg *m)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *eol = nl ? nl : end;

	if (p == end)
		return IDENTITY_TEMPLATE;
	if (eol + (nl != NULL) != end || eol - p < 5 || memcmp(p, "home=", 5)) {
		fail(m, "the template's placeholder identity may have one line after its "
		     "first, home=disk or home=ram.");
		return IDENTITY_BAD;
	}
	if (take(NKEYS - 1, p + 5, (size_t)(eol - p - 5), id, m) < 0) {
		memset(id, 0, sizeof *id);
		return IDENTITY_BAD;
	}
	return IDENTITY_TEMPLATE;
}

enum identity_kind identity_parse(const char *buf, size_t len, struct identity *id,
				  struct msg *m)
{
	const char *nul, *p, *end;
	size_t line = 0;

	memset(id, 0, sizeof *id);
	if (len != IDENTITY_SIZE) {
		fail(m, "the identity is %zu bytes; it must be exactly %d.", len, IDENTITY_SIZE);
		return IDENTITY_BAD;
	}
	nul = memchr(buf, '\0', len);
	end = nul ? nul : buf + len;
	for (p = end; p < buf + len; p++)
		if (*p) {
			fail(m, "the identity has bytes other than NUL after its text.");
			return IDENTITY_BAD;
		}
	if (end == buf) {
		fail(m, "the identity is empty: NUL bytes only.");
		return IDENTITY_BAD;
	}
	for (p = buf; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p), klen;

		if (line == 0) {
			if (n == 21 && !memcmp(p, "vmd-identity template", 21))
				return template_rest(eol + (nl != NULL), end, id, m);
			if (n != 14 || memcmp(p, "vmd-identity 1", 14)) {
				fail(m, "the identity's first line is neither \"vmd-identity 1\" "
				     "nor \"vmd-identity template\".");
				return IDENTITY_BAD;
			}
		} else if (line > NKEYS) {
			fail(m, "the identity has a line after home=; it must end there.");
			goto bad;
		} else {
			klen = strlen(keys[line - 1]);
			if (n <= klen || memcmp(p, keys[line - 1], klen) || p[klen] != '=') {
				fail(m, "the identity's line %zu must be %s=; its lines are "
				     "vmd-identity 1, secret, seed, time, hostname, proxy, "
				     "ro_shares and home, in that order.", line + 1, keys[line - 1]);
				goto bad;
			}
			if (take(line - 1, p + klen + 1, n - klen - 1, id, m) < 0)
				goto bad;
		}
		p = nl ? nl + 1 : end;
	}
	if (line <= NKEYS) {
		fail(m, "the identity ends before its %s= line.", keys[line - 1]);
		goto bad;
	}
	return IDENTITY_REAL;
bad:
	explicit_bzero(id, sizeof *id);
	return IDENTITY_BAD;
}
