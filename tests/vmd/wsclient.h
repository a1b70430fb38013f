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

/* What an upgrade came to: the HTTP status (0 when none), and for a 101 the
 * X-Vmd-Nonce and X-Vmd-Proof vmd answered with ("" when absent). */
struct ws_hello {
	int status;
	char nonce[128], proof[128];
};

/* Connect to 127.0.0.1:port and upgrade, with the extra request header lines given
 * ("Name: value\r\n"..., or NULL). 0 when upgraded; else -1. */
int ws_upgrade(struct ws *w, int port, const char *headers, struct ws_hello *h);
/* The client's proof as the auth frame (docs/PROTOCOL.md, Authentication). */
int ws_send_proof(struct ws *w, const char *proof);
/* vmd's whole handshake with the secret (common/auth.h): a fresh nonce, vmd's
 * proof checked, ours sent. 0 when done; -1 with *status the HTTP status, which is
 * 101 when vmd's proof did not check out (then nothing was sent). */
int ws_connect(struct ws *w, int port, const char *secret, int *status);
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
