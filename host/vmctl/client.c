/* client.c - see client.h. */
#include "client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handshake.h"
#include "proto.h"
#include "text.h"

enum state { CONNECTING, OPEN, CLOSED, FAILED };

struct out {
	struct out *next;
	uint8_t *buf;		/* LWS_PRE headroom, then the frame */
	size_t len;
};

struct client {
	lws_sorted_usec_list_t deadline;	/* first: the timer callback finds us from it */
	bool timed_out;
	lws_sorted_usec_list_t idle;	/* client_idle(): no traffic for idle_ms */
	int idle_ms;
	long long last_us;		/* when a message last came or went */
	bool idle_expired, refused;
	char idle_what[200];
	struct lws_context *ctx;
	struct lws *ws, *in;
	struct handshake hs;
	bool not_this_vm;		/* the answer did not prove the secret */
	unsigned port;
	enum state state;
	bool stopping;
	char why[256];			/* how the connection failed */
	uint8_t *rx;			/* the message being reassembled */
	size_t rx_len, rx_cap;
	struct out *head, *tail;
	size_t queued;
	bool in_paused;
	struct client_hooks hooks;
};

static void input_flow(struct client *c);

/* Largest message vmd may send: a frame of the largest payload. */
#define RX_MAX (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD)
#define INPUT_CHUNK (64u << 10)

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int rx_append(struct client *c, const void *in, size_t len)
{
	if (len > RX_MAX - c->rx_len)
		return -1;
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 65536;
		uint8_t *p;

		while (cap < c->rx_len + len)
			cap = cap > RX_MAX / 2 ? RX_MAX : cap * 2;
		p = realloc(c->rx, cap);
		if (!p)
			return -1;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

static int write_one(struct client *c, struct lws *wsi)
{
	struct out *o = c->head;

	if (!o)
		return 0;
	if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_BINARY) < (int)o->len) {
		snprintf(c->why, sizeof c->why, "the connection to the sandbox broke");
		return -1;
	}
	c->head = o->next;
	if (!c->head)
		c->tail = NULL;
	c->queued -= o->len;
	c->last_us = now_us();
	free(o->buf);
	free(o);
	input_flow(c);
	if (c->hooks.sent)
		c->hooks.sent(c, c->queued, c->hooks.user);
	if (c->head)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Our proof goes ahead of anything queued: vmd serves nothing before it. */
static int queue_first(struct client *c, uint8_t *buf, size_t len)
{
	struct out *o = buf ? malloc(sizeof *o) : NULL;

	if (!o) {
		free(buf);
		return -1;
	}
	*o = (struct out){ .next = c->head, .buf = buf, .len = len };
	c->head = o;
	if (!c->tail)
		c->tail = o;
	c->queued += len;
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct client *c = lws_context_user(lws_get_context(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;

		return handshake_request(&c->hs, wsi, p, end) ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
		if (handshake_check(&c->hs, wsi))
			return 0;
		c->not_this_vm = true;
		return -1;
	case LWS_CALLBACK_CLIENT_ESTABLISHED: {
		uint8_t *proof = handshake_frame(&c->hs, &len);

		if (queue_first(c, proof, len) < 0) {
			c->state = FAILED;
			snprintf(c->why, sizeof c->why, "out of memory");
			return -1;
		}
		c->state = OPEN;
		lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->state = FAILED;
		c->ws = NULL;
		/* lws's words, which may quote what the server answered: escaped */
		if (in && len)
			text_escape(c->why, sizeof c->why, in, strnlen(in, len));
		else
			snprintf(c->why, sizeof c->why, "the connection failed");
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		struct proto_error pe;
		uint8_t head[PROTO_HEADER_SIZE];
		size_t hn = c->rx_len < sizeof head ? c->rx_len : sizeof head;

		c->last_us = now_us();
		/* The frame's first bytes so far: a header that already says the frame is
		 * wrong (too long, or shorter than what came) is refused as it arrives,
		 * so no more than a frame's limit is ever kept. */
		if (hn)
			memcpy(head, c->rx, hn);
		if (hn < sizeof head) {
			size_t k = len < sizeof head - hn ? len : sizeof head - hn;

			memcpy(head + hn, in, k);
			hn += k;
		}
		if (proto_frame_check_prefix(head, hn, c->rx_len + len, &pe) < 0) {
			snprintf(c->why, sizeof c->why, "%s", pe.message);
			c->refused = true;
			c->state = FAILED;
			return -1;
		}
		if (rx_append(c, in, len) < 0) {
			snprintf(c->why, sizeof c->why, "vmctl has no memory for a message of %zu "
				 "bytes.", c->rx_len + len);
			c->refused = true;
			c->state = FAILED;
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			size_t n = c->rx_len;

			c->rx_len = 0;
			if (c->hooks.frame)
				c->hooks.frame(c, c->rx, n, c->hooks.user);
			/* time the hook spent (a write to a full pipe) is not vmd's silence */
			c->last_us = now_us();
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->stopping && !c->head)
			return -1;
		return write_one(c, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c->state != FAILED)
			c->state = CLOSED;
		c->ws = NULL;
		break;
	case LWS_CALLBACK_RAW_RX_FILE: {
		uint8_t buf[INPUT_CHUNK];
		ssize_t n = read(lws_get_socket_fd(wsi), buf, sizeof buf);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			break;
		if (c->hooks.input)
			c->hooks.input(c, buf, n > 0 ? (size_t)n : 0, c->hooks.user);
		if (n <= 0) {
			c->in = NULL;
			return -1;	/* end of input: this wsi is done */
		}
		break;
	}
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* A pipe whose writer is gone can poll as a hang-up alone: lws then closes
		 * it without a last RAW_RX_FILE, and this is the end of input. */
		if (c->in == wsi) {
			c->in = NULL;
			if (c->hooks.input)
				c->hooks.input(c, NULL, 0, c->hooks.user);
		}
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* The one callback every connection gets at its end: lws 4.1 frees a client
		 * connection whose server hung up while the handshake was being sent with no
		 * CONNECTION_ERROR and without clearing the wsi pointer it was given, so
		 * without this the loop slept to its deadline and then used the freed wsi. */
		if (wsi == c->ws) {
			c->ws = NULL;
			if (c->state == CONNECTING) {
				c->state = FAILED;
				if (!*c->why)
					snprintf(c->why, sizeof c->why, "it closed the connection");
			}
		}
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (c && c->hooks.wake && c->state == OPEN)
			c->hooks.wake(c, c->hooks.user);
		break;
	default:
		break;
	}
	return 0;
}

/* The loop sleeps until an event: a deadline is one, scheduled on lws's timer list.
 * The connection is only marked to be closed: closing it from inside the timer
 * (LWS_TO_KILL_SYNC) left lws 4.1 waiting out its own 20-30 s timeouts when the
 * context was destroyed. c->ws is a live connection here (WSI_DESTROY clears it). */
static void on_deadline(lws_sorted_usec_list_t *sul)
{
	struct client *c = (struct client *)sul;	/* deadline is the first member */

	c->timed_out = true;
	snprintf(c->why, sizeof c->why, "it did not answer in time");
	if (c->ws)
		lws_set_timeout(c->ws, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	/* lws_service() runs timers inside its wait and then waits on: with nothing
	 * else to wake it (the killed connection was its only descriptor), it slept
	 * on for 30 s, and a third of vmctl starts took 31 s. Wake it, so the caller's
	 * loop sees timed_out now. */
	lws_cancel_service(c->ctx);
}

static void set_deadline(struct client *c, int ms)
{
	lws_sul_schedule(c->ctx, 0, &c->deadline, on_deadline, (lws_usec_t)ms * 1000);
}

/* The idle timer wakes once per idle_ms at most: traffic only moves last_us, and the
 * timer, when it finds some since, sleeps again for what is left. */
static void on_idle(lws_sorted_usec_list_t *sul)
{
	struct client *c = lws_container_of(sul, struct client, idle);
	long long quiet = now_us() - c->last_us, limit = (long long)c->idle_ms * 1000;

	if (quiet < limit) {
		lws_sul_schedule(c->ctx, 0, &c->idle, on_idle, (lws_usec_t)(limit - quiet));
		return;
	}
	c->idle_expired = true;
	c->timed_out = true;
	if (c->ws)
		lws_set_timeout(c->ws, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	lws_cancel_service(c->ctx);	/* as on_deadline: the loop must see it now */
}

static const struct lws_protocols protocols[] = {
	{ "vmd", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void silence(int level, const char *line)
{
	(void)level;
	(void)line;
}

static struct client *connect_to(unsigned port, const char *secret, int timeout_ms,
				  const struct client_hooks *hooks, bool *not_this_vm,
				  struct msg *m)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct client *c = calloc(1, sizeof *c);

	if (!c) {
		fail_errno(m, "cannot connect to the sandbox on port %u", port);
		return NULL;
	}
	if (hooks)
		c->hooks = *hooks;
	c->port = port;
	c->hs.secret = secret;
	lws_set_log_level(0, silence);

	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = c;
	/* The handshake must finish in time: QEMU accepts on the host before the guest
	 * listens, so an early connection waits for an answer that is not coming. */
	info.timeout_secs = (unsigned)((timeout_ms + 999) / 1000);
	c->ctx = lws_create_context(&info);
	if (!c->ctx) {
		fail(m, "cannot start a WebSocket client.");
		free(c);
		return NULL;
	}
	memset(&ci, 0, sizeof ci);
	ci.context = c->ctx;
	ci.address = "127.0.0.1";
	ci.port = (int)port;
	ci.path = "/";
	ci.host = "127.0.0.1";
	ci.local_protocol_name = "vmd";
	ci.ietf_version_or_minus_one = -1;
	ci.pwsi = &c->ws;
	set_deadline(c, timeout_ms);
	if (!lws_client_connect_via_info(&ci) && c->state != FAILED) {
		c->state = FAILED;
		snprintf(c->why, sizeof c->why, "the connection could not start");
	}
	/* The wsi pointer goes back to NULL when lws gives the connection up, whichever
	 * callback it did or did not call on the way. */
	while (c->state == CONNECTING && c->ws && !c->timed_out)
		if (lws_service(c->ctx, 0) < 0)
			break;
	lws_sul_cancel(&c->deadline);
	if (c->not_this_vm) {
		*not_this_vm = true;
		fail(m, HANDSHAKE_NOT_THIS_VM, port);
		client_close(c);
		return NULL;
	}
	if (c->state != OPEN) {
		fail(m, "cannot reach the sandbox on port %u: %s (vmctl list shows the running "
		     "ones).", port, *c->why ? c->why : "it closed the connection");
		client_close(c);
		return NULL;
	}
	return c;
}

struct client *client_open(unsigned port, const char *secret, int timeout_ms,
			   const struct client_hooks *hooks, struct msg *m)
{
	bool not_this_vm = false;

	return connect_to(port, secret, timeout_ms, hooks, &not_this_vm, m);
}

int client_adopt_input(struct client *c, int fd, struct msg *m)
{
	lws_sock_file_fd_type u;

	u.filefd = fd;
	c->in = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(c->ctx, "default"),
					   LWS_ADOPT_RAW_FILE_DESC, u, "vmd", NULL);
	if (!c->in)
		return fail(m, "cannot read standard input in the event loop.");
	return 0;
}

void client_deadline(struct client *c, int ms)
{
	set_deadline(c, ms);
}

void client_idle(struct client *c, int ms, const char *what)
{
	c->idle_ms = ms;
	c->last_us = now_us();
	snprintf(c->idle_what, sizeof c->idle_what, "%s", what);
	lws_sul_schedule(c->ctx, 0, &c->idle, on_idle, (lws_usec_t)ms * 1000);
}

/* Flow control: input is read only while the queue to vmd is short, so a fast
 * producer piped into vmctl cannot make it buffer without bound. */
#define QUEUE_HIGH (4u << 20)
#define QUEUE_LOW (1u << 20)

static void input_flow(struct client *c)
{
	if (!c->in)
		return;
	if (!c->in_paused && c->queued > QUEUE_HIGH) {
		lws_rx_flow_control(c->in, 0);
		c->in_paused = true;
	} else if (c->in_paused && c->queued < QUEUE_LOW) {
		lws_rx_flow_control(c->in, 1);
		c->in_paused = false;
	}
}

int client_send(struct client *c, uint8_t *buf, size_t frame_len, struct msg *m)
{
	struct out *o;

	if (!buf)
		return fail(m, "out of memory building a message for the sandbox.");
	o = malloc(sizeof *o);
	if (!o) {
		free(buf);
		return fail(m, "out of memory building a message for the sandbox.");
	}
	o->buf = buf;
	o->len = frame_len;
	o->next = NULL;
	if (c->tail)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	c->queued += frame_len;
	input_flow(c);
	if (c->ws && c->state == OPEN)
		lws_callback_on_writable(c->ws);
	return 0;
}

size_t client_queued(const struct client *c)
{
	return c->queued;
}

int client_run(struct client *c, struct msg *m)
{
	while (c->state == OPEN && c->ws && !c->timed_out)
		if (lws_service(c->ctx, 0) < 0)
			break;
	if (c->stopping)
		return 0;
	if (c->idle_expired)
		return fail(m, "the sandbox on port %u sent nothing for %d s while %s; vmctl gave "
			    "up (--idle-timeout sets how long it waits).", c->port,
			    c->idle_ms / 1000, c->idle_what);
	if (c->refused)
		return fail(m, "the sandbox on port %u sent a message vmctl cannot read: %s",
			    c->port, c->why);
	return fail(m, "the sandbox on port %u closed the connection%s%s.", c->port,
		    *c->why ? ": " : "", c->why);
}

void client_stop(struct client *c)
{
	c->stopping = true;
	if (c->ws)
		lws_callback_on_writable(c->ws);
}

void client_wake(struct client *c)
{
	lws_cancel_service(c->ctx);
}

void client_close(struct client *c)
{
	if (!c)
		return;
	lws_sul_cancel(&c->deadline);
	lws_sul_cancel(&c->idle);
	lws_context_destroy(c->ctx);
	while (c->head) {
		struct out *o = c->head;

		c->head = o->next;
		free(o->buf);
		free(o);
	}
	free(c->rx);
	free(c);
}

/* --- ping ----------------------------------------------------------------------------- */

static void on_pong(struct client *c, const uint8_t *msg, size_t len, void *user)
{
	bool *got = user;

	if (len >= PROTO_HEADER_SIZE && msg[0] == PROTO_PONG) {
		*got = true;
		client_stop(c);
	}
}

int client_ping(unsigned port, const char *secret, int timeout_ms, struct msg *m)
{
	bool got = false;
	bool not_this_vm = false;
	struct client_hooks hooks = { .frame = on_pong, .user = &got };
	struct client *c = connect_to(port, secret, timeout_ms, &hooks, &not_this_vm, m);
	uint8_t *buf;
	size_t len = 0;

	if (!c)
		return not_this_vm ? CLIENT_NOT_THIS_VM : -1;
	client_deadline(c, timeout_ms);
	buf = proto_frame_build(PROTO_PING, "{\"id\":0}", 8, LWS_PRE, &len);
	if (client_send(c, buf, len, m) < 0 || client_run(c, m) < 0 || !got) {
		client_close(c);
		return got ? 0 : -1;
	}
	client_close(c);
	return 0;
}

/* --- reload_identity ------------------------------------------------------------------ */

struct reload {
	bool ok;
	char error[300];	/* vmd's sentence, made safe to print */
};

static void on_reload(struct client *c, const uint8_t *msg, size_t len, void *user)
{
	struct reload *r = user;
	struct proto_reply rep;
	struct proto_error e;

	if (proto_reply_decode(msg, len, &rep, &e) < 0) {
		snprintf(r->error, sizeof r->error, "its answer was not one: %s", e.message);
		client_stop(c);
	} else if (rep.type == PROTO_OK) {
		r->ok = true;
		client_stop(c);
	} else if (rep.type == PROTO_ERROR) {
		text_safe(r->error, sizeof r->error,
			  rep.message && *rep.message ? rep.message : "it refused.");
		client_stop(c);
	}
	proto_reply_free(&rep);
}

int client_reload_identity(unsigned port, const char *secret, int timeout_ms, struct msg *m)
{
	struct reload r = { 0 };
	struct client_hooks hooks = { .frame = on_reload, .user = &r };
	bool not_this_vm = false;
	struct client *c = connect_to(port, secret, timeout_ms, &hooks, &not_this_vm, m);
	uint8_t *buf;
	size_t len = 0;
	int rc;

	if (!c)
		return not_this_vm ? CLIENT_NOT_THIS_VM : -1;
	client_deadline(c, timeout_ms);
	buf = proto_frame_build(PROTO_RELOAD_IDENTITY, "{\"id\":1}", 8, LWS_PRE, &len);
	rc = client_send(c, buf, len, m) < 0 ? -1 : client_run(c, m);
	client_close(c);
	/* vmd closes the connection after its ok when the secret changed: the ok
	 * decides, not how the connection ended */
	if (r.ok)
		return 0;
	if (*r.error) {
		fail(m, "vmd did not reload its identity: %s", r.error);
		return CLIENT_REFUSED;
	}
	return rc < 0 ? -1 : fail(m, "vmd did not answer the identity's reload.");
}
