/* egress.c - see egress.h. */
#include "egress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

/* Bounds: a request's head, the time to send it, to connect, and a quiet tunnel. */
#define HEAD_MAX 16384
#define HEAD_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000
#define SETUP_TIMEOUT_S 60		/* head, name lookup and connect, all told */
#define IDLE_TIMEOUT_MS 300000		/* no byte either way for 5 minutes */
#define RELAY_BUF 65536

static const char *const class_text[] = {
	[EGRESS_PUBLIC] = "a public address",
	[EGRESS_LOOPBACK] = "the host's loopback",
	[EGRESS_HOST] = "the host itself",
	[EGRESS_PRIVATE] = "a private address",
	[EGRESS_LINK_LOCAL] = "a link-local address",
	[EGRESS_UNSPECIFIED] = "no host's address (\"this network\")",
	[EGRESS_MULTICAST] = "a multicast address",
	[EGRESS_RESERVED] = "a reserved address",
};

const char *egress_class_text(enum egress_class c)
{
	return class_text[c];
}

/* --- the policy ------------------------------------------------------------------ */

/* A DNS name: dot-separated labels of 1 to 63 letters, digits, '-' or '_', 253
 * bytes at most. Lower-cased in place; a trailing dot is dropped. */
static bool name_ok(char *s)
{
	size_t n = strlen(s), label = 0;

	if (n && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > EGRESS_HOST_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') {
			s[i] = (char)tolower((unsigned char)s[i]);
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* A literal address: 4 or 16 bytes in addr, its family returned; 0 if s is none. */
static int literal(const char *s, unsigned char addr[16])
{
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

/* PORT: 1 to 65535, digits only. */
static bool port_ok(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
		return false;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* Split HOST[:PORT] / [V6][:PORT] / V6 into host (brackets off) and port text. */
static bool split_authority(const char *text, char *host, size_t size, const char **port)
{
	const char *end, *colon;
	size_t len;

	*port = NULL;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		len = (size_t)(end - text - 1);
		if (end[1] == ':')
			*port = end + 2;
		text++;
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))	/* a bare IPv6 address, no port */
			colon = NULL;
		len = colon ? (size_t)(colon - text) : strlen(text);
		if (colon)
			*port = colon + 1;
	}
	if (len == 0 || len >= size)
		return false;
	memcpy(host, text, len);
	host[len] = '\0';
	return true;
}

int egress_allow_parse(const char *text, struct egress_allow *out, struct msg *m)
{
	char host[EGRESS_HOST_MAX + 2];
	const char *port;

	memset(out, 0, sizeof *out);
	if (!split_authority(text, host, sizeof host, &port) ||
	    (port && !port_ok(port, &out->port)))
		goto bad;
	if (text[0] == '[') {
		if (inet_pton(AF_INET6, host, out->addr) != 1)
			goto bad;
		out->family = AF_INET6;
	} else if ((out->family = literal(host, out->addr)) == 0) {
		char *name = host;

		if (!strncmp(host, "*.", 2)) {
			out->wildcard = true;
			name += 2;
		}
		if (!name_ok(name))
			goto bad;
		memcpy(out->host, name, strlen(name) + 1);	/* name_ok: it fits */
		return 0;
	}
	inet_ntop(out->family, out->addr, out->host, sizeof out->host);
	return 0;
bad:
	return fail(m, "--allow wants HOST[:PORT] (a host name, *.DOMAIN, an IPv4 address or "
		    "[IPv6]) with a PORT from 1 to 65535, not \"%s\".", text);
}

static bool prefix(const unsigned char *a, const unsigned char *p, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, p, bytes))
		return false;
	return !rest || ((a[bytes] ^ p[bytes]) & (0xff << (8 - rest))) == 0;
}

static enum egress_class classify4(const unsigned char *a)
{
	static const struct {
		unsigned char net[4];
		unsigned bits;
		enum egress_class c;
	} table[] = {
		{ { 0, 0, 0, 0 }, 8, EGRESS_UNSPECIFIED },
		{ { 10, 0, 2, 2 }, 32, EGRESS_HOST },	/* the host, as QEMU shows it */
		{ { 10, 0, 2, 3 }, 32, EGRESS_HOST },	/* its DNS forwarder */
		{ { 10, 0, 0, 0 }, 8, EGRESS_PRIVATE },
		{ { 100, 64, 0, 0 }, 10, EGRESS_PRIVATE },	/* carrier-grade NAT */
		{ { 127, 0, 0, 0 }, 8, EGRESS_LOOPBACK },
		{ { 169, 254, 0, 0 }, 16, EGRESS_LINK_LOCAL },
		{ { 172, 16, 0, 0 }, 12, EGRESS_PRIVATE },
		{ { 192, 0, 0, 0 }, 24, EGRESS_RESERVED },	/* IETF protocol assignments */
		{ { 192, 0, 2, 0 }, 24, EGRESS_RESERVED },	/* documentation */
		{ { 192, 88, 99, 0 }, 24, EGRESS_RESERVED },	/* 6to4 relays, retired */
		{ { 192, 168, 0, 0 }, 16, EGRESS_PRIVATE },
		{ { 198, 18, 0, 0 }, 15, EGRESS_RESERVED },	/* benchmarking */
		{ { 198, 51, 100, 0 }, 24, EGRESS_RESERVED },	/* documentation */
		{ { 203, 0, 113, 0 }, 24, EGRESS_RESERVED },	/* documentation */
		{ { 224, 0, 0, 0 }, 4, EGRESS_MULTICAST },
		{ { 240, 0, 0, 0 }, 4, EGRESS_RESERVED },	/* and 255.255.255.255 */
	};

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (prefix(a, table[i].net, table[i].bits))
			return table[i].c;
	return EGRESS_PUBLIC;
}

static enum egress_class classify6(const unsigned char *a)
{
	/* Every prefix spelled out to 16 bytes: prefix() reads the byte its bits end in. */
	static const unsigned char zero[16], loop[16] = { [15] = 1 },
		mapped[16] = { [10] = 0xff, [11] = 0xff }, nat64[16] = { 0, 0x64, 0xff, 0x9b },
		sixto4[16] = { 0x20, 0x02 }, ietf[16] = { 0x20, 0x01 },
		doc[16] = { 0x20, 0x01, 0x0d, 0xb8 }, doc2[16] = { 0x3f, 0xff },
		ula[16] = { 0xfc }, ll[16] = { 0xfe, 0x80 }, site[16] = { 0xfe, 0xc0 },
		mcast[16] = { 0xff };

	if (!memcmp(a, zero, 16))
		return EGRESS_UNSPECIFIED;
	if (!memcmp(a, loop, 16))
		return EGRESS_LOOPBACK;
	/* The forms that carry an IPv4 address reach it: judged by it. */
	if (prefix(a, mapped, 96) || prefix(a, nat64, 96))
		return classify4(a + 12);
	if (prefix(a, sixto4, 16))
		return classify4(a + 2);
	if (prefix(a, zero, 96))	/* IPv4-compatible, deprecated */
		return EGRESS_RESERVED;
	if (prefix(a, ula, 7) || prefix(a, site, 10))
		return EGRESS_PRIVATE;
	if (prefix(a, ll, 10))
		return EGRESS_LINK_LOCAL;
	if (prefix(a, mcast, 8))
		return EGRESS_MULTICAST;
	/* Teredo and the other protocol assignments, documentation, and everything
	 * outside 2000::/3, the only global unicast space allocated. */
	if (prefix(a, ietf, 23) || prefix(a, doc, 32) || prefix(a, doc2, 20) || (a[0] & 0xe0) != 0x20)
		return EGRESS_RESERVED;
	return EGRESS_PUBLIC;
}

static bool is_own(int family, const unsigned char *a, const struct egress_own *own)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (int i = 0; own && i < own->n; i++)
		if (own->family[i] == family && !memcmp(own->addr[i], a, len))
			return true;
	return false;
}

enum egress_class egress_classify(int family, const unsigned char *addr,
				  const struct egress_own *own)
{
	static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff };
	enum egress_class c = family == AF_INET ? classify4(addr) : classify6(addr);

	if (c == EGRESS_LOOPBACK)
		return c;
	if (is_own(family, addr, own) ||
	    (family == AF_INET6 && prefix(addr, mapped, 96) && is_own(AF_INET, addr + 12, own)))
		return EGRESS_HOST;
	return c;
}

void egress_own_addresses(struct egress_own *own)
{
	struct ifaddrs *list, *i;

	own->n = 0;
	if (getifaddrs(&list) == -1)
		return;
	for (i = list; i && own->n < (int)(sizeof own->family / sizeof own->family[0]); i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			own->family[own->n] = AF_INET;
			memcpy(own->addr[own->n++], &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			own->family[own->n] = AF_INET6;
			memcpy(own->addr[own->n++], &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		}
	}
	freeifaddrs(list);
}

/* HOST:PORT as a request names it, IPv6 in brackets. */
static void authority(char *out, size_t size, const char *host, unsigned port)
{
	snprintf(out, size, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

int egress_permits(const struct egress_policy *p, const char *host, unsigned port,
		   bool *literal_ok, struct msg *m)
{
	unsigned char addr[16];
	int family = literal(host, addr);
	size_t hlen = strlen(host);
	char where[EGRESS_HOST_MAX + 16];

	*literal_ok = false;
	for (int i = 0; i < p->nallow; i++) {
		const struct egress_allow *e = &p->allow[i];
		size_t elen = strlen(e->host);

		if (e->port && e->port != port)
			continue;
		if (e->family) {
			if (family == e->family && !memcmp(addr, e->addr, family == AF_INET ? 4 : 16)) {
				*literal_ok = true;
				return 1;
			}
		} else if (!family && (e->wildcard ? hlen > elen + 1 && host[hlen - elen - 1] == '.' &&
							 !strcmp(host + hlen - elen, e->host)
						   : !strcmp(host, e->host))) {
			return 1;
		}
	}
	if (p->internet)
		return 1;
	authority(where, sizeof where, host, port);
	fail(m, "vmctl egress: %s is not on this sandbox's allow-list (vmctl start --allow).", where);
	return 0;
}

/* --- the proxy ------------------------------------------------------------------- */

/* Send the whole of buf to a descriptor that may be non-blocking. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd w = { fd, POLLOUT, 0 };

			if (poll(&w, 1, IDLE_TIMEOUT_MS) <= 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* An answer that ends the connection: STATUS REASON, the sentence as its body. */
static int answer(int out, const char *status, const char *sentence)
{
	char head[256];

	snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(sentence) + 1);
	send_all(out, head, strlen(head));
	send_all(out, sentence, strlen(sentence));
	send_all(out, "\n", 1);
	return -1;
}

/* Read until the end of the head ("\r\n\r\n", or "\n\n"); *head_len is its length,
 * *len all that was read. 0, or -1 after answering why not. */
static int read_head(int in, int out, char *buf, size_t *len, size_t *head_len)
{
	struct msg m;

	*len = 0;
	for (;;) {
		struct pollfd r = { in, POLLIN, 0 };
		char *end;
		ssize_t n;

		buf[*len] = '\0';
		if ((end = memmem(buf, *len, "\r\n\r\n", 4)) || (end = memmem(buf, *len, "\n\n", 2))) {
			*head_len = (size_t)(end - buf) + (end[0] == '\r' ? 4 : 2);
			return 0;
		}
		if (*len == HEAD_MAX) {
			fail(&m, "vmctl egress: the request's head is longer than %d bytes.", HEAD_MAX);
			return answer(out, "431 Request Header Fields Too Large", m.text);
		}
		if (poll(&r, 1, HEAD_TIMEOUT_MS) == 0) {
			fail(&m, "vmctl egress: no whole request came within %d s.", HEAD_TIMEOUT_MS / 1000);
			return answer(out, "408 Request Timeout", m.text);
		}
		n = read(in, buf + *len, HEAD_MAX - *len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		*len += (size_t)n;
	}
}

/* What the client asked for. */
struct request {
	bool connect;
	char host[EGRESS_HOST_MAX + 2];
	unsigned port;
	char method[32];
	const char *path;	/* absolute form: from the first '/' of the URL (or "/") */
	size_t path_len;
	char version[16];
};

/* Control characters in the head: refused, so that nothing the answer echoes carries any. */
static bool head_clean(const char *head, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)head[i];

		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
			return false;
	}
	return true;
}

static int parse_request(char *head, size_t head_len, struct request *r, int out)
{
	char target[HEAD_MAX], *sp1, *sp2, *eol;
	unsigned char addr[16];
	const char *port = NULL;
	struct msg m;
	size_t n;

	memset(r, 0, sizeof *r);
	if (!head_clean(head, head_len))
		return answer(out, "400 Bad Request",
			      "vmctl egress: the request has a control character in it.");
	eol = strchr(head, '\n');
	sp1 = memchr(head, ' ', (size_t)(eol - head));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == head || (size_t)(sp1 - head) >= sizeof r->method ||
	    sp2 == sp1 + 1 || (size_t)(eol - sp2 - 1) >= sizeof r->version + 1)
		return answer(out, "400 Bad Request",
			      "vmctl egress: the request line is not METHOD TARGET HTTP/1.x.");
	memcpy(r->method, head, (size_t)(sp1 - head));
	n = (size_t)(eol - sp2 - 1);
	if (n && sp2[n] == '\r')
		n--;
	memcpy(r->version, sp2 + 1, n < sizeof r->version ? n : sizeof r->version - 1);
	if (strcmp(r->version, "HTTP/1.1") && strcmp(r->version, "HTTP/1.0"))
		return answer(out, "400 Bad Request",
			      "vmctl egress: the request line is not METHOD TARGET HTTP/1.x.");
	n = (size_t)(sp2 - sp1 - 1);
	memcpy(target, sp1 + 1, n);
	target[n] = '\0';

	r->connect = !strcmp(r->method, "CONNECT");
	if (r->connect) {
		if (n > EGRESS_HOST_MAX + 8 ||
		    !split_authority(target, r->host, sizeof r->host, &port) || !port ||
		    !port_ok(port, &r->port)) {
			fail(&m, "vmctl egress: CONNECT wants HOST:PORT, not \"%.300s\".", target);
			return answer(out, "400 Bad Request", m.text);
		}
	} else {
		char *a = target + 7, *end;

		if (strncasecmp(target, "http://", 7)) {
			if (!strncasecmp(target, "https://", 8) || target[0] == '/')
				return answer(out, "400 Bad Request",
					      "vmctl egress: this is a proxy: ask it for an absolute "
					      "http:// URL, or CONNECT HOST:PORT for anything else.");
			return answer(out, "400 Bad Request",
				      "vmctl egress: only http:// URLs and CONNECT go through.");
		}
		end = a + strcspn(a, "/?#");
		r->path = sp1 + 1 + 7 + (end - a);
		r->path_len = n - 7 - (size_t)(end - a);
		if ((size_t)(end - a) > EGRESS_HOST_MAX + 8 || memchr(a, '@', (size_t)(end - a))) {
			fail(&m, "vmctl egress: the URL's host \"%.*s\" is not a host name or "
			     "address.", (int)((end - a) > 300 ? 300 : end - a), a);
			return answer(out, "400 Bad Request", m.text);
		}
		*end = '\0';
		if (!split_authority(a, r->host, sizeof r->host, &port) ||
		    (port && !port_ok(port, &r->port))) {
			fail(&m, "vmctl egress: the URL's host \"%.300s\" is not a host name or "
			     "address.", a);
			return answer(out, "400 Bad Request", m.text);
		}
		if (!port)
			r->port = 80;
	}
	if (!literal(r->host, addr) && !name_ok(r->host)) {
		fail(&m, "vmctl egress: \"%s\" is not a host name or address.", r->host);
		return answer(out, "400 Bad Request", m.text);
	}
	return 0;
}

/* A non-blocking connection to ai, within the connect timeout; -1 and errno if not. */
static int dial(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof err;
	struct pollfd w;

	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	w = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&w, 1, CONNECT_TIMEOUT_MS) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
		errno = err ? err : errno;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static const unsigned char *sa_bytes(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr
					: (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
}

/* Resolve, check each address, connect to the first that may be reached and answers. */
static int open_upstream(const struct egress_policy *p, const struct request *r, int out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[8], text[INET6_ADDRSTRLEN], where[EGRESS_HOST_MAX + 16];
	struct egress_own own;
	struct msg m = { "" };
	bool literal_ok, refused = false;
	unsigned char addr[16];
	int fd = -1, rc, err = 0, is_literal = literal(r->host, addr);

	if (!egress_permits(p, r->host, r->port, &literal_ok, &m))
		return answer(out, "403 Forbidden", m.text);
	egress_own_addresses(&own);
	snprintf(port, sizeof port, "%u", r->port);
	if (is_literal)
		hints.ai_flags = AI_NUMERICHOST;
	authority(where, sizeof where, r->host, r->port);
	rc = getaddrinfo(r->host, port, &hints, &res);
	if (rc) {
		fail(&m, "vmctl egress: cannot find the address of %s: %s.", r->host,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return answer(out, "502 Bad Gateway", m.text);
	}
	for (ai = res; ai && fd == -1; ai = ai->ai_next) {
		enum egress_class c;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		c = egress_classify(ai->ai_family, sa_bytes(ai->ai_addr), &own);
		if (c != EGRESS_PUBLIC && !literal_ok) {
			if (!refused) {
				inet_ntop(ai->ai_family, sa_bytes(ai->ai_addr), text, sizeof text);
				if (is_literal)
					fail(&m, "vmctl egress: %s is %s; the sandbox may not reach it.",
					     text, egress_class_text(c));
				else
					fail(&m, "vmctl egress: %s resolves to %s, %s; the sandbox may "
					     "not reach it.", r->host, text, egress_class_text(c));
			}
			refused = true;
			continue;
		}
		fd = dial(ai);
		err = errno;
	}
	freeaddrinfo(res);
	if (fd != -1)
		return fd;
	if (err == ETIMEDOUT) {
		fail(&m, "vmctl egress: %s did not answer within %d s.", where, CONNECT_TIMEOUT_MS / 1000);
		return answer(out, "504 Gateway Timeout", m.text);
	}
	if (err) {
		fail(&m, "vmctl egress: cannot connect to %s: %s.", where, strerror(err));
		return answer(out, "502 Bad Gateway", m.text);
	}
	if (!refused)
		fail(&m, "vmctl egress: %s has no IPv4 or IPv6 address.", r->host);
	return answer(out, "403 Forbidden", m.text);
}

/* Header names a proxy consumes: not passed on. */
static bool hop_header(const char *line, size_t len)
{
	static const char *const names[] = { "connection:", "proxy-connection:", "keep-alive:",
					     "proxy-authorization:" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (len >= strlen(names[i]) && !strncasecmp(line, names[i], strlen(names[i])))
			return true;
	return false;
}

/* The request as the server gets it: origin form, our hop-by-hop headers, and
 * Connection: close, so that the next request (perhaps for another host) comes in a
 * new connection, which the policy checks again. */
static int forward_head(int up, const struct request *r, const char *head, size_t head_len)
{
	static char buf[HEAD_MAX + 256];
	const char *line = strchr(head, '\n') + 1, *end = head + head_len;
	size_t n;

	n = (size_t)snprintf(buf, sizeof buf, "%s %s%.*s %s\r\n", r->method,
			     r->path_len && r->path[0] == '/' ? "" : "/", (int)r->path_len,
			     r->path_len ? r->path : "", r->version);
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = (size_t)(nl - line) + 1;

		if (len > 2 && !hop_header(line, len) && n + len < sizeof buf) {
			memcpy(buf + n, line, len);
			n += len;
		}
		line = nl + 1;
	}
	n += (size_t)snprintf(buf + n, sizeof buf - n, "Connection: close\r\n\r\n");
	return send_all(up, buf, n);
}

/* End what we write to fd: a socket is half-closed, anything else closed. */
static void end_writing(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
		shutdown(fd, SHUT_WR);
	else
		close(fd);
}

/* Bytes both ways until both sides are done, or nothing moves for the idle timeout. */
static int relay(int in, int out, int up)
{
	static char c2u[RELAY_BUF], u2c[RELAY_BUF];
	size_t nc = 0, nu = 0, oc = 0, ou = 0;
	bool in_eof = false, up_eof = false, up_shut = false, out_shut = false;

	for (;;) {
		struct pollfd f[3] = { { in, 0, 0 }, { up, 0, 0 }, { out, 0, 0 } };
		ssize_t n;

		if (in_eof && nc == oc && !up_shut) {
			shutdown(up, SHUT_WR);
			up_shut = true;
		}
		if (up_eof && nu == ou && !out_shut) {
			end_writing(out);
			out_shut = true;
		}
		if (up_shut && out_shut)
			return 0;
		f[0].events = !in_eof && nc == oc ? POLLIN : 0;
		f[1].events = (short)((!up_eof && nu == ou ? POLLIN : 0) | (nc > oc ? POLLOUT : 0));
		f[2].events = nu > ou ? POLLOUT : 0;
		if (poll(f, 3, IDLE_TIMEOUT_MS) <= 0)
			return -1;
		if (f[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(in, c2u, sizeof c2u);
			if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
				in_eof = true;
			else if (n > 0)
				nc = (size_t)n, oc = 0;
		}
		if (f[1].revents & POLLOUT) {
			n = write(up, c2u + oc, nc - oc);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -1;
			if (n > 0)
				oc += (size_t)n;
		}
		if (f[1].revents & (POLLIN | POLLHUP | POLLERR) && !up_eof && nu == ou) {
			n = read(up, u2c, sizeof u2c);
			if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
				up_eof = true;
			else if (n > 0)
				nu = (size_t)n, ou = 0;
		}
		if (f[2].revents & (POLLERR | POLLHUP) && !(f[2].revents & POLLOUT))
			return -1;
		if (f[2].revents & POLLOUT) {
			n = write(out, u2c + ou, nu - ou);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -1;
			if (n > 0)
				ou += (size_t)n;
		}
	}
}

int egress_serve(const struct egress_policy *p, int in, int out)
{
	static char buf[HEAD_MAX + 1];
	struct request r;
	size_t len = 0, head_len = 0;
	int up, rc;

	/* A client that goes away is an error to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
	fcntl(out, F_SETFL, fcntl(out, F_GETFL) | O_NONBLOCK);
	/* The setup as a whole, a slow name lookup included, has a deadline: SIGALRM's
	 * default action ends the process. */
	alarm(SETUP_TIMEOUT_S);
	up = -1;
	if (read_head(in, out, buf, &len, &head_len) == 0 &&
	    parse_request(buf, head_len, &r, out) == 0)
		up = open_upstream(p, &r, out);
	alarm(0);
	if (up < 0)
		return -1;
	if (r.connect)
		rc = send_all(out, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
	else
		rc = forward_head(up, &r, buf, head_len);
	/* What came after the head (a body, or the start of TLS) goes on. */
	if (rc == 0 && len > head_len)
		rc = send_all(up, buf + head_len, len - head_len);
	if (rc == 0)
		rc = relay(in, out, up);
	close(up);
	return rc;
}

/* --- how vmctl start and QEMU run it ---------------------------------------------- */

/* word, quoted for the shell-like split QEMU (glib) makes of a guestfwd command. */
static int quote(char *out, size_t size, size_t *len, const char *word)
{
	int n = snprintf(out + *len, size - *len, " '");

	for (const char *c = word; n >= 0 && (size_t)n < size - *len && *c; c++) {
		*len += (size_t)n;
		n = *c == '\'' ? snprintf(out + *len, size - *len, "'\\''")
			       : snprintf(out + *len, size - *len, "%c", *c);
	}
	if (n >= 0 && (size_t)n < size - *len) {
		*len += (size_t)n;
		n = snprintf(out + *len, size - *len, "'");
	}
	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

int egress_command(const char *self, unsigned port, bool internet, const char *const *allow,
		   int nallow, char *out, size_t size, struct msg *m)
{
	char vm[16];
	size_t len = 0;
	int rc;

	out[0] = '\0';
	snprintf(vm, sizeof vm, "%u", port);
	rc = quote(out, size, &len, self) || quote(out, size, &len, "egress") ||
	     quote(out, size, &len, vm);
	if (rc == 0 && internet)
		rc = quote(out, size, &len, "--internet");
	for (int i = 0; rc == 0 && i < nallow; i++)
		rc = quote(out, size, &len, "--allow") || quote(out, size, &len, allow[i]);
	if (rc)
		return fail(m, "the egress command for QEMU is longer than %zu bytes.", size - 1);
	memmove(out, out + 1, len);	/* the leading space */
	return 0;
}

int egress_take_slot(unsigned port)
{
	for (int k = 0; k < EGRESS_MAX_CONNECTIONS; k++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "vmctl-egress/%u/%u/%d",
				 (unsigned)getuid(), port, k);

		if (fd == -1)
			return -1;
		if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
								 1 + (size_t)n)) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

int cmd_egress(const struct vmctl_args *a, struct msg *m)
{
	struct egress_policy p = { .internet = a->internet };
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), slot;

	for (int i = 0; i < a->nallow; i++)
		if (egress_allow_parse(a->allow[i], &p.allow[p.nallow++], m) < 0)
			return -1;
	/* QEMU hands the one socket over as stdin, stdout and stderr, and copies of it
	 * above them: nothing but the answer goes to the guest. */
	if (null == -1 || dup2(null, 2) == -1)
		return fail_errno(m, "cannot open /dev/null");
	close_range(3, ~0U, 0);
	slot = egress_take_slot(a->port);
	if (slot == -1) {
		fail(m, "vmctl egress: this sandbox has %d connections open through the proxy "
		     "already; close one first.", EGRESS_MAX_CONNECTIONS);
		answer(1, "503 Service Unavailable", m->text);
		return 1;
	}
	return egress_serve(&p, 0, 1) < 0 ? 1 : 0;
}
