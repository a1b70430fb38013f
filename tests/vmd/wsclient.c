/* wsclient.c - see wsclient.h. */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "util.h"

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}


/* Read an HTTP response head; return its status, 0 if none arrived. */
static int read_status(int fd, char *head, size_t cap, size_t *used)
{
	size_t n = 0;
	int status = 0;

	while (n + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 5000) <= 0)
			break;
		got = read(fd, head + n, cap - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		head[n] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	head[n] = '\0';
	sscanf(head, "HTTP/1.%*d %d", &status);
	*used = n;
	return status;
}

int http_status_of(int port, const char *request)
{
	char head[4096];
	size_t used;
	int status, fd = tcp_connect(port);

	if (fd < 0)
		return 0;
	if (write_all(fd, request, strlen(request)) < 0) {
		close(fd);
		return 0;
	}
	status = read_status(fd, head, sizeof head, &used);
	close(fd);
	return status;
}

/* A header's value in a response head (names are case-insensitive), into out. */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	*out = '\0';
	for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *v = line + 2, *end;

		if (strncasecmp(v, name, n) || v[n] != ':')
			continue;
		v += n + 1;
		while (*v == ' ')
			v++;
		end = strstr(v, "\r\n");
		if (end && (size_t)(end - v) < size) {
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
		}
		return;
	}
}

int ws_upgrade(struct ws *w, int port, const char *headers, struct ws_hello *h)
{
	char req[2048], head[4096], key[32];
	uint8_t nonce[16];
	size_t used;
	char *body;

	memset(w, 0, sizeof *w);
	memset(h, 0, sizeof *h);
	w->fd = tcp_connect(port);
	if (w->fd < 0)
		return -1;
	if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce)
		memset(nonce, 7, sizeof nonce);
	key[proto_b64_encode(nonce, sizeof nonce, key)] = '\0';
	snprintf(req, sizeof req,
		 "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s\r\n", port, key, headers ? headers : "");
	if (write_all(w->fd, req, strlen(req)) < 0)
		goto fail;
	h->status = read_status(w->fd, head, sizeof head, &used);
	if (h->status != 101)
		goto fail;
	header_value(head, "X-Vmd-Nonce", h->nonce, sizeof h->nonce);
	header_value(head, "X-Vmd-Proof", h->proof, sizeof h->proof);
	/* bytes after the head are the first frames */
	body = strstr(head, "\r\n\r\n") + 4;
	w->in_len = used - (size_t)(body - head);
	w->in_cap = w->in_len + 65536;
	w->in = malloc(w->in_cap);
	if (!w->in)
		goto fail;
	memcpy(w->in, body, w->in_len);
	return 0;
fail:
	close(w->fd);
	w->fd = -1;
	return -1;
}

int ws_send_proof(struct ws *w, const char *proof)
{
	char json[128];

	snprintf(json, sizeof json, "{\"id\":0,\"proof\":\"%s\"}", proof);
	return ws_send_frame(w, PROTO_AUTH, json);
}

int ws_connect(struct ws *w, int port, const char *secret, int *status)
{
	char nonce[AUTH_HEX + 1], headers[128], want[AUTH_HEX + 1], proof[AUTH_HEX + 1];
	struct ws_hello h;

	*status = 0;
	if (auth_nonce(nonce) < 0)
		return -1;
	snprintf(headers, sizeof headers, "X-Vmd-Nonce: %s\r\n", nonce);
	if (ws_upgrade(w, port, headers, &h) < 0) {
		*status = h.status;
		return -1;
	}
	*status = h.status;
	if (!auth_hex_valid(h.nonce, strlen(h.nonce)) || !auth_hex_valid(h.proof, strlen(h.proof)))
		goto refuse;
	auth_proof(secret, AUTH_SERVER, nonce, h.nonce, want);
	if (!auth_equal(want, h.proof))
		goto refuse;
	auth_proof(secret, AUTH_CLIENT, nonce, h.nonce, proof);
	if (ws_send_proof(w, proof) < 0)
		goto refuse;
	return 0;
refuse:
	ws_close(w);
	return -1;
}

void ws_close(struct ws *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->in);
	memset(w, 0, sizeof *w);
	w->fd = -1;
}

/* Take what the socket has (up to 1 MiB); -1 when it closed. */
static int fill(struct ws *w)
{
	ssize_t n;

	if (w->off && w->in_cap - w->in_len < (1u << 20)) {
		memmove(w->in, w->in + w->off, w->in_len - w->off);
		w->in_len -= w->off;
		w->off = 0;
	}
	if (w->in_cap - w->in_len < (1u << 20)) {
		size_t cap = w->in_cap * 2 + (1u << 20);
		uint8_t *in = realloc(w->in, cap);

		if (!in)
			return -1;
		w->in = in;
		w->in_cap = cap;
	}
	n = read(w->fd, w->in + w->in_len, 1u << 20);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		w->closed = true;
		return -1;
	}
	w->in_len += (size_t)n;
	return 0;
}

/* Write len bytes, reading what arrives meanwhile. */
static int send_all(struct ws *w, const uint8_t *p, size_t len)
{
	while (len) {
		struct pollfd pf = { .fd = w->fd, .events = POLLIN | POLLOUT };

		if (poll(&pf, 1, 10000) <= 0)
			return -1;
		if ((pf.revents & POLLIN) && fill(w) < 0)
			return -1;
		if (pf.revents & POLLOUT) {
			ssize_t n = send(w->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -1;
			if (n > 0) {
				p += n;
				len -= (size_t)n;
			}
		}
	}
	return 0;
}

static int send_one_frame(struct ws *w, int opcode, bool fin, const uint8_t *data,
			  size_t len)
{
	uint8_t hdr[14], mask[4];
	size_t h = 0;
	uint8_t *buf;
	int r;

	hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		hdr[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (getrandom(mask, 4, 0) != 4)
		memset(mask, 0x5a, 4);
	memcpy(hdr + h, mask, 4);
	h += 4;
	buf = malloc(h + len);
	if (!buf)
		return -1;
	memcpy(buf, hdr, h);
	for (size_t i = 0; i < len; i++)
		buf[h + i] = data[i] ^ mask[i & 3];
	r = send_all(w, buf, h + len);
	free(buf);
	return r;
}

int ws_send(struct ws *w, int opcode, const void *data, size_t len, size_t piece)
{
	const uint8_t *p = data;
	size_t off = 0;

	if (!piece || piece >= len)
		return send_one_frame(w, opcode, true, p, len);
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		if (send_one_frame(w, off ? 0 : opcode, off + n == len, p + off, n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Parse one frame from the buffer: 1 and its parts, 0 if incomplete. */
static int parse_frame(struct ws *w, size_t at, bool *fin, int *opcode, size_t *hlen,
		       size_t *plen)
{
	const uint8_t *b = w->in + at;
	size_t avail = w->in_len - at, h = 2;
	uint64_t n;

	if (avail < 2)
		return 0;
	*fin = b[0] & 0x80;
	*opcode = b[0] & 0x0f;
	n = b[1] & 0x7f;
	if (n == 126) {
		if (avail < 4)
			return 0;
		n = (uint64_t)b[2] << 8 | b[3];
		h = 4;
	} else if (n == 127) {
		if (avail < 10)
			return 0;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | b[2 + i];
		h = 10;
	}
	if (avail < h + n)
		return 0;
	*hlen = h;
	*plen = (size_t)n;
	return 1;
}

int ws_recv(struct ws *w, uint8_t **msg, size_t *len, int *opcode, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		/* a whole message: frames up to one with FIN, control frames aside */
		size_t at = w->off, total = 0;
		int first_op = -1, op;
		bool fin = false, complete = false;
		size_t h, n;

		while (parse_frame(w, at, &fin, &op, &h, &n)) {
			if (op == 0x8) {		/* close */
				w->closed = true;
				return -1;
			}
			if (op == 0x9 || op == 0xA) {	/* ping/pong: answer, drop */
				if (op == 0x9)
					send_one_frame(w, 0xA, true, w->in + at + h, n);
				memmove(w->in + at, w->in + at + h + n,
					w->in_len - at - h - n);
				w->in_len -= h + n;
				continue;
			}
			if (first_op < 0)
				first_op = op;
			total += n;
			at += h + n;
			if (fin) {
				complete = true;
				break;
			}
		}
		if (complete) {
			uint8_t *out = malloc(total ? total : 1);
			size_t o = 0, p = w->off;

			if (!out)
				return -1;
			while (p < at) {
				parse_frame(w, p, &fin, &op, &h, &n);
				memcpy(out + o, w->in + p + h, n);
				o += n;
				p += h + n;
			}
			w->off = at;
			if (w->off == w->in_len)
				w->off = w->in_len = 0;
			*msg = out;
			*len = total;
			*opcode = first_op;
			return 1;
		}
		long long left = deadline - now_ms();
		struct pollfd pf = { .fd = w->fd, .events = POLLIN };

		if (w->closed)
			return -1;
		if (left <= 0)
			return 0;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		if (fill(w) < 0)
			return -1;
	}
}

int ws_send_frame(struct ws *w, uint8_t type, const char *json)
{
	size_t len;
	uint8_t *f = proto_frame_build(type, json, strlen(json), 0, &len);
	int r;

	if (!f)
		return -1;
	r = ws_send(w, WS_BINARY, f, len, 0);
	free(f);
	return r;
}

int ws_recv_reply(struct ws *w, struct proto_reply *r, int timeout_ms, struct proto_error *e)
{
	uint8_t *msg;
	size_t len;
	int op, got = ws_recv(w, &msg, &len, &op, timeout_ms);

	memset(r, 0, sizeof *r);
	if (got <= 0) {
		snprintf(e->message, sizeof e->message, "%s",
			 got ? "the connection closed" : "no reply in time");
		return got;
	}
	got = proto_reply_decode(msg, len, r, e) < 0 ? -1 : 1;
	free(msg);
	return got;
}
