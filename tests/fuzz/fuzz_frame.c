/* fuzz_frame.c - libFuzzer target for the vmd frame and payload parser.
 *
 * The input is one WebSocket message as vmd receives it. It is decoded as a
 * request (and, since vmctl shares the codec, as a reply), and an error reply is
 * built from a failure as vmd would. Beyond crashes, leaks and sanitizer reports,
 * three properties abort the run when broken:
 * - the early check vmd applies while a message arrives never refuses a message
 *   that the full decoder accepts, and refuses with the same sentence;
 * - a decoded stdin's data re-encodes to exactly the base64 it came from;
 * - every error has a protocol code and a one-sentence message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct proto_error *e)
{
	size_t n = strlen(e->message);

	if (e->code > -32000 || e->code < -32700 || n < 2 || e->message[n - 1] != '.')
		abort();
}

static void check_prefix(const uint8_t *data, size_t size, int decoded,
			 const struct proto_error *e)
{
	struct proto_error early;
	size_t head = size < PROTO_HEADER_SIZE ? size : PROTO_HEADER_SIZE;

	/* as the message arrives: every size up to the whole */
	for (size_t seen = head; seen <= size; seen += 1 + seen / 3) {
		if (proto_frame_check_prefix(data, head, seen, &early) < 0) {
			if (decoded == 0)
				abort();	/* refused early what is valid */
			break;
		}
	}
	if (proto_frame_check_prefix(data, head, size, &early) < 0 &&
	    strcmp(early.message, e->message))
		abort();		/* a different sentence for the same fault */
}

static void check_stdin(const struct proto_request *req)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(req->root, "data");
	char *again = malloc(proto_b64_len(req->data_len) + 1);
	size_t n = proto_b64_encode(req->data, req->data_len, again);

	if (n != strlen(d->valuestring) || memcmp(again, d->valuestring, n))
		abort();
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req;
	struct proto_reply rep;
	struct proto_error e;
	int r = proto_request_decode(data, size, &req, &e);

	if (r < 0)
		check_error(&e);
	check_prefix(data, size, r, &e);
	if (r == 0 && req.type == PROTO_STDIN)
		check_stdin(&req);
	if (r < 0 && req.id) {
		size_t len;
		uint8_t *f = proto_error_frame(req.id, e.code, e.message, 16, &len);

		free(f);
	}
	proto_request_free(&req);

	if (proto_reply_decode(data, size, &rep, &e) < 0)
		check_error(&e);
	proto_reply_free(&rep);
	return 0;
}
