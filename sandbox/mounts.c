/* mounts.c - see mounts.h.
 *
 * Every source is cloned (open_tree) before anything is mounted, so a --bind of a
 * directory under /tmp sees the caller's /tmp and not the tmpfs the root is built
 * in. Clones get their flags (mount_setattr, recursively) before they are attached,
 * so a read-only bind is never writable, not even for a moment, and none of its
 * submounts stays writable. New file systems come from fsopen/fsmount. Mount points
 * are created by walking the new root with RESOLVE_IN_ROOT, so a symbolic link on
 * the way (such as /lib -> usr/lib) is followed inside the new root and never out
 * of it. Needs Linux 5.12 (mount_setattr).
 */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

/* Where the new root is attached while it is built: the first directory of these
 * that exists. Whatever it hid is out of reach anyway once the root changes. */
static const char *const staging_points[] = { "/tmp", "/mnt", "/run", "/dev" };

static const char *const system_dirs[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
};
#define NSYSTEM (sizeof system_dirs / sizeof system_dirs[0])

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define NDEV (sizeof dev_nodes / sizeof dev_nodes[0])

/* /dev's links into /proc, as every distribution has them. */
static const char *const dev_links[][2] = {
	{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};
#define NDEVLINKS (sizeof dev_links / sizeof dev_links[0])

/* A system directory: cloned, or a link to copy, or absent (tree < 0, no link). */
struct system_entry {
	int tree;
	char link[PATH_MAX];
};

struct plan {
	struct system_entry system[NSYSTEM];
	int dev[NDEV];
	int user[CLI_MAX_MOUNTS];	/* clones of the --bind sources; -1 for --tmpfs */
	int console;			/* the terminal on stdin, if any: -1 when none */
};

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static void plan_close(struct plan *p)
{
	for (size_t i = 0; i < NSYSTEM; i++)
		close_fds(&p->system[i].tree, 1);
	close_fds(p->dev, NDEV);
	close_fds(p->user, CLI_MAX_MOUNTS);
	close_fds(&p->console, 1);
}

static void plan_init(struct plan *p)
{
	memset(p, 0, sizeof *p);
	for (size_t i = 0; i < NSYSTEM; i++)
		p->system[i].tree = -1;
	for (size_t i = 0; i < NDEV; i++)
		p->dev[i] = -1;
	for (size_t i = 0; i < CLI_MAX_MOUNTS; i++)
		p->user[i] = -1;
	p->console = -1;
}

/* A detached copy of the mount tree at path, with attrs set on every mount in it. */
static int clone_tree(const char *path, uint64_t attrs, struct msg *m)
{
	struct mount_attr attr = { .attr_set = attrs };
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (fd < 0)
		return fail_errno(m, "cannot bind %s", path);
	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		fail_errno(m, "cannot set the mount flags of the bind of %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A bind of the terminal on stdin, or -1. The descriptor's own mount belongs to the
 * parent's mount namespace, which cannot be cloned from here (EINVAL); its path
 * names the same device in this namespace's copy, which can. The device and inode
 * must match, so a path that now means something else is never bound.
 */
static int clone_terminal(void)
{
	char path[PATH_MAX];
	struct stat in, at;
	struct msg ignored;
	ssize_t n;

	if (!isatty(STDIN_FILENO) || fstat(STDIN_FILENO, &in) < 0)
		return -1;
	n = readlink("/proc/self/fd/0", path, sizeof path - 1);
	if (n <= 0 || path[0] != '/')
		return -1;
	path[n] = '\0';
	if (stat(path, &at) < 0 || at.st_dev != in.st_dev || at.st_ino != in.st_ino ||
	    !S_ISCHR(at.st_mode))
		return -1;
	return clone_tree(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &ignored);
}

/* A new, detached file system of the given type; opts are key, value pairs ending in NULL. */
static int new_fs(const char *type, const char *const *opts, uint64_t attrs, struct msg *m)
{
	int fs = fsopen(type, FSOPEN_CLOEXEC), mnt;

	if (fs < 0)
		return fail_errno(m, "cannot create a %s file system", type);
	for (; opts && opts[0]; opts += 2) {
		if (fsconfig(fs, FSCONFIG_SET_STRING, opts[0], opts[1], 0) < 0) {
			fail_errno(m, "cannot set %s=%s on a %s file system", opts[0], opts[1], type);
			close(fs);
			return -1;
		}
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		fail_errno(m, "cannot create a %s file system", type);
		close(fs);
		return -1;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)attrs);
	if (mnt < 0)
		fail_errno(m, "cannot mount a %s file system", type);
	close(fs);
	return mnt;
}

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_PATH | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

/*
 * An O_PATH descriptor of dst (absolute, inside root), creating the directories on
 * the way and, when missing, dst itself: a directory, or an empty file when dir is
 * false (a file can only be mounted on a file).
 */
static int mount_point(int root, const char *dst, bool dir, struct msg *m)
{
	char path[PATH_MAX];
	size_t len = 0;
	int parent = dup(root), fd = -1;
	const char *p = dst;

	if (parent < 0)
		return fail_errno(m, "cannot create the mount point %s", dst);
	while (*p) {
		size_t n;
		bool last;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			break;
		last = p[n + strspn(p + n, "/")] == '\0';
		if (len + n + 2 > sizeof path) {
			close(parent);
			return fail(m, "cannot create the mount point %.80s...: the path is too long.", dst);
		}
		memcpy(path + len, p, n);
		path[len + n] = '\0';
		fd = open_in_root(root, path, last && !dir ? 0 : O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			char name[NAME_MAX + 1];
			int rc;

			snprintf(name, sizeof name, "%.*s", (int)n, p);
			if (!last || dir)
				rc = mkdirat(parent, name, 0755);
			else
				rc = mknodat(parent, name, S_IFREG | 0644, 0);
			if (rc < 0 && errno != EEXIST) {
				fail_errno(m, "cannot create the mount point %s", dst);
				close(parent);
				return -1;
			}
			fd = open_in_root(root, path, last && !dir ? 0 : O_DIRECTORY);
		}
		if (fd < 0) {
			fail_errno(m, "cannot open the mount point %s", dst);
			close(parent);
			return -1;
		}
		close(parent);
		parent = fd;
		path[len + n] = '/';
		len += n + 1;
		p += n;
	}
	return parent;
}

/* Attach the detached mount tree at dst in root, then close tree. */
static int attach(int tree, int root, const char *dst, const char *what, struct msg *m)
{
	struct stat st;
	int fd, rc;

	if (fstat(tree, &st) < 0) {
		fail_errno(m, "cannot mount %s on %s", what, dst);
		close(tree);
		return -1;
	}
	fd = mount_point(root, dst, S_ISDIR(st.st_mode), m);
	if (fd < 0) {
		close(tree);
		return -1;
	}
	rc = move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (rc < 0)
		fail_errno(m, "cannot mount %s on %s", what, dst);
	close(fd);
	close(tree);
	return rc;
}

/* A new file system at dst; returns the attached mount's descriptor (for later flags). */
static int attach_fs(int root, const char *dst, const char *type, const char *const *opts,
		     uint64_t attrs, struct msg *m)
{
	int mnt = new_fs(type, opts, attrs, m), fd;

	if (mnt < 0)
		return -1;
	fd = dup(mnt);
	if (fd < 0) {
		close(mnt);
		return fail_errno(m, "cannot mount a %s file system on %s", type, dst);
	}
	if (attach(mnt, root, dst, type, m) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int make_link(int root, const char *target, const char *dst, struct msg *m)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(dst, '/');
	int parent;

	snprintf(dir, sizeof dir, "%.*s", (int)(slash - dst), dst);
	parent = dir[0] ? mount_point(root, dir, true, m) : dup(root);
	if (parent < 0)
		return dir[0] ? -1 : fail_errno(m, "cannot create %s", dst);
	if (symlinkat(target, parent, slash + 1) < 0) {
		fail_errno(m, "cannot create the link %s -> %s", dst, target);
		close(parent);
		return -1;
	}
	close(parent);
	return 0;
}

static int set_readonly(int mnt, const char *what, struct msg *m)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return fail_errno(m, "cannot make %s read-only", what);
	return 0;
}

/* Clone every source while the caller's file system is still in view. */
static int plan_sources(const struct cli *c, struct plan *p, struct msg *m)
{
	const uint64_t system = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

	for (size_t i = 0; i < NSYSTEM; i++) {
		struct stat st;
		ssize_t n;

		if (lstat(system_dirs[i], &st) < 0) {
			if (errno == ENOENT)
				continue;
			return fail_errno(m, "cannot look at %s", system_dirs[i]);
		}
		if (S_ISLNK(st.st_mode)) {
			n = readlink(system_dirs[i], p->system[i].link, sizeof p->system[i].link - 1);
			if (n < 0)
				return fail_errno(m, "cannot read the link %s", system_dirs[i]);
			p->system[i].link[n] = '\0';
		} else if (S_ISDIR(st.st_mode)) {
			p->system[i].tree = clone_tree(system_dirs[i], system, m);
			if (p->system[i].tree < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < NDEV; i++) {
		char path[32];

		/* Device nodes must keep working: nodev is not set on these. */
		snprintf(path, sizeof path, "/dev/%s", dev_nodes[i]);
		p->dev[i] = clone_tree(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, m);
		if (p->dev[i] < 0)
			return -1;
	}
	/* The terminal the command gets (vmd's PTY) lives in the guest's /dev/pts, which
	 * the sandbox does not see: it has a devpts of its own. Bound on /dev/console, as
	 * container managers do, it keeps a name, so ttyname(), tty and whatever looks
	 * the terminal up by name work. No terminal, or one that cannot be bound: no
	 * console, and nothing else changes. */
	p->console = clone_terminal();
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct cli_mount *cm = &c->mounts[i];
		char src[PATH_MAX];
		uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

		if (cm->kind == MOUNT_TMPFS)
			continue;
		if (cm->srclen >= sizeof src)
			return fail(m, "cannot bind %.80s...: the path is too long.", cm->spec);
		snprintf(src, sizeof src, "%.*s", (int)cm->srclen, cm->spec);
		if (cm->kind == MOUNT_RO_BIND)
			attrs |= MOUNT_ATTR_RDONLY;
		p->user[i] = clone_tree(src, attrs, m);
		if (p->user[i] < 0)
			return -1;
	}
	return 0;
}

/* Returns the /dev tmpfs, made read-only once the --bind mounts are in. */
static int build_dev(int root, struct plan *p, struct msg *m)
{
	static const char *const dev_opts[] = { "mode", "0755", "size", "64k", NULL };
	static const char *const pts_opts[] = { "ptmxmode", "0666", "mode", "0620", NULL };
	/* Sized (tmpfs takes a share of RAM), so that filling it ends in ENOSPC well
	 * before the sandbox's memory.max: see SANDBOX_TMP_SIZE. */
	static const char *const shm_opts[] = { "mode", "1777", "size", SANDBOX_SHM_SIZE, NULL };
	int dev = attach_fs(root, "/dev", "tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, m);
	int fd;

	if (dev < 0)
		return -1;
	for (size_t i = 0; i < NDEV; i++) {
		char dst[32];

		snprintf(dst, sizeof dst, "/dev/%s", dev_nodes[i]);
		fd = p->dev[i];
		p->dev[i] = -1;
		if (attach(fd, root, dst, dst, m) < 0)
			goto fail;
	}
	if (p->console >= 0) {
		fd = p->console;
		p->console = -1;
		if (attach(fd, root, "/dev/console", "the terminal", m) < 0)
			goto fail;
	}
	fd = attach_fs(root, "/dev/pts", "devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, m);
	if (fd < 0)
		goto fail;
	close(fd);
	fd = attach_fs(root, "/dev/shm", "tmpfs", shm_opts,
		       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, m);
	if (fd < 0)
		goto fail;
	close(fd);
	for (size_t i = 0; i < NDEVLINKS; i++) {
		char dst[32];

		snprintf(dst, sizeof dst, "/dev/%s", dev_links[i][0]);
		if (make_link(root, dev_links[i][1], dst, m) < 0)
			goto fail;
	}
	return dev;
fail:
	close(dev);
	return -1;
}

static int build_tree(const struct cli *c, int root, struct plan *p, struct msg *m)
{
	static const char *const tmp_opts[] = { "mode", "1777", "size", SANDBOX_TMP_SIZE, NULL };
	static const char *const user_tmpfs_opts[] = { "mode", "0755", NULL };
	const uint64_t nosuid_nodev = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	int fd, dev, rc = -1;

	for (size_t i = 0; i < NSYSTEM; i++) {
		struct system_entry *e = &p->system[i];

		if (e->link[0] && make_link(root, e->link, system_dirs[i], m) < 0)
			return -1;
		if (e->tree >= 0) {
			fd = e->tree;
			e->tree = -1;
			if (attach(fd, root, system_dirs[i], system_dirs[i], m) < 0)
				return -1;
		}
	}
	fd = attach_fs(root, "/proc", "proc", NULL, nosuid_nodev | MOUNT_ATTR_NOEXEC, m);
	if (fd < 0)
		return -1;
	close(fd);
	dev = build_dev(root, p, m);
	if (dev < 0)
		return -1;
	fd = attach_fs(root, "/tmp", "tmpfs", tmp_opts, nosuid_nodev, m);
	if (fd < 0)
		goto out;
	close(fd);
	/* The terminal the command gets (vmd's PTY) lives in the guest's /dev/pts, which
	 * the sandbox does not see: it has a devpts of its own. Bound on /dev/console, as
	 * container managers do, it keeps a name, so ttyname(), tty and whatever looks
	 * the terminal up by name work. No terminal, or one that cannot be bound: no
	 * console, and nothing else changes. */
	p->console = clone_terminal();
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct cli_mount *cm = &c->mounts[i];
		char src[PATH_MAX];

		if (cm->kind == MOUNT_TMPFS) {
			fd = attach_fs(root, cm->dst, "tmpfs", user_tmpfs_opts, nosuid_nodev, m);
			if (fd < 0)
				goto out;
			close(fd);
			continue;
		}
		snprintf(src, sizeof src, "%.*s", (int)cm->srclen, cm->spec);
		fd = p->user[i];
		p->user[i] = -1;
		if (attach(fd, root, cm->dst, src, m) < 0)
			goto out;
	}
	/* Last: until now, mount points could be made in them. */
	if (set_readonly(dev, "/dev", m) == 0)
		rc = set_readonly(root, "the sandbox's root", m);
out:
	close(dev);
	return rc;
}

/* Attach the empty root tmpfs at the first staging point that is a directory. */
static int attach_staging(int root, struct msg *m)
{
	for (size_t i = 0; i < sizeof staging_points / sizeof staging_points[0]; i++) {
		struct stat st;

		if (lstat(staging_points[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (move_mount(root, "", AT_FDCWD, staging_points[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return fail_errno(m, "cannot attach the sandbox's root at %s",
					  staging_points[i]);
		return 0;
	}
	return fail(m, "cannot build the sandbox's root: none of /tmp, /mnt, /run and /dev is a directory.");
}

/*
 * Make root (the attached root tmpfs) the root of the mount namespace. pivot_root
 * refuses when the current root is the initramfs (rootfs has no parent to move);
 * then, as switch_root does, the new root is moved over "/" and entered with
 * chroot: the old root stays underneath, out of reach of a process without
 * capabilities that cannot call chroot or mount.
 */
static int enter_root(int root, struct msg *m)
{
	if (fchdir(root) < 0)
		return fail_errno(m, "cannot enter the sandbox's root");
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* The old root is now stacked on the new one: detach it. */
		if (umount2(".", MNT_DETACH) < 0)
			return fail_errno(m, "cannot detach the old root");
	} else if (errno == EINVAL) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			return fail_errno(m, "cannot move the sandbox's root over /");
		if (chroot(".") < 0)
			return fail_errno(m, "cannot enter the sandbox's root");
	} else {
		return fail_errno(m, "cannot make the sandbox's root the root");
	}
	if (chdir("/") < 0)
		return fail_errno(m, "cannot enter the sandbox's root");
	return 0;
}

int mounts_build_root(const struct cli *c, struct msg *m)
{
	static const char *const root_opts[] = { "mode", "0755", "size", "64k", NULL };
	struct plan p;
	int root = -1, rc = -1;

	/* Nothing done here may propagate back to the caller's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail_errno(m, "cannot make the mounts private");
	plan_init(&p);
	if (plan_sources(c, &p, m) < 0)
		goto out;
	root = new_fs("tmpfs", root_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, m);
	if (root < 0 || attach_staging(root, m) < 0 || build_tree(c, root, &p, m) < 0)
		goto out;
	rc = enter_root(root, m);
out:
	if (root >= 0)
		close(root);
	plan_close(&p);
	return rc;
}
