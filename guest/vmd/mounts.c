/* mounts.c - mount and unmount of the host's 9p shares (QEMU -virtfs).
 *
 * A share is known by its tag, which the virtio 9p device publishes in sysfs; a
 * tag no device has is refused before anything is created. Mount points live
 * under the share root (/mnt) only, so a client cannot cover a system folder with
 * a share; they are reached from it without following any link (a sandboxed
 * command may plant one in a read-write share), and acted on by descriptor.
 */
#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TAGS_DIR "/sys/bus/virtio/drivers/9pnet_virtio"

/* True when a virtio 9p device has the tag. */
static bool tag_exists(const char *tag)
{
	DIR *d = opendir(TAGS_DIR);
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		char path[512], got[64] = "";
		FILE *f;

		if (strncmp(e->d_name, "virtio", 6))
			continue;
		snprintf(path, sizeof path, TAGS_DIR "/%s/mount_tag", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		/* the file holds the tag, sometimes NUL- or newline-terminated */
		size_t n = fread(got, 1, sizeof got - 1, f);

		fclose(f);
		got[n] = '\0';
		got[strcspn(got, "\n")] = '\0';
		found = !strcmp(got, tag);
	}
	if (d)
		closedir(d);
	return found;
}

/* An absolute path strictly under the share root with no "." or ".." part. */
static bool mount_point_valid(const char *mp)
{
	size_t root = strlen(vmd.share_root);
	const char *p;

	if (strncmp(mp, vmd.share_root, root) || mp[root] != '/' || !mp[root + 1])
		return false;
	for (p = mp + 1; *p; ) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || !n)
			return false;
		p += n;
		if (*p)
			p++;
	}
	return true;
}

/* Open rel beneath dir without following any link: a sandboxed command can plant
 * one inside a read-write share, and a mount or unmount through it would act on
 * whatever it points at (/usr/local/bin, /sys/fs/cgroup). */
static int open_no_links(int dir, const char *rel, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   (rel[0] == '/' ? 0 : RESOLVE_BENEATH),
	};

	return (int)syscall(SYS_openat2, dir, rel, &how, sizeof how);
}

/* Answer a failed open_no_links() of the first n bytes of the request's mount point;
 * code -32602 for a link or a missing folder, -32000 otherwise. */
static void path_error(struct session *s, const struct proto_request *req, size_t n)
{
	const char *t = proto_type_name(req->type);
	int len = (int)(n < 200 ? n : 200);

	if (errno == ELOOP || errno == EXDEV)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: %.*s is a symbolic link; "
				   "vmd follows no link in a mount point.", t, len,
				   req->mount_point);
	else if (errno == ENOTDIR)
		session_send_error(s, req->id, PROTO_E_PARAMS, "%s: %.*s is not a folder.", t,
				   len, req->mount_point);
	else
		session_send_error(s, req->id, PROTO_E_INTERNAL, "%s: cannot open %.*s: %s.",
				   t, len, req->mount_point, strerror(errno));
}

/* The share root, not through a link. */
static int open_share_root(struct session *s, const struct proto_request *req)
{
	int fd = open(vmd.share_root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		session_send_error(s, req->id, PROTO_E_INTERNAL, "%s: cannot open %s: %s.",
				   proto_type_name(req->type), vmd.share_root, strerror(errno));
	return fd;
}

/* The folder the mount point's first n bytes name, reached one folder at a time
 * from the share root and none through a link; with make, each is created (0755)
 * when missing, as mkdir -p does. An O_PATH descriptor, or -1 after answering. */
static int walk(struct session *s, const struct proto_request *req, size_t n, bool make)
{
	const char *mp = req->mount_point, *p = mp + strlen(vmd.share_root) + 1;
	int dir = open_share_root(s, req);

	while (dir >= 0 && p < mp + n) {
		size_t len = strcspn(p, "/");
		char name[256];
		int next;

		snprintf(name, sizeof name, "%.*s", (int)len, p);
		/* mkdirat makes nothing where a link is: it fails with EEXIST */
		if (make && mkdirat(dir, name, 0755) < 0 && errno != EEXIST) {
			session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot create "
					   "%.*s: %s.", (int)(p + len - mp), mp, strerror(errno));
			close(dir);
			return -1;
		}
		next = open_no_links(dir, name, O_PATH | O_DIRECTORY);
		if (next < 0) {
			if (errno == ENOENT && req->type == PROTO_UNMOUNT)
				session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: %.200s is "
						   "not a mount point.", mp);
			else
				path_error(s, req, (size_t)(p + len - mp));
		}
		close(dir);
		dir = next;
		p += len;
		if (*p)
			p++;
	}
	return dir;
}

/* mountinfo's octal escapes (\040 for a space) undone, in place. */
static void unescape(char *p)
{
	char *out = p;

	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* Where the share tag is mounted already (a virtio 9p device serves one mount at a
 * time: a second one fails with EBUSY), into where; false when it is not. */
static bool tag_mounted(const char *tag, char *where, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	bool found = false;

	while (f && !found && fgets(line, sizeof line, f)) {
		char *mp = NULL, *dash = strstr(line, " - "), *save = NULL, *w;
		int field = 0;

		if (!dash)
			continue;
		*dash = '\0';
		for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (++field == 5)
				mp = w;
		char *fstype = strtok_r(dash + 3, " ", &save), *source = strtok_r(NULL, " ", &save);

		if (mp && fstype && source && !strcmp(fstype, "9p") && !strcmp(source, tag)) {
			unescape(mp);
			snprintf(where, size, "%s", mp);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Put the detached mount tree on the mount point; closes tree. */
static void attach(struct session *s, const struct proto_request *req, int tree, int at)
{
	int r = move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;

	close(tree);
	if (r < 0)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot mount "
					  "\"%s\" on %.200s: %s.", req->tag, req->mount_point,
					  strerror(e));
	send_ok(s, req->id);
}

/* Mounts are made detached (open_tree, fsmount) with their flags already set and
 * then moved onto the descriptor of the mount point: nothing is looked up by path
 * once the mount point is open. */
/* True when mount id is a 9p mount (a share, mounted at start or on request): unmount
 * takes down nothing else that happens to be mounted under the share root. (statfs cannot
 * tell: 9p reports the host's file system type.) */
static bool mount_is_share(uint64_t id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], *dash;
	bool share = false;
	unsigned long long got;

	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%llu", &got) != 1 || got != id)
			continue;
		dash = strstr(line, " - ");
		share = dash && !strncmp(dash + 3, "9p ", 3);
		break;
	}
	if (f)
		fclose(f);
	return share;
}

static void do_mount(struct session *s, const struct proto_request *req)
{
	char at[4096];
	const unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			       (req->read_only ? MOUNT_ATTR_RDONLY : 0);
	int target, src, tree, fs;

	if (!tag_exists(req->tag))
		return session_send_error(s, req->id, PROTO_E_PARAMS, "mount: no share with "
					  "tag \"%s\".", req->tag);
	target = walk(s, req, strlen(req->mount_point), true);
	if (target < 0)
		return;
	if (tag_mounted(req->tag, at, sizeof at)) {
		/* Mounted at boot (or by an earlier request): the same share appears at
		 * the new place too, read-only there when asked. */
		struct mount_attr ma = { .attr_set = attrs };

		src = open_no_links(AT_FDCWD, at, O_PATH | O_DIRECTORY);
		tree = src < 0 ? -1 : open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
							 AT_EMPTY_PATH);
		if (tree < 0 || mount_setattr(tree, "", AT_EMPTY_PATH, &ma, sizeof ma) < 0) {
			int e = errno;

			if (src >= 0)
				close(src);
			if (tree >= 0)
				close(tree);
			close(target);
			return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
						  "bind the share \"%s\" (mounted on %.200s) "
						  "on %.200s: %s.", req->tag, at,
						  req->mount_point, strerror(e));
		}
		close(src);
		attach(s, req, tree, target);
		close(target);
		return;
	}
	/* msize: 512 KiB messages, far fewer round trips than the 8 KiB default */
	fs = fsopen("9p", FSOPEN_CLOEXEC);
	tree = -1;
	if (fs >= 0 && fsconfig(fs, FSCONFIG_SET_STRING, "source", req->tag, 0) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_STRING, "trans", "virtio", 0) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_STRING, "version", "9p2000.L", 0) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_STRING, "msize", "524288", 0) == 0 &&
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		tree = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (tree < 0) {
		int e = errno;

		if (fs >= 0)
			close(fs);
		close(target);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
					  "mount \"%s\" on %.200s: %s.", req->tag,
					  req->mount_point, strerror(e));
	}
	close(fs);
	attach(s, req, tree, target);
	close(target);
}

/* The mount point's folder is opened without links and the mount point is named in
 * it by one component that is not followed (UMOUNT_NOFOLLOW, from that folder as
 * the working directory): no link anywhere can redirect the unmount. */
static void do_unmount(struct session *s, const struct proto_request *req)
{
	const char *mp = req->mount_point, *base = strrchr(mp, '/') + 1;
	struct statx up, st;
	int parent, fd, cwd, r, e;

	/* the share root's own entries have it as their folder */
	parent = walk(s, req, (size_t)(base - 1 - mp), false);
	if (parent < 0)
		return;
	fd = open_no_links(parent, base, O_PATH);
	if (fd < 0) {
		e = errno;
		close(parent);
		errno = e;
		if (errno == ENOENT)
			return session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: %.200s "
						  "is not a mount point.", mp);
		return path_error(s, req, strlen(mp));
	}
	r = statx(parent, "", AT_EMPTY_PATH, STATX_MNT_ID, &up) == 0 &&
	    statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) == 0;
	close(fd);
	if (!r || up.stx_mnt_id == st.stx_mnt_id) {
		close(parent);
		return session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: %.200s is not "
					  "a mount point.", mp);
	}
	if (!mount_is_share(st.stx_mnt_id)) {
		close(parent);
		return session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: %.200s is not "
					  "a share; vmd unmounts only shares.", mp);
	}
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = cwd >= 0 && fchdir(parent) == 0 ? umount2(base, UMOUNT_NOFOLLOW) : -1;
	e = errno;
	if (cwd >= 0 && fchdir(cwd) < 0)
		warn("cannot go back to the working directory: %s.", strerror(errno));
	if (cwd >= 0)
		close(cwd);
	close(parent);
	if (r < 0) {
		if (e == EINVAL || e == ENOENT)
			return session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: "
						  "%.200s is not a mount point.", mp);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "unmount: cannot "
					  "unmount %.200s: %s.", mp, strerror(e));
	}
	send_ok(s, req->id);
}

void mounts_request(struct session *s, const struct proto_request *req)
{
	if (!mount_point_valid(req->mount_point))
		return session_send_error(s, req->id, PROTO_E_PARAMS, "%s: the mount point "
					  "\"%.200s\" must be a path under %s without \".\" "
					  "or \"..\".", proto_type_name(req->type),
					  req->mount_point, vmd.share_root);
	if (req->type == PROTO_MOUNT)
		do_mount(s, req);
	else
		do_unmount(s, req);
}
