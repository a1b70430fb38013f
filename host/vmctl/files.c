/* files.c - vmctl install and vmctl cp: files into and out of a sandbox; and vmctl
 * session, which shares their one-request conversation with vmd.
 *
 * install sends the whole program in one binary_install message, so it is bounded by
 * the frame limit; cp streams: file_put, file_data of 1 MiB each (read only while
 * little is queued, so a file of any size costs a few MiB here), file_end; and fs_read,
 * whose data messages go to a temporary file beside LOCAL that is renamed over it only
 * at vmd's ok. A failure or an interrupt leaves no partial LOCAL and keeps an old one.
 *
 * vmd is the guest's, and the guest may be hostile: each conversation gives up when
 * vmd sends nothing for --idle-timeout, a download stops at --max-size, what vmd says
 * is printed escaped, and the paths it names are checked before they are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "proto.h"
#include "state.h"
#include "text.h"

#define CONNECT_TIMEOUT_MS 10000
#define REQUEST_ID 1		/* install, file_put, fs_read and file_end */
#define CHUNK (1u << 20)	/* file_data: the size of vmd's own data messages */
#define QUEUE_FULL (4u << 20)	/* read LOCAL only while less than this waits to go */
#define PROGRESS_MS 200

struct xfer {
	struct client *c;
	const struct vmctl_args *a;
	int fd;			/* LOCAL, read (upload) or written (download) */
	long long total;	/* LOCAL's size for an upload, -1 when unknown */
	unsigned long long max_size;	/* a download stops beyond this */
	long long done;		/* bytes sent or received */
	long long t0, shown;	/* when it started, when progress was last drawn */
	char handle[64];	/* file_put's */
	bool opened, eof, ended, ok;
	long long size;		/* vmd's ok: the size it wrote or sent */
	char path[PATH_MAX];	/* binary_install's ok; session_create's home */
	char error[400];	/* vmd's sentence, escaped */
	struct msg fail;	/* a failure of our own */
	bool failed;
	uint8_t *buf;		/* CHUNK bytes of LOCAL */
};

/* The temporary file of a download, removed by the interrupt handler too. */
static char tmp_path[PATH_MAX];

static void on_interrupt(int sig)
{
	if (*tmp_path)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* On a terminal only: scripts read stderr for the one failing sentence. */
static void progress(struct xfer *x, bool last)
{
	long long t = now_ms();
	double mb = (double)x->done / 1e6, secs = (double)(t - x->t0) / 1000;

	if (!isatty(2) || (!last && t - x->shown < PROGRESS_MS))
		return;
	x->shown = t;
	if (last) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	if (x->total >= 0)
		fprintf(stderr, "\rvmctl: %.1f of %.1f MB (%.0f MB/s)\033[K", mb,
			(double)x->total / 1e6, secs > 0 ? mb / secs : 0.0);
	else
		fprintf(stderr, "\rvmctl: %.1f MB (%.0f MB/s)\033[K", mb,
			secs > 0 ? mb / secs : 0.0);
}

static void stop_failed(struct xfer *x)
{
	x->failed = true;
	client_stop(x->c);
}

/* buf and len come from a proto_frame_*() call made before this one (C leaves the
 * order of argument evaluation open). */
static void send_frame(struct xfer *x, uint8_t *buf, size_t len)
{
	if (!x->failed && client_send(x->c, buf, len, &x->fail) < 0)
		stop_failed(x);
}

static void send_end(struct xfer *x)
{
	cJSON *o = cJSON_CreateObject();
	uint8_t *buf = NULL;
	size_t len = 0;

	if (o) {
		cJSON_AddNumberToObject(o, "id", REQUEST_ID);
		cJSON_AddStringToObject(o, "handle", x->handle);
		buf = proto_frame_json(PROTO_FILE_END, o, LWS_PRE, &len);
		cJSON_Delete(o);
	}
	send_frame(x, buf, len);
}

/* Upload: refill the queue from LOCAL up to QUEUE_FULL, then file_end at its end. */
static void pump(struct xfer *x)
{
	while (x->opened && !x->eof && !x->failed && client_queued(x->c) < QUEUE_FULL) {
		ssize_t n = read(x->fd, x->buf, CHUNK);
		uint8_t *buf;
		size_t len = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail_errno(&x->fail, "cannot read %s", x->a->local);
			stop_failed(x);
			return;
		}
		if (n == 0) {
			x->eof = true;
			send_end(x);
			return;
		}
		buf = proto_frame_data(PROTO_FILE_DATA, "2", x->handle, x->buf, (size_t)n,
				       LWS_PRE, &len);
		send_frame(x, buf, len);
		x->done += n;
		progress(x, false);
	}
}

static void on_sent(struct client *c, size_t queued, void *user)
{
	(void)c;
	(void)queued;
	pump(user);
}


static void on_frame(struct client *c, const uint8_t *msg, size_t len, void *user)
{
	struct xfer *x = user;
	struct proto_reply r;
	struct proto_error pe;

	if (proto_reply_decode(msg, len, &r, &pe) < 0) {
		fail(&x->fail, "the sandbox sent a message vmctl cannot read: %s", pe.message);
		proto_reply_free(&r);
		stop_failed(x);
		return;
	}
	switch (r.type) {
	case PROTO_DATA:
		if (r.data_len > x->max_size - (unsigned long long)x->done) {
			fail(&x->fail, "the sandbox sent more of %s than --max-size allows (%llu "
			     "bytes)%s", x->a->remote, x->max_size,
			     x->fd == 1 ? "; the output stops there." : "; nothing was written.");
			stop_failed(x);
			break;
		}
		if (write_all(x->fd, r.data, r.data_len) < 0) {
			fail_errno(&x->fail, "cannot write %s", x->a->local);
			stop_failed(x);
			break;
		}
		x->done += (long long)r.data_len;
		progress(x, false);
		break;
	case PROTO_OK:
		if (x->a->upload && !x->opened) {
			/* file_put's ok: the upload's handle; start sending */
			snprintf(x->handle, sizeof x->handle, "%s", r.handle ? r.handle : "");
			x->opened = true;
			pump(x);
			break;
		}
		if ((r.path || r.home) &&
		    snprintf(x->path, sizeof x->path, "%s", r.path ? r.path : r.home) >=
			    (int)sizeof x->path) {
			fail(&x->fail, "the sandbox answered with a path over %zu bytes.",
			     sizeof x->path - 1);
			stop_failed(x);
			break;
		}
		x->size = r.size;
		x->ok = true;
		client_stop(c);
		break;
	case PROTO_ERROR:
		/* The first says why: file_data already queued after a failed one only
		 * hears that the upload is gone. */
		if (!*x->error)
			text_safe(x->error, sizeof x->error,
				  r.message && *r.message ? r.message : "the sandbox refused it.");
		x->eof = true;
		client_stop(c);
		break;
	default:
		break;
	}
	proto_reply_free(&r);
}

/* The idle bound of a conversation, in ms. */
static int idle_ms(const struct vmctl_args *a)
{
	return (int)(a->idle_timeout ? a->idle_timeout : VMCTL_IDLE_DEFAULT_S) * 1000;
}

/* Connect to the sandbox on a->port with its secret. */
static struct client *connect_vm(const struct vmctl_args *a, struct client_hooks *hooks,
				 struct msg *m)
{
	char dir[PATH_MAX];
	struct vm_state s;

	if (state_dir(dir, sizeof dir, m) < 0 || state_load(dir, a->port, &s, m) < 0)
		return NULL;
	if (!state_alive(&s)) {
		fail(m, "the sandbox on port %u is not running any more (vmctl stop %u clears "
		     "it).", a->port, a->port);
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN);
	return client_open(a->port, s.secret, CONNECT_TIMEOUT_MS, hooks, m);
}

/* Send the first request, serve until vmd answers it all; -1 with m on any failure,
 * vmd's sentence included. */
static int converse(struct xfer *x, uint8_t *buf, size_t len, struct msg *m)
{
	int rc;

	if (client_send(x->c, buf, len, m) < 0)
		return -1;
	rc = client_run(x->c, m);
	if (x->failed) {
		*m = x->fail;
		return -1;
	}
	if (*x->error)
		return fail(m, "%s", x->error);
	if (rc < 0)
		return -1;
	if (!x->ok)
		return fail(m, "the sandbox on port %u closed the connection before it "
			    "answered.", x->a->port);
	return 0;
}

/* Connect, send the one request buf (taken), and serve until vmd answers it; `what`
 * names the request if vmd stalls. */
static int one_request(struct xfer *x, uint8_t *buf, size_t len, const char *what,
		       struct msg *m)
{
	struct client_hooks hooks = { .frame = on_frame, .user = x };
	int rc;

	x->c = connect_vm(x->a, &hooks, m);
	if (!x->c) {
		free(buf);
		return -1;
	}
	client_idle(x->c, idle_ms(x->a), what);
	rc = converse(x, buf, len, m);
	client_close(x->c);
	return rc;
}

/* --- install --------------------------------------------------------------------------- */

/* The largest program one binary_install carries: its base64 and the JSON around it
 * within the payload limit, for any NAME (255 bytes, six each when escaped), so that
 * the limit is one number whatever the name. */
#define INSTALL_MAX ((long long)((PROTO_MAX_PAYLOAD - 64 - 6 * 255) / 4 * 3))

static int read_whole(const char *path, uint8_t **out, size_t *len, long long limit,
		      const struct vmctl_args *a, struct msg *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *p;
	size_t got = 0;

	if (fd < 0)
		return fail_errno(m, "cannot open %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(m, "%s is not a regular file; install takes a program's file.", path);
	}
	if (st.st_size > limit) {
		close(fd);
		return fail(m, "%s is %lld bytes, more than one install message carries (%lld); "
			    "vmctl cp %s %u:%s copies it into the sandbox user's home instead.",
			    path, (long long)st.st_size, limit, path, a->port, a->name);
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		close(fd);
		return fail(m, "out of memory reading %s.", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* it shrank while we read it */
			fail_errno(m, "cannot read %s", path);
			free(p);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = p;
	*len = got;
	return 0;
}

static uint8_t *install_frame(const char *name, const uint8_t *data, size_t n, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *b64 = malloc(proto_b64_len(n) + 1);
	uint8_t *buf = NULL;

	if (o && b64) {
		b64[proto_b64_encode(data, n, b64)] = '\0';
		cJSON_AddNumberToObject(o, "id", REQUEST_ID);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "data", b64);
		buf = proto_frame_json(PROTO_BINARY_INSTALL, o, LWS_PRE, len);
	}
	free(b64);
	cJSON_Delete(o);
	return buf;
}

int cmd_install(const struct vmctl_args *a, struct msg *m)
{
	struct xfer x = { .a = a, .fd = -1, .total = -1 };
	uint8_t *data = NULL, *buf;
	size_t n = 0, len = 0;
	char what[300], safe[400];

	if (read_whole(a->file, &data, &n, INSTALL_MAX, a, m) < 0)
		return -1;
	buf = install_frame(a->name, data, n, &len);
	free(data);
	if (!buf)
		return fail(m, "out of memory building the install message for %s.", a->file);
	snprintf(what, sizeof what, "installing %s", a->name);
	if (one_request(&x, buf, len, what, m) < 0)
		return -1;
	if (!vmctl_guest_path_ok(x.path, a->name))
		return fail(m, "the sandbox says it installed %s as \"%s\", which is not a plain "
			    "absolute path to %s; vmctl does not trust it.", a->name,
			    text_safe(safe, sizeof safe, x.path), a->name);
	printf("%s\n", x.path);
	return 0;
}

/* --- session --------------------------------------------------------------------------- */

int cmd_session(const struct vmctl_args *a, struct msg *m)
{
	struct xfer x = { .a = a, .fd = -1, .total = -1 };
	cJSON *o = cJSON_CreateObject();
	uint8_t *buf = NULL;
	size_t len = 0;
	char what[64], safe[400];

	if (o) {
		cJSON_AddNumberToObject(o, "id", REQUEST_ID);
		cJSON_AddNumberToObject(o, "uid", a->uid);
		if (a->destroy)
			cJSON_AddBoolToObject(o, "delete_home", a->delete_home);
		else if (a->name)
			cJSON_AddStringToObject(o, "username", a->name);
		buf = proto_frame_json(a->destroy ? PROTO_SESSION_DESTROY : PROTO_SESSION_CREATE,
				       o, LWS_PRE, &len);
		cJSON_Delete(o);
	}
	if (!buf)
		return fail(m, "out of memory building the session message.");
	snprintf(what, sizeof what, "%s the session of uid %u",
		 a->destroy ? "ending" : "creating", a->uid);
	if (one_request(&x, buf, len, what, m) < 0)
		return -1;
	if (a->destroy)
		return 0;
	if (!vmctl_guest_path_ok(x.path, NULL))
		return fail(m, "the sandbox gave the new user's home as \"%s\", which is not a "
			    "plain absolute path; vmctl does not trust it.",
			    text_safe(safe, sizeof safe, x.path));
	printf("%s\n", x.path);	/* the new user's home */
	return 0;
}

/* --- cp -------------------------------------------------------------------------------- */

static int upload(struct xfer *x, struct msg *m)
{
	const struct vmctl_args *a = x->a;
	struct stat st;
	cJSON *o;
	uint8_t *buf = NULL;
	size_t len = 0;
	unsigned mode = 0644;
	int rc;

	x->fd = strcmp(a->local, "-") == 0 ? 0 : open(a->local, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0)
		return fail_errno(m, "cannot open %s", a->local);
	if (fstat(x->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (x->fd)
			close(x->fd);
		return fail(m, "%s is a folder; cp copies one file.", a->local);
	}
	/* A file keeps its permission bits, as cp(1) does; stdin gets vmd's default. */
	if (x->fd && S_ISREG(st.st_mode)) {
		x->total = st.st_size;
		mode = st.st_mode & 0777;
	}
	x->buf = malloc(CHUNK);
	o = cJSON_CreateObject();
	if (x->buf && o) {
		cJSON_AddNumberToObject(o, "id", REQUEST_ID);
		cJSON_AddStringToObject(o, "path", a->remote);
		cJSON_AddNumberToObject(o, "mode", mode);
		if (a->has_uid)
			cJSON_AddNumberToObject(o, "uid", a->uid);
		buf = proto_frame_json(PROTO_FILE_PUT, o, LWS_PRE, &len);
	}
	cJSON_Delete(o);
	rc = converse(x, buf, len, m);
	if (rc == 0 && x->size >= 0 && x->size != x->done)
		rc = fail(m, "the sandbox wrote %lld bytes of %s but vmctl sent %lld.", x->size,
			  a->local, x->done);
	free(x->buf);
	if (x->fd)
		close(x->fd);
	return rc;
}

/* The temporary file beside dst: ".NAME.vmctl-XXXXXX" in dst's folder. */
static int open_temp(const char *dst, struct msg *m)
{
	char copy[PATH_MAX], copy2[PATH_MAX];
	int fd;

	snprintf(copy, sizeof copy, "%s", dst);
	snprintf(copy2, sizeof copy2, "%s", dst);
	if (snprintf(tmp_path, sizeof tmp_path, "%s/.%s.vmctl-XXXXXX", dirname(copy),
		     basename(copy2)) >= (int)sizeof tmp_path) {
		*tmp_path = '\0';
		return fail(m, "the path %s is too long.", dst);
	}
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		*tmp_path = '\0';
		return fail_errno(m, "cannot write beside %s", dst);
	}
	return fd;
}

/* Make the download dst: mode as a new file gets, data on disk, then the name. */
static int commit(int fd, const char *dst, struct msg *m)
{
	char copy[PATH_MAX];
	mode_t mask = umask(0);
	int dfd;

	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || fsync(fd) < 0)
		return fail_errno(m, "cannot write %s", dst);
	if (rename(tmp_path, dst) < 0)
		return fail_errno(m, "cannot write %s", dst);
	*tmp_path = '\0';
	/* The rename itself must reach the disk before we say it is done. */
	snprintf(copy, sizeof copy, "%s", dst);
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int download(struct xfer *x, struct msg *m)
{
	const struct vmctl_args *a = x->a;
	char dst[PATH_MAX];
	bool to_stdout = strcmp(a->local, "-") == 0;
	struct stat st;
	struct sigaction sa;
	cJSON *o;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	/* Into a folder: the file keeps its name, as with cp(1). */
	snprintf(dst, sizeof dst, "%s", a->local);
	if (!to_stdout && stat(a->local, &st) == 0 && S_ISDIR(st.st_mode)) {
		char copy[PATH_MAX];

		snprintf(copy, sizeof copy, "%s", a->remote);
		if (!strcmp(basename(copy), ".") || !strcmp(basename(copy), "..") ||
		    !strcmp(basename(copy), "/"))
			return fail(m, "%s names no file to call the copy in %s by; give LOCAL as "
				    "a file's path.", a->remote, a->local);
		if (snprintf(dst, sizeof dst, "%s/%s", a->local, basename(copy)) >=
		    (int)sizeof dst)
			return fail(m, "the path %s/%s is too long.", a->local, basename(copy));
	}
	if (to_stdout) {
		x->fd = 1;
	} else {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_interrupt;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		x->fd = open_temp(dst, m);
		if (x->fd < 0)
			return -1;
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddNumberToObject(o, "id", REQUEST_ID);
		cJSON_AddStringToObject(o, "path", a->remote);
		if (a->has_uid)
			cJSON_AddNumberToObject(o, "uid", a->uid);
		buf = proto_frame_json(PROTO_FS_READ, o, LWS_PRE, &len);
	}
	cJSON_Delete(o);
	rc = converse(x, buf, len, m);
	if (rc == 0 && x->size >= 0 && x->size != x->done)
		rc = fail(m, "the sandbox sent %lld bytes of %s but says it has %lld.", x->done,
			  a->remote, x->size);
	if (to_stdout)
		return rc;
	if (rc == 0)
		rc = commit(x->fd, dst, m);
	close(x->fd);
	if (*tmp_path) {
		unlink(tmp_path);
		*tmp_path = '\0';
	}
	return rc;
}

int cmd_cp(const struct vmctl_args *a, struct msg *m)
{
	struct xfer x = { .a = a, .fd = -1, .total = -1, .size = -1 };
	struct client_hooks hooks = { .frame = on_frame, .sent = on_sent, .user = &x };
	char what[200];
	int rc;

	x.c = connect_vm(a, &hooks, m);
	if (!x.c)
		return -1;
	x.max_size = a->max_size ? a->max_size : VMCTL_MAX_SIZE_DEFAULT;
	snprintf(what, sizeof what, "%s %s", a->upload ? "uploading to" : "downloading",
		 a->remote);
	client_idle(x.c, idle_ms(a), what);
	x.t0 = x.shown = now_ms();
	rc = a->upload ? upload(&x, m) : download(&x, m);
	progress(&x, true);
	client_close(x.c);
	return rc;
}
