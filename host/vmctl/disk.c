/* disk.c - see disk.h. */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a tool printed on stderr is kept up to this much: its last line explains. */
#define TOOL_ERR_MAX 2048

/* imgtool: $VMCTL_IMGTOOL, else beside this vmctl, as commands.c finds qemu-boot (the
 * build folder holds both, and so does PREFIX/bin). */
static int find_imgtool(char *out, size_t size, struct msg *m)
{
	const char *env = getenv("VMCTL_IMGTOOL");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (access(env, X_OK) != 0)
			return fail_errno(m, "cannot run imgtool %s (from VMCTL_IMGTOOL)", env);
		snprintf(out, size, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return fail_errno(m, "cannot find where vmctl is installed");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, size, "%s/imgtool", self) >= size || access(out, X_OK) != 0)
		return fail(m, "cannot find imgtool beside vmctl (looked for %s); run make, or "
			    "install imgtool with vmctl.", out);
	return 0;
}

/* mkfs.ext4: $VMCTL_MKFS_EXT4, else the first in PATH, /usr/sbin or /sbin. */
static int find_mkfs(char *out, size_t size, struct msg *m)
{
	const char *env = getenv("VMCTL_MKFS_EXT4"), *path = getenv("PATH");
	char dirs[8192];

	if (env && *env) {
		if (access(env, X_OK) != 0)
			return fail_errno(m, "cannot run mkfs.ext4 %s (from VMCTL_MKFS_EXT4)", env);
		snprintf(out, size, "%s", env);
		return 0;
	}
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
		if (*d && (size_t)snprintf(out, size, "%s/mkfs.ext4", d) < size &&
		    access(out, X_OK) == 0)
			return 0;
	return fail(m, "cannot find mkfs.ext4 (looked in PATH, /usr/sbin and /sbin); install "
		    "e2fsprogs.");
}

/* Run argv (argv[0] a path) with umask 077, its output discarded and its stderr kept in
 * err (NUL-terminated, its last line at most TOOL_ERR_MAX bytes). 0 when it exited 0;
 * else -1, with m saying what failed when the program did not run at all. */
static int run_tool(char *const argv[], char *err, size_t err_size, int *status, struct msg *m)
{
	int pipefd[2];
	size_t len = 0;
	pid_t pid;

	err[0] = '\0';
	*status = -1;
	if (pipe2(pipefd, O_CLOEXEC) == -1)
		return fail_errno(m, "cannot run %s", argv[0]);
	pid = fork();
	if (pid == -1) {
		close(pipefd[0]);
		close(pipefd[1]);
		return fail_errno(m, "cannot run %s", argv[0]);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		umask(077);
		if (null == -1 || dup2(null, STDIN_FILENO) == -1 ||
		    dup2(null, STDOUT_FILENO) == -1 || dup2(pipefd[1], STDERR_FILENO) == -1)
			_exit(127);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t r;

		/* Full: keep the newer half, since the last line is the one that explains. */
		if (len == err_size - 1) {
			memmove(err, err + len - len / 2, len / 2);
			len /= 2;
		}
		r = read(pipefd[0], err + len, err_size - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(pipefd[0]);
	err[len] = '\0';
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR)
			return fail_errno(m, "cannot wait for %s", argv[0]);
	return WIFEXITED(*status) && WEXITSTATUS(*status) == 0 ? 0 : -1;
}

/* The last non-empty line of a tool's stderr, without a "prog: " prefix of the tool's
 * own and with control characters as '?': what the sentence quotes. */
static const char *last_line(char *err, const char *prog)
{
	size_t len = strlen(err), plen = strlen(prog);
	char *line;

	while (len && (err[len - 1] == '\n' || err[len - 1] == '\r'))
		err[--len] = '\0';
	line = strrchr(err, '\n');
	line = line ? line + 1 : err;
	if (strncmp(line, prog, plen) == 0 && line[plen] == ':' && line[plen + 1] == ' ')
		line += plen + 2;
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return *line ? line : "no reason given";
}

/* A tool that failed: a full folder is said as such, anything else with the tool's
 * own last line, made a sentence. */
static int tool_failed(const char *prog, const char *what, const char *where, char *err,
		       int status, struct msg *m)
{
	const char *line;
	size_t len;

	if (strstr(err, "No space left on device") || strstr(err, "Disk quota exceeded"))
		return fail(m, "the folder %s is full: there is no room for %s.", where, what);
	if (WIFSIGNALED(status))
		return fail(m, "%s was killed by signal %d while making %s.", prog,
			    WTERMSIG(status), what);
	line = last_line(err, prog);
	len = strlen(line);
	return fail(m, "%s could not make %s: %s%s", prog, what, line,
		    line[len - 1] == '.' ? "" : ".");
}

/* The folder of path (for the sentences). */
static void folder_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, size, ".");
	else if (slash == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(slash - path), path);
}

/* mkdir -p, each new folder 0700 (a cache folder is the user's alone). */
static int make_folder(const char *dir, struct msg *m)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof p)
		return fail(m, "the cache folder \"%s\" is not a usable folder name.", dir);
	memcpy(p, dir, len + 1);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			return fail_errno(m, "cannot make the cache folder %s", p);
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Is path a finished base of size bytes? A regular file of exactly that size whose
 * ext4 superblock (1024 bytes at 1024) has the magic, a clean state, and blocks that
 * add up to the size. A file cut short, grown, zeroed or replaced fails one of them. */
static bool base_ok(const char *path, unsigned long long size)
{
	unsigned char sb[1024];
	unsigned long long blocks;
	struct stat st;
	uint32_t log_bs;
	bool ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd == -1)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size == size &&
	     pread_all(fd, sb, sizeof sb, 1024) == 0;
	close(fd);
	if (!ok || sb[56] != 0x53 || sb[57] != 0xEF || !(sb[58] & 1))
		return false;
	log_bs = le32(sb + 24);
	if (log_bs > 6)
		return false;
	blocks = le32(sb + 4);
	if (le32(sb + 0x60) & 0x80)		/* INCOMPAT_64BIT: the high half counts */
		blocks |= (unsigned long long)le32(sb + 0x150) << 32;
	return blocks * (1024ull << log_bs) == size;
}

/* Make the base at tmp: the sparse file, then the filesystem. mkfs.ext4 leaves discard
 * on: on a file it punches holes, so it knows the inode tables read as zeros and marks
 * them zeroed; the guest's kernel then never writes 128 MiB of zeros into an 8 GiB
 * overlay to initialise them. lazy_journal_init keeps it from allocating the journal's
 * 64 MiB. The root folder is root's (mkfs.ext4 would give it to whoever runs it), and
 * 5% stays reserved for root: vmd runs as root and must go on working when the
 * sandbox's users have filled the disk. */
static int make_base(const char *tmp, const char *final, unsigned long long size,
		     struct msg *m)
{
	char imgtool[PATH_MAX], mkfs[PATH_MAX], sz[32], err[TOOL_ERR_MAX], where[PATH_MAX];
	char what[PATH_MAX + 32];
	int status, fd;

	folder_of(final, where, sizeof where);
	snprintf(what, sizeof what, "the home disk base %s", final);
	if (find_imgtool(imgtool, sizeof imgtool, m) < 0 || find_mkfs(mkfs, sizeof mkfs, m) < 0)
		return -1;
	snprintf(sz, sizeof sz, "%llu", size);
	{
		char *const argv[] = { imgtool, "create", "-f", "raw", "--", (char *)tmp, sz,
				       NULL };

		if (run_tool(argv, err, sizeof err, &status, m) < 0)
			return status == -1 ? -1
					    : tool_failed("imgtool", what, where, err, status, m);
	}
	{
		char *const argv[] = { mkfs, "-q", "-F", "-t", "ext4", "-m", "5", "-L", "home",
				       "-E", "lazy_itable_init=1,lazy_journal_init=1,"
					     "root_owner=0:0",
				       "--", (char *)tmp, NULL };

		if (run_tool(argv, err, sizeof err, &status, m) < 0)
			return status == -1 ? -1
					    : tool_failed("mkfs.ext4", what, where, err, status, m);
	}
	/* Read-only from here: nothing is meant to write a base again. */
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1 || fchmod(fd, 0444) == -1) {
		int e = errno;

		if (fd != -1)
			close(fd);
		errno = e;
		if (errno == ENOSPC || errno == EDQUOT)
			return fail(m, "the folder %s is full: there is no room for %s.", where,
				    what);
		return fail_errno(m, "cannot write %s", tmp);
	}
	close(fd);
	if (!base_ok(tmp, size))
		return fail(m, "mkfs.ext4 made %s, but not an ext4 filesystem of %llu bytes.", tmp,
			    size);
	if (rename(tmp, final) == -1)
		return fail_errno(m, "cannot rename %s to %s", tmp, final);
	fd = open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		fsync(fd);	/* the rename itself; the file is already on disk */
		close(fd);
	}
	return 0;
}

int disk_base(const char *cache_dir, unsigned long long size, char *path, size_t path_size,
	      struct msg *m)
{
	char dir[PATH_MAX], final[PATH_MAX + 64], tmp[PATH_MAX + 64], lock[PATH_MAX + 64];
	int fd, rc = 0;

	if (size < DISK_MIN_SIZE || size % DISK_SIZE_UNIT)
		return fail(m, "a home disk of %llu bytes is not one vmctl makes: it must be a "
			    "whole number of MiB, at least 16 MiB.", size);
	if (make_folder(cache_dir, m) < 0)
		return -1;
	/* Absolute, so that an overlay anywhere finds it whatever its own folder. */
	if (!realpath(cache_dir, dir))
		return fail_errno(m, "cannot find the cache folder %s", cache_dir);
	snprintf(final, sizeof final, "%s/home-%llu.ext4", dir, size);
	snprintf(lock, sizeof lock, "%s/home-%llu.lock", dir, size);
	snprintf(tmp, sizeof tmp, "%s/.home-%llu.ext4.tmp", dir, size);
	if (strlen(final) + 1 > path_size)
		return fail(m, "the cache folder's name %s is too long.", dir);

	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return fail_errno(m, "cannot write in the cache folder %s", dir);
	/* Whoever holds the lock makes the base; the other waits and then finds it made. */
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			rc = fail_errno(m, "cannot lock %s", lock);
			goto out;
		}
	if (!base_ok(final, size)) {
		/* A temporary file is one that a vmctl killed while making it left. */
		if ((unlink(tmp) == -1 && errno != ENOENT) ||
		    (unlink(final) == -1 && errno != ENOENT)) {
			rc = fail_errno(m, "cannot write in the cache folder %s", dir);
			goto out;
		}
		rc = make_base(tmp, final, size, m);
		if (rc < 0)
			unlink(tmp);
	}
	if (rc == 0)
		snprintf(path, path_size, "%s", final);
out:
	close(fd);	/* and with it the lock */
	return rc;
}

int disk_create(const char *base, const char *overlay, struct msg *m)
{
	char imgtool[PATH_MAX], err[TOOL_ERR_MAX], where[PATH_MAX], what[PATH_MAX + 32];
	int status;

	folder_of(overlay, where, sizeof where);
	snprintf(what, sizeof what, "the sandbox's disk %s", overlay);
	if (find_imgtool(imgtool, sizeof imgtool, m) < 0)
		return -1;
	/* imgtool writes a temporary file and renames it, so the overlay is whole or not
	 * there; run_tool's umask 077 makes it 0600. */
	char *const argv[] = { imgtool, "create", "-f", "qcow2", "-b", (char *)base, "-F", "raw",
			       "--", (char *)overlay, NULL };

	if (run_tool(argv, err, sizeof err, &status, m) < 0)
		return status == -1 ? -1 : tool_failed("imgtool", what, where, err, status, m);
	return 0;
}

/* Copy the file src to dst (new, 0600), synced when durable; the holes of a sparse
 * file stay holes (SEEK_DATA), so a qcow2 costs what it holds. */
int disk_copy(const char *src, const char *dst, bool durable, struct msg *m)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
	struct stat st;
	off_t at = 0;

	if (in == -1 || fstat(in, &st) == -1) {
		fail_errno(m, "cannot read %s", src);
		goto fail;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1) {
		fail_errno(m, "cannot create %s", dst);
		goto fail;
	}
	while (at < st.st_size) {
		off_t data = lseek(in, at, SEEK_DATA), hole, pos;

		if (data == -1 && errno == ENXIO)
			break;	/* only a hole is left */
		hole = data == -1 ? -1 : lseek(in, data, SEEK_HOLE);
		if (data == -1 || hole == -1)
			goto fail_copy;
		for (pos = data; pos < hole;) {
			off_t o = pos;
			ssize_t n = copy_file_range(in, &pos, out, &o, (size_t)(hole - pos), 0);

			if (n <= 0)
				goto fail_copy;
		}
		at = hole;
	}
	if (ftruncate(out, st.st_size) == -1 || (durable && fsync(out) == -1))
		goto fail_copy;
	close(in);
	close(out);
	return 0;
fail_copy:
	fail_errno(m, "cannot copy %s to %s", src, dst);
fail:
	if (in != -1)
		close(in);
	if (out != -1) {
		close(out);
		unlink(dst);
	}
	return -1;
}
