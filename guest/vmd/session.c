/* session.c - one client connection: reassembling its messages, answering its
 * requests, and the queue of frames going back to it.
 *
 * Frames are only ever written from the connection's writeable callback, in the
 * order they were queued, so a process's output always precedes its exit. A
 * message is checked as it arrives: once its header shows it cannot be valid
 * (over the limit, or longer than its length field says), the rest is counted
 * and dropped, never buffered.
 */
#include "session.h"

#include <stdarg.h>
#include "setup.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most a message may be before the connection is authenticated: the proof's
 * frame is about a hundred bytes, and a stranger must not make vmd buffer more. */
#define AUTH_MESSAGE_MAX 1024

struct session *session_new(struct lws *wsi)
{
	struct session *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->wsi = wsi;
	s->next = vmd.sessions;
	if (vmd.sessions)
		vmd.sessions->prev = s;
	vmd.sessions = s;
	return s;
}

void session_drop_processes(struct session *s)
{
	while (s->procs) {
		struct process *p = s->procs;

		process_list_unlink(&s->procs, p);
		if (process_finished(p))
			process_free(p);
		else
			process_abandon(p);
	}
}

void session_free(struct session *s)
{
	files_session_end(s);
	users_session_end(s);
	session_drop_processes(s);
	while (s->head) {
		struct out_msg *m = s->head;

		s->head = m->next;
		free(m->buf);
		free(m);
	}
	free(s->rx.buf);
	if (s->prev)
		s->prev->next = s->next;
	else
		vmd.sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

/* --- sending ---------------------------------------------------------------------------- */

static void set_output_paused(struct session *s, bool paused)
{
	s->output_paused = paused;
	for (struct process *p = s->procs; p; p = p->next)
		process_set_paused(p, paused);
}

bool session_output_paused(const struct session *s)
{
	return s->output_paused;
}

/* Read the client's socket only while neither queue is over its bound. */
static void update_rx(struct session *s)
{
	bool full = s->rx_paused ? s->stdin_queued >= STDINQ_LOW || s->queued >= OUTQ_LOW
				 : s->stdin_queued > STDINQ_HIGH || s->queued > OUTQ_HARD;

	if (full != s->rx_paused) {
		s->rx_paused = full;
		lws_rx_flow_control(s->wsi, !full);
	}
}

void session_send(struct session *s, uint8_t *buf, size_t len)
{
	struct out_msg *m = malloc(sizeof *m);

	if (!m) {
		free(buf);
		return;
	}
	*m = (struct out_msg){ .buf = buf, .len = len };
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->queued += len;
	lws_callback_on_writable(s->wsi);
	if (!s->output_paused && s->queued > OUTQ_HIGH)
		set_output_paused(s, true);
	if (s->queued > OUTQ_HARD)
		update_rx(s);
}

void session_send_error(struct session *s, const cJSON *id, int code, const char *fmt, ...)
{
	char message[512];
	uint8_t *buf;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	buf = proto_error_frame(id, code, message, LWS_PRE, &len);
	if (buf)
		session_send(s, buf, len);
}

void session_close_with_error(struct session *s, const cJSON *id, int code,
			      const char *message)
{
	session_send_error(s, id, code, "%s", message);
	s->closing = true;
	lws_callback_on_writable(s->wsi);
}

/* Frames written per writeable callback at most, so one busy client cannot keep
 * the loop from the others. */
#define WRITES_PER_TURN 16

int session_writeable(struct session *s)
{
	for (int n = 0; s->head && n < WRITES_PER_TURN; n++) {
		struct out_msg *m = s->head;

		if (n && lws_send_pipe_choked(s->wsi))
			break;
		/* lws keeps what the socket did not take and reports it choked */
		if (lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY) <
		    (int)m->len)
			return -1;
		s->head = m->next;
		if (!s->head)
			s->tail = NULL;
		s->queued -= m->len;
		free(m->buf);
		free(m);
	}
	if (s->closing && !s->head)
		return -1;
	files_pump(s);
	if (s->head)
		lws_callback_on_writable(s->wsi);
	if (s->output_paused && s->queued < OUTQ_LOW)
		set_output_paused(s, false);
	if (s->rx_paused)
		update_rx(s);
	return 0;
}

void session_stdin_account(struct session *s, ssize_t delta)
{
	s->stdin_queued = (size_t)((ssize_t)s->stdin_queued + delta);
	update_rx(s);
}

void session_send_json(struct session *s, uint8_t type, cJSON *obj)
{
	size_t len;
	uint8_t *buf = obj ? proto_frame_json(type, obj, LWS_PRE, &len) : NULL;

	cJSON_Delete(obj);
	if (buf)
		session_send(s, buf, len);
}

void send_ok(struct session *s, const cJSON *id)
{
	session_send_json(s, PROTO_OK, proto_object(id));
}

/* --- requests ---------------------------------------------------------------------------- */

static void handle_message(struct session *s, const uint8_t *msg, size_t size)
{
	struct proto_request req;
	struct proto_error e;
	struct process *p;

	if (proto_request_decode(msg, size, &req, &e) < 0) {
		session_send_error(s, req.id, e.code, "%s", e.message);
		proto_request_free(&req);
		return;
	}
	switch (req.type) {
	case PROTO_PING:
		session_send_json(s, PROTO_PONG, proto_object(req.id));
		break;
	case PROTO_SPAWN:
		process_spawn(s, &req);
		break;
	case PROTO_SESSION_CREATE:
		users_create(s, &req);
		break;
	case PROTO_SESSION_DESTROY:
		users_destroy(s, &req);
		break;
	case PROTO_BINARY_INSTALL:
	case PROTO_FS_READ:
	case PROTO_LOAD_STATE:
	case PROTO_FILE_PUT:
	case PROTO_FILE_DATA:
	case PROTO_FILE_END:
		files_request(s, &req);
		break;
	case PROTO_MOUNT:
	case PROTO_UNMOUNT:
		mounts_request(s, &req);
		break;
	case PROTO_RELOAD_IDENTITY:
		session_reload_identity(s, &req);
		break;
	case PROTO_AUTH:
		session_send_error(s, req.id, PROTO_E_AUTH, "auth: this connection has "
				   "proved it holds the secret already.");
		break;
	default:
		p = process_find(s, req.handle);
		if (p)
			process_request(s, p, &req);
		else
			session_send_error(s, req.id, PROTO_E_HANDLE,
					   "no process with handle \"%.64s\" on this "
					   "connection.", req.handle);
	}
	proto_request_free(&req);
}

/* The host gave this VM a new QEMU (a resume, or a fork's new sandbox): what the
 * memory holds is right for the processes but stale for the world, so vmd takes
 * the clock, the entropy, the hostname and the secret from the identity again.
 * The content comes from fw_cfg, which only the host writes; the request only says
 * when. A new secret ends the old one's access: every connection, proved with the
 * old one (or proving itself with it now), is closed once the ok is written, and
 * their processes end as at any disconnect (a fork's copies of the parent's
 * connections lead nowhere: their clients talk to the parent). */
void session_reload_identity(struct session *s, const struct proto_request *req)
{
	struct msg m;
	bool changed;

	if (!vmd.identity) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "reload_identity: vmd was "
				   "started without --identity, so there is none to reload.");
		return;
	}
	if (setup_reload_identity(vmd.identity, vmd.secret, &changed, &m) < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "reload_identity: %s", m.text);
		return;
	}
	send_ok(s, req->id);
	if (!changed)
		return;
	vmd.secret_generation++;
	for (struct session *o = vmd.sessions; o; o = o->next) {
		if (o == s)
			continue;
		session_close_with_error(o, NULL, PROTO_E_AUTH, "the VM's secret has changed; "
					 "this connection proved the old one and is closed.");
	}
	s->closing = true;
	lws_callback_on_writable(s->wsi);
}

/* Keep the bytes of a message that may still be valid. */
static bool rx_keep(struct rx *rx, const uint8_t *in, size_t len)
{
	if (rx->len + len > rx->cap) {
		/* at most header + declared length: proto_frame_check_prefix()
		 * refused anything longer already */
		size_t cap = rx->cap ? rx->cap : 4096;
		uint8_t *buf;

		while (cap < rx->len + len)
			cap *= 2;
		if (rx->head_len == PROTO_HEADER_SIZE &&
		    cap > PROTO_HEADER_SIZE + get_le32(rx->head + 1))
			cap = PROTO_HEADER_SIZE + get_le32(rx->head + 1);
		if (cap < rx->len + len)
			cap = rx->len + len;
		buf = realloc(rx->buf, cap);
		if (!buf)
			return false;
		rx->buf = buf;
		rx->cap = cap;
	}
	memcpy(rx->buf + rx->len, in, len);
	rx->len += len;
	return true;
}

static void rx_reset(struct rx *rx)
{
	free(rx->buf);
	*rx = (struct rx){ 0 };
}

void session_receive(struct session *s, const void *in, size_t len, bool first,
		     bool final, bool binary)
{
	struct rx *rx = &s->rx;
	struct proto_error e;

	if (s->closing)
		return;
	if (first) {
		rx_reset(rx);
		rx->text = !binary;
	}
	rx->size += len;
	/* (an empty message comes as one call with no bytes, and in == NULL) */
	if (len && !rx->text && !rx->refused) {
		size_t h = len < PROTO_HEADER_SIZE - rx->head_len ?
			   len : PROTO_HEADER_SIZE - rx->head_len;

		memcpy(rx->head + rx->head_len, in, h);
		rx->head_len += h;
		if (proto_frame_check_prefix(rx->head, rx->head_len, rx->size, &e) < 0 ||
		    (!s->authed && rx->size > AUTH_MESSAGE_MAX)) {
			rx->refused = true;
		} else if (!rx_keep(rx, in, len)) {
			rx->refused = true;
			free(rx->buf);
			rx->buf = NULL;
			rx->len = rx->cap = 0;
		}
	}
	if (!final)
		return;
	if (!s->authed)
		server_authenticate(s, rx->text || rx->refused ? NULL : rx->buf, rx->len);
	else if (rx->text)
		session_send_error(s, NULL, PROTO_E_FRAME, "text messages are not accepted; "
				   "send each frame as one binary message.");
	else if (!rx->refused)
		handle_message(s, rx->buf, rx->len);
	else if (proto_frame_check_prefix(rx->head, rx->head_len, rx->size, &e) < 0)
		session_send_error(s, NULL, e.code, "%s", e.message);	/* exact sizes */
	else
		session_send_error(s, NULL, PROTO_E_INTERNAL,
				   "out of memory receiving a message of %zu bytes.", rx->size);
	rx_reset(rx);
}
