/* handshake.c - see handshake.h. */
#include "handshake.h"

#include <stdio.h>
#include <string.h>

#include "proto.h"

int handshake_request(struct handshake *h, struct lws *wsi, unsigned char **p,
		      unsigned char *end)
{
	*h->proof = '\0';
	if (auth_nonce(h->nonce) < 0)
		return -1;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)AUTH_NONCE_HEADER,
					   (const unsigned char *)h->nonce, AUTH_HEX, p, end);
}

/* A header of the answer that must be 64 hex digits. */
static bool header(struct lws *wsi, const char *name, char out[AUTH_HEX + 1])
{
	int nlen = (int)strlen(name);

	return lws_hdr_custom_length(wsi, name, nlen) == AUTH_HEX &&
	       lws_hdr_custom_copy(wsi, out, AUTH_HEX + 1, name, nlen) == AUTH_HEX &&
	       auth_hex_valid(out, AUTH_HEX);
}

bool handshake_check(struct handshake *h, struct lws *wsi)
{
	char theirs[AUTH_HEX + 1], proof[AUTH_HEX + 1], want[AUTH_HEX + 1];
	bool ok;

	*h->proof = '\0';
	if (!header(wsi, AUTH_NONCE_HEADER, theirs) || !header(wsi, AUTH_PROOF_HEADER, proof))
		return false;
	auth_proof(h->secret, AUTH_SERVER, h->nonce, theirs, want);
	ok = auth_equal(proof, want);
	if (ok)
		auth_proof(h->secret, AUTH_CLIENT, h->nonce, theirs, h->proof);
	explicit_bzero(want, sizeof want);
	return ok;
}

uint8_t *handshake_frame(struct handshake *h, size_t *len)
{
	char json[32 + AUTH_HEX];
	uint8_t *buf;
	int n = snprintf(json, sizeof json, "{\"id\":0,\"proof\":\"%s\"}", h->proof);

	buf = proto_frame_build(PROTO_AUTH, json, (size_t)n, LWS_PRE, len);
	explicit_bzero(json, sizeof json);
	explicit_bzero(h->proof, sizeof h->proof);
	return buf;
}
