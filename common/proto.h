/* proto.h - the vmd protocol codec, shared by vmd (guest) and vmctl (host).
 *
 * docs/PROTOCOL.md is the contract; this file is its only implementation. A frame is
 * [type: u8][len: u32 little-endian][len bytes of UTF-8 JSON], one per WebSocket
 * message. Decoding validates in the order the protocol lists the faults, and every
 * failure comes back as a JSON-RPC code plus one sentence, which vmd sends as the
 * error reply unchanged. Nothing here knows about sockets or libwebsockets.
 *
 * Conventions the protocol leaves open, decided here:
 * - an optional field given as JSON null counts as absent;
 * - fields the protocol does not name are ignored (newer clients stay compatible);
 * - the payload must be exactly one JSON object, optionally surrounded by whitespace;
 * - base64 is RFC 4648 section 4 with padding, no whitespace and zero pad bits.
 */
#ifndef COMMON_PROTO_H
#define COMMON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define PROTO_HEADER_SIZE 5u			/* type byte + 32-bit length */
#define PROTO_MAX_PAYLOAD (16u << 20)		/* the largest payload, 16 MiB */

enum proto_type {
	/* requests, host -> guest */
	PROTO_SPAWN = 0x01,
	PROTO_STDIN = 0x02,
	PROTO_KILL = 0x03,
	PROTO_RESIZE = 0x04,
	PROTO_MOUNT = 0x05,
	PROTO_UNMOUNT = 0x06,
	PROTO_SESSION_CREATE = 0x07,
	PROTO_BINARY_INSTALL = 0x08,
	PROTO_FS_READ = 0x09,
	PROTO_LOAD_STATE = 0x0A,
	PROTO_IS_RUNNING = 0x0B,
	PROTO_SESSION_DESTROY = 0x0C,
	PROTO_CLOSE_STDIN = 0x0D,
	PROTO_AUTH = 0x0E,		/* the client's proof: a connection's first frame */
	PROTO_FILE_PUT = 0x10,
	PROTO_FILE_DATA = 0x11,
	PROTO_FILE_END = 0x12,
	PROTO_RELOAD_IDENTITY = 0x13,	/* re-read and apply the identity (a resume, a fork) */
	PROTO_PING = 0xF0,
	/* replies, guest -> host */
	PROTO_SPAWNED = 0x81,
	PROTO_STDOUT = 0x82,
	PROTO_STDERR = 0x83,
	PROTO_EXIT = 0x84,
	PROTO_ERROR = 0x85,
	PROTO_OK = 0x86,
	PROTO_DATA = 0x87,
	PROTO_RUNNING_STATUS = 0x88,
	PROTO_PONG = 0xF1,
};

/* The error codes of PROTOCOL.md, JSON-RPC style. */
enum proto_code {
	PROTO_E_JSON = -32700,		/* the payload is not valid JSON */
	PROTO_E_FRAME = -32600,		/* bad frame, not an object, a text message */
	PROTO_E_TYPE = -32601,		/* unknown or not yet supported type */
	PROTO_E_PARAMS = -32602,	/* a field missing, of the wrong type or value */
	PROTO_E_HANDLE = -32001,	/* no such handle on this connection */
	PROTO_E_SPAWN = -32002,		/* the process could not be started */
	PROTO_E_EXITED = -32003,	/* exited, or its stdin is closed */
	PROTO_E_AUTH = -32004,		/* the client has not proved it holds the secret */
	PROTO_E_INTERNAL = -32000,	/* any other failure in vmd */
};

/* A decoding failure: the code to reply with and one sentence saying why. */
struct proto_error {
	int code;
	char message[256];
};

enum proto_direction { PROTO_REQUEST, PROTO_REPLY };

/* One row of the message type table. Requests of part 2 are listed (so their
 * error says "not supported yet" rather than "unknown") with supported = false. */
struct proto_type_info {
	uint8_t type;
	const char *name;
	enum proto_direction direction;
	bool supported;
};

/* The row for a type, or NULL when the protocol has no such type. */
const struct proto_type_info *proto_type_info(uint8_t type);
/* The type's name ("spawn"), or "unknown". */
const char *proto_type_name(uint8_t type);

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* --- frames ------------------------------------------------------------------------ */

/* Check a whole message's framing: at least 5 bytes, a length within the limit and
 * equal to the bytes that follow. On success *type, *payload and *len describe it. */
int proto_frame_split(const uint8_t *msg, size_t size, uint8_t *type,
		      const uint8_t **payload, uint32_t *len, struct proto_error *e);

/* The same checks for a message that arrives in pieces and may be too large to
 * keep: give the first bytes seen (up to 5) and the total size so far; the result
 * is -1 with the error as soon as the message can no longer be valid. Receivers
 * use it to stop buffering an oversized message early; at the end of the message
 * proto_frame_split() still decides. */
int proto_frame_check_prefix(const uint8_t *head, size_t head_len, size_t size_so_far,
			     struct proto_error *e);

/* Parse a payload: valid UTF-8, one JSON object. The caller frees it. */
cJSON *proto_payload_parse(const uint8_t *payload, size_t len, struct proto_error *e);

/* A frame of the given type around the JSON text, in a buffer with `headroom`
 * spare bytes before it (libwebsockets wants LWS_PRE there). The frame starts at
 * the returned pointer + headroom; free the returned pointer. NULL when out of
 * memory or the JSON is over the limit. */
uint8_t *proto_frame_build(uint8_t type, const char *json, size_t json_len,
			   size_t headroom, size_t *frame_len);
/* As proto_frame_build() with the object printed compactly. */
uint8_t *proto_frame_json(uint8_t type, const cJSON *obj, size_t headroom,
			  size_t *frame_len);
/* The hot path, stdout/stderr/stdin: {"id":ID,"handle":"H","data":"BASE64"} built
 * without a JSON tree. id_json is the id as JSON text ("7", "\"a\"", "null");
 * handle is 32 hex digits (not escaped), or NULL for fs_read's data reply, which
 * has no handle. */
uint8_t *proto_frame_data(uint8_t type, const char *id_json, const char *handle,
			  const void *data, size_t n, size_t headroom, size_t *frame_len);

/* --- base64 (RFC 4648 section 4, padded) -------------------------------------------- */

static inline size_t proto_b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Encode n bytes into out (proto_b64_len(n) bytes, no terminator); returns that length. */
size_t proto_b64_encode(const void *in, size_t n, char *out);
/* Decode len characters into a new buffer (*out, *out_len; *out is never NULL on
 * success, even for empty input). -1 on anything but canonical padded base64. */
int proto_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);

/* True when the bytes are well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool proto_utf8_valid(const uint8_t *s, size_t n);
/* A session's username: 1 to 32 of a-z, 0-9, '_' and '-', starting with a-z or '_'. */
bool proto_username_valid(const char *u);
/* Session uids: above the system range, below nobody's 65534 and its neighbours. */
#define PROTO_SESSION_UID_MIN 1000
#define PROTO_SESSION_UID_MAX 60000

/* --- requests (decoded by vmd) -------------------------------------------------------- */

struct proto_request {
	uint8_t type;
	cJSON *root;		/* owns every pointer below but data */
	const cJSON *id;	/* the request's id, NULL when absent (ping) or unreadable */
	const char *handle;
	/* spawn */
	const char *command;
	const cJSON *args;	/* NULL or an array of strings */
	const cJSON *env;	/* NULL or an object of strings */
	const char *cwd;	/* NULL when absent */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	bool pty;
	bool network, raw;
	/* spawn with pty, and resize */
	uint16_t rows, cols;
	/* stdin */
	uint8_t *data;		/* decoded, owned (freed by proto_request_free) */
	size_t data_len;
	/* kill */
	int signal;
	/* binary_install: name, data, executable; data is decoded as for stdin */
	const char *name;
	bool executable;
	/* session_create (uid, username), session_destroy (uid, delete_home); fs_read
	 * and file_put take uid too (has_uid), load_state's session_id lands there */
	const char *username;
	bool delete_home;
	/* fs_read, file_put; load_state's state_path */
	const char *path;
	bool has_mode;
	uint32_t mode;		/* file_put, permission bits only (0 to 0777) */
	/* auth: the client's proof (docs/PROTOCOL.md, Authentication) */
	const char *proof;
	/* mount, unmount */
	const char *tag;
	const char *mount_point;
	bool read_only;
};

/* Decode one whole message as a request. On failure, req->id is still the request's
 * id when it could be read (reply with it, else with null); always call
 * proto_request_free() afterwards. Unsupported (part 2) types fail with -32601. */
int proto_request_decode(const uint8_t *msg, size_t size, struct proto_request *req,
			 struct proto_error *e);
void proto_request_free(struct proto_request *req);

/* --- replies (decoded by vmctl) ---------------------------------------------------------- */

struct proto_reply {
	uint8_t type;
	cJSON *root;
	const cJSON *id;	/* may be a JSON null */
	const char *handle;	/* spawned, stdout, stderr, exit, running_status */
	long pid;		/* spawned; running_status when running (else -1) */
	uint8_t *data;		/* stdout, stderr: decoded, owned */
	size_t data_len;
	int code;		/* exit: status or 128 + N; error: the error code */
	int signal;		/* exit: N when killed, else 0 */
	const char *reason;	/* exit, running_status: "oom" when the sandbox ran out
				 * of memory, else NULL */
	const char *message;	/* error */
	bool running;		/* running_status */
	bool has_code;		/* running_status: code (and signal) given, as exit */
	/* ok, each NULL or -1 when absent: binary_install's path, file_put's handle
	 * (in handle), file_end's and fs_read's size, session_create's fields */
	const char *path;
	long long size;
	long uid;
	const char *username, *home;
};

/* A reply with more than PROTO_REPLY_MAX_VALUES JSON values is refused before it is
 * parsed, so a hostile vmd cannot make the parse cost many times the frame. */
#define PROTO_REPLY_MAX_VALUES 1024u
int proto_reply_decode(const uint8_t *msg, size_t size, struct proto_reply *rep,
		       struct proto_error *e);
void proto_reply_free(struct proto_reply *rep);

/* --- building messages ------------------------------------------------------------------- */

/* A new object {"id": copy of id, or null}; add fields, then proto_frame_json(). */
cJSON *proto_object(const cJSON *id);
/* The error reply, framed (see proto_frame_build for headroom). */
uint8_t *proto_error_frame(const cJSON *id, int code, const char *message,
			   size_t headroom, size_t *frame_len);

#endif
