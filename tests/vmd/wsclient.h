/* wsclient.h - a small blocking WebSocket client for testing vmd on this host.
 *
 * Written from RFC 6455 rather than with libwebsockets so that the tests can send
 * what a well-behaved library never would: text messages, fragments, bad frames,
 * oversized messages. Replies are decoded with the shared codec (proto.h).
 */
#ifndef TESTS_VMD_WSCLIENT_H
#define TESTS_VMD_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define WS_TEXT 0x1
#define WS_BINARY 0x2

struct ws {
	int fd;
	uint8_t *in;		/* bytes received; those from off on are not parsed yet */
	size_t off, in_len, in_cap;
	bool closed;
};

/* Connect to 127.0.0.1:port and upgrade, sending "Authorization: Bearer secret"
 * unless secret is NULL (auth_raw, when given, replaces the whole header value).
 * Returns 0 when upgraded; else -1 with *status the HTTP status (0 when none). */
int ws_connect(struct ws *w, int port, const char *secret, const char *auth_raw,
	       int *status);
/* Send raw HTTP and return the status of the response (for non-upgrade checks). */
int http_status_of(int port, const char *request);
void ws_close(struct ws *w);

/* Send one message, split into frames of at most `piece` bytes (0: one frame).
 * While sending, whatever the server sends is kept, so neither side blocks. */
int ws_send(struct ws *w, int opcode, const void *data, size_t len, size_t piece);
/* Receive one whole message: 1, 0 on timeout, -1 when the connection closed. */
int ws_recv(struct ws *w, uint8_t **msg, size_t *len, int *opcode, int timeout_ms);

/* A request frame: type + JSON text. */
int ws_send_frame(struct ws *w, uint8_t type, const char *json);
/* The next reply, decoded; 1, 0 on timeout, -1 on close or a reply that does not
 * decode (message in e). */
int ws_recv_reply(struct ws *w, struct proto_reply *r, int timeout_ms,
		  struct proto_error *e);

#endif
