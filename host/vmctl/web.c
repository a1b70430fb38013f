/* web.c - vmctl web: a terminal on the sandbox, in a browser on this machine.
 *
 * One libwebsockets context serves the page's files (index.html, app.js, app.css and
 * xterm.js, from a folder beside vmctl) on 127.0.0.1:HTTP_PORT only, and a WebSocket
 * at /term. Each browser connection on /term becomes one connection to vmd and one
 * shell with a PTY, sandboxed as `vmctl exec` would run it; the two are relayed until
 * either side ends.
 *
 * Who may drive it: the upgrade must come from this server's own page (its Origin is
 * checked before the upgrade, so another web site gets 403), and the first message
 * must carry the page's token, which only the link printed here holds (in the URL's
 * fragment, which browsers never send in a request). Until then nothing reaches vmd.
 *
 * The token is not the VM's secret: it is made fresh by each vmctl web, lives only in
 * its memory (so it opens nothing once vmctl web stops), and allows only what the
 * page does: one login shell as the sandbox user, with a PTY, its input and its
 * size. vmctl web holds the secret itself, proves it to vmd (handshake.h) and sends
 * vmd nothing but that spawn, the keystrokes and resizes; any other request from the
 * page is refused, so whoever gets the link gets a sandboxed shell, never root,
 * another uid, files or the rest of the API.
 *
 * The browser's messages: binary = keystrokes; text = JSON control,
 *   {"type":"auth","token":T,"rows":R,"cols":C} first, then {"type":"resize",...}.
 * Ours: binary = terminal output; text = {"type":"ready"} once the shell runs,
 *   {"type":"exit","code":N} when it ends, {"type":"error","message":M} on a failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "handshake.h"
#include "proto.h"
#include "state.h"
#include "text.h"

#define PING_TIMEOUT_MS 10000
#define AUTH_TIMEOUT_S 10	/* a browser connection that never authenticates */
#define SPAWN_ID 1
#define CONTROL_ID 2
#define CONTROL_MAX 4096	/* a text message from the browser */
#define INPUT_MAX (1u << 20)	/* a binary one: a large paste */
/* Output waiting for a slow browser (or input for vmd) pauses the other side. */
#define QUEUE_HIGH (4u << 20)
#define QUEUE_LOW (1u << 20)
#define SHELL "/bin/sh"

struct out {
	struct out *next;
	uint8_t *buf;			/* LWS_PRE headroom, then the message */
	size_t len;
	enum lws_write_protocol kind;
};

struct queue {
	struct out *head, *tail;
	size_t bytes;
};

struct web;

/* One browser connection and the vmd connection made for it. Either side may go
 * first; the session is freed when both are gone. */
struct session {
	struct web *w;
	struct lws *browser, *vmd;
	bool authed, spawned, exited;
	bool not_this_vm;		/* vmd's side failed to prove the VM's secret */
	struct handshake hs;
	bool vmd_closing;		/* close vmd's side once its queue is written */
	bool browser_closing;
	enum lws_close_status close_status;
	char close_reason[100];
	char handle[64];
	unsigned rows, cols;
	struct queue to_browser, to_vmd;
	bool vmd_paused, browser_paused;
	uint8_t *rx;			/* a message from vmd being reassembled */
	size_t rx_len, rx_cap;
	uint8_t *brx;			/* one from the browser */
	size_t brx_len, brx_cap;
};

struct web {
	const struct vmctl_args *a;
	struct vm_state vm;
	char token[AUTH_HEX + 1];	/* the page's, fresh for this run */
	char origin_ip[64], origin_name[64];
	struct lws_context *ctx;
};

static volatile sig_atomic_t stop_serving;
static struct lws_context *live_ctx;

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
	if (live_ctx)
		lws_cancel_service(live_ctx);
}

/* --- queues ------------------------------------------------------------------------ */

static int enqueue(struct queue *q, uint8_t *buf, size_t len, enum lws_write_protocol kind)
{
	struct out *o;

	if (!buf)
		return -1;
	o = malloc(sizeof *o);
	if (!o) {
		free(buf);
		return -1;
	}
	o->buf = buf;
	o->len = len;
	o->kind = kind;
	o->next = NULL;
	if (q->tail)
		q->tail->next = o;
	else
		q->head = o;
	q->tail = o;
	q->bytes += len;
	return 0;
}

static void queue_free(struct queue *q)
{
	while (q->head) {
		struct out *o = q->head;

		q->head = o->next;
		free(o->buf);
		free(o);
	}
	q->tail = NULL;
	q->bytes = 0;
}

/* Write the queue's first message; -1 when the socket broke. */
static int write_one(struct queue *q, struct lws *wsi)
{
	struct out *o = q->head;

	if (!o)
		return 0;
	if (lws_write(wsi, o->buf + LWS_PRE, o->len, o->kind) < (int)o->len)
		return -1;
	q->head = o->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= o->len;
	free(o->buf);
	free(o);
	if (q->head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int grow_append(uint8_t **p, size_t *len, size_t *cap, size_t max, const void *in,
		       size_t n)
{
	if (n > max - *len)
		return -1;
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		uint8_t *q;

		while (c < *len + n)
			c *= 2;
		q = realloc(*p, c);
		if (!q)
			return -1;
		*p = q;
		*cap = c;
	}
	memcpy(*p + *len, in, n);
	*len += n;
	return 0;
}

/* --- the browser's side ---------------------------------------------------------- */

/* Pause vmd's output while the browser is behind, and the browser's input while vmd
 * is; resume when the queue has drained to the low mark. */
static void flow(struct session *s)
{
	if (s->vmd) {
		if (!s->vmd_paused && s->to_browser.bytes > QUEUE_HIGH) {
			lws_rx_flow_control(s->vmd, 0);
			s->vmd_paused = true;
		} else if (s->vmd_paused && s->to_browser.bytes < QUEUE_LOW) {
			lws_rx_flow_control(s->vmd, 1);
			s->vmd_paused = false;
		}
	}
	if (s->browser) {
		if (!s->browser_paused && s->to_vmd.bytes > QUEUE_HIGH) {
			lws_rx_flow_control(s->browser, 0);
			s->browser_paused = true;
		} else if (s->browser_paused && s->to_vmd.bytes < QUEUE_LOW) {
			lws_rx_flow_control(s->browser, 1);
			s->browser_paused = false;
		}
	}
}

static void to_browser(struct session *s, const void *data, size_t len,
		       enum lws_write_protocol kind)
{
	uint8_t *buf;

	if (!s->browser || s->browser_closing)
		return;
	buf = malloc(LWS_PRE + len + 1);
	if (buf)
		memcpy(buf + LWS_PRE, data, len);
	if (enqueue(&s->to_browser, buf, len, kind) == 0) {
		lws_callback_on_writable(s->browser);
		flow(s);
	}
}

/* A JSON control message to the page. */
static void to_browser_json(struct session *s, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;

	if (text)
		to_browser(s, text, strlen(text), LWS_WRITE_TEXT);
	free(text);
	cJSON_Delete(o);
}

/* Send what is queued, then close the page's connection with status and reason. */
static void close_browser(struct session *s, enum lws_close_status status, const char *reason)
{
	size_t n;

	if (!s->browser || s->browser_closing)
		return;
	s->browser_closing = true;
	s->close_status = status;
	n = strnlen(reason, sizeof s->close_reason - 1);	/* cut: a reason is short */
	memcpy(s->close_reason, reason, n);
	s->close_reason[n] = 0;
	lws_callback_on_writable(s->browser);
}

/* Tell the page what went wrong (it shows the sentence), and end its connection. */
static void browser_error(struct session *s, enum lws_close_status status, const char *fmt,
			  ...) PRINTF_LIKE(3, 4);
static void browser_error(struct session *s, enum lws_close_status status, const char *fmt,
			  ...)
{
	char text[300];
	cJSON *o = cJSON_CreateObject();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (o) {
		cJSON_AddStringToObject(o, "type", "error");
		cJSON_AddStringToObject(o, "message", text);
	}
	to_browser_json(s, o);
	/* A close reason is at most 123 bytes: the page takes the sentence from the
	 * error message and the reason only when that never came. */
	close_browser(s, status, text);
}

static void close_vmd(struct session *s)
{
	if (!s->vmd || s->vmd_closing)
		return;
	s->vmd_closing = true;
	lws_callback_on_writable(s->vmd);
}

static void session_free(struct session *s)
{
	queue_free(&s->to_browser);
	queue_free(&s->to_vmd);
	free(s->rx);
	free(s->brx);
	free(s);
}

/* --- the vmd side ---------------------------------------------------------------- */

static void to_vmd(struct session *s, uint8_t *buf, size_t len)
{
	if (!s->vmd || s->vmd_closing) {
		free(buf);
		return;
	}
	if (enqueue(&s->to_vmd, buf, len, LWS_WRITE_BINARY) == 0) {
		lws_callback_on_writable(s->vmd);
		flow(s);
	}
}

static void to_vmd_resize(struct session *s)
{
	cJSON *o = cJSON_CreateObject();
	size_t len = 0;
	uint8_t *buf;

	if (!o)
		return;
	cJSON_AddNumberToObject(o, "id", CONTROL_ID);
	cJSON_AddStringToObject(o, "handle", s->handle);
	cJSON_AddNumberToObject(o, "rows", s->rows);
	cJSON_AddNumberToObject(o, "cols", s->cols);
	buf = proto_frame_json(PROTO_RESIZE, o, LWS_PRE, &len);
	cJSON_Delete(o);
	to_vmd(s, buf, len);
}

/* A login shell, so that the guest's profile sets the prompt and PATH. */
static uint8_t *spawn_frame(const struct session *s, size_t *len)
{
	cJSON *o = cJSON_CreateObject(), *args, *env, *pty;
	uint8_t *buf;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", SPAWN_ID);
	cJSON_AddStringToObject(o, "command", SHELL);
	args = cJSON_AddArrayToObject(o, "args");
	if (args)
		cJSON_AddItemToArray(args, cJSON_CreateString("-l"));
	env = cJSON_AddObjectToObject(o, "env");
	if (env)
		cJSON_AddStringToObject(env, "TERM", "xterm-256color");
	pty = cJSON_AddObjectToObject(o, "pty");
	if (pty) {
		cJSON_AddNumberToObject(pty, "rows", s->rows);
		cJSON_AddNumberToObject(pty, "cols", s->cols);
	}
	cJSON_AddBoolToObject(o, "raw", false);
	buf = proto_frame_json(PROTO_SPAWN, o, LWS_PRE, len);
	cJSON_Delete(o);
	return buf;
}

static void vmd_reply(struct session *s, const uint8_t *msg, size_t len)
{
	struct proto_reply r;
	struct proto_error pe;
	char why[400];		/* vmd's sentence, escaped: it is the guest's text */
	cJSON *o;

	if (proto_reply_decode(msg, len, &r, &pe) < 0) {
		browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
			      "The sandbox sent a message vmctl cannot read: %s", pe.message);
		close_vmd(s);
		proto_reply_free(&r);
		return;
	}
	switch (r.type) {
	case PROTO_SPAWNED:
		snprintf(s->handle, sizeof s->handle, "%s", r.handle);
		s->spawned = true;
		o = cJSON_CreateObject();
		if (o)
			cJSON_AddStringToObject(o, "type", "ready");
		to_browser_json(s, o);
		break;
	case PROTO_STDOUT:
	case PROTO_STDERR:
		to_browser(s, r.data, r.data_len, LWS_WRITE_BINARY);
		break;
	case PROTO_EXIT:
		s->exited = true;
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddStringToObject(o, "type", "exit");
			cJSON_AddNumberToObject(o, "code", r.code);
		}
		to_browser_json(s, o);
		close_browser(s, LWS_CLOSE_STATUS_NORMAL, "the shell exited");
		close_vmd(s);
		break;
	case PROTO_ERROR:
		if (!s->spawned) {
			browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				      "Cannot start a shell in the sandbox: %s",
				      r.message ? text_safe(why, sizeof why, r.message)
						: "(no reason)");
			close_vmd(s);
		} else if (r.code != PROTO_E_EXITED) {
			/* Input or a resize refused: the shell runs on, so only say it here. */
			warn("the sandbox said: %s", r.message ? text_safe(why, sizeof why, r.message)
							       : "(no reason)");
		}
		break;
	default:
		break;
	}
	proto_reply_free(&r);
}

static int vmd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	struct session *s = lws_get_opaque_user_data(wsi);
	uint8_t *buf;
	size_t flen = 0;

	(void)user;
	if (!s)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;

		return handshake_request(&s->hs, wsi, p, end) ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
		if (handshake_check(&s->hs, wsi))
			return 0;
		s->not_this_vm = true;
		return -1;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		/* our proof first: vmd serves nothing before it */
		buf = handshake_frame(&s->hs, &flen);
		to_vmd(s, buf, flen);
		buf = spawn_frame(s, &flen);
		to_vmd(s, buf, flen);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		s->vmd = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		if (s->not_this_vm)
			browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				      "Cannot use the sandbox on port %u: " HANDSHAKE_NOT_THIS_VM,
				      s->w->a->port, s->w->a->port);
		else
			browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				      "Cannot reach the sandbox on port %u: %s.", s->w->a->port,
				      in && len ? (const char *)in : "the connection failed");
		if (!s->browser)
			session_free(s);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (grow_append(&s->rx, &s->rx_len, &s->rx_cap,
				PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD, in, len) < 0) {
			browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				      "The sandbox sent a message over the protocol's limit.");
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			size_t n = s->rx_len;

			s->rx_len = 0;
			vmd_reply(s, s->rx, n);
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (s->vmd_closing && !s->to_vmd.head)
			return -1;
		if (write_one(&s->to_vmd, wsi) < 0)
			return -1;
		flow(s);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		s->vmd = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		if (!s->exited && !s->vmd_closing)
			browser_error(s, LWS_CLOSE_STATUS_GOINGAWAY,
				      "The sandbox on port %u closed the connection.",
				      s->w->a->port);
		if (!s->browser)
			session_free(s);
		break;
	default:
		break;
	}
	return 0;
}

static void connect_vmd(struct session *s, struct lws *browser)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof ci);
	ci.context = s->w->ctx;
	ci.vhost = lws_get_vhost(browser);
	ci.address = "127.0.0.1";
	ci.port = (int)s->w->a->port;
	ci.path = "/";
	ci.host = "127.0.0.1";
	ci.local_protocol_name = "vmd";
	ci.ietf_version_or_minus_one = -1;
	ci.opaque_user_data = s;
	ci.pwsi = &s->vmd;
	s->hs.secret = s->w->vm.secret;
	if (!lws_client_connect_via_info(&ci) && s->browser && !s->browser_closing) {
		s->vmd = NULL;
		browser_error(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
			      "Cannot reach the sandbox on port %u.", s->w->a->port);
	}
}

/* --- the page's WebSocket -------------------------------------------------------- */

/* Compare without an early exit, so the time taken does not tell how much matched. */
static bool same_secret(const char *given, const char *want)
{
	size_t n = strlen(want), g = strlen(given);
	unsigned char diff = (unsigned char)(g != n);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(given[i < g ? i : 0] ^ want[i]);
	return diff == 0;
}

static unsigned dimension(const cJSON *o, const char *key, unsigned fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1000)
		return fallback;
	return (unsigned)v->valuedouble;
}

/* The first field of o not among the allowed (NULL-terminated), or NULL. */
static const char *other_field(const cJSON *o, const char *const *allowed)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, o) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], f->string ? f->string : ""))
			i++;
		if (!allowed[i])
			return f->string ? f->string : "";
	}
	return NULL;
}

static void browser_control(struct session *s, struct lws *wsi, const char *text, size_t len)
{
	static const char *const auth_fields[] = { "type", "token", "rows", "cols", NULL };
	static const char *const resize_fields[] = { "type", "rows", "cols", NULL };
	cJSON *o = cJSON_ParseWithLength(text, len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
	const cJSON *token;
	const char *extra;

	if (!cJSON_IsObject(o) || !cJSON_IsString(type)) {
		browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			      "The page sent a control message vmctl cannot read.");
	} else if (!s->authed) {
		token = cJSON_GetObjectItemCaseSensitive(o, "token");
		if (strcmp(type->valuestring, "auth") != 0) {
			browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "The page must send its token first.");
		} else if (!cJSON_IsString(token) || !*token->valuestring) {
			browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "No token: open the link vmctl web printed, "
				      "with the part after #.");
		} else if (!same_secret(token->valuestring, s->w->token)) {
			browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "Wrong token: open the link this vmctl web printed; "
				      "an earlier one's opens nothing.");
		} else if ((extra = other_field(o, auth_fields))) {
			/* the shell is fixed: no command, uid, raw or network to ask for */
			browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "The page gets a sandboxed shell only; vmctl web refuses "
				      "\"%.32s\".", extra);
		} else {
			s->authed = true;
			s->rows = dimension(o, "rows", 24);
			s->cols = dimension(o, "cols", 80);
			lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
			connect_vmd(s, wsi);
		}
	} else if (strcmp(type->valuestring, "resize") == 0 &&
		   !other_field(o, resize_fields)) {
		s->rows = dimension(o, "rows", s->rows);
		s->cols = dimension(o, "cols", s->cols);
		if (s->spawned && !s->exited)
			to_vmd_resize(s);
	} else {
		browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			      "The page may only type into its shell and resize it; vmctl web "
			      "refuses \"%.32s\".", type->valuestring);
		close_vmd(s);
	}
	cJSON_Delete(o);
}

static void browser_message(struct session *s, struct lws *wsi, bool binary)
{
	uint8_t *buf;
	size_t flen = 0;

	if (!binary) {
		browser_control(s, wsi, (const char *)s->brx, s->brx_len);
		return;
	}
	if (!s->authed) {
		browser_error(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			      "The page must send its token first.");
		return;
	}
	/* Keystrokes before the shell runs have nowhere to go; the page sends none. */
	if (!s->spawned || s->exited || !s->brx_len)
		return;
	buf = proto_frame_data(PROTO_STDIN, "2", s->handle, s->brx, s->brx_len, LWS_PRE,
			       &flen);
	to_vmd(s, buf, flen);
}

/* The upgrade is for this server's own page only: anything else gets 403 before it. */
static bool origin_ok(struct web *w, struct lws *wsi)
{
	char origin[128], uri[64];

	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, "/term") != 0)
		return false;
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return false;
	return strcmp(origin, w->origin_ip) == 0 || strcmp(origin, w->origin_name) == 0;
}

static int refuse(struct lws *wsi, const char *why)
{
	char peer[64] = "";

	lws_get_peer_simple(wsi, peer, sizeof peer);
	warn("refused a WebSocket from %s: %s", *peer ? peer : "a client", why);
	lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, why);
	return -1;
}

static int term_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct web *w = lws_context_user(lws_get_context(wsi));
	struct session *s = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (!origin_ok(w, wsi))
			return refuse(wsi, "the Origin is not this server's page");
		break;
	case LWS_CALLBACK_ESTABLISHED:
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->w = w;
		s->browser = wsi;
		lws_set_opaque_user_data(wsi, s);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, AUTH_TIMEOUT_S);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (!s || s->browser_closing)
			break;
		if (grow_append(&s->brx, &s->brx_len, &s->brx_cap,
				lws_frame_is_binary(wsi) ? INPUT_MAX : CONTROL_MAX, in, len) < 0) {
			browser_error(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				      "The page sent a message over vmctl's limit.");
			break;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			browser_message(s, wsi, lws_frame_is_binary(wsi));
			s->brx_len = 0;
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s)
			break;
		if (s->browser_closing && !s->to_browser.head) {
			lws_close_reason(wsi, s->close_status, (unsigned char *)s->close_reason,
					 strlen(s->close_reason));
			return -1;
		}
		if (write_one(&s->to_browser, wsi) < 0)
			return -1;
		/* the last message out: come back to close */
		if (s->browser_closing && !s->to_browser.head)
			lws_callback_on_writable(wsi);
		flow(s);
		break;
	case LWS_CALLBACK_CLOSED:
		if (!s)
			break;
		s->browser = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		if (s->vmd)
			close_vmd(s);	/* vmd kills the shell when its connection ends */
		else
			session_free(s);
		break;
	default:
		break;
	}
	return 0;
}

/* The files: lws serves them from the mount; a WebSocket that names no protocol
 * lands here and is refused like a foreign one. */
static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return refuse(wsi, "it did not ask for the vmctl-term protocol");
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", http_callback, 0, 0, 0, NULL, 0 },
	{ "vmctl-term", term_callback, 0, 65536, 0, NULL, 0 },
	{ "vmd", vmd_callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* --- setting up ------------------------------------------------------------------ */

static bool has_index(const char *dir)
{
	char path[PATH_MAX + 64];	/* the folder (PATH_MAX + 32 at most) and the name */
	struct stat st;

	snprintf(path, sizeof path, "%s/index.html", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* build/web beside build/vmctl in the tree; PREFIX/share/clientapi/web installed. */
static int find_web_dir(char *dir, size_t size, struct msg *m)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n < 0)
		return fail_errno(m, "cannot find where vmctl is installed");
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, size, "%s/web", exe);
	if (has_index(dir))
		return 0;
	snprintf(dir, size, "%s/../share/clientapi/web", exe);
	if (has_index(dir))
		return 0;
	return fail(m, "cannot find the terminal page: neither %s/web nor %s/../share/clientapi/"
		    "web holds index.html (make builds it).", exe, exe);
}

/* libwebsockets says only "ERROR on binding" when the port is taken; trying it here
 * first gives the user the reason in a sentence. */
static int port_free(unsigned port, struct msg *m)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;

	if (fd < 0)
		return fail_errno(m, "cannot open a socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno == EADDRINUSE)
			rc = fail(m, "HTTP port %u on 127.0.0.1 is already in use (another vmctl "
				  "web?); give a free one: vmctl web PORT HTTP_PORT.", port);
		else
			rc = fail_errno(m, "cannot serve on 127.0.0.1:%u", port);
	}
	close(fd);
	return rc;
}

static void silence(int level, const char *line)
{
	(void)level;
	(void)line;
}

int cmd_web(const struct vmctl_args *a, struct msg *m)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP };
	static struct web w;
	char dir[PATH_MAX], web_dir[PATH_MAX + 32];
	struct lws_context_creation_info info;
	struct lws_http_mount mount;
	struct lws_protocol_vhost_options csp = {
		NULL, NULL, "content-security-policy:",
		"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
	};
	struct lws_protocol_vhost_options referrer = {
		&csp, NULL, "referrer-policy:", "no-referrer"
	};
	struct sigaction sa;

	memset(&w, 0, sizeof w);
	w.a = a;
	if (state_dir(dir, sizeof dir, m) < 0 || state_load(dir, a->port, &w.vm, m) < 0)
		return -1;
	if (!state_alive(&w.vm))
		return fail(m, "the sandbox on port %u is not running any more (vmctl stop %u "
			    "clears it).", a->port, a->port);
	if (client_ping(a->port, w.vm.secret, PING_TIMEOUT_MS, m) < 0)
		return -1;
	if (find_web_dir(web_dir, sizeof web_dir, m) < 0 || port_free(a->http_port, m) < 0)
		return -1;
	if (auth_nonce(w.token) < 0)
		return fail_errno(m, "cannot get random bytes for the page's token");
	snprintf(w.origin_ip, sizeof w.origin_ip, "http://127.0.0.1:%u", a->http_port);
	snprintf(w.origin_name, sizeof w.origin_name, "http://localhost:%u", a->http_port);

	memset(&mount, 0, sizeof mount);
	mount.mountpoint = "/";
	mount.mountpoint_len = 1;
	mount.origin = web_dir;
	mount.def = "index.html";
	mount.origin_protocol = LWSMPRO_FILE;
	/* The page and xterm change only with a new build; no-cache keeps a reload honest. */
	mount.cache_reusable = 0;

	lws_set_log_level(0, silence);
	memset(&info, 0, sizeof info);
	info.port = (int)a->http_port;
	info.iface = "127.0.0.1";
	/* With IPv6 on, lws 4.1 bound its socket to every address in spite of iface. */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.protocols = protocols;
	info.mounts = &mount;
	info.headers = &referrer;
	info.gid = -1;
	info.uid = -1;
	info.user = &w;
	info.timeout_secs = PING_TIMEOUT_MS / 1000;
	w.ctx = lws_create_context(&info);
	if (!w.ctx)
		return fail(m, "cannot serve on 127.0.0.1:%u (is the port free?).", a->http_port);

	live_ctx = w.ctx;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
		sigaction(stops[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	printf("http://127.0.0.1:%u/#%s\n", a->http_port, w.token);
	fflush(stdout);
	fprintf(stderr, "vmctl: serving a terminal on the sandbox on port %u; open the link "
		"above in a browser on this machine. Ctrl-C stops.\n", a->port);
	while (!stop_serving)
		if (lws_service(w.ctx, 0) < 0)
			break;
	live_ctx = NULL;
	lws_context_destroy(w.ctx);
	explicit_bzero(w.token, sizeof w.token);
	return 0;
}
