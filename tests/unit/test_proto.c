/* test_proto.c - unit tests of the vmd protocol codec (common/proto.c).
 *
 * Every validation path of docs/PROTOCOL.md, with the exact sentence the client
 * will see; base64 against RFC 4648's vectors and by round trip; UTF-8 edge cases;
 * and what the encoders build decodes back to what went in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#include <cmocka.h>

/* --- helpers ---------------------------------------------------------------------- */

/* A frame of type around the text (which may hold any bytes). */
static uint8_t *frame(uint8_t type, const char *json, size_t *len)
{
	uint8_t *f = proto_frame_build(type, json, strlen(json), 0, len);

	assert_non_null(f);
	return f;
}

/* Decode a request expected to fail; check code and message; return the id text
 * ("null" when none could be read). */
static void request_fails(uint8_t type, const char *json, int code, const char *message,
			  const char *id)
{
	struct proto_request req;
	struct proto_error e;
	size_t len;
	uint8_t *f = frame(type, json, &len);
	char *text;

	assert_int_equal(proto_request_decode(f, len, &req, &e), -1);
	assert_string_equal(e.message, message);
	assert_int_equal(e.code, code);
	text = req.id ? cJSON_PrintUnformatted(req.id) : strdup("null");
	assert_string_equal(text, id);
	cJSON_free(text);
	proto_request_free(&req);
	free(f);
}

static void request_ok(uint8_t type, const char *json, struct proto_request *req)
{
	struct proto_error e = { 0, "" };
	size_t len;
	uint8_t *f = frame(type, json, &len);

	if (proto_request_decode(f, len, req, &e) < 0)
		fail_msg("decoding %s: %s", json, e.message);
	free(f);
}

static void frame_fails(const void *msg, size_t size, int code, const char *message)
{
	struct proto_request req;
	struct proto_error e;

	assert_int_equal(proto_request_decode(msg, size, &req, &e), -1);
	assert_int_equal(e.code, code);
	assert_string_equal(e.message, message);
	assert_null(req.id);
	proto_request_free(&req);
}

/* --- the type table ----------------------------------------------------------------- */

static void type_table_names_every_type_of_the_protocol(void **state)
{
	static const struct { uint8_t type; const char *name; bool request, supported; } want[] = {
		{ 0x01, "spawn", true, true }, { 0x02, "stdin", true, true },
		{ 0x03, "kill", true, true }, { 0x04, "resize", true, true },
		{ 0x05, "mount", true, true }, { 0x06, "unmount", true, true },
		{ 0x07, "session_create", true, true }, { 0x08, "binary_install", true, true },
		{ 0x09, "fs_read", true, true }, { 0x0A, "load_state", true, true },
		{ 0x0B, "is_running", true, true }, { 0x0C, "session_destroy", true, true },
		{ 0x0D, "close_stdin", true, true }, { 0x0E, "auth", true, true },
		{ 0x10, "file_put", true, true },
		{ 0x11, "file_data", true, true }, { 0x12, "file_end", true, true },
		{ 0x13, "reload_identity", true, true },
		{ 0xF0, "ping", true, true },
		{ 0x81, "spawned", false, true }, { 0x82, "stdout", false, true },
		{ 0x83, "stderr", false, true }, { 0x84, "exit", false, true },
		{ 0x85, "error", false, true }, { 0x86, "ok", false, true },
		{ 0x87, "data", false, true }, { 0x88, "running_status", false, true }, { 0xF1, "pong", false, true },
	};
	size_t known = 0;

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct proto_type_info *t = proto_type_info(want[i].type);

		assert_non_null(t);
		assert_string_equal(t->name, want[i].name);
		assert_int_equal(t->direction == PROTO_REQUEST, want[i].request);
		assert_int_equal(t->supported, want[i].supported);
	}
	for (int type = 0; type < 256; type++)
		known += proto_type_info((uint8_t)type) != NULL;
	assert_int_equal(known, sizeof want / sizeof want[0]);
	assert_string_equal(proto_type_name(0x42), "unknown");
}

static void an_auth_request_carries_the_clients_proof(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(PROTO_AUTH, "{\"id\":0,\"proof\":\"ab12\"}", &req);
	assert_string_equal(req.proof, "ab12");
	proto_request_free(&req);
	request_fails(PROTO_AUTH, "{\"id\":0}", PROTO_E_PARAMS,
		      "auth needs the field \"proof\".", "0");
	request_fails(PROTO_AUTH, "{\"id\":0,\"proof\":7}", PROTO_E_PARAMS,
		      "auth: the field \"proof\" must be a string.", "0");
}

/* --- framing -------------------------------------------------------------------------- */

static void frames_shorter_than_5_bytes_are_invalid_requests(void **state)
{
	(void)state;
	frame_fails("", 0, -32600,
		    "a frame needs at least 5 bytes (type and length) but this one has 0.");
	frame_fails("\x01\x00\x00\x00", 4, -32600,
		    "a frame needs at least 5 bytes (type and length) but this one has 4.");
}

static void a_length_field_must_equal_the_bytes_that_follow(void **state)
{
	(void)state;
	frame_fails("\xF0\x03\x00\x00\x00{}", 7, -32600,
		    "the frame's length field says 3 bytes but 2 follow.");
	frame_fails("\xF0\x01\x00\x00\x00{}", 7, -32600,
		    "the frame's length field says 1 bytes but 2 follow.");
	frame_fails("\xF0\x00\x01\x00\x00", 5, -32600,
		    "the frame's length field says 256 bytes but 0 follow.");
}

static void a_length_over_16_mib_is_refused_before_anything_else(void **state)
{
	(void)state;
	frame_fails("\xF0\x01\x00\x00\x01{}", 7, -32600,
		    "the frame's payload length 16777217 is over the limit of 16777216 bytes.");
	frame_fails("\xF0\xFF\xFF\xFF\xFF", 5, -32600,
		    "the frame's payload length 4294967295 is over the limit of 16777216 bytes.");
}

static void the_prefix_check_refuses_a_message_as_soon_as_it_cannot_be_valid(void **state)
{
	struct proto_error e;

	(void)state;
	/* fewer than 5 bytes seen: nothing to say yet */
	assert_int_equal(proto_frame_check_prefix((const uint8_t *)"\xF0\xFF", 2, 2, &e), 0);
	assert_int_equal(proto_frame_check_prefix((const uint8_t *)"\xF0\x02\x00\x00\x00",
						  5, 7, &e), 0);
	assert_int_equal(proto_frame_check_prefix((const uint8_t *)"\xF0\x02\x00\x00\x00",
						  5, 8, &e), -1);
	assert_string_equal(e.message, "the frame's length field says 2 bytes but 3 follow.");
	assert_int_equal(proto_frame_check_prefix((const uint8_t *)"\xF0\x00\x00\x00\x02",
						  5, 5, &e), -1);
	assert_string_equal(e.message,
			    "the frame's payload length 33554432 is over the limit of 16777216 "
			    "bytes.");
}

static void a_frame_of_exactly_16_mib_is_accepted(void **state)
{
	size_t size = PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD;
	uint8_t *msg = malloc(size), type;
	const uint8_t *payload;
	uint32_t len;
	struct proto_error e;

	(void)state;
	assert_non_null(msg);
	msg[0] = 0xF0;
	put_le32(msg + 1, PROTO_MAX_PAYLOAD);
	assert_int_equal(proto_frame_split(msg, size, &type, &payload, &len, &e), 0);
	assert_int_equal(type, 0xF0);
	assert_int_equal(len, PROTO_MAX_PAYLOAD);
	assert_ptr_equal(payload, msg + 5);
	free(msg);
}

static void le32_helpers_are_little_endian(void **state)
{
	uint8_t b[4];

	(void)state;
	put_le32(b, 0x12345678);
	assert_memory_equal(b, "\x78\x56\x34\x12", 4);
	assert_int_equal(get_le32(b), 0x12345678);
}

/* --- payloads ------------------------------------------------------------------------------ */

static void payloads_that_are_not_json_get_the_byte_where_parsing_stopped(void **state)
{
	(void)state;
	request_fails(0xF0, "", -32700, "the payload is not valid JSON (at byte 0).", "null");
	request_fails(0xF0, "{\"id\":", -32700, "the payload is not valid JSON (at byte 5).",
		      "null");
	request_fails(0xF0, "{\"id\":1} {}", -32700,
		      "the payload is not valid JSON (at byte 9).", "null");
	request_fails(0xF0, "{\"id\":1}x", -32700,
		      "the payload is not valid JSON (at byte 8).", "null");
}

static void a_payload_may_have_blanks_around_the_object(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0xF0, " \t\r\n{\"id\":1}\n ", &req);
	assert_int_equal(req.id->valuedouble, 1);
	proto_request_free(&req);
}

static void payloads_that_are_not_objects_are_invalid_requests(void **state)
{
	(void)state;
	request_fails(0xF0, "[]", -32600, "the payload is an array, not a JSON object.", "null");
	request_fails(0xF0, "\"x\"", -32600, "the payload is a string, not a JSON object.",
		      "null");
	request_fails(0xF0, "1", -32600, "the payload is a number, not a JSON object.", "null");
	request_fails(0xF0, "true", -32600, "the payload is a boolean, not a JSON object.",
		      "null");
	request_fails(0xF0, "null", -32600, "the payload is null, not a JSON object.", "null");
}

static void payloads_must_be_utf8(void **state)
{
	static const char *bad[] = {
		"{\"a\":\"\x80\"}",		/* a lone continuation byte */
		"{\"a\":\"\xC0\xAF\"}",		/* overlong '/' */
		"{\"a\":\"\xE0\x80\xAF\"}",	/* overlong, 3 bytes */
		"{\"a\":\"\xED\xA0\x80\"}",	/* a UTF-16 surrogate */
		"{\"a\":\"\xF4\x90\x80\x80\"}",	/* above U+10FFFF */
		"{\"a\":\"\xF5\x80\x80\x80\"}",
		"{\"a\":\"\xE2\x82\"}",		/* truncated */
		"{\"a\":\"\xFF\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		request_fails(0xF0, bad[i], -32700, "the payload is not valid UTF-8.", "null");
	assert_true(proto_utf8_valid((const uint8_t *)"\xC2\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 "
						      "\xF4\x8F\xBF\xBF \xEF\xBF\xBF", 20));
	assert_false(proto_utf8_valid((const uint8_t *)"\xF0\x9F\x98", 3));
	/* past and across the eight-byte ASCII steps, at every offset */
	for (size_t at = 0; at < 24; at++) {
		uint8_t text[24];

		memset(text, 'A', sizeof text);
		text[at] = 0xFF;
		assert_false(proto_utf8_valid(text, sizeof text));
		if (at < 23) {
			text[at] = 0xC2;
			text[at + 1] = 0xA9;
			assert_true(proto_utf8_valid(text, sizeof text));
			assert_false(proto_utf8_valid(text, at + 1));	/* cut after the lead */
		}
	}
}

/* --- types ---------------------------------------------------------------------------------- */

static void unknown_types_get_32601_with_the_id(void **state)
{
	(void)state;
	request_fails(0x42, "{\"id\":3}", -32601, "unknown message type 0x42.", "3");
	request_fails(0x00, "{}", -32601, "unknown message type 0x00.", "null");
	request_fails(0x14, "{\"id\":\"x\"}", -32601, "unknown message type 0x14.", "\"x\"");
}

/* reload_identity carries nothing but its id: what vmd applies comes from fw_cfg, which
 * only the host writes. */
static void reload_identity_takes_only_an_id(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x13, "{\"id\":9,\"secret\":\"ignored\"}", &req);
	assert_int_equal(req.type, PROTO_RELOAD_IDENTITY);
	proto_request_free(&req);
	request_fails(0x13, "{}", -32602, "reload_identity needs the field \"id\".", "null");
}

static void reply_types_sent_as_requests_get_32601(void **state)
{
	(void)state;
	request_fails(0x81, "{\"id\":1}", -32601,
		      "message type 0x81 (spawned) is a reply, not a request.", "1");
	request_fails(0xF1, "{}", -32601, "message type 0xF1 (pong) is a reply, not a request.",
		      "null");
}

static void session_create_reads_uid_and_username(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x07, "{\"id\":1,\"uid\":1001,\"username\":\"ann_b-2\"}", &req);
	assert_true(req.has_uid);
	assert_int_equal(req.uid, 1001);
	assert_string_equal(req.username, "ann_b-2");
	proto_request_free(&req);
	request_ok(0x07, "{\"id\":1,\"uid\":60000}", &req);
	assert_null(req.username);
	proto_request_free(&req);
	request_fails(0x07, "{\"id\":1}", -32602, "session_create needs the field \"uid\".", "1");
	request_fails(0x07, "{\"id\":1,\"uid\":999}", -32602, "session_create: the field "
		      "\"uid\" must be an integer from 1000 to 60000.", "1");
	request_fails(0x07, "{\"id\":1,\"uid\":60001}", -32602, "session_create: the field "
		      "\"uid\" must be an integer from 1000 to 60000.", "1");
	static const char *bad[] = { "", "Ann", "1ann", "a b", "a/b", "ann.x",
				     "a23456789012345678901234567890123" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char json[128], msg[256];

		snprintf(json, sizeof json, "{\"id\":1,\"uid\":1001,\"username\":\"%s\"}", bad[i]);
		snprintf(msg, sizeof msg, "session_create: the username \"%s\" must be 1 to 32 "
			 "of a-z, 0-9, _ and -, starting with a letter or _.", bad[i]);
		request_fails(0x07, json, -32602, msg, "1");
	}
}

static void session_destroy_reads_uid_and_delete_home(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x0C, "{\"id\":1,\"uid\":1001,\"delete_home\":true}", &req);
	assert_int_equal(req.uid, 1001);
	assert_true(req.delete_home);
	proto_request_free(&req);
	request_ok(0x0C, "{\"id\":1,\"uid\":1001}", &req);
	assert_false(req.delete_home);
	proto_request_free(&req);
	request_fails(0x0C, "{\"id\":1,\"uid\":1001,\"delete_home\":1}", -32602,
		      "session_destroy: the field \"delete_home\" must be true or false.", "1");
}

static void binary_install_validates_the_name(void **state)
{
	struct proto_request req;
	char json[600], name[300];

	(void)state;
	request_ok(0x08, "{\"id\":1,\"name\":\"hello\",\"data\":\"aGk=\"}", &req);
	assert_string_equal(req.name, "hello");
	assert_true(req.executable);
	assert_int_equal(req.data_len, 2);
	assert_memory_equal(req.data, "hi", 2);
	proto_request_free(&req);
	request_ok(0x08, "{\"id\":1,\"name\":\"a.txt\",\"data\":\"\",\"executable\":false}", &req);
	assert_false(req.executable);
	assert_int_equal(req.data_len, 0);
	proto_request_free(&req);
	request_fails(0x08, "{\"id\":1,\"name\":\"a/b\",\"data\":\"\"}", -32602,
		      "binary_install: the name \"a/b\" must not contain '/'.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\"..\",\"data\":\"\"}", -32602,
		      "binary_install: \"..\" is not a file name.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\".\",\"data\":\"\"}", -32602,
		      "binary_install: \".\" is not a file name.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\"\",\"data\":\"\"}", -32602,
		      "binary_install: the field \"name\" must not be empty.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\"ls\\u0000x\",\"data\":\"\"}", -32602,
		      "binary_install: a string holds a NUL character (\\u0000), which no "
		      "name, path or argument can contain.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\"x\",\"data\":\"!!\"}", -32602,
		      "binary_install: the field \"data\" is not valid base64.", "1");
	request_fails(0x08, "{\"id\":1,\"name\":\"x\"}", -32602,
		      "binary_install needs the field \"data\".", "1");
	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(json, sizeof json, "{\"id\":1,\"name\":\"%s\",\"data\":\"\"}", name);
	request_fails(0x08, json, -32602,
		      "binary_install: the name is 256 bytes long, over the limit of 255.", "1");
	name[255] = '\0';
	snprintf(json, sizeof json, "{\"id\":1,\"name\":\"%s\",\"data\":\"\"}", name);
	request_ok(0x08, json, &req);
	proto_request_free(&req);
}

static void an_escaped_backslash_before_u0000_is_not_a_nul(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x08, "{\"id\":1,\"name\":\"a\\\\u0000\",\"data\":\"\"}", &req);
	assert_string_equal(req.name, "a\\u0000");
	proto_request_free(&req);
	request_fails(0x01, "{\"id\":2,\"command\":\"x\",\"args\":[\"\\u0000\"]}", -32602,
		      "spawn: a string holds a NUL character (\\u0000), which no name, path "
		      "or argument can contain.", "2");
}

static void file_requests_check_paths_and_modes(void **state)
{
	struct proto_request req;
	char json[5000], path[4200];

	(void)state;
	request_ok(0x10, "{\"id\":1,\"path\":\"/home/sandbox/a\",\"uid\":1001}", &req);
	assert_string_equal(req.path, "/home/sandbox/a");
	assert_int_equal(req.mode, 0644);
	assert_false(req.has_mode);
	assert_int_equal(req.uid, 1001);
	proto_request_free(&req);
	request_ok(0x10, "{\"id\":1,\"path\":\"a\",\"mode\":448}", &req);
	assert_int_equal(req.mode, 0700);
	assert_false(req.has_uid);
	proto_request_free(&req);
	request_fails(0x10, "{\"id\":1,\"path\":\"a\",\"mode\":2048}", -32602,
		      "file_put: the field \"mode\" must be an integer from 0 to 511.", "1");
	request_fails(0x10, "{\"id\":1,\"path\":\"\"}", -32602,
		      "file_put: the field \"path\" must not be empty.", "1");
	request_fails(0x09, "{\"id\":1}", -32602, "fs_read needs the field \"path\".", "1");
	memset(path, 'a', 4096);
	path[4096] = '\0';
	for (int i = 100; i < 4096; i += 100)
		path[i] = '/';
	snprintf(json, sizeof json, "{\"id\":1,\"path\":\"%s\"}", path);
	request_fails(0x09, json, -32602,
		      "fs_read: the path is 4096 bytes long, over the limit of 4095.", "1");
	memset(path, 'a', 300);
	path[0] = '/';
	path[300] = '\0';
	snprintf(json, sizeof json, "{\"id\":1,\"path\":\"%s\"}", path);
	request_fails(0x09, json, -32602, "fs_read: a name in the path is longer than 255 "
		      "bytes.", "1");
	path[200] = '/';
	snprintf(json, sizeof json, "{\"id\":1,\"path\":\"%s\"}", path);
	request_ok(0x09, json, &req);
	proto_request_free(&req);
	request_ok(0x11, "{\"id\":1,\"handle\":\"h\",\"data\":\"AAE=\"}", &req);
	assert_int_equal(req.data_len, 2);
	proto_request_free(&req);
	request_fails(0x11, "{\"id\":1,\"handle\":\"h\"}", -32602,
		      "file_data needs the field \"data\".", "1");
	request_fails(0x12, "{\"id\":1}", -32602, "file_end needs the field \"handle\".", "1");
	request_ok(0x0A, "{\"id\":1,\"session_id\":1001,\"state_path\":\"s.json\"}", &req);
	assert_int_equal(req.uid, 1001);
	assert_string_equal(req.path, "s.json");
	proto_request_free(&req);
	request_fails(0x0A, "{\"id\":1,\"state_path\":\"s\"}", -32602,
		      "load_state needs the field \"session_id\".", "1");
}

static void mount_and_unmount_read_their_fields(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x05, "{\"id\":1,\"tag\":\"src\",\"mount_point\":\"/mnt/src\","
		   "\"read_only\":true}", &req);
	assert_string_equal(req.tag, "src");
	assert_string_equal(req.mount_point, "/mnt/src");
	assert_true(req.read_only);
	proto_request_free(&req);
	request_fails(0x05, "{\"id\":1,\"tag\":\"\",\"mount_point\":\"/mnt/a\"}", -32602,
		      "mount: the tag must be 1 to 31 bytes long.", "1");
	request_fails(0x05, "{\"id\":1,\"tag\":\"a\"}", -32602,
		      "mount needs the field \"mount_point\".", "1");
	request_fails(0x06, "{\"id\":1}", -32602, "unmount needs the field \"mount_point\".",
		      "1");
}

static void part_2_replies_decode(void **state)
{
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f;

	(void)state;
	f = frame(0x87, "{\"id\":4,\"data\":\"aGk=\"}", &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_int_equal(r.data_len, 2);
	proto_reply_free(&r);
	free(f);
	f = frame(0x86, "{\"id\":4,\"path\":\"/usr/local/bin/x\",\"size\":12,\"uid\":1001,"
		  "\"username\":\"u\",\"home\":\"/home/u\",\"handle\":\"h\"}", &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_string_equal(r.path, "/usr/local/bin/x");
	assert_int_equal(r.size, 12);
	assert_int_equal(r.uid, 1001);
	assert_string_equal(r.home, "/home/u");
	assert_string_equal(r.handle, "h");
	proto_reply_free(&r);
	free(f);
	f = frame(0x88, "{\"id\":4,\"handle\":\"h\",\"running\":false,\"code\":137,"
		  "\"signal\":9}", &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_true(r.has_code);
	assert_int_equal(r.code, 137);
	assert_int_equal(r.signal, 9);
	proto_reply_free(&r);
	free(f);
	f = proto_frame_data(0x87, "5", NULL, "hi", 2, 0, &len);
	assert_int_equal(len - 5, strlen("{\"id\":5,\"data\":\"aGk=\"}"));
	assert_memory_equal(f + 5, "{\"id\":5,\"data\":\"aGk=\"}", len - 5);
	free(f);
}

/* --- ids ------------------------------------------------------------------------------------- */

static void ids_are_numbers_or_strings(void **state)
{
	struct proto_request req;

	(void)state;
	request_fails(0xF0, "{\"id\":true}", -32602,
		      "the field \"id\" must be a number or a string.", "null");
	request_fails(0xF0, "{\"id\":{}}", -32602,
		      "the field \"id\" must be a number or a string.", "null");
	request_ok(0xF0, "{\"id\":\"abc\"}", &req);
	assert_string_equal(req.id->valuestring, "abc");
	proto_request_free(&req);
	request_ok(0xF0, "{\"id\":-2.5}", &req);
	assert_true(req.id->valuedouble == -2.5);
	proto_request_free(&req);
}

static void every_request_but_ping_needs_an_id(void **state)
{
	struct proto_request req;

	(void)state;
	request_fails(0x01, "{\"command\":\"true\"}", -32602, "spawn needs the field \"id\".",
		      "null");
	request_fails(0x0B, "{\"handle\":\"h\"}", -32602, "is_running needs the field \"id\".",
		      "null");
	request_fails(0x02, "{\"id\":null,\"handle\":\"h\",\"data\":\"\"}", -32602,
		      "stdin needs the field \"id\".", "null");
	request_ok(0xF0, "{}", &req);
	assert_null(req.id);
	proto_request_free(&req);
	request_ok(0xF0, "{\"id\":null}", &req);
	assert_null(req.id);
	proto_request_free(&req);
}

/* --- spawn ------------------------------------------------------------------------------------ */

static void spawn_reads_every_field(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x01, "{\"id\":1,\"command\":\"ls\",\"args\":[\"-l\",\"/\"],\"cwd\":\"/tmp\","
		   "\"env\":{\"A\":\"1\",\"B\":\"\"},\"uid\":1000,\"gid\":0,"
		   "\"pty\":{\"rows\":24,\"cols\":80},\"network\":true,\"raw\":false,"
		   "\"future\":[1]}", &req);
	assert_int_equal(req.type, PROTO_SPAWN);
	assert_string_equal(req.command, "ls");
	assert_int_equal(cJSON_GetArraySize(req.args), 2);
	assert_string_equal(req.cwd, "/tmp");
	assert_int_equal(cJSON_GetArraySize(req.env), 2);
	assert_true(req.has_uid);
	assert_int_equal(req.uid, 1000);
	assert_true(req.has_gid);
	assert_int_equal(req.gid, 0);
	assert_true(req.pty);
	assert_int_equal(req.rows, 24);
	assert_int_equal(req.cols, 80);
	assert_true(req.network);
	assert_false(req.raw);
	proto_request_free(&req);
}

static void spawn_defaults_when_optional_fields_are_absent_or_null(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x01, "{\"id\":1,\"command\":\"true\",\"args\":null,\"cwd\":null,"
		   "\"env\":null,\"uid\":null,\"pty\":null,\"network\":null}", &req);
	assert_null(req.args);
	assert_null(req.cwd);
	assert_null(req.env);
	assert_false(req.has_uid);
	assert_false(req.has_gid);
	assert_false(req.pty);
	assert_false(req.network);
	assert_false(req.raw);
	proto_request_free(&req);
}

static void spawn_refuses_bad_fields_with_their_name(void **state)
{
	static const struct { const char *json, *message; } t[] = {
		{ "{\"id\":1}", "spawn needs the field \"command\"." },
		{ "{\"id\":1,\"command\":5}", "spawn: the field \"command\" must be a string." },
		{ "{\"id\":1,\"command\":\"\"}",
		  "spawn: the field \"command\" must not be empty." },
		{ "{\"id\":1,\"command\":\"x\",\"args\":\"-l\"}",
		  "spawn: the field \"args\" must be an array of strings." },
		{ "{\"id\":1,\"command\":\"x\",\"args\":[\"a\",1]}",
		  "spawn: the field \"args\" must be an array of strings." },
		{ "{\"id\":1,\"command\":\"x\",\"cwd\":7}",
		  "spawn: the field \"cwd\" must be a string." },
		{ "{\"id\":1,\"command\":\"x\",\"cwd\":\"\"}",
		  "spawn: the field \"cwd\" must not be empty." },
		{ "{\"id\":1,\"command\":\"x\",\"env\":[\"A=1\"]}",
		  "spawn: the field \"env\" must be an object of strings." },
		{ "{\"id\":1,\"command\":\"x\",\"env\":{\"A\":1}}",
		  "spawn: the field \"env\" must be an object of strings." },
		{ "{\"id\":1,\"command\":\"x\",\"env\":{\"A=B\":\"1\"}}",
		  "spawn: \"A=B\" is not a valid environment variable name." },
		{ "{\"id\":1,\"command\":\"x\",\"env\":{\"\":\"1\"}}",
		  "spawn: \"\" is not a valid environment variable name." },
		{ "{\"id\":1,\"command\":\"x\",\"uid\":-1}",
		  "spawn: the field \"uid\" must be an integer from 0 to 4294967294." },
		{ "{\"id\":1,\"command\":\"x\",\"uid\":4294967295}",
		  "spawn: the field \"uid\" must be an integer from 0 to 4294967294." },
		{ "{\"id\":1,\"command\":\"x\",\"uid\":1.5}",
		  "spawn: the field \"uid\" must be an integer from 0 to 4294967294." },
		{ "{\"id\":1,\"command\":\"x\",\"uid\":\"0\"}",
		  "spawn: the field \"uid\" must be an integer from 0 to 4294967294." },
		{ "{\"id\":1,\"command\":\"x\",\"gid\":true}",
		  "spawn: the field \"gid\" must be an integer from 0 to 4294967294." },
		{ "{\"id\":1,\"command\":\"x\",\"pty\":true}",
		  "spawn: the field \"pty\" must be an object with \"rows\" and \"cols\"." },
		{ "{\"id\":1,\"command\":\"x\",\"pty\":{\"rows\":24}}",
		  "spawn needs the field \"cols\"." },
		{ "{\"id\":1,\"command\":\"x\",\"pty\":{\"rows\":0,\"cols\":80}}",
		  "spawn: the field \"rows\" must be an integer from 1 to 65535." },
		{ "{\"id\":1,\"command\":\"x\",\"network\":1}",
		  "spawn: the field \"network\" must be true or false." },
		{ "{\"id\":1,\"command\":\"x\",\"raw\":\"yes\"}",
		  "spawn: the field \"raw\" must be true or false." },
	};

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		request_fails(0x01, t[i].json, -32602, t[i].message, "1");
}

/* --- the other requests --------------------------------------------------------------------- */

static void stdin_decodes_its_data(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x02, "{\"id\":2,\"handle\":\"h\",\"data\":\"AP8K\"}", &req);
	assert_string_equal(req.handle, "h");
	assert_int_equal(req.data_len, 3);
	assert_memory_equal(req.data, "\x00\xFF\n", 3);
	proto_request_free(&req);
	request_ok(0x02, "{\"id\":2,\"handle\":\"h\",\"data\":\"\"}", &req);
	assert_int_equal(req.data_len, 0);
	proto_request_free(&req);
	request_fails(0x02, "{\"id\":2,\"handle\":\"h\"}", -32602,
		      "stdin needs the field \"data\".", "2");
	request_fails(0x02, "{\"id\":2,\"handle\":\"h\",\"data\":\"AP8\"}", -32602,
		      "stdin: the field \"data\" is not valid base64.", "2");
	request_fails(0x02, "{\"id\":2,\"data\":\"\"}", -32602,
		      "stdin needs the field \"handle\".", "2");
}

static void kill_defaults_to_signal_15(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x03, "{\"id\":3,\"handle\":\"h\"}", &req);
	assert_int_equal(req.signal, 15);
	proto_request_free(&req);
	request_ok(0x03, "{\"id\":3,\"handle\":\"h\",\"signal\":9}", &req);
	assert_int_equal(req.signal, 9);
	proto_request_free(&req);
	request_fails(0x03, "{\"id\":3,\"handle\":\"h\",\"signal\":65}", -32602,
		      "kill: the field \"signal\" must be an integer from 1 to 64.", "3");
	request_fails(0x03, "{\"id\":3,\"handle\":\"h\",\"signal\":\"KILL\"}", -32602,
		      "kill: the field \"signal\" must be an integer from 1 to 64.", "3");
}

static void resize_needs_rows_and_cols(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x04, "{\"id\":4,\"handle\":\"h\",\"rows\":50,\"cols\":65535}", &req);
	assert_int_equal(req.rows, 50);
	assert_int_equal(req.cols, 65535);
	proto_request_free(&req);
	request_fails(0x04, "{\"id\":4,\"handle\":\"h\",\"cols\":1}", -32602,
		      "resize needs the field \"rows\".", "4");
	request_fails(0x04, "{\"id\":4,\"handle\":\"h\",\"rows\":1,\"cols\":65536}", -32602,
		      "resize: the field \"cols\" must be an integer from 1 to 65535.", "4");
}

static void handle_requests_need_a_string_handle(void **state)
{
	struct proto_request req;

	(void)state;
	request_ok(0x0B, "{\"id\":5,\"handle\":\"abc\"}", &req);
	assert_string_equal(req.handle, "abc");
	proto_request_free(&req);
	request_ok(0x0D, "{\"id\":6,\"handle\":\"abc\"}", &req);
	assert_int_equal(req.type, PROTO_CLOSE_STDIN);
	proto_request_free(&req);
	request_fails(0x0B, "{\"id\":5,\"handle\":1}", -32602,
		      "is_running: the field \"handle\" must be a string.", "5");
	request_fails(0x0D, "{\"id\":6}", -32602, "close_stdin needs the field \"handle\".", "6");
}

/* --- base64 --------------------------------------------------------------------------------- */

static void base64_matches_rfc_4648_vectors(void **state)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
				       "Zm9vYmFy" };

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		char out[16];
		uint8_t *back;
		size_t n = proto_b64_encode(plain[i], strlen(plain[i]), out), len;

		assert_int_equal(n, proto_b64_len(strlen(plain[i])));
		out[n] = '\0';
		assert_string_equal(out, coded[i]);
		assert_int_equal(proto_b64_decode(coded[i], strlen(coded[i]), &back, &len), 0);
		assert_non_null(back);
		assert_int_equal(len, strlen(plain[i]));
		assert_memory_equal(back, plain[i], len);
		free(back);
	}
}

static void base64_round_trips_every_byte_and_length(void **state)
{
	uint8_t data[300], *back;
	char coded[400];
	size_t len;

	(void)state;
	for (int i = 0; i < 300; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	for (size_t n = 0; n <= 300; n++) {
		size_t c = proto_b64_encode(data, n, coded);

		assert_int_equal(proto_b64_decode(coded, c, &back, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(back, data, n);
		free(back);
	}
}

static void base64_refuses_anything_but_canonical_padded_text(void **state)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm-v",
		"Zm_v", "Zh==", "Zm9=", "Z=g=",
		/* a bad character at each place of a full quantum, one of several */
		"-m9vZm9v", "Z*9vZm9v", "Zm9\xC3Zm9v", "Zm9vZm9=Zm9v", "Zm9vZm9v\xFFm9v",
	};
	uint8_t *out = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (proto_b64_decode(bad[i], strlen(bad[i]), &out, &len) == 0)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

/* --- building and replies --------------------------------------------------------------- */

static void data_frames_decode_back_to_the_same_bytes(void **state)
{
	uint8_t data[1000];
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f;

	(void)state;
	for (int i = 0; i < 1000; i++)
		data[i] = (uint8_t)(255 - i);
	f = proto_frame_data(PROTO_STDERR, "\"job\"", "0123456789abcdef0123456789abcdef",
			     data, sizeof data, 16, &len);
	assert_non_null(f);
	assert_int_equal(proto_reply_decode(f + 16, len, &r, &e), 0);
	assert_int_equal(r.type, PROTO_STDERR);
	assert_string_equal(r.id->valuestring, "job");
	assert_string_equal(r.handle, "0123456789abcdef0123456789abcdef");
	assert_int_equal(r.data_len, sizeof data);
	assert_memory_equal(r.data, data, sizeof data);
	proto_reply_free(&r);
	free(f);

	f = proto_frame_data(PROTO_STDOUT, "7", "h", "", 0, 0, &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_int_equal(r.data_len, 0);
	assert_int_equal(r.id->valuedouble, 7);
	proto_reply_free(&r);
	free(f);
}

static void error_frames_carry_the_id_code_and_message(void **state)
{
	cJSON *id = cJSON_CreateString("q\"1");
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f = proto_error_frame(id, -32602, "a \"quoted\" sentence.", 0, &len);

	(void)state;
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_int_equal(r.type, PROTO_ERROR);
	assert_string_equal(r.id->valuestring, "q\"1");
	assert_int_equal(r.code, -32602);
	assert_string_equal(r.message, "a \"quoted\" sentence.");
	proto_reply_free(&r);
	free(f);
	f = proto_error_frame(NULL, -32600, "x.", 0, &len);
	assert_memory_equal(f + 5, "{\"id\":null,\"code\":-32600,\"message\":\"x.\"}", len - 5);
	free(f);
	cJSON_Delete(id);
}

static void replies_are_checked_like_requests(void **state)
{
	static const struct { uint8_t type; const char *json; int ok; const char *message; } t[] = {
		{ 0x81, "{\"id\":1,\"pid\":42,\"handle\":\"h\"}", 1, "" },
		{ 0x81, "{\"id\":1,\"handle\":\"h\"}", 0, "spawned needs the field \"pid\"." },
		{ 0x84, "{\"id\":1,\"handle\":\"h\",\"code\":137,\"signal\":9}", 1, "" },
		{ 0x84, "{\"id\":1,\"handle\":\"h\"}", 0, "exit needs the field \"code\"." },
		{ 0x85, "{\"id\":null,\"code\":-32600,\"message\":\"m\"}", 1, "" },
		{ 0x86, "{\"id\":1}", 1, "" },
		{ 0x86, "{}", 0, "ok needs the field \"id\"." },
		{ 0x88, "{\"id\":1,\"handle\":\"h\",\"running\":true,\"pid\":3}", 1, "" },
		{ 0x88, "{\"id\":1,\"handle\":\"h\",\"running\":1}", 0,
		  "running_status: the field \"running\" must be true or false." },
		{ 0xF1, "{\"id\":null}", 1, "" },
		{ 0x01, "{\"id\":1}", 0, "message type 0x01 is not a reply." },
	};

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct proto_reply r;
		struct proto_error e;
		size_t len;
		uint8_t *f = frame(t[i].type, t[i].json, &len);
		int got = proto_reply_decode(f, len, &r, &e);

		if (t[i].ok) {
			if (got < 0)
				fail_msg("%s: %s", t[i].json, e.message);
		} else {
			assert_int_equal(got, -1);
			assert_string_equal(e.message, t[i].message);
		}
		proto_reply_free(&r);
		free(f);
	}
}

static void an_exit_reply_reads_code_and_signal(void **state)
{
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f = frame(0x84, "{\"id\":\"a\",\"handle\":\"h\",\"code\":143,\"signal\":15}",
			   &len);

	(void)state;
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_int_equal(r.code, 143);
	assert_int_equal(r.signal, 15);
	proto_reply_free(&r);
	free(f);
	f = frame(0x88, "{\"id\":\"a\",\"handle\":\"h\",\"running\":false}", &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_false(r.running);
	assert_int_equal(r.pid, -1);
	proto_reply_free(&r);
	free(f);
}

/* A reply of n tiny values in an array, with text (commas, brackets, escaped quotes)
 * in its message that must not count. */
static uint8_t *values_reply(size_t n, size_t *len)
{
	static const char head[] = "{\"id\":1,\"code\":1,\"message\":\"a, [b], {c} \\\", d\","
				   "\"v\":[";
	size_t cap = sizeof head + 2 * n + 4, at = sizeof head - 1;
	char *json = malloc(cap);
	uint8_t *f;

	memcpy(json, head, at);
	for (size_t i = 0; i < n; i++) {
		json[at++] = '0';
		json[at++] = ',';
	}
	at -= n ? 1 : 0;
	json[at++] = ']';
	json[at++] = '}';
	f = proto_frame_build(PROTO_ERROR, json, at, 0, len);
	free(json);
	return f;
}

static void a_reply_of_too_many_values_is_refused_before_parsing(void **state)
{
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f;

	(void)state;
	/* the object's '{', its members' 3 commas, the array's '[' and its n - 1 commas:
	 * n + 4 counted, 1024 allowed */
	f = values_reply(PROTO_REPLY_MAX_VALUES - 4, &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_string_equal(r.message, "a, [b], {c} \", d");
	proto_reply_free(&r);
	free(f);
	f = values_reply(PROTO_REPLY_MAX_VALUES - 3, &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), -1);
	assert_int_equal(e.code, PROTO_E_FRAME);
	assert_string_equal(e.message, "the reply holds more than 1024 JSON values; no reply of "
			    "the protocol has that many.");
	proto_reply_free(&r);
	free(f);
}

static void a_reply_string_with_a_nul_is_refused(void **state)
{
	static const char json[] = "{\"id\":1,\"home\":\"/home/a\\u0000/../../etc\"}";
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f = proto_frame_build(PROTO_OK, json, sizeof json - 1, 0, &len);

	(void)state;
	assert_int_equal(proto_reply_decode(f, len, &r, &e), -1);
	assert_int_equal(e.code, PROTO_E_PARAMS);
	assert_string_equal(e.message, "a string in the reply holds a NUL character (\\u0000), "
			    "which no name, path or message can contain.");
	proto_reply_free(&r);
	free(f);
}

/* A request of exactly len bytes (NULs included) that must fail with message. */
static void raw_request_fails(uint8_t type, const char *json, size_t n, int code,
			      const char *message)
{
	struct proto_request req;
	struct proto_error e;
	size_t len;
	uint8_t *f = proto_frame_build(type, json, n, 0, &len);

	assert_non_null(f);
	assert_int_equal(proto_request_decode(f, len, &req, &e), -1);
	assert_string_equal(e.message, message);
	assert_int_equal(e.code, code);
	assert_null(req.id);
	proto_request_free(&req);
	free(f);
}

static void a_raw_control_byte_in_a_string_is_not_json(void **state)
{
	static const char nul[] = "{\"id\":1,\"path\":\"notes.txt\0/../..\"}";
	static const char esc[] = "{\"id\":1,\"command\":\"a\x1b\"}";
	static const char lead[] = "\0{\"id\":1}";
	/* a control byte after 8 clean bytes, past the word-at-a-time scan */
	static const char late[] = "{\"id\":\"0123456789abcdef\x01\"}";
	struct proto_request req;

	(void)state;
	raw_request_fails(0x10, nul, sizeof nul - 1, -32700, "the payload has the raw "
			  "control byte 0x00 in a string (at byte 25); JSON allows control "
			  "characters only escaped.");
	raw_request_fails(0x01, esc, sizeof esc - 1, -32700, "the payload has the raw "
			  "control byte 0x1B in a string (at byte 20); JSON allows control "
			  "characters only escaped.");
	raw_request_fails(0xF0, lead, sizeof lead - 1, -32700,
			  "the payload is not valid JSON (at byte 0).");
	raw_request_fails(0xF0, late, sizeof late - 1, -32700, "the payload has the raw "
			  "control byte 0x01 in a string (at byte 23); JSON allows control "
			  "characters only escaped.");
	/* blanks between tokens are fine, also right after a string that ends in an
	 * escaped quote (which did not end it) */
	request_ok(0xF0, "{\n\t\"id\" :\r\n\"a\\\"\"\t}", &req);
	proto_request_free(&req);
}

static void names_and_paths_refuse_escaped_control_characters(void **state)
{
	struct proto_request req;

	(void)state;
	request_fails(0x09, "{\"id\":1,\"path\":\"a\\u001bb\"}", -32602, "fs_read: the "
		      "field \"path\" holds the control character 0x1B, which no name or path "
		      "may contain.", "1");
	request_fails(0x05, "{\"id\":1,\"tag\":\"t\",\"mount_point\":\"/mnt/\\u007f\"}",
		      -32602, "mount: the field \"mount_point\" holds the control character "
		      "0x7F, which no name or path may contain.", "1");
	request_fails(0x01, "{\"id\":1,\"command\":\"true\",\"cwd\":\"\\n\"}", -32602,
		      "spawn: the field \"cwd\" holds the control character 0x0A, which no "
		      "name or path may contain.", "1");
	request_ok(0x01, "{\"id\":1,\"command\":\"echo\",\"args\":[\"a\\nb\\u001b\"],"
		   "\"env\":{\"V\":\"\\t\"}}", &req);
	proto_request_free(&req);
}

static void an_exit_reply_reads_its_reason(void **state)
{
	struct proto_reply r;
	struct proto_error e;
	size_t len;
	uint8_t *f = frame(0x84, "{\"id\":1,\"handle\":\"h\",\"code\":137,\"signal\":9,"
			   "\"reason\":\"oom\"}", &len);

	(void)state;
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_string_equal(r.reason, "oom");
	proto_reply_free(&r);
	free(f);
	f = frame(0x84, "{\"id\":1,\"handle\":\"h\",\"code\":0}", &len);
	assert_int_equal(proto_reply_decode(f, len, &r, &e), 0);
	assert_null(r.reason);
	proto_reply_free(&r);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(type_table_names_every_type_of_the_protocol),
		cmocka_unit_test(an_auth_request_carries_the_clients_proof),
		cmocka_unit_test(frames_shorter_than_5_bytes_are_invalid_requests),
		cmocka_unit_test(a_length_field_must_equal_the_bytes_that_follow),
		cmocka_unit_test(a_length_over_16_mib_is_refused_before_anything_else),
		cmocka_unit_test(the_prefix_check_refuses_a_message_as_soon_as_it_cannot_be_valid),
		cmocka_unit_test(a_frame_of_exactly_16_mib_is_accepted),
		cmocka_unit_test(le32_helpers_are_little_endian),
		cmocka_unit_test(payloads_that_are_not_json_get_the_byte_where_parsing_stopped),
		cmocka_unit_test(a_payload_may_have_blanks_around_the_object),
		cmocka_unit_test(payloads_that_are_not_objects_are_invalid_requests),
		cmocka_unit_test(payloads_must_be_utf8),
		cmocka_unit_test(unknown_types_get_32601_with_the_id),
		cmocka_unit_test(reload_identity_takes_only_an_id),
		cmocka_unit_test(reply_types_sent_as_requests_get_32601),
		cmocka_unit_test(session_create_reads_uid_and_username),
		cmocka_unit_test(session_destroy_reads_uid_and_delete_home),
		cmocka_unit_test(binary_install_validates_the_name),
		cmocka_unit_test(an_escaped_backslash_before_u0000_is_not_a_nul),
		cmocka_unit_test(a_raw_control_byte_in_a_string_is_not_json),
		cmocka_unit_test(names_and_paths_refuse_escaped_control_characters),
		cmocka_unit_test(an_exit_reply_reads_its_reason),
		cmocka_unit_test(file_requests_check_paths_and_modes),
		cmocka_unit_test(mount_and_unmount_read_their_fields),
		cmocka_unit_test(part_2_replies_decode),
		cmocka_unit_test(ids_are_numbers_or_strings),
		cmocka_unit_test(every_request_but_ping_needs_an_id),
		cmocka_unit_test(spawn_reads_every_field),
		cmocka_unit_test(spawn_defaults_when_optional_fields_are_absent_or_null),
		cmocka_unit_test(spawn_refuses_bad_fields_with_their_name),
		cmocka_unit_test(stdin_decodes_its_data),
		cmocka_unit_test(kill_defaults_to_signal_15),
		cmocka_unit_test(resize_needs_rows_and_cols),
		cmocka_unit_test(handle_requests_need_a_string_handle),
		cmocka_unit_test(base64_matches_rfc_4648_vectors),
		cmocka_unit_test(base64_round_trips_every_byte_and_length),
		cmocka_unit_test(base64_refuses_anything_but_canonical_padded_text),
		cmocka_unit_test(data_frames_decode_back_to_the_same_bytes),
		cmocka_unit_test(error_frames_carry_the_id_code_and_message),
		cmocka_unit_test(replies_are_checked_like_requests),
		cmocka_unit_test(an_exit_reply_reads_code_and_signal),
		cmocka_unit_test(a_reply_of_too_many_values_is_refused_before_parsing),
		cmocka_unit_test(a_reply_string_with_a_nul_is_refused),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
