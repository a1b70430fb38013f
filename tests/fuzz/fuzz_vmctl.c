/* fuzz_vmctl.c - libFuzzer target for vmctl's side of the protocol: what it does with a
 * message from vmd before anything of it reaches the terminal or the disk.
 *
 * The input's first byte picks the size of a small output buffer; the rest is one
 * WebSocket message from vmd. It is decoded as vmctl decodes replies, every string of
 * a decoded reply is escaped as vmctl prints it, the paths are put through the check
 * vmctl applies before printing them, and the whole raw input is escaped too (any
 * bytes, as a guest's text may be). Beyond crashes, leaks and sanitizer reports, these
 * properties abort the run when broken:
 * - escaped text holds no control byte (below 0x20, DEL), is valid UTF-8, fits its
 *   buffer, and one cut short is a prefix of the whole: escapes are never split;
 * - a refused reply says why in one sentence with a protocol code, and that sentence
 *   itself holds no control byte (vmctl prints it as it is);
 * - a decoded reply had at most PROTO_REPLY_MAX_VALUES values;
 * - a path vmctl accepts from vmd is absolute, has no empty, "." or ".." part, and
 *   escaping leaves it unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proto.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_escaped(const char *out, size_t size)
{
	size_t n = strlen(out);

	if (n >= size || !proto_utf8_valid((const uint8_t *)out, n))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();
}

/* Escape in into a buffer of `small` bytes and into one that holds it all. */
static void escape_both(const void *in, size_t len, size_t small)
{
	char *whole = malloc(len * 6 + 1), *cut = malloc(small);

	if (!whole || !cut)
		abort();
	text_escape(whole, len * 6 + 1, in, len);
	text_escape(cut, small, in, len);
	check_escaped(whole, len * 6 + 1);
	check_escaped(cut, small);
	if (strncmp(whole, cut, strlen(cut)))
		abort();	/* the short one is not the start of the whole */
	if (strlen(whole) < len)
		abort();	/* every byte of input gives at least one of output */
	free(whole);
	free(cut);
}

static void check_path(const char *p, const char *last)
{
	char safe[16384];
	size_t n = strlen(p);

	if (!vmctl_guest_path_ok(p, last))
		return;
	if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") ||
	    (n >= 2 && !strcmp(p + n - 2, "/.")) || (n >= 3 && !strcmp(p + n - 3, "/..")) ||
	    p[n - 1] == '/')
		abort();
	if (!last && strcmp(text_safe(safe, sizeof safe, p), p))
		abort();
}

static size_t count_values(const cJSON *j)
{
	size_t n = 1;

	for (const cJSON *c = j->child; c; c = c->next)
		n += count_values(c);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reply r;
	struct proto_error e;
	size_t small;

	if (size < 1)
		return 0;
	small = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	escape_both(data, size, small);
	if (proto_reply_decode(data, size, &r, &e) < 0) {
		size_t n = strlen(e.message);

		if (e.code > -32000 || e.code < -32700 || n < 2 || e.message[n - 1] != '.')
			abort();
		check_escaped(e.message, sizeof e.message);
		proto_reply_free(&r);
		return 0;
	}
	if (count_values(r.root) > PROTO_REPLY_MAX_VALUES)
		abort();
	{
		const char *strings[] = { r.message, r.path, r.home, r.handle, r.username };

		for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
			if (strings[i])
				escape_both(strings[i], strlen(strings[i]), small);
	}
	if (r.path) {
		check_path(r.path, NULL);
		check_path(r.path, "prog");
	}
	if (r.home)
		check_path(r.home, NULL);
	if (r.data)
		escape_both(r.data, r.data_len, small);
	proto_reply_free(&r);
	return 0;
}
