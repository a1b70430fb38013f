/* wstool - what e2e.sh cannot do with vmctl itself: speak to a VM's vmd directly.
 *
 *   wstool auth PORT            try the WebSocket upgrade with no nonce (and no
 *                               proof); print "status N", then, when it was refused,
 *                               send a ping frame on the same socket anyway and print
 *                               "after: nothing" (closed or silent) or "after: N bytes"
 *   wstool bearer PORT SECRET   the same with the secret as "Authorization: Bearer",
 *                               which vmd no longer takes
 *   wstool prove PORT SECRET    vmd's handshake as a client holding SECRET: print
 *                               "status N", "vmd proved SECRET: yes|no", then send
 *                               our proof made with SECRET (whatever vmd proved) and a
 *                               ping, and print "ping: pong" or "ping: error CODE
 *                               MESSAGE" and "after: closed|open"
 *   wstool frames PORT SECRET   send bad frames, one line per reply
 *                               ("NAME: TYPE id=ID code=CODE"), then a ping and an
 *                               exec of `echo still serving` on the same connection
 *   wstool talk PORT SECRET     one request per line of stdin, "TYPE JSON" (TYPE as
 *                               PROTOCOL.md names it); prints each reply as "TYPE
 *                               JSON" until the one with the request's id that ends
 *                               it (ok, error, exit, running_status, pong). "&TYPE
 *                               JSON" stops at the request's "spawned" instead, and
 *                               "wait ID" reads on until the exit of request ID.
 *                               "$H" in a request is the handle of the last process
 *                               spawned; handles and pids print as "H" and 0, so
 *                               output can be compared
 *
 * The upgrade and frame helpers are tests/vmd/wsclient.c's; replies are decoded with
 * the shared codec (common/proto.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
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

	if (ws_connect(&w, port, secret, &status) < 0) {
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

/* The request type PROTOCOL.md calls name, or -1. */
static int type_named(const char *name)
{
	for (int t = 0; t < 256; t++)
		if (strcmp(proto_type_name((uint8_t)t), name) == 0)
			return t;
	return -1;
}

struct buf {
	uint8_t *data;
	size_t len;
};

static void buf_append(struct buf *b, const uint8_t *p, size_t n)
{
	uint8_t *grown = realloc(b->data, b->len + n + 1);

	if (!grown)
		return;
	memcpy(grown + b->len, p, n);
	b->data = grown;
	b->len += n;
}

/* Bytes as a JSON string, for exact comparison. */
static void print_bytes(const char *name, const struct buf *b)
{
	cJSON *str;
	char *text, *copy = malloc(b->len + 1);

	if (!b->len || !copy) {
		free(copy);
		return;
	}
	memcpy(copy, b->data, b->len);
	copy[b->len] = '\0';
	str = cJSON_CreateString(copy);
	text = str ? cJSON_PrintUnformatted(str) : NULL;
	printf("%s %s\n", name, text ? text : "(not text)");
	free(text);
	cJSON_Delete(str);
	free(copy);
}

/* One reply: stdout, stderr and data are gathered (how output is split into
 * messages varies) and printed decoded, before the reply that ends the request;
 * the others print as "TYPE JSON" with the random parts masked. True at the end. */
enum until { UNTIL_END, UNTIL_SPAWNED, UNTIL_EXIT };

static bool take_reply(const uint8_t *msg, size_t len, char *handle, size_t hsize,
		       struct buf out[3], const char *want_id, enum until until)
{
	uint8_t type = msg[0];
	cJSON *o = cJSON_ParseWithLength((const char *)msg + PROTO_HEADER_SIZE,
					 len - PROTO_HEADER_SIZE);
	cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "handle"),
	      *pid = cJSON_GetObjectItemCaseSensitive(o, "pid"),
	      *data = cJSON_GetObjectItemCaseSensitive(o, "data");
	int k = type == PROTO_STDOUT ? 0 : type == PROTO_STDERR ? 1 : type == PROTO_DATA ? 2 : -1;
	char *id = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "id"));
	bool end = id && !strcmp(id, want_id) &&
		   (until == UNTIL_SPAWNED ? type == PROTO_SPAWNED :
		    until == UNTIL_EXIT ? type == PROTO_EXIT :
		    type == PROTO_OK || type == PROTO_ERROR || type == PROTO_EXIT ||
		    type == PROTO_RUNNING_STATUS || type == PROTO_PONG);
	char *text;

	free(id);

	if (k >= 0 && cJSON_IsString(data)) {
		uint8_t *d = NULL;
		size_t n = 0;

		if (proto_b64_decode(data->valuestring, strlen(data->valuestring), &d, &n) == 0)
			buf_append(&out[k], d, n);
		free(d);
		cJSON_Delete(o);
		return false;
	}
	if (type == PROTO_SPAWNED && cJSON_IsString(h))
		snprintf(handle, hsize, "%s", h->valuestring);
	if (cJSON_IsString(h))
		cJSON_SetValuestring(h, "H");
	if (cJSON_IsNumber(pid))
		cJSON_SetNumberValue(pid, 0);
	if (end) {
		static const char *const names[3] = { "stdout", "stderr", "data" };

		for (int i = 0; i < 3; i++) {
			print_bytes(names[i], &out[i]);
			out[i].len = 0;
		}
	}
	text = o ? cJSON_PrintUnformatted(o) : NULL;
	printf("%s %s\n", proto_type_name(type), text ? text : "(not JSON)");
	free(text);
	cJSON_Delete(o);
	return end;
}

static int talk(int port, const char *secret)
{
	char line[65536], handle[128] = "", req[65536 + 128];
	struct buf out[3] = { { 0 } };
	struct ws w;
	int status;

	if (ws_connect(&w, port, secret, &status) < 0) {
		printf("connect: status %d\n", status);
		return 1;
	}
	while (fgets(line, sizeof line, stdin)) {
		char *json = strchr(line, ' '), *at, *o = req, *name = line, want_id[64];
		enum until until = UNTIL_END;
		int type;

		line[strcspn(line, "\n")] = '\0';
		if (!json)
			continue;
		*json++ = '\0';
		if (!strcmp(line, "wait")) {
			snprintf(want_id, sizeof want_id, "%s", json);
			until = UNTIL_EXIT;
		} else {
			cJSON *parsed, *id;

			if (*name == '&') {
				name++;
				until = UNTIL_SPAWNED;
			}
			if ((type = type_named(name)) < 0) {
				printf("wstool: no message type %s\n", name);
				return 1;
			}
			/* "$H" -> the last handle */
			for (const char *p = json; (at = strstr(p, "$H")); p = at + 2) {
				o += sprintf(o, "%.*s%s", (int)(at - json), json, handle);
				json = at + 2;
			}
			strcpy(o, json);
			parsed = cJSON_Parse(req);
			id = cJSON_GetObjectItemCaseSensitive(parsed, "id");
			o = id ? cJSON_PrintUnformatted(id) : NULL;
			snprintf(want_id, sizeof want_id, "%s", o ? o : "null");
			free(o);
			cJSON_Delete(parsed);
			ws_send_frame(&w, (uint8_t)type, req);
		}
		for (;;) {
			uint8_t *msg;
			size_t len;
			int op, got = ws_recv(&w, &msg, &len, &op, 20000);

			if (got <= 0) {
				printf("wstool: %s\n", got ? "connection closed" : "no reply in 20 s");
				ws_close(&w);
				return 1;
			}
			bool end = len >= PROTO_HEADER_SIZE &&
				   take_reply(msg, len, handle, sizeof handle, out, want_id, until);
			free(msg);
			if (end)
				break;
		}
	}
	for (int i = 0; i < 3; i++)
		free(out[i].data);
	ws_close(&w);
	return 0;
}

static int auth(int port, const char *bearer)
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
		 bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "");
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

static int prove(int port, const char *secret)
{
	char nonce[AUTH_HEX + 1], hdr[128], want[AUTH_HEX + 1], proof[AUTH_HEX + 1];
	struct ws_hello h;
	struct ws w;
	struct proto_reply r;
	struct proto_error e;
	uint8_t *msg;
	size_t len;
	int op;

	if (!auth_hex_valid(secret, strlen(secret)))
		return printf("the secret must be 64 lowercase hex digits\n"), 2;
	if (auth_nonce(nonce) < 0)
		return printf("no random bytes\n"), 1;
	snprintf(hdr, sizeof hdr, "X-Vmd-Nonce: %s\r\n", nonce);
	ws_upgrade(&w, port, hdr, &h);
	printf("status %d\n", h.status);
	if (h.status != 101)
		return 0;
	auth_proof(secret, AUTH_SERVER, nonce, h.nonce, want);
	printf("vmd proved the secret: %s\n",
	       auth_hex_valid(h.nonce, strlen(h.nonce)) && auth_hex_valid(h.proof, strlen(h.proof)) &&
	       auth_equal(h.proof, want) ? "yes" : "no");
	auth_proof(secret, AUTH_CLIENT, nonce, h.nonce, proof);
	ws_send_proof(&w, proof);
	ws_send_frame(&w, PROTO_PING, "{\"id\":1}");
	if (ws_recv_reply(&w, &r, 10000, &e) != 1)
		printf("ping: nothing\n");
	else if (r.type == PROTO_PONG)
		printf("ping: pong\n");
	else
		printf("ping: %s %d %s\n", type_name(r.type), r.code, r.message ? r.message : "");
	proto_reply_free(&r);
	printf("after: %s\n", ws_recv(&w, &msg, &len, &op, 1000) == -1 ? "closed" : "open");
	ws_close(&w);
	return 0;
}

int main(int argc, char **argv)
{
	prog_name = "wstool";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "auth") == 0)
		return auth(atoi(argv[2]), NULL);
	if (argc == 4 && strcmp(argv[1], "bearer") == 0)
		return auth(atoi(argv[2]), argv[3]);
	if (argc == 4 && strcmp(argv[1], "prove") == 0)
		return prove(atoi(argv[2]), argv[3]);
	if (argc == 4 && strcmp(argv[1], "frames") == 0)
		return frames(atoi(argv[2]), argv[3]);
	if (argc == 4 && strcmp(argv[1], "talk") == 0)
		return talk(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: wstool auth PORT | bearer PORT SECRET | prove PORT SECRET | "
		"frames PORT SECRET | talk PORT SECRET\n");
	return 2;
}
