/* wstool - what e2e.sh cannot do with vmctl itself: speak to a VM's vmd directly.
 *
 *   wstool auth PORT [SECRET]   try the WebSocket upgrade with SECRET (none when left
 *                               out); print "status N", then, when it was refused,
 *                               send a ping frame on the same socket anyway and print
 *                               "after: nothing" (closed or silent) or "after: N bytes"
 *   wstool frames PORT SECRET   send bad frames, one line per reply
 *                               ("NAME: TYPE id=ID code=CODE"), then a ping and an
 *                               exec of `echo still serving` on the same connection
 *
 * The upgrade and frame helpers are tests/vmd/wsclient.c's; replies are decoded with
 * the shared codec (common/proto.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"
#include "wsclient.h"

static const char *type_name(uint8_t t)
{
	switch (t) {
	case PROTO_SPAWNED: return "spawned";
	case PROTO_STDOUT: return "stdout";
	case PROTO_STDERR: return "stderr";
	case PROTO_EXIT: return "exit";
	case PROTO_ERROR: return "error";
	case PROTO_OK: return "ok";
	case PROTO_RUNNING_STATUS: return "running_status";
	case PROTO_PONG: return "pong";
	default: return "unknown";
	}
}

/* One reply, printed as "NAME: TYPE id=ID[ code=CODE]"; -1 when none came. */
static int show_reply(struct ws *w, const char *name)
{
	struct proto_reply r;
	struct proto_error e;
	char *id;
	int got = ws_recv_reply(w, &r, 10000, &e);

	if (got <= 0) {
		printf("%s: no reply (%s)\n", name, e.message);
		proto_reply_free(&r);
		return -1;
	}
	id = r.id ? cJSON_PrintUnformatted(r.id) : NULL;
	printf("%s: %s id=%s", name, type_name(r.type), id ? id : "(none)");
	if (r.type == PROTO_ERROR || r.type == PROTO_EXIT)
		printf(" code=%d", r.code);
	if (r.type == PROTO_STDOUT || r.type == PROTO_STDERR) {
		printf(" data=");
		for (size_t i = 0; i < r.data_len; i++)
			if (r.data[i] == '\n')
				fputs("\\n", stdout);
			else
				putchar(r.data[i]);
	}
	printf("\n");
	free(id);
	proto_reply_free(&r);
	return 0;
}

/* A frame as given: the header's length is len_field whatever follows. */
static int send_raw_frame(struct ws *w, uint8_t type, uint32_t len_field, const char *payload)
{
	size_t n = strlen(payload);
	uint8_t *buf = malloc(5 + n);
	int rc;

	if (!buf)
		return -1;
	buf[0] = type;
	buf[1] = (uint8_t)len_field;
	buf[2] = (uint8_t)(len_field >> 8);
	buf[3] = (uint8_t)(len_field >> 16);
	buf[4] = (uint8_t)(len_field >> 24);
	memcpy(buf + 5, payload, n);
	rc = ws_send(w, WS_BINARY, buf, 5 + n, 0);
	free(buf);
	return rc;
}

static int frames(int port, const char *secret)
{
	static const uint8_t short_frame[] = { 0x01, 0x02, 0x00 };
	static const struct { const char *name; uint8_t type; const char *json; } bad[] = {
		{ "invalid JSON", PROTO_SPAWN, "{\"id\":3,\"command\":" },
		{ "not an object", PROTO_SPAWN, "[3]" },
		{ "unknown type", 0x77, "{\"id\":4}" },
		{ "fs_read outside the home", PROTO_FS_READ, "{\"id\":5,\"path\":\"/etc/passwd\"}" },
		{ "command not a string", PROTO_SPAWN, "{\"id\":6,\"command\":42}" },
		{ "command missing", PROTO_SPAWN, "{\"id\":7}" },
		{ "args not an array", PROTO_SPAWN, "{\"id\":8,\"command\":\"echo\",\"args\":\"x\"}" },
		{ "args of numbers", PROTO_SPAWN, "{\"id\":9,\"command\":\"echo\",\"args\":[1]}" },
		{ "env of numbers", PROTO_SPAWN, "{\"id\":10,\"command\":\"echo\",\"env\":{\"A\":1}}" },
		{ "raw not a bool", PROTO_SPAWN, "{\"id\":11,\"command\":\"echo\",\"raw\":\"yes\"}" },
		{ "kill handle a number", PROTO_KILL, "{\"id\":12,\"handle\":5}" },
		{ "kill unknown handle", PROTO_KILL,
		  "{\"id\":13,\"handle\":\"00000000000000000000000000000000\"}" },
		{ "stdin data not base64", PROTO_STDIN,
		  "{\"id\":14,\"handle\":\"00000000000000000000000000000000\",\"data\":\"***\"}" },
	};
	struct ws w;
	int status, failures = 0;

	if (ws_connect(&w, port, secret, NULL, &status) < 0) {
		printf("connect: status %d\n", status);
		return 1;
	}
	ws_send(&w, WS_BINARY, short_frame, sizeof short_frame, 0);
	failures += show_reply(&w, "short frame") < 0;
	send_raw_frame(&w, PROTO_SPAWN, 100, "{\"id\":1}");
	failures += show_reply(&w, "length past frame") < 0;
	send_raw_frame(&w, PROTO_SPAWN, 2, "{\"id\":2}");
	failures += show_reply(&w, "length short of frame") < 0;
	send_raw_frame(&w, PROTO_SPAWN, (16u << 20) + 1, "{}");
	failures += show_reply(&w, "length over the limit") < 0;
	ws_send(&w, WS_TEXT, "{\"id\":1}", 8, 0);
	failures += show_reply(&w, "text message") < 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ws_send_frame(&w, bad[i].type, bad[i].json);
		failures += show_reply(&w, bad[i].name) < 0;
	}
	ws_send_frame(&w, PROTO_PING, "{\"id\":\"p\"}");
	failures += show_reply(&w, "ping") < 0;
	ws_send_frame(&w, PROTO_SPAWN,
		      "{\"id\":20,\"command\":\"echo\",\"args\":[\"still\",\"serving\"]}");
	for (int i = 0; i < 3; i++)
		failures += show_reply(&w, "echo") < 0;
	ws_close(&w);
	return failures > 0;
}

static int auth(int port, const char *secret)
{
	/* A masked WebSocket ping frame with no payload, mask 0. */
	static const uint8_t ping[] = { 0x89, 0x80, 0, 0, 0, 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[512], buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
	size_t n = 0;
	ssize_t got;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	snprintf(req, sizeof req,
		 "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n", port,
		 secret ? "Authorization: Bearer " : "", secret ? secret : "", secret ? "\r\n" : "");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return printf("write: %s\n", strerror(errno)), 1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0 || (got = read(fd, buf + n, sizeof buf - 1 - n)) <= 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &status);
	printf("status %d\n", status);
	if (status == 101)
		return 0;
	/* Refused: whatever the server does next, it must not answer a WebSocket frame. */
	if (write(fd, ping, sizeof ping) < 0) {
		printf("after: nothing\n");
		return 0;
	}
	n = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 1500) <= 0)
			break;
		got = read(fd, buf, sizeof buf);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (n)
		printf("after: %zu bytes\n", n);
	else
		printf("after: nothing\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	prog_name = "wstool";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "auth") == 0)
		return auth(atoi(argv[2]), argc == 4 ? argv[3] : NULL);
	if (argc == 4 && strcmp(argv[1], "frames") == 0)
		return frames(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: wstool auth PORT [SECRET] | frames PORT SECRET\n");
	return 2;
}
