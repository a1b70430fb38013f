/* template.c - see template.h. */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "qmp.h"
#include "sha256.h"
#include "state.h"

#define STATE_MAX (64 << 20)	/* a device state is 0.1-1 MiB; more is not one of ours */
#define POLL_MS 1

int template_cache(char *buf, size_t size, struct msg *m)
{
	return cache_folder("templates", buf, size, m);
}

int cache_folder(const char *sub, char *buf, size_t size, struct msg *m)
{
	char base[PATH_MAX - 64];	/* room for /vmctl/SUB */

	if (xdg_folder("XDG_CACHE_HOME", ".cache", base, sizeof base, m) < 0)
		return -1;
	snprintf(buf, size, "%s/vmctl", base);
	if (private_dir(buf, "the cache folder", m) < 0)
		return -1;
	snprintf(buf, size, "%s/vmctl/%s", base, sub);
	return private_dir(buf, "the cache folder", m);
}

/* "LABEL PATH SIZE INODE MTIME" of a file the template depends on: a changed file is
 * a new key, without reading it whole (the guest's 20 MB would cost 50 ms a start). */
static int describe_file(char *out, size_t size, size_t *len, const char *label,
			 const char *path, struct msg *m)
{
	struct stat st;
	int k;

	if (stat(path, &st) == -1)
		return fail_errno(m, "cannot read %s", path);
	k = snprintf(out + *len, size - *len, "%s %s %lld %llu %lld.%09ld\n", label, path,
		     (long long)st.st_size, (unsigned long long)st.st_ino,
		     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (k < 0 || (size_t)k >= size - *len)
		return fail(m, "the template's description is too long.");
	*len += (size_t)k;
	return 0;
}

/* QEMU as the launcher finds it: the first qemu-system-x86_64 on PATH. */
static int find_qemu(char *out, size_t size, struct msg *m)
{
	const char *path = getenv("PATH");
	char dirs[8192], *save = NULL;

	snprintf(dirs, sizeof dirs, "%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/qemu-system-x86_64", d);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return fail(m, "cannot find qemu-system-x86_64 on PATH; install qemu-system-x86.");
}

int template_for(const char *cache, const struct vmctl_args *a, const struct vm_state *s,
		 const char *launcher, const char *cmdline, const char *disk_base,
		 unsigned long long disk_size, struct template *t, struct msg *m)
{
	char qemu[PATH_MAX + 32];
	uint8_t h[SHA256_SIZE];
	size_t len = 0;
	int k;

	memset(t, 0, sizeof *t);
	len = (size_t)snprintf(t->desc, sizeof t->desc, "vmctl template 1\n");
	if (describe_file(t->desc, sizeof t->desc, &len, "kernel", s->kernel, m) < 0 ||
	    (*s->initrd && describe_file(t->desc, sizeof t->desc, &len, "initrd", s->initrd, m) < 0) ||
	    describe_file(t->desc, sizeof t->desc, &len, "launcher", launcher, m) < 0 ||
	    find_qemu(qemu, sizeof qemu, m) < 0 ||
	    describe_file(t->desc, sizeof t->desc, &len, "qemu", qemu, m) < 0 ||
	    describe_file(t->desc, sizeof t->desc, &len, "disk-base", disk_base, m) < 0)
		return -1;
	/* The devices: the shares' tags (the guest reads them once, when it boots), the
	 * network's way out, the home disk's size; their host folders and files are each
	 * clone's own. */
	k = snprintf(t->desc + len, sizeof t->desc - len,
		     "memory %u\ncpus %u\ncmdline %s\nshares", s->memory_mib, s->cpus, cmdline);
	if (k < 0 || (size_t)k >= sizeof t->desc - len)
		return fail(m, "the template's description is too long.");
	len += (size_t)k;
	for (int i = 0; i < a->nshares; i++)
		len += (size_t)snprintf(t->desc + len, sizeof t->desc - len, " %s", a->shares[i].tag);
	k = snprintf(t->desc + len, sizeof t->desc - len, "\negress %s\ndisk %llu\n",
		     a->internet || a->nallow ? "yes" : "no", disk_size);
	if (k < 0 || (size_t)k >= sizeof t->desc - len)
		return fail(m, "the template's description is too long.");
	sha256(t->desc, strlen(t->desc), h);
	for (int i = 0; i < TEMPLATE_KEY_HEX / 2; i++)
		snprintf(t->key + 2 * i, 3, "%02x", h[i]);
	snprintf(t->dir, sizeof t->dir, "%s/%s", cache, t->key);
	snprintf(t->ram, sizeof t->ram, "%s/ram", t->dir);
	snprintf(t->state, sizeof t->state, "%s/state", t->dir);
	snprintf(t->disk, sizeof t->disk, "%s/disk", t->dir);
	return 0;
}

/* The SHA-256 of a file of at most STATE_MAX bytes, as hex; its size in *size. */
static int hash_file(const char *path, char hex[2 * SHA256_SIZE + 1], long long *size)
{
	static char buf[1 << 16];
	struct sha256 c;
	uint8_t h[SHA256_SIZE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	sha256_init(&c);
	*size = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0 && *size <= STATE_MAX) {
		sha256_update(&c, buf, (size_t)n);
		*size += n;
	}
	close(fd);
	if (n < 0 || *size > STATE_MAX)
		return -1;
	sha256_final(&c, h);
	for (int i = 0; i < SHA256_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return 0;
}

/* A file's record: its size, inode and change time (any write changes the last). */
static int record_file(const char *dir, const char *name, char *out, size_t size)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &st) == -1)
		return -1;
	return snprintf(out, size, "%s %lld %llu %lld.%09ld\n", name, (long long)st.st_size,
			(unsigned long long)st.st_ino, (long long)st.st_ctim.tv_sec,
			st.st_ctim.tv_nsec);
}

/* What template_valid compares: the description, then the records of the RAM file
 * and the home disk (too large to hash at each start; neither is ever opened for
 * writing once made) and the device state's size and SHA-256 (QEMU parses it). */
static int records(const char *dir, const char *desc, char *out, size_t size)
{
	char path[PATH_MAX + 16], hex[2 * SHA256_SIZE + 1];
	long long state_size;
	int k, r;

	k = snprintf(out, size, "%s--\n", desc);
	if (k < 0 || (size_t)k >= size)
		return -1;
	for (const char *const *f = (const char *const[]){ "ram", "disk", NULL }; *f; f++) {
		r = record_file(dir, *f, out + k, size - (size_t)k);
		if (r < 0 || (size_t)r >= size - (size_t)k)
			return -1;
		k += r;
	}
	snprintf(path, sizeof path, "%s/state", dir);
	if (hash_file(path, hex, &state_size) < 0)
		return -1;
	k += snprintf(out + k, size - (size_t)k, "state %lld %s\n", state_size, hex);
	return (size_t)k < size ? 0 : -1;
}

bool template_valid(const struct template *t, unsigned memory_mib)
{
	static char want[TEMPLATE_DESC_MAX + 512], have[TEMPLATE_DESC_MAX + 512];
	char path[PATH_MAX + 16];
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(t->ram, &st) == -1 || st.st_size != (off_t)memory_mib << 20 ||
	    records(t->dir, t->desc, want, sizeof want) < 0)
		return false;
	snprintf(path, sizeof path, "%s/meta", t->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	n = read(fd, have, sizeof have - 1);
	close(fd);
	if (n <= 0)
		return false;
	have[n] = '\0';
	return strcmp(want, have) == 0;
}

int template_lock(const char *cache, const struct template *t, struct msg *m)
{
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof path, "%s/%s.lock", cache, t->key);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return fail_errno(m, "cannot create %s", path);
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			fail_errno(m, "cannot lock %s", path);
			close(fd);
			return -1;
		}
	return fd;
}

/* Remove a folder of plain files (a template's, or one being made). */
static int remove_folder(const char *dir, struct msg *m)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT ? 0 : fail_errno(m, "cannot read %s", dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (rmdir(dir) == -1 && errno != ENOENT)
		return fail_errno(m, "cannot remove %s", dir);
	return 0;
}

int template_commit(const struct template *t, const char *tmp, struct msg *m)
{
	static char meta[TEMPLATE_DESC_MAX + 512];
	char path[PATH_MAX + 16], old[PATH_MAX + 32];
	int fd;

	for (const char *const *f = (const char *const[]){ "ram", "disk", "state", NULL }; *f;
	     f++) {
		snprintf(path, sizeof path, "%s/%s", tmp, *f);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1 || fsync(fd) == -1) {
			fail_errno(m, "cannot write the template's %s", path);
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (records(tmp, t->desc, meta, sizeof meta) < 0)
		return fail(m, "cannot read back the template just made in %s.", tmp);
	snprintf(path, sizeof path, "%s/meta", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, meta, strlen(meta)) == -1 || fsync(fd) == -1) {
		fail_errno(m, "cannot write %s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(old, sizeof old, "%s.old.%d", t->dir, (int)getpid());
	if (rename(t->dir, old) == 0 && remove_folder(old, m) < 0)
		return -1;
	if (rename(tmp, t->dir) == -1)
		return fail_errno(m, "cannot put the template in place as %s", t->dir);
	return 0;
}

int template_remove(const char *cache, const char *dir, struct msg *m)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (dir)
		return remove_folder(dir, m);
	d = opendir(cache);
	if (!d)
		return fail_errno(m, "cannot read %s", cache);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		snprintf(path, sizeof path, "%s/%s", cache, e->d_name);
		if (remove_folder(path, m) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static const char ignore_shared[] =
	"{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
	"[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}";

int template_save(int qmp, int state_fd, int timeout_ms, struct msg *m)
{
	char reply[8192];

	if (qmp_command(qmp, ignore_shared, NULL, 0, timeout_ms, m) < 0 ||
	    qmp_send_fd(qmp, "vmctl-state", state_fd, timeout_ms, m) < 0 ||
	    qmp_command(qmp, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:vmctl-state\"}}",
			NULL, 0, timeout_ms, m) < 0)
		return -1;
	/* setup, then active, then completed (or failed) */
	for (long long deadline = monotonic_ms() + timeout_ms;; sleep_ms(POLL_MS)) {
		if (qmp_command(qmp, "{\"execute\":\"query-migrate\"}", reply, sizeof reply,
				timeout_ms, m) < 0)
			return -1;
		if (strstr(reply, "\"completed\""))
			return 0;
		if (!strstr(reply, "\"setup\"") && !strstr(reply, "\"active\""))
			return fail(m, "QEMU could not save the template: %.200s", reply);
		if (monotonic_ms() > deadline)
			return fail(m, "QEMU's migration did not end within %d s.", timeout_ms / 1000);
	}
}
