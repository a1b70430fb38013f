/* qmp.c - see qmp.h. QMP is one JSON object per line in each direction. */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read lines until one contains key (0) or an "error" (-1), by the deadline. */
static int wait_for(int fd, const char *key, long long deadline, struct msg *m)
{
	char buf[8192];
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		char *nl;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return fail(m, "QEMU's monitor did not answer in time.");
		n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			return fail(m, "QEMU's monitor closed the connection.");
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (strstr(buf, key))
				return 0;
			if (strstr(buf, "\"error\""))
				return fail(m, "QEMU's monitor refused: %.200s", buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof buf - 1)
			have = 0;	/* an overlong event: drop it */
	}
}

static int send_line(int fd, const char *line, struct msg *m)
{
	size_t len = strlen(line), done = 0;

	while (done < len) {
		ssize_t n = write(fd, line + done, len - done);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail_errno(m, "cannot talk to QEMU's monitor");
		done += (size_t)n;
	}
	return 0;
}

int qmp_open(const char *path, int timeout_ms, struct msg *m)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	int fd;

	if (strlen(path) >= sizeof addr.sun_path)
		return fail(m, "the monitor socket path %s is too long.", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return fail_errno(m, "cannot create a socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
		fail_errno(m, "cannot reach QEMU's monitor at %s", path);
		close(fd);
		return -1;
	}
	if (wait_for(fd, "\"QMP\"", deadline, m) < 0 ||
	    send_line(fd, "{\"execute\":\"qmp_capabilities\"}\n", m) < 0 ||
	    wait_for(fd, "\"return\"", deadline, m) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int qmp_execute(int fd, const char *command, int timeout_ms, struct msg *m)
{
	char line[128];

	snprintf(line, sizeof line, "{\"execute\":\"%s\"}\n", command);
	if (send_line(fd, line, m) < 0)
		return -1;
	return wait_for(fd, "\"return\"", now_ms() + timeout_ms, m);
}
