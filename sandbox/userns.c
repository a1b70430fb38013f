/* userns.c - see userns.h. */
#include "userns.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "caps.h"

/* The kernel takes a map in a single write. */
static int write_proc(pid_t pid, const char *file, const char *text, struct msg *m)
{
	char path[64];
	size_t len = strlen(text);
	int fd;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(m, "cannot open %s", path);
	n = write(fd, text, len);
	if (n < 0 || (size_t)n != len) {
		if (n >= 0)
			fail(m, "cannot write %s: the kernel took %zd of %zu bytes.", path, n, len);
		else
			fail_errno(m, "cannot write \"%.*s\" to %s", (int)strcspn(text, "\n"),
				   text, path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int userns_write_maps(pid_t pid, uid_t uid, gid_t gid, uid_t outside_uid,
		      gid_t outside_gid, struct msg *m)
{
	char map[64];

	if (write_proc(pid, "setgroups", "deny", m) < 0)
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)outside_uid);
	if (write_proc(pid, "uid_map", map, m) < 0)
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)outside_gid);
	return write_proc(pid, "gid_map", map, m);
}

int userns_become(uid_t uid, gid_t gid, struct msg *m)
{
	/* Changing uid may clear the permitted set; keep it, and make the effective set
	 * whole again afterwards. */
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return fail_errno(m, "cannot keep capabilities across the change of user");
	if (setresgid(gid, gid, gid) < 0)
		return fail_errno(m, "cannot become group %u in the sandbox", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return fail_errno(m, "cannot become user %u in the sandbox", (unsigned)uid);
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return fail_errno(m, "cannot clear keep-capabilities");
	return caps_raise_effective(m);
}
