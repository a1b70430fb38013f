/* output.c - see output.h.
 *
 * Files start as O_TMPFILE files (no name: a crash or a kill leaves nothing), are
 * linked under a hidden temporary name once complete, then renamed over the final
 * name. Where the file system has no O_TMPFILE, a hidden mkstemp file is used and a
 * signal handler removes it if we are interrupted.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hidden temporary names that exist right now, for the signal handler, and a private
 * folder a package writes its disk in (output_track_folder). */
static char *volatile live_tmp[OUTPUT_MAX_FILES];
static const char *volatile live_folder;

static void on_signal(int sig)
{
	for (int i = 0; i < OUTPUT_MAX_FILES; i++)
		if (live_tmp[i])
			unlink(live_tmp[i]);
	if (live_folder)
		rmdir(live_folder);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install(void)
{
	static int installed;

	if (!installed) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
		installed = 1;
	}
}

void output_track_folder(const char *dir)
{
	install();
	live_folder = dir;
}

static void track(const char *tmp)
{
	install();
	for (int i = 0; i < OUTPUT_MAX_FILES; i++)
		if (!live_tmp[i]) {
			live_tmp[i] = (char *)tmp;
			return;
		}
}

static void untrack(const char *tmp)
{
	for (int i = 0; i < OUTPUT_MAX_FILES; i++)
		if (live_tmp[i] == tmp)
			live_tmp[i] = NULL;
}

char *output_hidden_name(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *name;

	if (asprintf(&name, "%.*s.%s.imgtool-XXXXXX", (int)(base - path), path, base) < 0)
		return NULL;
	return name;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *dir;

	if (!copy)
		return NULL;
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

static int folder_error(const char *path, struct msg *m)
{
	int err = errno;
	char *dir = dir_of(path);
	int rc;

	errno = err;
	if (err == ENOENT || err == ENOTDIR)
		rc = fail(m, "cannot write %s: the folder %s does not exist.", path,
			  dir ? dir : "?");
	else
		rc = fail_errno(m, "cannot write %s in the folder %s", path, dir ? dir : "?");
	free(dir);
	return rc;
}

int output_add(struct output *o, const char *path, struct outfile **fp, struct msg *m)
{
	struct outfile *f = &o->file[o->n];
	struct stat st;
	char *dir;
	mode_t mask;

	if (o->n == OUTPUT_MAX_FILES)
		return fail(m, "internal error: too many output files.");
	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->path = strdup(path);
	if (!f->path)
		return fail_errno(m, "cannot write %s", path);
	o->n++;
	*fp = f;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return fail(m, "cannot write %s: it is a folder.", path);
		f->in_place = 1;
		f->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (f->fd == -1)
			return fail_errno(m, "cannot write %s", path);
		return 0;
	}

	dir = dir_of(path);
	if (!dir)
		return fail_errno(m, "cannot write %s", path);
	f->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	free(dir);
	if (f->fd != -1)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return folder_error(path, m);

	/* No O_TMPFILE here: a hidden named file, removed again if we are stopped. */
	f->tmp = output_hidden_name(path);
	if (!f->tmp)
		return fail_errno(m, "cannot write %s", path);
	f->fd = mkstemp(f->tmp);
	if (f->fd == -1) {
		free(f->tmp);
		f->tmp = NULL;
		return folder_error(path, m);
	}
	track(f->tmp);
	mask = umask(0);
	umask(mask);
	if (fchmod(f->fd, 0666 & ~mask) == -1)
		return fail_errno(m, "cannot write %s", path);
	return 0;
}

/* Only a hint to the kernel (and halves the time of a 200 MiB conversion here):
 * whatever it returns, the fsync at commit is what makes the data safe. */
#define WRITEBACK_EVERY (8u << 20)

static void start_writeback(struct outfile *f, uint64_t off, size_t len)
{
	if (f->in_place)
		return;
	if (f->dirty == 0 || off < f->dirty_lo)
		f->dirty_lo = off;
	if (off + len > f->dirty_hi)
		f->dirty_hi = off + len;
	f->dirty += len;
	if (f->dirty >= WRITEBACK_EVERY) {
		sync_file_range(f->fd, (off_t)f->dirty_lo, (off_t)(f->dirty_hi - f->dirty_lo),
				SYNC_FILE_RANGE_WRITE);
		f->dirty = 0;
		f->dirty_hi = 0;
	}
}

int out_write(struct outfile *f, const void *buf, size_t len, uint64_t off, struct msg *m)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == ESPIPE)
			return fail(m, "cannot write %s: images are not written front to back, "
				    "so a pipe cannot take one.", f->path);
		if (n == -1)
			return fail_errno(m, "cannot write %s", f->path);
		if (n == 0)
			return fail(m, "cannot write %s: the device took no more.", f->path);
		done += (size_t)n;
	}
	if (off + len > f->size)
		f->size = off + len;
	start_writeback(f, off, len);
	return 0;
}

int out_set_size(struct outfile *f, uint64_t size, struct msg *m)
{
	if (f->in_place) {
		/* A device keeps its size; write the tail that would have been a hole. */
		static const unsigned char zeros[65536];

		while (f->size < size) {
			size_t len = size - f->size < sizeof zeros ? (size_t)(size - f->size)
								   : sizeof zeros;

			if (out_write(f, zeros, len, f->size, m) < 0)
				return -1;
		}
		return 0;
	}
	if (ftruncate(f->fd, (off_t)size) == -1)
		return fail_errno(m, "cannot write %s", f->path);
	f->size = size;
	return 0;
}

/* Give an O_TMPFILE file a hidden name beside its final one. */
static int link_tmp(struct outfile *f, struct msg *m)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	for (int tries = 0; tries < 100; tries++) {
		char *name = output_hidden_name(f->path);
		char *x;

		if (!name)
			return fail_errno(m, "cannot write %s", f->path);
		/* mkstemp's XXXXXX, filled in by hand: linkat has no such form. */
		x = name + strlen(name) - 6;
		for (int i = 0; i < 6; i++)
			x[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(unsigned)rand() % 36];
		if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0) {
			f->tmp = name;
			track(f->tmp);
			return 0;
		}
		free(name);
		if (errno != EEXIST)
			return fail_errno(m, "cannot write %s", f->path);
	}
	return fail(m, "cannot write %s: no free temporary name beside it.", f->path);
}

int output_commit(struct output *o, struct msg *m)
{
	for (size_t i = 0; i < o->n; i++) {
		struct outfile *f = &o->file[i];

		if (!f->in_place && fsync(f->fd) == -1)
			return fail_errno(m, "cannot write %s", f->path);
		if (!f->in_place && !f->tmp && link_tmp(f, m) < 0)
			return -1;
	}
	/* Every file is complete: now they take their names, the last one named first so
	 * that a VMDK descriptor never names an extent that is not there yet. */
	for (size_t i = o->n; i-- > 0;) {
		struct outfile *f = &o->file[i];

		if (f->in_place)
			continue;
		if (rename(f->tmp, f->path) == -1)
			return fail_errno(m, "cannot write %s", f->path);
		untrack(f->tmp);
		free(f->tmp);
		f->tmp = NULL;
	}
	for (size_t i = 0; i < o->n; i++) {
		struct outfile *f = &o->file[i];
		char *dir = dir_of(f->path);
		int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

		if (fd != -1) {
			fsync(fd);	/* the renames survive a power cut */
			close(fd);
		}
		free(dir);
		if (close(f->fd) == -1 && !f->in_place) {
			f->fd = -1;
			return fail_errno(m, "cannot write %s", f->path);
		}
		f->fd = -1;
	}
	output_discard(o);	/* nothing is left to remove: this frees the names */
	return 0;
}

void output_discard(struct output *o)
{
	for (size_t i = 0; i < o->n; i++) {
		struct outfile *f = &o->file[i];

		if (f->fd != -1)
			close(f->fd);
		if (f->tmp) {
			unlink(f->tmp);
			untrack(f->tmp);
			free(f->tmp);
		}
		free(f->path);
		memset(f, 0, sizeof *f);
		f->fd = -1;
	}
	o->n = 0;
}
