/* hostile-vmd.c - a stand-in for a vmd gone hostile, for tests/vmctl/hostile.sh.
 *
 *   hostile-vmd STATE_DIR SCENARIO [ARG]...
 *
 * Listens on a free port of 127.0.0.1, writes STATE_DIR/PORT.json as vmctl start would
 * (its own pid and start time, so vmctl takes it for a live sandbox), prints the port
 * and serves one connection after another until killed. Each connection is upgraded
 * as vmd does, the proofs of the secret included (handshake(), the one place to
 * change when the handshake does), the first request is read, and then the scenario answers:
 *
 *   reply [TYPE JSON | close | deaf]...
 *        each TYPE (two hex digits) JSON pair is sent as one frame; "close" hangs up;
 *        "deaf" stops reading (for 60 s), so what vmctl sends backs up; after the
 *        list what vmctl sends is read and dropped until it hangs up, so a list
 *        that never answers is a stall
 *   endless        data frames of 1 MiB, for ever
 *   huge-header    one message whose frame says 0xFFFFFFFF bytes, 64 MiB of it sent
 *   long-message   one message whose frame says 100 bytes, and 32 MiB follow
 *   bomb           an error reply of 16 MiB, all of it "0," values
 *
 * Written with plain sockets, not libwebsockets, so that it can send what a library
 * never would. Nothing here is a test: hostile.sh checks what vmctl makes of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "proto.h"
#include "util.h"

#define SECRET "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee0"
#define MIB (1u << 20)

static _Noreturn void fail_usage(void)
{
	die("usage: hostile-vmd STATE_DIR reply|endless|huge-header|long-message|bomb [ARG]...");
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int ws_read(int fd, uint8_t **msg, size_t *len);

/* A header's value in the request, or NULL; its length in *n. */
static const char *header(const char *req, const char *name, size_t *n)
{
	const char *v = strcasestr(req, name), *end;

	if (!v)
		return NULL;
	v += strlen(name);
	v += strspn(v, " ");
	end = strstr(v, "\r\n");
	if (!end)
		return NULL;
	*n = (size_t)(end - v);
	return v;
}

/* The upgrade as vmd answers it (docs/PROTOCOL.md, Authentication): the client's
 * nonce, answered 101 with the RFC 6455 accept key, our nonce and our proof of
 * SECRET; then the client's proof as its first frame. 0 when upgraded and proven. */
static int handshake(int fd)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char req[8192], key[128], accept[64], resp[768], nc[AUTH_HEX + 1], ns[AUTH_HEX + 1];
	char proof[AUTH_HEX + 1], want[AUTH_HEX + 1], json[160];
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t n = 0, kn, nn;
	const char *k, *nonce;
	uint8_t *msg;
	size_t len;
	bool ok;

	req[0] = '\0';
	while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = read(fd, req + n, sizeof req - 1 - n);

		if (r <= 0)
			return -1;
		n += (size_t)r;
		req[n] = '\0';
	}
	nonce = header(req, "\r\nx-vmd-nonce:", &nn);
	if (!nonce || !auth_hex_valid(nonce, nn)) {
		dprintf(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
		return -1;
	}
	memcpy(nc, nonce, AUTH_HEX);
	nc[AUTH_HEX] = '\0';
	k = header(req, "\r\nsec-websocket-key:", &kn);
	if (!k || kn + sizeof guid > sizeof key || auth_nonce(ns) < 0)
		return -1;
	snprintf(key, sizeof key, "%.*s%s", (int)kn, k, guid);
	SHA1((const unsigned char *)key, strlen(key), md);
	accept[proto_b64_encode(md, sizeof md, accept)] = '\0';
	auth_proof(SECRET, AUTH_SERVER, nc, ns, proof);
	n = (size_t)snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\n"
			     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\nX-Vmd-Nonce: %s\r\nX-Vmd-Proof: %s\r\n"
			     "\r\n", accept, ns, proof);
	if (write_all(fd, resp, n) < 0 || ws_read(fd, &msg, &len) < 0)
		return -1;
	auth_proof(SECRET, AUTH_CLIENT, nc, ns, want);
	snprintf(json, sizeof json, "{\"id\":0,\"proof\":\"%s\"}", want);
	ok = len == PROTO_HEADER_SIZE + strlen(json) && msg[0] == PROTO_AUTH &&
	     !memcmp(msg + PROTO_HEADER_SIZE, json, strlen(json));
	free(msg);
	return ok ? 0 : -1;
}

/* A WebSocket frame header, server to client (no mask), of a binary message. */
static int ws_header(int fd, uint64_t len, bool fin, int opcode)
{
	uint8_t h[10];
	size_t n = 2;

	h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		h[1] = (uint8_t)len;
	} else if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	return write_all(fd, h, n);
}

static int ws_message(int fd, const void *data, size_t len)
{
	return ws_header(fd, len, true, 2) < 0 ? -1 : write_all(fd, data, len);
}

static int send_frame(int fd, uint8_t type, const char *json, size_t len)
{
	size_t flen;
	uint8_t *f = proto_frame_build(type, json, len, 0, &flen);
	int rc = f ? ws_message(fd, f, flen) : -1;

	free(f);
	return rc;
}

/* Read one message from vmctl (masked frames, fragments joined); -1 when it closed. */
static int ws_read(int fd, uint8_t **msg, size_t *len)
{
	uint8_t h[14];
	bool fin = false;

	*msg = NULL;
	*len = 0;
	while (!fin) {
		uint64_t n;
		uint8_t mask[4];
		uint8_t *p;

		if (read_full(fd, h, 2) < 0)
			goto closed;
		fin = h[0] & 0x80;
		n = h[1] & 0x7f;
		if (n == 126) {
			if (read_full(fd, h + 2, 2) < 0)
				goto closed;
			n = (uint64_t)h[2] << 8 | h[3];
		} else if (n == 127) {
			if (read_full(fd, h + 2, 8) < 0)
				goto closed;
			n = 0;
			for (int i = 0; i < 8; i++)
				n = n << 8 | h[2 + i];
		}
		if (n > 64 * MIB || !(h[1] & 0x80) || read_full(fd, mask, 4) < 0)
			goto closed;
		p = realloc(*msg, *len + n + 1);
		if (!p || read_full(fd, p + *len, n) < 0) {
			free(p);
			*msg = NULL;
			return -1;
		}
		for (uint64_t i = 0; i < n; i++)
			p[*len + i] ^= mask[i % 4];
		*msg = p;
		*len += n;
		if ((h[0] & 0x0f) == 8)	/* close */
			goto closed;
	}
	return 0;
closed:
	free(*msg);
	*msg = NULL;
	return -1;
}

/* Read and drop what vmctl sends until it hangs up. */
static void drain(int fd)
{
	uint8_t *m;
	size_t n;

	while (ws_read(fd, &m, &n) == 0)
		free(m);
}

static int play_reply(int fd, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "close"))
			return 0;
		if (!strcmp(argv[i], "deaf")) {
			sleep(60);
			return 0;
		}
		if (i + 1 >= argc)
			fail_usage();
		if (send_frame(fd, (uint8_t)strtoul(argv[i], NULL, 16), argv[i + 1],
			       strlen(argv[i + 1])) < 0)
			return -1;
		i++;
	}
	drain(fd);
	return 0;
}

static void play_endless(int fd)
{
	static uint8_t chunk[MIB];
	size_t flen;
	uint8_t *f;

	memset(chunk, 'A', sizeof chunk);
	f = proto_frame_data(PROTO_DATA, "1", NULL, chunk, sizeof chunk, 0, &flen);
	while (f && ws_message(fd, f, flen) == 0)
		;
	free(f);
}

/* A message of len bytes whose vmd frame header claims claim, sent in 1 MiB pieces
 * of one WebSocket frame until vmctl hangs up. */
static void play_oversized(int fd, uint32_t claim, uint64_t len)
{
	static uint8_t chunk[MIB];
	uint8_t head[PROTO_HEADER_SIZE] = { PROTO_ERROR };

	put_le32(head + 1, claim);
	memset(chunk, ' ', sizeof chunk);
	if (ws_header(fd, len, true, 2) < 0 || write_all(fd, head, sizeof head) < 0)
		return;
	for (uint64_t sent = sizeof head; sent < len; sent += sizeof chunk)
		if (write_all(fd, chunk, len - sent < sizeof chunk ? len - sent : sizeof chunk) < 0)
			return;
	drain(fd);
}

static void play_bomb(int fd)
{
	static const char start[] = "{\"id\":1,\"code\":-32000,\"message\":\"x\",\"pad\":[";
	size_t len = PROTO_MAX_PAYLOAD - 1, at = sizeof start - 1;
	char *json = malloc(len);

	if (!json)
		return;
	memcpy(json, start, at);
	while (at + 4 < len) {
		json[at++] = '0';
		json[at++] = ',';
	}
	json[at++] = '0';
	json[at++] = ']';
	json[at++] = '}';
	send_frame(fd, PROTO_ERROR, json, at);
	free(json);
	drain(fd);
}

/* STATE_DIR/PORT.json, as state.c writes it, naming this process. */
static void write_state(const char *dir, unsigned port)
{
	char path[4200], line[1024], *p;
	unsigned long long start = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
	FILE *f;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		die_errno("cannot read /proc/self/stat");
	line[n] = '\0';
	p = strrchr(line, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu", &start) != 1)
		die("cannot read this process's start time.");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die_errno("cannot make %s", dir);
	snprintf(path, sizeof path, "%s/%u.json", dir, port);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f)
		die_errno("cannot write %s", path);
	fprintf(f, "{\"port\": %u, \"pid\": %d, \"pid_start\": %llu, \"secret\": \"%s\", "
		"\"kernel\": \"\", \"initrd\": \"\", \"memory_mib\": 128, \"cpus\": 1, "
		"\"started\": 0}\n", port, (int)getpid(), start, SECRET);
	if (fclose(f) != 0)
		die_errno("cannot write %s", path);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof addr;
	int ls;

	prog_name = "hostile-vmd";
	if (argc < 3)
		fail_usage();
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 4) < 0 ||
	    getsockname(ls, (struct sockaddr *)&addr, &alen) < 0)
		die_errno("cannot listen on 127.0.0.1");
	write_state(argv[1], ntohs(addr.sin_port));
	printf("%u\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		uint8_t *req;
		size_t len;

		if (fd < 0)
			continue;
		if (handshake(fd) == 0 && ws_read(fd, &req, &len) == 0) {
			free(req);
			if (!strcmp(argv[2], "reply"))
				play_reply(fd, argc - 3, argv + 3);
			else if (!strcmp(argv[2], "endless"))
				play_endless(fd);
			else if (!strcmp(argv[2], "huge-header"))
				play_oversized(fd, 0xFFFFFFFFu, 64ull * MIB);
			else if (!strcmp(argv[2], "long-message"))
				play_oversized(fd, 100, 32ull * MIB);
			else if (!strcmp(argv[2], "bomb"))
				play_bomb(fd);
			else
				fail_usage();
		}
		close(fd);
	}
}
