/* handshake.h - vmctl's side of vmd's handshake, for every connection to a sandbox
 * (client.c, and web.c's own connections for the page).
 *
 * vmctl reveals nothing that grants access before vmd has proved it holds this
 * VM's secret: the upgrade request carries only a fresh nonce; the answer must
 * carry vmd's nonce and a proof bound to both (checked before the connection is
 * taken as open); only then is our own proof queued, as the first frame. See
 * common/auth.h and docs/PROTOCOL.md.
 */
#ifndef VMCTL_HANDSHAKE_H
#define VMCTL_HANDSHAKE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct handshake {
	const char *secret;		/* the VM's, from its state file */
	char nonce[AUTH_HEX + 1];	/* ours, fresh for each connection */
	char proof[AUTH_HEX + 1];	/* ours, once vmd has proved itself */
};

/* What vmctl says when the service on the port failed to prove itself. */
#define HANDSHAKE_NOT_THIS_VM \
	"the service on 127.0.0.1:%u did not prove it holds this VM's secret; it is not " \
	"this VM."

/* LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: a fresh nonce into the request. */
int handshake_request(struct handshake *h, struct lws *wsi, unsigned char **p,
		      unsigned char *end);
/* LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: true when the answer proves the
 * secret; then our proof is ready. */
bool handshake_check(struct handshake *h, struct lws *wsi);
/* The auth frame with our proof, with LWS_PRE headroom (free it); NULL when out
 * of memory. Only after handshake_check() said true. */
uint8_t *handshake_frame(struct handshake *h, size_t *len);

#endif
