/* cgroup.c - see cgroup.h. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define CGROUP_BASE "sandbox-helper"

/* mountinfo escapes blanks and backslashes in paths as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Fields: id parent major:minor root mountpoint options [optional...] - type source ... */
int cgroup_find_mount(FILE *mountinfo, char *out, size_t size)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	while (rc < 0 && getline(&line, &cap, mountinfo) > 0) {
		char *save = NULL, *field[5], *tok;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 5; tok = strtok_r(NULL, " ", &save))
			field[n++] = tok;
		if (n < 5)
			continue;
		while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
			;
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		if (!tok || strcmp(tok, "cgroup2") != 0)
			continue;
		unescape(field[4]);
		if (strlen(field[4]) < size) {
			strcpy(out, field[4]);
			rc = 0;
		}
	}
	free(line);
	return rc;
}

unsigned long long cgroup_memory_max(unsigned long long budget)
{
	return budget / 4 * 3;
}

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	int fd, rc;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

static unsigned long long memtotal(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib * 1024;
}

/* The memory every sandbox together may use: the base's memory.max when it has one
 * (guest/init sets it so that vmd and the kernel keep room), else all of RAM. */
static unsigned long long budget(const char *base)
{
	char path[PATH_MAX + 64], text[32] = "";
	unsigned long long ram = memtotal(), max;
	FILE *f;

	snprintf(path, sizeof path, "%s/memory.max", base);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(text, sizeof text, f))
			text[0] = '\0';
		fclose(f);
	}
	max = text[0] >= '0' && text[0] <= '9' ? strtoull(text, NULL, 10) : ram;
	return max < ram ? max : ram;
}

/* Remove the leaves of helpers that are gone (rmdir refuses a cgroup still in use). */
static void sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX + 300];
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

void cgroup_create(struct cgroup *cg)
{
	char mount[PATH_MAX], base[PATH_MAX + 32], num[32];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found;

	cg->leaf[0] = '\0';
	cg->fd = -1;
	cg->memory_max = 0;
	if (!f)
		return;
	found = cgroup_find_mount(f, mount, sizeof mount);
	fclose(f);
	if (found < 0)
		return;
	snprintf(base, sizeof base, "%s/%s", mount, CGROUP_BASE);
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return;
	sweep(base);
	/* Each controller on its own: one that is missing must not stop the other. */
	write_file(mount, "cgroup.subtree_control", "+pids");
	write_file(mount, "cgroup.subtree_control", "+memory");
	write_file(base, "cgroup.subtree_control", "+pids");
	write_file(base, "cgroup.subtree_control", "+memory");
	if ((size_t)snprintf(cg->leaf, sizeof cg->leaf, "%s/%d", base, (int)getpid()) >= sizeof cg->leaf)
		cg->leaf[0] = '\0';
	/* A leaf of this pid's may be left from an earlier helper that ran out of
	 * memory (see cgroup_finish): its counts are not this sandbox's. */
	if (cg->leaf[0])
		rmdir(cg->leaf);
	if (!cg->leaf[0] || (mkdir(cg->leaf, 0755) < 0 && errno != EEXIST)) {
		cg->leaf[0] = '\0';
		return;
	}
	cg->fd = open(cg->leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		rmdir(cg->leaf);
		cg->leaf[0] = '\0';
		return;
	}
	snprintf(num, sizeof num, "%d", CGROUP_PIDS_MAX);
	write_file(cg->leaf, "pids.max", num);
	snprintf(num, sizeof num, "%llu", cgroup_memory_max(budget(base)));
	if (num[0] != '0' && write_file(cg->leaf, "memory.max", num) == 0) {
		cg->memory_max = strtoull(num, NULL, 10);
		write_file(cg->leaf, "memory.oom.group", "1");
	}
}

static bool oom_killed(const char *leaf)
{
	char path[PATH_MAX + 32], line[128];
	unsigned long long n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/memory.events", leaf);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "oom_kill %llu", &n) == 1)
			break;
	}
	fclose(f);
	return n > 0;
}

void cgroup_finish(struct cgroup *cg)
{
	const struct timespec ms = { 0, 1000000 };
	bool oom;

	if (cg->fd >= 0)
		close(cg->fd);
	cg->fd = -1;
	if (!cg->leaf[0])
		return;
	oom = cg->memory_max && oom_killed(cg->leaf);
	if (oom)
		warn("the sandbox ran out of memory (its limit is %llu MiB) and the kernel killed it.",
		     cg->memory_max >> 20);
	/* Every task has gone with the pid namespace by now; cgroup.kill is for the
	 * case where one has not yet left the cgroup's books. */
	write_file(cg->leaf, "cgroup.kill", "1");
	/* Out of memory, the empty leaf stays for the helper's parent to read (vmd
	 * reports "oom" from its memory.events) and remove; else the next helper's
	 * sweep removes it. */
	for (int i = 0; !oom && i < 200 && rmdir(cg->leaf) < 0 && errno == EBUSY; i++)
		nanosleep(&ms, NULL);
	cg->leaf[0] = '\0';
}
