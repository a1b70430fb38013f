/* files.c - files in and out of the guest: binary_install, fs_read and load_state
 * (downloads), file_put / file_data / file_end (uploads).
 *
 * Every write is whole or not at all: a temporary file in the target's folder,
 * fsync, rename over the target. Paths from a client are resolved beneath a root
 * (a session's home, or the default sandbox user's) with openat2's
 * RESOLVE_BENEATH, so "..", a link pointing out or a /proc magic link cannot leave
 * it, whatever a process of that user put in the home meanwhile.
 *
 * A download is read FSREAD_CHUNK at a time, and only while the connection's
 * output queue is under FSREAD_QUEUE: the writeable callback reads the next chunk
 * (files_pump) as the client takes the previous ones. Reading a regular file does
 * not block for long, so it is done in the loop.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"

struct download {
	struct download *next;
	cJSON *id;
	char *id_json;		/* the id as JSON text, for the data frames */
	int fd;
	long long size;		/* bytes sent so far */
};

struct upload {
	struct upload *next;
	char handle[33];
	int dir;		/* O_PATH descriptor of the target's folder */
	int fd;			/* the temporary file */
	char tmp[32];		/* its name in dir */
	char *name;		/* the target's name in dir */
	uint32_t mode;
	long long size;
};

/* --- helpers ------------------------------------------------------------------------- */

static int open_beneath(int root, const char *rel, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
}

/* path relative to root: an absolute path must lie inside root; NULL if not. */
static const char *beneath(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (path[0] != '/')
		return path;
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	for (path += n; *path == '/'; path++)
		;
	return *path ? path : ".";
}

/* The root of a request's path, or NULL after answering with an error. */
static const char *request_root(struct session *s, const struct proto_request *req)
{
	const char *root;
	uid_t uid = req->has_uid ? req->uid : LAUNCH_SANDBOX_ID;

	/* load_state names a session; the others default to the sandbox user */
	root = req->type == PROTO_LOAD_STATE ? users_session_home(uid) : users_home(uid);
	if (!root)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: uid %u has no session.",
				   proto_type_name(req->type), uid);
	return root;
}

/* Answer a failed open_beneath() of what. */
static void open_error(struct session *s, const struct proto_request *req,
		       const char *root, const char *what)
{
	const char *t = proto_type_name(req->type);

	if (errno == EXDEV || errno == ELOOP)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: the path \"%.200s\" "
				   "escapes %s.", t, what, root);
	else if (errno == ENOENT)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: \"%.200s\" does not "
				   "exist.", t, what);
	else if (errno == ENOTDIR)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: a part of \"%.200s\" "
				   "is not a folder.", t, what);
	else
		session_send_error(s, req->id, PROTO_E_INTERNAL, "%s: cannot open "
				   "\"%.200s\": %s.", t, what, strerror(errno));
}

/* Open path beneath the request's root with flags; -1 after answering. */
static int open_request_path(struct session *s, const struct proto_request *req,
			     const char *path, uint64_t flags)
{
	const char *root = request_root(s, req), *rel;
	int dir, fd, saved;

	if (!root)
		return -1;
	rel = beneath(root, path);
	if (!rel) {
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: the path \"%.200s\" "
				   "escapes %s.", proto_type_name(req->type), path, root);
		return -1;
	}
	/* a home is a real folder vmd made; never a link */
	dir = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "%s: cannot open the home "
				   "%s: %s.", proto_type_name(req->type), root, strerror(errno));
		return -1;
	}
	fd = open_beneath(dir, rel, flags);
	saved = errno;
	close(dir);
	errno = saved;
	if (fd < 0)
		open_error(s, req, root, path);
	return fd;
}


/* A temporary file's name: hidden, and unguessable so nobody prepares it. */
static void temp_name(char out[32])
{
	char h[33];

	random_handle(h);
	snprintf(out, 32, ".vmd-%.24s", h);
}

/* fsync a folder given by an O_PATH descriptor, so a rename in it is durable. */
static int sync_dir(int dir)
{
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Finish a temporary file: mode, fsync, rename over name, fsync the folder.
 * Closes fd; the temporary is gone whatever happens. */
static int commit(int dir, int fd, const char *tmp, const char *name, mode_t mode)
{
	int saved;

	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dir, tmp, dir, name) < 0)
		goto fail;
	return sync_dir(dir);
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dir, tmp, 0);
	errno = saved;
	return -1;
}

/* True (after answering) when the connection already has FILES_OPEN_MAX of what. */
static bool too_many(struct session *s, const struct proto_request *req, size_t n,
		     const char *what)
{
	if (n < FILES_OPEN_MAX)
		return false;
	session_send_error(s, req->id, PROTO_E_INTERNAL, "%s: this connection already has "
			   "%d %s; wait for one to end.", proto_type_name(req->type),
			   FILES_OPEN_MAX, what);
	return true;
}

/* --- binary_install ----------------------------------------------------------------------- */

static void install(struct session *s, const struct proto_request *req)
{
	char tmp[32], *path = NULL;
	int dir, fd, saved = 0;
	cJSON *o;

	if (asprintf(&path, "%s/%s", vmd.bin_dir, req->name) < 0)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	dir = open(vmd.bin_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "binary_install: cannot "
				   "open %s: %s.", vmd.bin_dir, strerror(errno));
		free(path);
		return;
	}
	temp_name(tmp);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
	} else if (write_all(fd, req->data, req->data_len) < 0) {
		saved = errno;
		close(fd);
		unlinkat(dir, tmp, 0);
	} else if (commit(dir, fd, tmp, req->name, req->executable ? 0755 : 0644) < 0) {
		saved = errno;
	}
	if (saved) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "binary_install: cannot "
				   "write %s: %s.", path, strerror(saved));
	} else {
		o = proto_object(req->id);
		if (o && !cJSON_AddStringToObject(o, "path", path)) {
			cJSON_Delete(o);
			o = NULL;
		}
		session_send_json(s, PROTO_OK, o);
	}
	close(dir);
	free(path);
}

/* --- downloads ------------------------------------------------------------------------------ */

static void download_free(struct download *d)
{
	close(d->fd);
	cJSON_Delete(d->id);
	cJSON_free(d->id_json);
	free(d);
}

static void download(struct session *s, const struct proto_request *req)
{
	struct download *d, **tail;
	struct stat st;
	size_t n = 0;
	int fd;

	for (d = s->downloads; d; d = d->next)
		n++;
	if (too_many(s, req, n, "downloads waiting"))
		return;
	/* O_NONBLOCK: opening a FIFO must not stall the loop; it is refused below */
	fd = open_request_path(s, req, req->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return session_send_error(s, req->id, PROTO_E_PARAMS, "%s: \"%.200s\" is "
					  "not a regular file.",
					  proto_type_name(req->type), req->path);
	}
	d = calloc(1, sizeof *d);
	if (d) {
		d->fd = fd;
		d->id = cJSON_Duplicate(req->id, true);
		d->id_json = cJSON_PrintUnformatted(req->id);
	}
	if (!d || !d->id || !d->id_json) {
		if (d)
			download_free(d);
		else
			close(fd);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	}
	/* in the order asked, one at a time, so each one's data is contiguous */
	for (tail = &s->downloads; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	files_pump(s);
}

void files_pump(struct session *s)
{
	static uint8_t buf[FSREAD_CHUNK];

	while (s->downloads && s->queued < FSREAD_QUEUE) {
		struct download *d = s->downloads;
		ssize_t n = read(d->fd, buf, sizeof buf);
		uint8_t *frame;
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			frame = proto_frame_data(PROTO_DATA, d->id_json, NULL, buf, (size_t)n,
						 LWS_PRE, &len);
			if (frame) {
				session_send(s, frame, len);
				d->size += n;
				continue;
			}
			errno = ENOMEM;
			n = -1;
		}
		if (n == 0) {
			cJSON *o = proto_object(d->id);

			if (o && !cJSON_AddNumberToObject(o, "size", (double)d->size)) {
				cJSON_Delete(o);
				o = NULL;
			}
			session_send_json(s, PROTO_OK, o);
		} else {
			session_send_error(s, d->id, PROTO_E_INTERNAL, "cannot read the file "
					   "after %lld bytes: %s.", d->size, strerror(errno));
		}
		s->downloads = d->next;
		download_free(d);
	}
}

/* --- uploads -------------------------------------------------------------------------------- */

static void upload_free(struct session *s, struct upload *u, bool remove)
{
	struct upload **pu;

	for (pu = &s->uploads; *pu && *pu != u; pu = &(*pu)->next)
		;
	if (*pu)
		*pu = u->next;
	if (u->fd >= 0)
		close(u->fd);
	if (remove)
		unlinkat(u->dir, u->tmp, 0);
	close(u->dir);
	free(u->name);
	free(u);
}

static void upload_start(struct session *s, const struct proto_request *req)
{
	uid_t owner = req->has_uid ? req->uid : LAUNCH_SANDBOX_ID;
	const char *slash = strrchr(req->path, '/');
	const char *base = slash ? slash + 1 : req->path;
	char *folder;
	struct upload *u;
	size_t n = 0;
	cJSON *o;
	int dir;

	for (u = s->uploads; u; u = u->next)
		n++;
	if (too_many(s, req, n, "uploads open"))
		return;
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
		return session_send_error(s, req->id, PROTO_E_PARAMS, "file_put: \"%.200s\" "
					  "does not name a file.", req->path);
	/* the folder as written ("/" for a file at the top of an absolute path) */
	folder = slash ? strndup(req->path, (size_t)(slash - req->path)) : strdup(".");
	if (folder && !folder[0]) {
		free(folder);
		folder = strdup("/");
	}
	if (!folder)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	dir = open_request_path(s, req, folder, O_PATH | O_DIRECTORY);
	free(folder);
	if (dir < 0)
		return;
	u = calloc(1, sizeof *u);
	if (!u || !(u->name = strdup(base))) {
		free(u);
		close(dir);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	}
	u->dir = dir;
	u->mode = req->mode;
	temp_name(u->tmp);
	u->fd = openat(dir, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	/* the file is the user's, as if the user had written it */
	if (u->fd < 0 || fchown(u->fd, owner, owner) < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "file_put: cannot create a "
				   "file beside \"%.200s\": %s.", req->path, strerror(errno));
		upload_free(s, u, u->fd >= 0);	/* not linked yet */
		return;
	}
	random_handle(u->handle);
	u->next = s->uploads;
	s->uploads = u;
	o = proto_object(req->id);
	if (o && !cJSON_AddStringToObject(o, "handle", u->handle)) {
		cJSON_Delete(o);
		o = NULL;
	}
	session_send_json(s, PROTO_OK, o);
}

static struct upload *upload_find(struct session *s, const struct proto_request *req)
{
	struct upload *u;

	for (u = s->uploads; u && strcmp(u->handle, req->handle); u = u->next)
		;
	if (!u)
		session_send_error(s, req->id, PROTO_E_HANDLE, "no upload with handle "
				   "\"%.64s\" on this connection.", req->handle);
	return u;
}

static void upload_data(struct session *s, const struct proto_request *req)
{
	struct upload *u = upload_find(s, req);

	if (!u)
		return;
	if (write_all(u->fd, req->data, req->data_len) < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "file_data: cannot write "
				   "after %lld bytes: %s; the upload is abandoned.", u->size,
				   strerror(errno));
		upload_free(s, u, true);
		return;
	}
	u->size += (long long)req->data_len;
}

static void upload_end(struct session *s, const struct proto_request *req)
{
	struct upload *u = upload_find(s, req);
	cJSON *o;
	int fd;

	if (!u)
		return;
	fd = u->fd;
	u->fd = -1;	/* commit() closes it */
	if (commit(u->dir, fd, u->tmp, u->name, u->mode) < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "file_end: cannot write "
				   "\"%.200s\": %s; the upload is abandoned.", u->name,
				   strerror(errno));
		upload_free(s, u, false);
		return;
	}
	o = proto_object(req->id);
	if (o && !cJSON_AddNumberToObject(o, "size", (double)u->size)) {
		cJSON_Delete(o);
		o = NULL;
	}
	upload_free(s, u, false);
	session_send_json(s, PROTO_OK, o);
}

/* --- dispatch -------------------------------------------------------------------------------- */

void files_request(struct session *s, struct proto_request *req)
{
	switch (req->type) {
	case PROTO_BINARY_INSTALL:
		return install(s, req);
	case PROTO_FS_READ:
	case PROTO_LOAD_STATE:
		return download(s, req);
	case PROTO_FILE_PUT:
		return upload_start(s, req);
	case PROTO_FILE_DATA:
		return upload_data(s, req);
	case PROTO_FILE_END:
		return upload_end(s, req);
	default:
		return;
	}
}

void files_session_end(struct session *s)
{
	while (s->downloads) {
		struct download *d = s->downloads;

		s->downloads = d->next;
		download_free(d);
	}
	while (s->uploads)
		upload_free(s, s->uploads, true);
}
