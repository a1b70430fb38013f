/* test_vmctl_disk.c - the home disks: the cached ext4 base and the per-sandbox overlay,
 * made by the real imgtool (build/imgtool, beside this test's folder) and mkfs.ext4.
 *
 * Runs as root, as make test does: the cases for an unwritable and a full folder run
 * in a child as nobody, or in a mount namespace of its own with a small tmpfs.
 */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define MIB (1ull << 20)
#define NOBODY 65534

static char dir[64];		/* this test's folder */
static char imgtool[PATH_MAX + 16];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_vmctl_disk.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) == -1)
		return -1;
	setenv("VMCTL_IMGTOOL", imgtool, 1);
	unsetenv("VMCTL_MKFS_EXT4");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *in_dir(const char *name)
{
	static char ring[8][PATH_MAX];
	static int next;
	char *p = ring[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

/* The whole output of a shell command, NUL-terminated, and its exit status. */
static char *sh(int *status, const char *fmt, ...)
{
	static char out[16384];
	char cmd[2048];
	size_t len = 0, r;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((r = fread(out + len, 1, sizeof out - 1 - len, p)) > 0)
		len += r;
	out[len] = '\0';
	*status = pclose(p);
	return out;
}

static uint32_t le32_at(const char *path, off_t off)
{
	unsigned char b[4];
	int fd = open(path, O_RDONLY);

	assert_int_not_equal(fd, -1);
	assert_int_equal(pread(fd, b, 4, off), 4);
	close(fd);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* Run disk_base or disk_create in a child (as nobody, or in a mount namespace of its
 * own with a tmpfs of tmpfs_kib at dir/small); the child's result and sentence come
 * back in *m. */
struct child_call {
	bool as_nobody;
	unsigned tmpfs_kib;		/* 0: none */
	const char *cache;		/* disk_base(cache, size) */
	unsigned long long size;
	const char *base, *overlay;	/* or disk_create(base, overlay) */
};

static int in_child(const struct child_call *c, struct msg *m)
{
	int fds[2], status;
	char path[PATH_MAX];
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_int_not_equal(pid, -1);
	if (pid == 0) {
		struct msg cm = { "" };
		int rc = -1;

		close(fds[0]);
		if (c->tmpfs_kib) {
			char opts[32];

			snprintf(opts, sizeof opts, "size=%uk", c->tmpfs_kib);
			if (unshare(CLONE_NEWNS) == -1 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
			    mount("tmpfs", in_dir("small"), "tmpfs", 0, opts) == -1) {
				snprintf(cm.text, sizeof cm.text, "cannot mount a tmpfs: %s",
					 strerror(errno));
				goto done;
			}
		}
		if (c->as_nobody && (setgid(NOBODY) == -1 || setuid(NOBODY) == -1)) {
			snprintf(cm.text, sizeof cm.text, "cannot become nobody");
			goto done;
		}
		rc = c->cache ? disk_base(c->cache, c->size, path, sizeof path, &cm)
			      : disk_create(c->base, c->overlay, &cm);
done:
		if (write(fds[1], &rc, sizeof rc) != sizeof rc ||
		    write(fds[1], cm.text, sizeof cm.text) != sizeof cm.text)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	int rc = 1;

	n = read(fds[0], &rc, sizeof rc);
	assert_int_equal(n, sizeof rc);
	assert_int_equal(read(fds[0], m->text, sizeof m->text), sizeof m->text);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return rc;
}

static void test_base_is_made_once_sparse_and_as_asked(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 32];
	struct msg m = { "" };
	struct stat st;
	uint32_t blocks;
	int status;
	char *out;

	(void)state;
	/* A cache folder that is not there yet is made, 0700. */
	assert_int_equal(disk_base(in_dir("cache/vmctl"), 64 * MIB, path, sizeof path, &m), 0);
	snprintf(want, sizeof want, "%s/cache/vmctl/home-67108864.ext4", dir);
	assert_string_equal(path, want);
	assert_int_equal(stat(in_dir("cache/vmctl"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_size, 64 * MIB);
	/* Almost nothing written: no zeroed inode tables, no allocated journal. */
	assert_true((unsigned long long)st.st_blocks * 512 < 8 * MIB);
	assert_int_equal(le32_at(path, 1024 + 56) & 0xFFFF, 0xEF53);
	blocks = le32_at(path, 1024 + 4);
	/* 5% of the blocks reserved for root (mkfs.ext4 rounds down). */
	assert_int_equal(le32_at(path, 1024 + 8), (uint64_t)blocks * 5 / 100);
	out = sh(&status, "e2fsck -fn %s 2>&1", path);
	assert_int_equal(status, 0);
	/* Every inode table is marked zeroed, so the guest's kernel will not zero them. */
	out = sh(&status, "dumpe2fs %s 2>/dev/null | grep -c '^Group [0-9]'; "
		 "dumpe2fs %s 2>/dev/null | grep -c '^Group [0-9].*ITABLE_ZEROED'", path, path);
	assert_int_equal(status, 0);
	{
		unsigned groups = 0, zeroed = 1;

		assert_int_equal(sscanf(out, "%u %u", &groups, &zeroed), 2);
		assert_true(groups > 0);
		assert_int_equal(zeroed, groups);
	}

	/* Asked again: the same file, not made again. */
	ino_t ino = inode_of(path);

	assert_int_equal(disk_base(in_dir("cache/vmctl"), 64 * MIB, path, sizeof path, &m), 0);
	assert_string_equal(path, want);
	assert_int_equal(inode_of(path), ino);
	/* Another size is another base. */
	assert_int_equal(disk_base(in_dir("cache/vmctl"), 32 * MIB, path, sizeof path, &m), 0);
	snprintf(want, sizeof want, "%s/cache/vmctl/home-33554432.ext4", dir);
	assert_string_equal(path, want);
}

static void test_root_folder_is_roots_when_a_user_makes_the_base(void **state)
{
	struct child_call c = { .as_nobody = true, .cache = in_dir("user"), .size = 32 * MIB };
	struct msg m = { "" };
	int status;
	char *out;

	char copy[PATH_MAX + 32];

	(void)state;
	/* A copy of imgtool nobody may run: the build tree may be under a 0700 home. */
	snprintf(copy, sizeof copy, "%s/imgtool", dir);
	sh(&status, "cp %s %s && chmod 755 %s", imgtool, copy, copy);
	assert_int_equal(status, 0);
	setenv("VMCTL_IMGTOOL", copy, 1);
	assert_int_equal(mkdir(in_dir("user"), 0700), 0);
	assert_int_equal(chown(in_dir("user"), NOBODY, NOBODY), 0);
	assert_int_equal(in_child(&c, &m), 0);
	setenv("VMCTL_IMGTOOL", imgtool, 1);
	out = sh(&status, "debugfs -R 'stat /' %s 2>/dev/null | grep -o 'User: *[0-9]*  *Group: *[0-9]*'",
		 in_dir("user/home-33554432.ext4"));
	assert_int_equal(status, 0);
	assert_string_equal(out, "User:     0   Group:     0\n");
}

static void test_damaged_base_is_made_again(void **state)
{
	char path[PATH_MAX];
	struct msg m = { "" };
	struct stat st;
	int fd, status;

	(void)state;
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), 0);

	/* Cut short. */
	assert_int_equal(truncate(path, 16 * MIB), 0);
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 32 * MIB);
	assert_int_equal(le32_at(path, 1024 + 56) & 0xFFFF, 0xEF53);
	/* The superblock gone, the size right. */
	fd = open(path, O_WRONLY);
	assert_int_not_equal(fd, -1);
	assert_int_equal(pwrite(fd, (char[1024]){ 0 }, 1024, 1024), 1024);
	close(fd);
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), 0);
	assert_int_equal(le32_at(path, 1024 + 56) & 0xFFFF, 0xEF53);
	assert_int_equal(sh(&status, "e2fsck -fn %s >/dev/null 2>&1", path)[0], '\0');
	assert_int_equal(status, 0);
	/* What a vmctl killed while making it left is not taken for a base. */
	assert_int_equal(rename(path, in_dir(".home-33554432.ext4.tmp")), 0);
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), 0);
	assert_int_equal(access(in_dir(".home-33554432.ext4.tmp"), F_OK), -1);
}

static void test_two_at_once_make_it_once(void **state)
{
	char wrapper[PATH_MAX], log[PATH_MAX], path[PATH_MAX];
	struct msg m = { "" };
	pid_t pids[2];
	int status;
	FILE *f;
	char *out;

	(void)state;
	/* A mkfs.ext4 that notes each run and takes its time, so the two overlap. */
	snprintf(log, sizeof log, "%s", in_dir("mkfs.log"));
	snprintf(wrapper, sizeof wrapper, "%s", in_dir("mkfs-wrapper"));
	f = fopen(wrapper, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho run >>%s\nsleep 0.5\nexec mkfs.ext4 \"$@\"\n", log);
	fclose(f);
	assert_int_equal(chmod(wrapper, 0755), 0);
	setenv("VMCTL_MKFS_EXT4", wrapper, 1);
	setenv("PATH", "/usr/sbin:/sbin:/usr/bin:/bin", 1);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_int_not_equal(pids[i], -1);
		if (pids[i] == 0)
			_exit(disk_base(in_dir("shared"), 32 * MIB, path, sizeof path, &m) == 0 &&
			      access(path, R_OK) == 0 ? 0 : 1);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	out = sh(&status, "cat %s", log);
	assert_string_equal(out, "run\n");
	unsetenv("VMCTL_MKFS_EXT4");
}

static void test_overlay_is_a_qcow2_on_the_base(void **state)
{
	char base[PATH_MAX], want[PATH_MAX + 64];
	struct msg m = { "" };
	struct stat st;
	int status;
	char *out;

	(void)state;
	assert_int_equal(disk_base(in_dir("cache"), 64 * MIB, base, sizeof base, &m), 0);
	assert_int_equal(mkdir(in_dir("vm"), 0700), 0);
	assert_int_equal(disk_create(base, in_dir("vm/home.qcow2"), &m), 0);
	assert_int_equal(stat(in_dir("vm/home.qcow2"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size <= 512 * 1024);
	out = sh(&status, "qemu-img info --output=json %s", in_dir("vm/home.qcow2"));
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "\"format\": \"qcow2\""));
	assert_non_null(strstr(out, "\"virtual-size\": 67108864,"));
	snprintf(want, sizeof want, "\"backing-filename\": \"%s\",", base);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\"backing-filename-format\": \"raw\","));
	out = sh(&status, "qemu-img compare %s %s", in_dir("vm/home.qcow2"), base);
	assert_int_equal(status, 0);
	assert_string_equal(out, "Images are identical.\n");
	/* Made again for the next sandbox: replaced whole. */
	assert_int_equal(disk_create(base, in_dir("vm/home.qcow2"), &m), 0);
	out = sh(&status, "ls -A %s", in_dir("vm"));
	assert_string_equal(out, "home.qcow2\n");
}

static void test_failures_are_one_sentence_each(void **state)
{
	char path[PATH_MAX], want[PATH_MAX * 2];
	struct msg m = { "" };
	struct child_call c = { .size = 32 * MIB };
	int status;
	char *out;

	(void)state;
	assert_int_equal(disk_base(dir, 1000, path, sizeof path, &m), -1);
	assert_string_equal(m.text, "a home disk of 1000 bytes is not one vmctl makes: it must "
			    "be a whole number of MiB, at least 16 MiB.");
	assert_int_equal(disk_base(dir, 8 * MIB, path, sizeof path, &m), -1);
	assert_string_equal(m.text, "a home disk of 8388608 bytes is not one vmctl makes: it "
			    "must be a whole number of MiB, at least 16 MiB.");

	/* imgtool: not where VMCTL_IMGTOOL says, and not beside this program. */
	setenv("VMCTL_IMGTOOL", "/nonexistent/imgtool", 1);
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), -1);
	assert_string_equal(m.text, "cannot run imgtool /nonexistent/imgtool (from VMCTL_IMGTOOL): "
			    "No such file or directory");
	unsetenv("VMCTL_IMGTOOL");
	out = sh(&status, "readlink /proc/%d/exe", (int)getpid());
	out[strlen(out) - 1] = '\0';
	*strrchr(out, '/') = '\0';
	snprintf(want, sizeof want, "cannot find imgtool beside vmctl (looked for %s/imgtool); "
		 "run make, or install imgtool with vmctl.", out);
	assert_int_equal(disk_create(in_dir("base"), in_dir("ov.qcow2"), &m), -1);
	assert_string_equal(m.text, want);
	setenv("VMCTL_IMGTOOL", imgtool, 1);

	/* mkfs.ext4: nowhere to be found. */
	setenv("VMCTL_MKFS_EXT4", "/nonexistent/mkfs.ext4", 1);
	assert_int_equal(disk_base(dir, 32 * MIB, path, sizeof path, &m), -1);
	assert_string_equal(m.text, "cannot run mkfs.ext4 /nonexistent/mkfs.ext4 (from "
			    "VMCTL_MKFS_EXT4): No such file or directory");
	unsetenv("VMCTL_MKFS_EXT4");
	assert_int_equal(access(in_dir("home-33554432.ext4"), F_OK), -1);

	/* A cache folder nobody may write in, and one nobody may not make. */
	c.as_nobody = true;
	c.cache = dir;
	assert_int_equal(in_child(&c, &m), -1);
	snprintf(want, sizeof want, "cannot write in the cache folder %s: Permission denied", dir);
	assert_string_equal(m.text, want);
	c.cache = in_dir("sub");
	assert_int_equal(in_child(&c, &m), -1);
	snprintf(want, sizeof want, "cannot make the cache folder %s/sub: Permission denied", dir);
	assert_string_equal(m.text, want);

	/* A full folder: the base (about 370 KiB written) does not fit in 128 KiB, nor the
	 * overlay (256 KiB) in 64 KiB. */
	assert_int_equal(mkdir(in_dir("small"), 0755), 0);
	c = (struct child_call){ .tmpfs_kib = 128, .cache = in_dir("small"), .size = 32 * MIB };
	assert_int_equal(in_child(&c, &m), -1);
	snprintf(want, sizeof want, "the folder %s/small is full: there is no room for the home "
		 "disk base %s/small/home-33554432.ext4.", dir, dir);
	assert_string_equal(m.text, want);
	assert_int_equal(disk_base(in_dir("cache"), 32 * MIB, path, sizeof path, &m), 0);
	c = (struct child_call){ .tmpfs_kib = 64, .base = path, .overlay = in_dir("small/ov.qcow2") };
	assert_int_equal(in_child(&c, &m), -1);
	snprintf(want, sizeof want, "the folder %s/small is full: there is no room for the "
		 "sandbox's disk %s/small/ov.qcow2.", dir, dir);
	assert_string_equal(m.text, want);

	/* imgtool's own sentence: a base that is not there. */
	assert_int_equal(disk_create(in_dir("none.ext4"), in_dir("ov.qcow2"), &m), -1);
	snprintf(want, sizeof want, "imgtool could not make the sandbox's disk %s/ov.qcow2: the "
		 "backing file %s/none.ext4 of %s/ov.qcow2 cannot be opened: No such file or "
		 "directory.", dir, dir, dir);
	assert_string_equal(m.text, want);
	assert_int_equal(access(in_dir("ov.qcow2"), F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_base_is_made_once_sparse_and_as_asked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_root_folder_is_roots_when_a_user_makes_the_base,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_base_is_made_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_at_once_make_it_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_is_a_qcow2_on_the_base, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failures_are_one_sentence_each, setup,
						teardown),
	};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	/* build/asan/test_vmctl_disk: imgtool is build/imgtool. */
	if (n <= 0)
		return 1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(imgtool, sizeof imgtool, "%s/../imgtool", self);
	return cmocka_run_group_tests_name("vmctl disk", tests, NULL, NULL);
}
