/* proto.c - see proto.h; docs/PROTOCOL.md is the contract. */
#include "proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the type table --------------------------------------------------------------- */

static const struct proto_type_info types[] = {
	{ PROTO_SPAWN, "spawn", PROTO_REQUEST, true },
	{ PROTO_STDIN, "stdin", PROTO_REQUEST, true },
	{ PROTO_KILL, "kill", PROTO_REQUEST, true },
	{ PROTO_RESIZE, "resize", PROTO_REQUEST, true },
	{ PROTO_MOUNT, "mount", PROTO_REQUEST, true },
	{ PROTO_UNMOUNT, "unmount", PROTO_REQUEST, true },
	{ PROTO_SESSION_CREATE, "session_create", PROTO_REQUEST, true },
	{ PROTO_BINARY_INSTALL, "binary_install", PROTO_REQUEST, true },
	{ PROTO_FS_READ, "fs_read", PROTO_REQUEST, true },
	{ PROTO_LOAD_STATE, "load_state", PROTO_REQUEST, true },
	{ PROTO_IS_RUNNING, "is_running", PROTO_REQUEST, true },
	{ PROTO_SESSION_DESTROY, "session_destroy", PROTO_REQUEST, true },
	{ PROTO_CLOSE_STDIN, "close_stdin", PROTO_REQUEST, true },
	{ PROTO_AUTH, "auth", PROTO_REQUEST, true },
	{ PROTO_FILE_PUT, "file_put", PROTO_REQUEST, true },
	{ PROTO_FILE_DATA, "file_data", PROTO_REQUEST, true },
	{ PROTO_FILE_END, "file_end", PROTO_REQUEST, true },
	{ PROTO_RELOAD_IDENTITY, "reload_identity", PROTO_REQUEST, true },
	{ PROTO_PING, "ping", PROTO_REQUEST, true },
	{ PROTO_SPAWNED, "spawned", PROTO_REPLY, true },
	{ PROTO_STDOUT, "stdout", PROTO_REPLY, true },
	{ PROTO_STDERR, "stderr", PROTO_REPLY, true },
	{ PROTO_EXIT, "exit", PROTO_REPLY, true },
	{ PROTO_ERROR, "error", PROTO_REPLY, true },
	{ PROTO_OK, "ok", PROTO_REPLY, true },
	{ PROTO_DATA, "data", PROTO_REPLY, true },
	{ PROTO_RUNNING_STATUS, "running_status", PROTO_REPLY, true },
	{ PROTO_PONG, "pong", PROTO_REPLY, true },
};

const struct proto_type_info *proto_type_info(uint8_t type)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

const char *proto_type_name(uint8_t type)
{
	const struct proto_type_info *t = proto_type_info(type);

	return t ? t->name : "unknown";
}

__attribute__((format(printf, 3, 4)))
static int err(struct proto_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* --- frames ---------------------------------------------------------------------------- */

int proto_frame_check_prefix(const uint8_t *head, size_t head_len, size_t size_so_far,
			     struct proto_error *e)
{
	uint32_t len;

	if (head_len < PROTO_HEADER_SIZE)
		return 0;
	len = get_le32(head + 1);
	if (len > PROTO_MAX_PAYLOAD)
		return err(e, PROTO_E_FRAME,
			   "the frame's payload length %u is over the limit of %u bytes.",
			   len, PROTO_MAX_PAYLOAD);
	if (size_so_far - PROTO_HEADER_SIZE > len)
		return err(e, PROTO_E_FRAME,
			   "the frame's length field says %u bytes but %zu follow.",
			   len, size_so_far - PROTO_HEADER_SIZE);
	return 0;
}

int proto_frame_split(const uint8_t *msg, size_t size, uint8_t *type,
		      const uint8_t **payload, uint32_t *len, struct proto_error *e)
{
	uint32_t n;

	if (size < PROTO_HEADER_SIZE)
		return err(e, PROTO_E_FRAME,
			   "a frame needs at least 5 bytes (type and length) but this one "
			   "has %zu.", size);
	if (proto_frame_check_prefix(msg, PROTO_HEADER_SIZE, size, e) < 0)
		return -1;
	n = get_le32(msg + 1);
	if (n != size - PROTO_HEADER_SIZE)
		return err(e, PROTO_E_FRAME,
			   "the frame's length field says %u bytes but %zu follow.",
			   n, size - PROTO_HEADER_SIZE);
	*type = msg[0];
	*payload = msg + PROTO_HEADER_SIZE;
	*len = n;
	return 0;
}

static const char *json_kind(const cJSON *j)
{
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	return "an object";
}

/* True when some byte of the word is below 0x20 (exact for ASCII bytes; a byte with
 * its top bit set is never taken for one). */
static inline bool word_has_control(uint64_t w)
{
	return (w - 0x2020202020202020u) & ~w & 0x8080808080808080u;
}

/* The first raw control byte (below 0x20) that JSON does not allow: any inside a
 * string, anything but the four blanks outside one. cJSON takes both: it copies a
 * raw NUL into the string, where C then cuts it ("notes.txt\0/../.." reads as
 * "notes.txt"), and skips every byte up to 0x20 between tokens. -1 when none. */
static long long raw_control_at(const uint8_t *p, size_t len, bool *in_string)
{
	size_t i = 0;
	uint64_t w;

	/* most payloads (compact JSON, base64 data) have no control byte at all */
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		if (word_has_control(w))
			break;
	}
	for (; i < len && p[i] >= 0x20; i++)
		;
	if (i == len)
		return -1;
	*in_string = false;
	for (i = 0; i < len; i++) {
		if (p[i] == '"') {
			*in_string = !*in_string;
		} else if (*in_string && p[i] == '\\' && i + 1 < len && p[i + 1] >= 0x20) {
			i++;	/* the escaped character, which may be a quote */
		} else if (p[i] < 0x20 && (*in_string || (p[i] != '\t' && p[i] != '\r' &&
							   p[i] != '\n'))) {
			return (long long)i;
		}
	}
	return -1;
}

cJSON *proto_payload_parse(const uint8_t *payload, size_t len, struct proto_error *e)
{
	const char *end = NULL;
	bool in_string;
	long long bad;
	cJSON *root;
	size_t at;

	if (!proto_utf8_valid(payload, len)) {
		err(e, PROTO_E_JSON, "the payload is not valid UTF-8.");
		return NULL;
	}
	bad = raw_control_at(payload, len, &in_string);
	if (bad >= 0 && in_string) {
		err(e, PROTO_E_JSON, "the payload has the raw control byte 0x%02X in a string "
		    "(at byte %lld); JSON allows control characters only escaped.",
		    payload[bad], bad);
		return NULL;
	}
	if (bad >= 0) {
		err(e, PROTO_E_JSON, "the payload is not valid JSON (at byte %lld).", bad);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts((const char *)payload, len, &end, false);
	if (root) {
		/* cJSON stops after the first value; anything but blanks after it is
		 * a second value, which is not one JSON object. */
		for (at = (size_t)(end - (const char *)payload); at < len; at++)
			if (!strchr(" \t\r\n", payload[at]))
				break;
		if (at == len)
			goto parsed;
		cJSON_Delete(root);
	} else {
		at = end ? (size_t)(end - (const char *)payload) : 0;
	}
	err(e, PROTO_E_JSON, "the payload is not valid JSON (at byte %zu).", at);
	return NULL;
parsed:
	if (!cJSON_IsObject(root)) {
		err(e, PROTO_E_FRAME, "the payload is %s, not a JSON object.",
		    json_kind(root));
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

uint8_t *proto_frame_build(uint8_t type, const char *json, size_t json_len,
			   size_t headroom, size_t *frame_len)
{
	uint8_t *buf;

	if (json_len > PROTO_MAX_PAYLOAD)
		return NULL;
	buf = malloc(headroom + PROTO_HEADER_SIZE + json_len);
	if (!buf)
		return NULL;
	buf[headroom] = type;
	put_le32(buf + headroom + 1, (uint32_t)json_len);
	memcpy(buf + headroom + PROTO_HEADER_SIZE, json, json_len);
	*frame_len = PROTO_HEADER_SIZE + json_len;
	return buf;
}

uint8_t *proto_frame_json(uint8_t type, const cJSON *obj, size_t headroom,
			  size_t *frame_len)
{
	char *text = cJSON_PrintUnformatted(obj);
	uint8_t *buf;

	if (!text)
		return NULL;
	buf = proto_frame_build(type, text, strlen(text), headroom, frame_len);
	cJSON_free(text);
	return buf;
}

uint8_t *proto_frame_data(uint8_t type, const char *id_json, const char *handle,
			  const void *data, size_t n, size_t headroom, size_t *frame_len)
{
	static const char a[] = "{\"id\":", b[] = ",\"handle\":\"", c[] = "\",\"data\":\"",
			  c0[] = ",\"data\":\"", d[] = "\"}";
	size_t idn = strlen(id_json), hn = handle ? strlen(handle) : 0;
	size_t len = sizeof a - 1 + idn + (handle ? sizeof b - 1 + hn + sizeof c - 1
						  : sizeof c0 - 1) +
		     proto_b64_len(n) + sizeof d - 1;
	uint8_t *buf, *p;

	if (n > PROTO_MAX_PAYLOAD || len > PROTO_MAX_PAYLOAD)
		return NULL;
	buf = malloc(headroom + PROTO_HEADER_SIZE + len);
	if (!buf)
		return NULL;
	p = buf + headroom;
	*p++ = type;
	put_le32(p, (uint32_t)len);
	p += 4;
#define PUT(s, l) (memcpy(p, (s), (l)), p += (l))
	PUT(a, sizeof a - 1);
	PUT(id_json, idn);
	if (handle) {
		PUT(b, sizeof b - 1);
		PUT(handle, hn);
		PUT(c, sizeof c - 1);
	} else {
		PUT(c0, sizeof c0 - 1);
	}
	p += proto_b64_encode(data, n, (char *)p);
	PUT(d, sizeof d - 1);
#undef PUT
	*frame_len = PROTO_HEADER_SIZE + len;
	return buf;
}

/* --- base64 --------------------------------------------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t proto_b64_encode(const void *in, size_t n, char *out)
{
	const uint8_t *s = in;
	char *o = out;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* one store per quantum instead of four: this loop is most of vmd's
		 * work per byte of output, and under QEMU's TCG memory accesses are
		 * what costs */
		uint32_t q = (uint32_t)(uint8_t)b64_alphabet[v >> 18] |
			     (uint32_t)(uint8_t)b64_alphabet[(v >> 12) & 63] << 8 |
			     (uint32_t)(uint8_t)b64_alphabet[(v >> 6) & 63] << 16 |
			     (uint32_t)(uint8_t)b64_alphabet[v & 63] << 24;

		memcpy(o, &q, 4);
		o += 4;
#else
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
#endif
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	return (size_t)(o - out);
}

/* Each alphabet character's value + 1; 0 for anything else. A table, because
 * vmctl decodes every byte of output through it. */
static const uint8_t b64_table[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13,
	['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19,
	['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
	['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
	['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55,
	['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
	['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* b64_bits[k][c]: the 6 bits of character c at position k of a quantum, shifted to
 * their place in the 24; bit 31 for a character that is not base64. */
static uint32_t b64_bits[4][256];
static bool b64_ready;

static void b64_prepare(void)
{
	for (int c = 0; c < 256; c++)
		for (int k = 0; k < 4; k++)
			b64_bits[k][c] = b64_table[c] ? (uint32_t)(b64_table[c] - 1) << (18 - 6 * k)
						     : 0x80000000u;
	b64_ready = true;
}

int proto_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, n, i, o = 0, full;
	uint32_t bad = 0;
	uint8_t *buf;

	if (len % 4)
		return -1;
	if (len && s[len - 1] == '=')
		pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
	n = len / 4 * 3 - pad;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -1;
	/* every quantum but a padded last one: four lookups of bits already in place,
	 * ORed, and one check at the end (a bad character sets bit 31) */
	if (!b64_ready)
		b64_prepare();
	full = pad ? len - 4 : len;
	for (i = 0; i < full; i += 4) {
		uint32_t q = b64_bits[0][s[i]] | b64_bits[1][s[i + 1]] | b64_bits[2][s[i + 2]] |
			     b64_bits[3][s[i + 3]];

		bad |= q;
		buf[o] = (uint8_t)(q >> 16);
		buf[o + 1] = (uint8_t)(q >> 8);
		buf[o + 2] = (uint8_t)q;
		o += 3;
	}
	if (bad & 0x80000000u)
		goto fail;
	if (pad) {
		unsigned a = b64_table[s[i]], b = b64_table[s[i + 1]];
		unsigned c = pad == 1 ? b64_table[s[i + 2]] : 1;
		uint32_t q = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;

		/* '=' only in the last one or two places, and the pad bits zero */
		if (!a || !b || !c || (pad == 2 && (q & 0xFFFF)) || (pad == 1 && (q & 0xFF)))
			goto fail;
		buf[o++] = (uint8_t)(q >> 16);
		if (pad == 1)
			buf[o++] = (uint8_t)(q >> 8);
	}
	*out = buf;
	*out_len = o;
	return 0;
fail:
	free(buf);
	return -1;
}

/* --- UTF-8 -------------------------------------------------------------------------------- */

bool proto_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t more;
		uint8_t lo = 0x80, hi = 0xBF;	/* the allowed range of the 2nd byte */
		uint64_t w;

		/* ASCII, eight bytes at a time: a base64 payload is all ASCII */
		if (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080u))) {
			i += 8;
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2;
			if (c == 0xE0)
				lo = 0xA0;	/* no overlong 3-byte forms */
			else if (c == 0xED)
				hi = 0x9F;	/* no UTF-16 surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3;
			if (c == 0xF0)
				lo = 0x90;	/* no overlong 4-byte forms */
			else if (c == 0xF4)
				hi = 0x8F;	/* nothing above U+10FFFF */
		} else {
			return false;
		}
		if (n - i - 1 < more)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

/* --- reading fields -------------------------------------------------------------------- */

/* The field, or NULL when it is absent or null (an absent optional field). */
static const cJSON *field(const cJSON *obj, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNull(f) ? NULL : f;
}

static int missing(struct proto_error *e, uint8_t type, const char *name)
{
	return err(e, PROTO_E_PARAMS, "%s needs the field \"%s\".", proto_type_name(type),
		   name);
}

static int wrong(struct proto_error *e, uint8_t type, const char *name, const char *what)
{
	return err(e, PROTO_E_PARAMS, "%s: the field \"%s\" must be %s.",
		   proto_type_name(type), name, what);
}

static int get_string(const cJSON *obj, uint8_t type, const char *name, bool required,
		      const char **out, struct proto_error *e)
{
	const cJSON *f = field(obj, name);

	*out = NULL;
	if (!f)
		return required ? missing(e, type, name) : 0;
	if (!cJSON_IsString(f))
		return wrong(e, type, name, "a string");
	*out = f->valuestring;
	return 0;
}

/* A name or path holds no control character (escaped ones get here: \u001b, \n):
 * they would reach logs and terminals as commands, and no file needs them. */
static int no_controls(uint8_t type, const char *name, const char *value,
		       struct proto_error *e)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return err(e, PROTO_E_PARAMS, "%s: the field \"%s\" holds the control "
				   "character 0x%02X, which no name or path may contain.",
				   proto_type_name(type), name, *p);
	return 0;
}

static int get_bool(const cJSON *obj, uint8_t type, const char *name, bool *out,
		    struct proto_error *e)
{
	const cJSON *f = field(obj, name);

	*out = false;
	if (!f)
		return 0;
	if (!cJSON_IsBool(f))
		return wrong(e, type, name, "true or false");
	*out = cJSON_IsTrue(f);
	return 0;
}

/* An integer field within [lo, hi]; *present says whether it was given. */
static int get_int(const cJSON *obj, uint8_t type, const char *name, bool required,
		   double lo, double hi, double *out, bool *present, struct proto_error *e)
{
	const cJSON *f = field(obj, name);
	char what[80];

	*present = f != NULL;
	if (!f)
		return required ? missing(e, type, name) : 0;
	snprintf(what, sizeof what, "an integer from %.0f to %.0f", lo, hi);
	if (!cJSON_IsNumber(f) || f->valuedouble < lo || f->valuedouble > hi ||
	    f->valuedouble != floor(f->valuedouble))
		return wrong(e, type, name, what);
	*out = f->valuedouble;
	return 0;
}

static int get_handle(const cJSON *obj, uint8_t type, const char **out,
		      struct proto_error *e)
{
	return get_string(obj, type, "handle", true, out, e);
}

static int get_size(const cJSON *obj, uint8_t type, uint16_t *rows, uint16_t *cols,
		    struct proto_error *e)
{
	double r, c;
	bool present;

	if (get_int(obj, type, "rows", true, 1, 65535, &r, &present, e) < 0 ||
	    get_int(obj, type, "cols", true, 1, 65535, &c, &present, e) < 0)
		return -1;
	*rows = (uint16_t)r;
	*cols = (uint16_t)c;
	return 0;
}

static int parse_spawn(const cJSON *obj, struct proto_request *r, struct proto_error *e)
{
	const uint8_t t = PROTO_SPAWN;
	const cJSON *f, *item;
	double v;

	if (get_string(obj, t, "command", true, &r->command, e) < 0 ||
	    no_controls(t, "command", r->command, e) < 0)
		return -1;
	if (!r->command[0])
		return err(e, PROTO_E_PARAMS, "spawn: the field \"command\" must not be "
			   "empty.");
	if ((f = field(obj, "args"))) {
		if (!cJSON_IsArray(f))
			return wrong(e, t, "args", "an array of strings");
		cJSON_ArrayForEach(item, f)
			if (!cJSON_IsString(item))
				return wrong(e, t, "args", "an array of strings");
		r->args = f;
	}
	if (get_string(obj, t, "cwd", false, &r->cwd, e) < 0 ||
	    (r->cwd && no_controls(t, "cwd", r->cwd, e) < 0))
		return -1;
	if (r->cwd && !r->cwd[0])
		return err(e, PROTO_E_PARAMS, "spawn: the field \"cwd\" must not be empty.");
	if ((f = field(obj, "env"))) {
		if (!cJSON_IsObject(f))
			return wrong(e, t, "env", "an object of strings");
		cJSON_ArrayForEach(item, f) {
			if (!cJSON_IsString(item))
				return wrong(e, t, "env", "an object of strings");
			if (no_controls(t, "env", item->string, e) < 0)
				return -1;
			if (!item->string[0] || strchr(item->string, '='))
				return err(e, PROTO_E_PARAMS, "spawn: \"%.64s\" is not a valid "
					   "environment variable name.", item->string);
		}
		r->env = f;
	}
	/* -1 is "unchanged" to setresuid(), so the largest id is 2^32 - 2 */
	if (get_int(obj, t, "uid", false, 0, 4294967294.0, &v, &r->has_uid, e) < 0)
		return -1;
	r->uid = r->has_uid ? (uint32_t)v : 0;
	if (get_int(obj, t, "gid", false, 0, 4294967294.0, &v, &r->has_gid, e) < 0)
		return -1;
	r->gid = r->has_gid ? (uint32_t)v : 0;
	if ((f = field(obj, "pty"))) {
		if (!cJSON_IsObject(f))
			return wrong(e, t, "pty", "an object with \"rows\" and \"cols\"");
		if (get_size(f, t, &r->rows, &r->cols, e) < 0)
			return -1;
		r->pty = true;
	}
	if (get_bool(obj, t, "network", &r->network, e) < 0 ||
	    get_bool(obj, t, "raw", &r->raw, e) < 0)
		return -1;
	return 0;
}


/* A path vmd resolves beneath a root: not empty, at most PATH_MAX - 1 bytes, and no
 * component over NAME_MAX; where it leads is vmd's to check. */
static int get_path(const cJSON *obj, uint8_t type, const char *name, const char **out,
		    struct proto_error *e)
{
	const char *p;

	if (get_string(obj, type, name, true, out, e) < 0)
		return -1;
	p = *out;
	if (!p[0])
		return err(e, PROTO_E_PARAMS, "%s: the field \"%s\" must not be empty.",
			   proto_type_name(type), name);
	if (no_controls(type, name, p, e) < 0)
		return -1;
	if (strlen(p) > 4095)
		return err(e, PROTO_E_PARAMS, "%s: the path is %zu bytes long, over the "
			   "limit of 4095.", proto_type_name(type), strlen(p));
	for (size_t n; *p; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n > 255)
			return err(e, PROTO_E_PARAMS, "%s: a name in the path is longer than "
				   "255 bytes.", proto_type_name(type));
	}
	return 0;
}

static int get_data(const cJSON *obj, struct proto_request *r, struct proto_error *e)
{
	const char *data;

	if (get_string(obj, r->type, "data", true, &data, e) < 0)
		return -1;
	if (proto_b64_decode(data, strlen(data), &r->data, &r->data_len) < 0)
		return err(e, PROTO_E_PARAMS, "%s: the field \"data\" is not valid base64.",
			   proto_type_name(r->type));
	return 0;
}

/* session_create's username: [a-z_][a-z0-9_-]{0,31}, as useradd's default rule. */
bool proto_username_valid(const char *u)
{
	size_t n = strlen(u);

	if (n < 1 || n > 32 || !((u[0] >= 'a' && u[0] <= 'z') || u[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') ||
		      u[i] == '_' || u[i] == '-'))
			return false;
	return true;
}

/* A program's name in /usr/local/bin: one whole file name. */
static int check_program_name(const char *name, struct proto_error *e)
{
	size_t n = strlen(name);

	if (!n)
		return err(e, PROTO_E_PARAMS, "binary_install: the field \"name\" must not "
			   "be empty.");
	if (n > 255)
		return err(e, PROTO_E_PARAMS, "binary_install: the name is %zu bytes long, "
			   "over the limit of 255.", n);
	if (strchr(name, '/'))
		return err(e, PROTO_E_PARAMS, "binary_install: the name \"%.64s\" must not "
			   "contain '/'.", name);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return err(e, PROTO_E_PARAMS, "binary_install: \"%s\" is not a file name.",
			   name);
	return 0;
}

/* uid with the range a request type allows; sets has_uid and uid. */
static int get_uid(const cJSON *obj, struct proto_request *r, const char *name,
		   bool required, double lo, double hi, struct proto_error *e)
{
	double v;

	if (get_int(obj, r->type, name, required, lo, hi, &v, &r->has_uid, e) < 0)
		return -1;
	r->uid = r->has_uid ? (uint32_t)v : 0;
	return 0;
}


static int parse_part2(const cJSON *obj, struct proto_request *r, struct proto_error *e)
{
	const uint8_t t = r->type;
	double v;

	switch (t) {
	case PROTO_SESSION_CREATE:
		if (get_uid(obj, r, "uid", true, PROTO_SESSION_UID_MIN, PROTO_SESSION_UID_MAX, e) < 0 ||
		    get_string(obj, t, "username", false, &r->username, e) < 0)
			return -1;
		if (r->username && !proto_username_valid(r->username))
			return err(e, PROTO_E_PARAMS, "session_create: the username \"%.64s\" "
				   "must be 1 to 32 of a-z, 0-9, _ and -, starting with a "
				   "letter or _.", r->username);
		return 0;
	case PROTO_SESSION_DESTROY:
		if (get_uid(obj, r, "uid", true, PROTO_SESSION_UID_MIN, PROTO_SESSION_UID_MAX, e) < 0)
			return -1;
		return get_bool(obj, t, "delete_home", &r->delete_home, e);
	case PROTO_BINARY_INSTALL:
		if (get_string(obj, t, "name", true, &r->name, e) < 0 ||
		    check_program_name(r->name, e) < 0 || no_controls(t, "name", r->name, e) < 0 ||
		    get_data(obj, r, e) < 0)
			return -1;
		r->executable = true;
		if (field(obj, "executable") &&
		    get_bool(obj, t, "executable", &r->executable, e) < 0)
			return -1;
		return 0;
	case PROTO_FS_READ:
		if (get_path(obj, t, "path", &r->path, e) < 0)
			return -1;
		return get_uid(obj, r, "uid", false, 0, 4294967294.0, e);
	case PROTO_LOAD_STATE:
		if (get_uid(obj, r, "session_id", true, PROTO_SESSION_UID_MIN, PROTO_SESSION_UID_MAX,
			    e) < 0)
			return -1;
		return get_path(obj, t, "state_path", &r->path, e);
	case PROTO_FILE_PUT:
		if (get_path(obj, t, "path", &r->path, e) < 0 ||
		    get_uid(obj, r, "uid", false, 0, 4294967294.0, e) < 0 ||
		    get_int(obj, t, "mode", false, 0, 0777, &v, &r->has_mode, e) < 0)
			return -1;
		r->mode = r->has_mode ? (uint32_t)v : 0644;
		return 0;
	case PROTO_FILE_DATA:
		if (get_handle(obj, t, &r->handle, e) < 0)
			return -1;
		return get_data(obj, r, e);
	case PROTO_FILE_END:
		return get_handle(obj, t, &r->handle, e);
	case PROTO_MOUNT:
		if (get_string(obj, t, "tag", true, &r->tag, e) < 0)
			return -1;
		if (!r->tag[0] || strlen(r->tag) > 31)
			return err(e, PROTO_E_PARAMS, "mount: the tag must be 1 to 31 bytes "
				   "long.");
		if (no_controls(t, "tag", r->tag, e) < 0)
			return -1;
		if (get_path(obj, t, "mount_point", &r->mount_point, e) < 0)
			return -1;
		return get_bool(obj, t, "read_only", &r->read_only, e);
	case PROTO_UNMOUNT:
		return get_path(obj, t, "mount_point", &r->mount_point, e);
	default:
		return 0;
	}
}

static int parse_fields(const cJSON *obj, struct proto_request *r, struct proto_error *e)
{
	const char *data;
	double v;
	bool present;

	switch (r->type) {
	case PROTO_SPAWN:
		return parse_spawn(obj, r, e);
	case PROTO_STDIN:
		if (get_handle(obj, r->type, &r->handle, e) < 0 ||
		    get_string(obj, r->type, "data", true, &data, e) < 0)
			return -1;
		if (proto_b64_decode(data, strlen(data), &r->data, &r->data_len) < 0)
			return err(e, PROTO_E_PARAMS,
				   "stdin: the field \"data\" is not valid base64.");
		return 0;
	case PROTO_KILL:
		if (get_handle(obj, r->type, &r->handle, e) < 0 ||
		    get_int(obj, r->type, "signal", false, 1, 64, &v, &present, e) < 0)
			return -1;
		r->signal = present ? (int)v : 15;
		return 0;
	case PROTO_RESIZE:
		if (get_handle(obj, r->type, &r->handle, e) < 0)
			return -1;
		return get_size(obj, r->type, &r->rows, &r->cols, e);
	case PROTO_IS_RUNNING:
	case PROTO_CLOSE_STDIN:
		return get_handle(obj, r->type, &r->handle, e);
	case PROTO_PING:	/* only its optional id */
	case PROTO_RELOAD_IDENTITY:	/* only its id: the content is fw_cfg's */
		return 0;
	case PROTO_AUTH:
		return get_string(obj, r->type, "proof", true, &r->proof, e);
	default:
		return parse_part2(obj, r, e);
	}
}

/* True when a JSON string in the payload has the escape \u0000: cJSON would cut
 * the string there, so a name or path would silently mean something shorter. */
static bool has_nul_escape(const uint8_t *p, size_t len)
{
	bool in_string = false;

	/* without a backslash there is no escape at all (memchr is fast; the walk
	 * below, byte by byte, is what tells an escape from text that looks like one) */
	if (!memchr(p, '\\', len))
		return false;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"') {
			in_string = !in_string;
		} else if (in_string && p[i] == '\\') {
			if (i + 5 < len && p[i + 1] == 'u' && !memcmp(p + i + 2, "0000", 4))
				return true;
			i++;	/* the escaped character, which may be a quote */
		}
	}
	return false;
}

int proto_request_decode(const uint8_t *msg, size_t size, struct proto_request *req,
			 struct proto_error *e)
{
	const struct proto_type_info *info;
	const uint8_t *payload;
	uint32_t len;
	const cJSON *id;

	memset(req, 0, sizeof *req);
	if (proto_frame_split(msg, size, &req->type, &payload, &len, e) < 0)
		return -1;
	req->root = proto_payload_parse(payload, len, e);
	if (!req->root)
		return -1;
	id = field(req->root, "id");
	if (id && !cJSON_IsNumber(id) && !cJSON_IsString(id))
		return err(e, PROTO_E_PARAMS,
			   "the field \"id\" must be a number or a string.");
	req->id = id;
	info = proto_type_info(req->type);
	if (!info)
		return err(e, PROTO_E_TYPE, "unknown message type 0x%02X.", req->type);
	if (info->direction != PROTO_REQUEST)
		return err(e, PROTO_E_TYPE, "message type 0x%02X (%s) is a reply, not a "
			   "request.", req->type, info->name);
	if (!info->supported)
		return err(e, PROTO_E_TYPE, "message type 0x%02X (%s) is not supported "
			   "yet.", req->type, info->name);
	if (!id && req->type != PROTO_PING)
		return missing(e, req->type, "id");
	if (has_nul_escape(payload, len))
		return err(e, PROTO_E_PARAMS, "%s: a string holds a NUL character "
			   "(\\u0000), which no name, path or argument can contain.",
			   info->name);
	return parse_fields(req->root, req, e);
}

void proto_request_free(struct proto_request *req)
{
	cJSON_Delete(req->root);
	free(req->data);
	memset(req, 0, sizeof *req);
}

/* --- replies ------------------------------------------------------------------------------ */

/* More than max values in the payload, counted from outside its strings: every value
 * but the first follows a ',' or opens with '[' or '{'. A tree of cJSON items costs
 * about 40 times the bytes of "0,", so a 16 MiB reply of tiny values would cost vmctl
 * over 600 MiB; no reply of the protocol has more than a dozen. */
static bool too_many_values(const uint8_t *p, size_t len, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"') {
			/* to the closing quote: one not escaped by an odd run of backslashes
			 * (memchr, since a reply is mostly one long base64 string) */
			for (;;) {
				const uint8_t *q = memchr(p + i + 1, '"', len - i - 1);
				size_t k = 0;

				if (!q)
					return false;	/* unterminated: cJSON refuses it */
				i = (size_t)(q - p);
				while (p[i - 1 - k] == '\\')
					k++;
				if (k % 2 == 0)
					break;
			}
		} else if ((p[i] == ',' || p[i] == '[' || p[i] == '{') && ++n > max) {
			return true;
		}
	}
	return false;
}

static int reply_fields(const cJSON *obj, struct proto_reply *r, struct proto_error *e)
{
	const char *data;
	double v;
	bool present;

	switch (r->type) {
	case PROTO_SPAWNED:
		if (get_handle(obj, r->type, &r->handle, e) < 0 ||
		    get_int(obj, r->type, "pid", true, 1, 4194304, &v, &present, e) < 0)
			return -1;
		r->pid = (long)v;
		return 0;
	case PROTO_STDOUT:
	case PROTO_STDERR:
		if (get_handle(obj, r->type, &r->handle, e) < 0 ||
		    get_string(obj, r->type, "data", true, &data, e) < 0)
			return -1;
		if (proto_b64_decode(data, strlen(data), &r->data, &r->data_len) < 0)
			return err(e, PROTO_E_PARAMS, "%s: the field \"data\" is not valid "
				   "base64.", proto_type_name(r->type));
		return 0;
	case PROTO_EXIT:
		if (get_handle(obj, r->type, &r->handle, e) < 0 ||
		    get_int(obj, r->type, "code", true, 0, 255, &v, &present, e) < 0)
			return -1;
		r->code = (int)v;
		if (get_int(obj, r->type, "signal", false, 1, 64, &v, &present, e) < 0)
			return -1;
		r->signal = present ? (int)v : 0;
		return get_string(obj, r->type, "reason", false, &r->reason, e);
	case PROTO_ERROR:
		if (get_int(obj, r->type, "code", true, -2147483648.0, 2147483647.0, &v,
			    &present, e) < 0 ||
		    get_string(obj, r->type, "message", true, &r->message, e) < 0)
			return -1;
		r->code = (int)v;
		return 0;
	case PROTO_RUNNING_STATUS:
		if (get_handle(obj, r->type, &r->handle, e) < 0)
			return -1;
		if (!cJSON_IsBool(field(obj, "running")))
			return field(obj, "running") ? wrong(e, r->type, "running",
							     "true or false")
						     : missing(e, r->type, "running");
		r->running = cJSON_IsTrue(field(obj, "running"));
		if (get_int(obj, r->type, "pid", false, 1, 4194304, &v, &present, e) < 0)
			return -1;
		r->pid = present ? (long)v : -1;
		/* a process that has ended says how, as its exit did */
		if (get_int(obj, r->type, "code", false, 0, 255, &v, &r->has_code, e) < 0)
			return -1;
		r->code = r->has_code ? (int)v : 0;
		if (get_int(obj, r->type, "signal", false, 1, 64, &v, &present, e) < 0)
			return -1;
		r->signal = present ? (int)v : 0;
		return get_string(obj, r->type, "reason", false, &r->reason, e);
	case PROTO_DATA:
		if (get_string(obj, r->type, "data", true, &data, e) < 0)
			return -1;
		if (proto_b64_decode(data, strlen(data), &r->data, &r->data_len) < 0)
			return err(e, PROTO_E_PARAMS, "data: the field \"data\" is not valid "
				   "base64.");
		return 0;
	case PROTO_OK:
		/* the fields some requests' ok carries, all optional */
		if (get_string(obj, r->type, "path", false, &r->path, e) < 0 ||
		    get_string(obj, r->type, "handle", false, &r->handle, e) < 0 ||
		    get_string(obj, r->type, "username", false, &r->username, e) < 0 ||
		    get_string(obj, r->type, "home", false, &r->home, e) < 0 ||
		    get_int(obj, r->type, "size", false, 0, 9007199254740992.0, &v, &present,
			    e) < 0)
			return -1;
		r->size = present ? (long long)v : -1;
		if (get_int(obj, r->type, "uid", false, 0, 4294967294.0, &v, &present, e) < 0)
			return -1;
		r->uid = present ? (long)v : -1;
		return 0;
	default:		/* pong */
		return 0;
	}
}

int proto_reply_decode(const uint8_t *msg, size_t size, struct proto_reply *rep,
		       struct proto_error *e)
{
	const struct proto_type_info *info;
	const uint8_t *payload;
	uint32_t len;
	const cJSON *id;

	memset(rep, 0, sizeof *rep);
	rep->pid = -1;
	rep->size = -1;
	rep->uid = -1;
	if (proto_frame_split(msg, size, &rep->type, &payload, &len, e) < 0)
		return -1;
	if (too_many_values(payload, len, PROTO_REPLY_MAX_VALUES))
		return err(e, PROTO_E_FRAME, "the reply holds more than %u JSON values; no reply "
			   "of the protocol has that many.", PROTO_REPLY_MAX_VALUES);
	rep->root = proto_payload_parse(payload, len, e);
	if (!rep->root)
		return -1;
	/* cJSON would cut the string there: a path /home/a\u0000/x would read /home/a */
	if (has_nul_escape(payload, len))
		return err(e, PROTO_E_PARAMS, "a string in the reply holds a NUL character "
			   "(\\u0000), which no name, path or message can contain.");
	info = proto_type_info(rep->type);
	if (!info || info->direction != PROTO_REPLY)
		return err(e, PROTO_E_TYPE, "message type 0x%02X is not a reply.", rep->type);
	id = cJSON_GetObjectItemCaseSensitive(rep->root, "id");
	if (!id)
		return missing(e, rep->type, "id");
	if (!cJSON_IsNumber(id) && !cJSON_IsString(id) && !cJSON_IsNull(id))
		return wrong(e, rep->type, "id", "a number, a string or null");
	rep->id = id;
	return reply_fields(rep->root, rep, e);
}

void proto_reply_free(struct proto_reply *rep)
{
	cJSON_Delete(rep->root);
	free(rep->data);
	memset(rep, 0, sizeof *rep);
}

/* --- building ------------------------------------------------------------------------------- */

cJSON *proto_object(const cJSON *id)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON *copy = id ? cJSON_Duplicate(id, true) : cJSON_CreateNull();

	if (!obj || !copy || !cJSON_AddItemToObject(obj, "id", copy)) {
		cJSON_Delete(obj);
		cJSON_Delete(copy);
		return NULL;
	}
	return obj;
}

uint8_t *proto_error_frame(const cJSON *id, int code, const char *message,
			   size_t headroom, size_t *frame_len)
{
	cJSON *obj = proto_object(id);
	uint8_t *frame = NULL;

	if (obj && cJSON_AddNumberToObject(obj, "code", code) &&
	    cJSON_AddStringToObject(obj, "message", message))
		frame = proto_frame_json(PROTO_ERROR, obj, headroom, frame_len);
	cJSON_Delete(obj);
	return frame;
}
