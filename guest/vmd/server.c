/* server.c - the libwebsockets side: listening, authenticating the upgrade, and
 * routing the loop's events to sessions and processes.
 *
 * A connection is served only once the client has proved it holds the VM's secret,
 * after vmd has proved the same to it (auth.h): the upgrade carries the client's
 * nonce, the answer ours and our proof, and the client's first frame its proof.
 *
 * Two protocols share the one vhost: "vmd", the WebSocket protocol (also the
 * HTTP handler, since it is first), and "vmd-fd", which the adopted pipes, PTY
 * masters and the signalfd are bound to.
 */
#include "session.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "auth.h"

struct vmd vmd;

/* The user data libwebsockets keeps per connection: our session, and until it
 * exists the handshake's proofs (see auth.h). */
struct conn {
	struct session *s;
	char nonce[AUTH_HEX + 1];		/* ours, sent in the upgrade's answer */
	char server_proof[AUTH_HEX + 1];	/* sent with it */
	char client_proof[AUTH_HEX + 1];	/* what the client's first frame must hold */
	unsigned secret_generation;		/* vmd's when the proofs were made */
};

/* How long a connection may stay open without proving it holds the secret. */
#define AUTH_TIMEOUT_S 10

/* The client's nonce from the upgrade request: exactly 64 lowercase hex digits. */
static bool client_nonce(struct lws *wsi, char out[AUTH_HEX + 1])
{
	const int nlen = (int)sizeof AUTH_NONCE_HEADER - 1;

	return lws_hdr_custom_length(wsi, AUTH_NONCE_HEADER, nlen) == AUTH_HEX &&
	       lws_hdr_custom_copy(wsi, out, AUTH_HEX + 1, AUTH_NONCE_HEADER, nlen) == AUTH_HEX &&
	       auth_hex_valid(out, AUTH_HEX);
}

/* Our nonce and both proofs for this connection; false when the request has no
 * nonce (or the kernel no random bytes). */
static bool prepare_proofs(struct lws *wsi, struct conn *c)
{
	char nc[AUTH_HEX + 1];

	if (!client_nonce(wsi, nc) || auth_nonce_unwaited(c->nonce) < 0)
		return false;
	c->secret_generation = vmd.secret_generation;
	auth_proof(vmd.secret, AUTH_SERVER, nc, c->nonce, c->server_proof);
	auth_proof(vmd.secret, AUTH_CLIENT, nc, c->nonce, c->client_proof);
	return true;
}

/* The upgrade's answer carries our nonce and proof. */
static int add_proof_headers(struct lws *wsi, const struct conn *c,
			     struct lws_process_html_args *args)
{
	unsigned char *p = (unsigned char *)args->p, *end = p + args->max_len;

	if (lws_add_http_header_by_name(wsi, (const unsigned char *)AUTH_NONCE_HEADER,
					(const unsigned char *)c->nonce, AUTH_HEX, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)AUTH_PROOF_HEADER,
					(const unsigned char *)c->server_proof, AUTH_HEX, &p,
					end))
		return -1;
	args->max_len -= (int)(p - (unsigned char *)args->p);
	args->p = (char *)p;
	return 0;
}

void server_authenticate(struct session *s, const uint8_t *msg, size_t len)
{
	struct proto_request req;
	struct proto_error e;
	bool decoded = false;

	memset(&req, 0, sizeof req);
	if (msg)
		decoded = proto_request_decode(msg, len, &req, &e) == 0;
	if (s->secret_generation != vmd.secret_generation) {
		/* proofs of a secret that reload_identity has replaced since */
		session_close_with_error(s, req.id, PROTO_E_AUTH, "the VM's secret has changed "
					 "since this connection began; connect again.");
	} else if (decoded && req.type == PROTO_AUTH &&
		   auth_hex_valid(req.proof, strlen(req.proof)) &&
		   auth_equal(req.proof, s->client_proof)) {
		s->authed = true;
		explicit_bzero(s->client_proof, sizeof s->client_proof);
		lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
	} else if (decoded && req.type == PROTO_AUTH) {
		session_close_with_error(s, req.id, PROTO_E_AUTH, "auth: the proof does not "
					 "match; this client does not hold the VM's secret.");
	} else {
		session_close_with_error(s, req.id, PROTO_E_AUTH, "a connection must first "
					 "prove it holds the VM's secret (an auth frame); "
					 "nothing is served before that.");
	}
	proto_request_free(&req);
}

/* Answer with a bodiless status; 401 names the scheme, as RFC 7235 requires. */
static int http_status(struct lws *wsi, unsigned status)
{
	uint8_t buf[LWS_PRE + 256], *start = buf + LWS_PRE, *p = start;
	uint8_t *end = buf + sizeof buf;

	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    (status == HTTP_STATUS_UNAUTHORIZED &&
	     lws_add_http_header_by_name(wsi, (const uint8_t *)"www-authenticate:",
					 (const uint8_t *)"X-Vmd-Nonce", 11, &p, end)) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	return 1;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		       void *in, size_t len)
{
	struct conn *c = user;
	char nc[AUTH_HEX + 1];

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* >0: refused, the response is written */
		return client_nonce(wsi, nc) ? 0 : http_status(wsi, HTTP_STATUS_UNAUTHORIZED);
	case LWS_CALLBACK_HTTP:
		/* plain HTTP: there is nothing to serve, and no way to prove anything */
		if (http_status(wsi, HTTP_STATUS_UNAUTHORIZED) < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return c && prepare_proofs(wsi, c) ? 0 : -1;
	case LWS_CALLBACK_ADD_HEADERS:
		return c && *c->nonce ? add_proof_headers(wsi, c, in) : 0;
	case LWS_CALLBACK_ESTABLISHED:
		c->s = session_new(wsi);
		if (!c->s)
			return -1;
		memcpy(c->s->client_proof, c->client_proof, sizeof c->client_proof);
		c->s->secret_generation = c->secret_generation;
		explicit_bzero(c->client_proof, sizeof c->client_proof);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, AUTH_TIMEOUT_S);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c->s)
			session_receive(c->s, in, len, lws_is_first_fragment(wsi),
					lws_is_final_fragment(wsi), lws_frame_is_binary(wsi));
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->s ? session_writeable(c->s) : 0;
	case LWS_CALLBACK_CLOSED:
		if (c->s)
			session_free(c->s);
		c->s = NULL;
		return 0;
	default:
		return 0;
	}
}

static void signals_read(void)
{
	struct signalfd_siginfo si[16];
	ssize_t n;
	bool child = false;

	while ((n = read(vmd.sigfd.fd, si, sizeof si)) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
			if (si[i].ssi_signo == SIGCHLD)
				child = true;
			else
				vmd.stop = true;	/* SIGTERM, SIGINT */
		}
	}
	/* SIGCHLD signals merge: reap whatever has exited, not one per signal */
	if (child)
		process_reap();
	if (vmd.stop)
		lws_cancel_service(vmd.ctx);
}

static int fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		       void *in, size_t len)
{
	struct fdref *ref = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	if (!ref)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (ref->kind != FD_SIGNAL)
			return process_fd_event(ref, (int)reason);
		if (reason == LWS_CALLBACK_RAW_RX_FILE)
			signals_read();
		else if (reason == LWS_CALLBACK_RAW_CLOSE_FILE)
			ref->wsi = NULL;
		return 0;
	default:
		return 0;
	}
}

/* Big enough for a 64 KiB chunk of input to arrive in one callback. */
#define RX_BUFFER (64u << 10)

static const struct lws_protocols protocols[] = {
	{ .name = "vmd", .callback = ws_callback,
	  .per_session_data_size = sizeof(struct conn), .rx_buffer_size = RX_BUFFER },
	{ .name = "vmd-fd", .callback = fd_callback },
	{ .name = NULL }	/* the end */
};

int server_adopt(struct fdref *ref, int fd)
{
	lws_adopt_desc_t d = {
		.vh = vmd.vh,
		.type = LWS_ADOPT_RAW_FILE_DESC,
		.fd.filefd = fd,
		.vh_prot_name = "vmd-fd",
		.opaque = ref,
	};

	ref->fd = fd;
	ref->closing = false;
	ref->wsi = lws_adopt_descriptor_vhost_via_info(&d);
	if (!ref->wsi) {
		ref->fd = -1;	/* lws closed it */
		return -1;
	}
	return 0;
}

void server_close_fd(struct fdref *ref)
{
	struct lws *wsi = ref->wsi;

	if (wsi) {
		ref->closing = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_SYNC);
	}
	ref->wsi = NULL;
	ref->fd = -1;
}

int server_start(const struct vmd_options *o, int sigfd, unsigned max_fds)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.port = o->port;
	info.iface = o->bind;
	info.protocols = protocols;
	info.vhost_name = "vmd";
	info.pt_serv_buf_size = RX_BUFFER;
	info.fd_limit_per_thread = max_fds;
	/* no TLS: the port is reachable only through the host's loopback forward */
	vmd.ctx = lws_create_context(&info);
	if (!vmd.ctx)
		return -1;
	vmd.vh = lws_create_vhost(vmd.ctx, &info);
	if (!vmd.vh)
		return -1;
	vmd.sigfd = (struct fdref){ .kind = FD_SIGNAL, .fd = -1 };
	return server_adopt(&vmd.sigfd, sigfd);
}

void server_stop(void)
{
	/* Kill every process while the loop still exists to close their pipes;
	 * then lws closes the connections. */
	for (struct session *s = vmd.sessions; s; s = s->next)
		session_drop_processes(s);
	server_close_fd(&vmd.sigfd);
	lws_context_destroy(vmd.ctx);
	vmd.ctx = NULL;
}
