/* state.c - see state.h. */
#include "state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int private_dir(const char *path, const char *what, struct msg *m)
{
	struct stat st;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return fail_errno(m, "cannot create %s %s", what, path);
	if (lstat(path, &st) == -1)
		return fail_errno(m, "cannot read %s %s", what, path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return fail(m, "%s %s is not a folder that only you can read; remove it or fix "
			    "its owner and mode (0700).", what, path);
	return 0;
}

int xdg_folder(const char *env, const char *rel, char *buf, size_t size, struct msg *m)
{
	const char *xdg = getenv(env), *home = getenv("HOME");
	struct passwd *pw;
	char *slash;

	if (xdg && *xdg == '/') {
		snprintf(buf, size, "%s", xdg);
	} else {
		if (!home || *home != '/') {
			pw = getpwuid(geteuid());
			if (!pw || !pw->pw_dir || *pw->pw_dir != '/')
				return fail(m, "cannot tell where your %s is: set HOME or %s.", rel, env);
			home = pw->pw_dir;
		}
		snprintf(buf, size, "%s/%s", home, rel);
		/* the folders between HOME and it (~/.local of ~/.local/state), when missing */
		for (slash = strchr(buf + strlen(home) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (mkdir(buf, 0700) == -1 && errno != EEXIST)
				return fail_errno(m, "cannot create the folder %s", buf);
			*slash = '/';
		}
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		return fail_errno(m, "cannot create the folder %s", buf);
	return 0;
}

int state_dir(char *buf, size_t size, struct msg *m)
{
	const char *run = getenv("XDG_RUNTIME_DIR");

	if (run && *run)
		snprintf(buf, size, "%s/vmctl", run);
	else
		snprintf(buf, size, "/tmp/vmctl-%u", (unsigned)getuid());
	return private_dir(buf, "the state folder", m);
}

void state_path(char *buf, size_t size, const char *dir, unsigned port, const char *ext)
{
	snprintf(buf, size, "%s/%u.%s", dir, port, ext);
}

static char *to_json(const struct vm_state *s)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "port", s->port);
	cJSON_AddNumberToObject(o, "pid", s->pid);
	cJSON_AddNumberToObject(o, "pid_start", (double)s->pid_start);
	cJSON_AddStringToObject(o, "secret", s->secret);
	cJSON_AddStringToObject(o, "kernel", s->kernel);
	cJSON_AddStringToObject(o, "initrd", s->initrd);
	cJSON_AddNumberToObject(o, "memory_mib", s->memory_mib);
	cJSON_AddNumberToObject(o, "cpus", s->cpus);
	cJSON_AddNumberToObject(o, "started", (double)s->started);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	return text;
}

static int write_file(int fd, const char *path, const char *text, struct msg *m)
{
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail_errno(m, "cannot write %s", path);
		done += (size_t)n;
	}
	if (fsync(fd) == -1)
		return fail_errno(m, "cannot write %s", path);
	return 0;
}

int state_create(const char *dir, const struct vm_state *s, struct msg *m)
{
	char path[4200], *text = to_json(s);
	int fd, rc;

	if (!text)
		return fail(m, "out of memory writing the state of port %u.", s->port);
	state_path(path, sizeof path, dir, s->port, "json");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		rc = errno == EEXIST ? fail(m, "port %u is already a sandbox's.", s->port)
				     : fail_errno(m, "cannot create %s", path);
		free(text);
		return rc;
	}
	rc = write_file(fd, path, text, m);
	close(fd);
	free(text);
	if (rc < 0)
		unlink(path);
	return rc;
}

int state_save(const char *dir, const struct vm_state *s, struct msg *m)
{
	char path[4200], tmp[4300], *text = to_json(s);
	int fd, rc;

	if (!text)
		return fail(m, "out of memory writing the state of port %u.", s->port);
	state_path(path, sizeof path, dir, s->port, "json");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		free(text);
		return fail_errno(m, "cannot write %s", tmp);
	}
	rc = write_file(fd, tmp, text, m);
	close(fd);
	free(text);
	if (rc == 0 && rename(tmp, path) == -1)
		rc = fail_errno(m, "cannot write %s", path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int get_string(cJSON *o, const char *key, char *out, size_t size)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return -1;
	strcpy(out, v->valuestring);
	return 0;
}

static int get_number(cJSON *o, const char *key, double *out)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return -1;
	*out = v->valuedouble;
	return 0;
}

int state_load(const char *dir, unsigned port, struct vm_state *s, struct msg *m)
{
	char path[4200], buf[16384];
	double port_v, pid, start, mem, cpus, started;
	ssize_t n;
	cJSON *o;
	int fd;

	memset(s, 0, sizeof *s);
	state_path(path, sizeof path, dir, port, "json");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return fail(m, "no sandbox on port %u (vmctl list shows the running ones).", port);
	if (fd == -1)
		return fail_errno(m, "cannot read %s", path);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return fail_errno(m, "cannot read %s", path);
	buf[n] = '\0';
	o = cJSON_Parse(buf);
	if (!o || get_number(o, "port", &port_v) || get_number(o, "pid", &pid) ||
	    get_number(o, "pid_start", &start) || get_string(o, "secret", s->secret, sizeof s->secret) ||
	    get_string(o, "kernel", s->kernel, sizeof s->kernel) ||
	    get_string(o, "initrd", s->initrd, sizeof s->initrd) ||
	    get_number(o, "memory_mib", &mem) || get_number(o, "cpus", &cpus) ||
	    get_number(o, "started", &started) || (unsigned)port_v != port ||
	    strlen(s->secret) != SECRET_HEX) {
		cJSON_Delete(o);
		return fail(m, "%s is damaged; vmctl stop %u cannot trust it (remove it by hand "
			    "once the VM is gone).", path, port);
	}
	cJSON_Delete(o);
	s->port = port;
	s->pid = (pid_t)pid;
	s->pid_start = (unsigned long long)start;
	s->memory_mib = (unsigned)mem;
	s->cpus = (unsigned)cpus;
	s->started = (long long)started;
	return 0;
}

void state_remove(const char *dir, unsigned port)
{
	static const char *const ext[] = { "json", "qmp", "log", "console", "identity", "disk.qcow2",
					     "json.tmp", "start" };
	char path[4200];

	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		state_path(path, sizeof path, dir, port, ext[i]);
		unlink(path);
	}
}

unsigned long long pid_start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	char state = 0;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: the fields resume after the last ')'.
	 * state is field 3; starttime is field 22. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu", &state, &start) != 2)
		return 0;
	return state == 'Z' || state == 'X' ? 0 : start;	/* a zombie is gone too */
}

bool state_alive(const struct vm_state *s)
{
	return s->pid > 0 && s->pid_start && pid_start_time(s->pid) == s->pid_start;
}
