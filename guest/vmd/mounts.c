/* mounts.c - mount and unmount of the host's 9p shares (QEMU -virtfs).
 *
 * A share is known by its tag, which the virtio 9p device publishes in sysfs; a
 * tag no device has is refused before anything is created. Mount points live
 * under the share root (/mnt) only, so a client cannot cover a system folder with
 * a share.
 */
#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

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

/* mkdir -p, 0755, for the mount point. */
static int make_dirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -1;
			if (!c)
				return 0;
			*p = c;
		}
	}
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

static void do_mount(struct session *s, const struct proto_request *req)
{
	char at[4096];
	const unsigned long flags = MS_NOSUID | MS_NODEV | (req->read_only ? MS_RDONLY : 0);

	if (!tag_exists(req->tag))
		return session_send_error(s, req->id, PROTO_E_PARAMS, "mount: no share with "
					  "tag \"%s\".", req->tag);
	if (make_dirs(req->mount_point) < 0)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
					  "create %.200s: %s.", req->mount_point,
					  strerror(errno));
	if (tag_mounted(req->tag, at, sizeof at)) {
		/* Mounted at boot (or by an earlier request): the same share appears at
		 * the new place too, read-only there when asked. */
		if (mount(at, req->mount_point, NULL, MS_BIND, NULL) < 0)
			return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
						  "bind the share \"%s\" (mounted on %.200s) "
						  "on %.200s: %s.", req->tag, at,
						  req->mount_point, strerror(errno));
		if (mount(NULL, req->mount_point, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
			int e = errno;

			umount2(req->mount_point, MNT_DETACH);
			return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
						  "set the flags of %.200s: %s.",
						  req->mount_point, strerror(e));
		}
		return send_ok(s, req->id);
	}
	/* msize: 512 KiB messages, far fewer round trips than the 8 KiB default */
	if (mount(req->tag, req->mount_point, "9p", flags,
		  "trans=virtio,version=9p2000.L,msize=524288") < 0)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "mount: cannot "
					  "mount \"%s\" on %.200s: %s.", req->tag,
					  req->mount_point, strerror(errno));
	send_ok(s, req->id);
}

static void do_unmount(struct session *s, const struct proto_request *req)
{
	if (umount2(req->mount_point, UMOUNT_NOFOLLOW) < 0) {
		if (errno == EINVAL || errno == ENOENT)
			return session_send_error(s, req->id, PROTO_E_PARAMS, "unmount: "
						  "%.200s is not a mount point.",
						  req->mount_point);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "unmount: cannot "
					  "unmount %.200s: %s.", req->mount_point,
					  strerror(errno));
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
