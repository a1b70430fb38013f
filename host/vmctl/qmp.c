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

#include "text.h"

enum { QMP_TIMEOUT = -1, QMP_ERROR = -2, QMP_CLOSED = -3 };

/* The first of words that a whole line of buf[0..len) holds (that line in out when
 * given), or -1; at an error line, QMP_ERROR with its "desc" in why. Lines looked at
 * are dropped. */
static int scan_lines(struct qmp_reader *r, const char *const words[], char *out, size_t osize,
		      char *why, size_t size)
{
	int found = -1;
	char *nl, *line = r->buf;

	r->buf[r->len] = '\0';
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		for (int i = 0; words[i]; i++)
			if (strstr(line, words[i]) && (found == -1 || i < found)) {
				found = i;
				if (out)
					snprintf(out, osize, "%s", line);
			}
		if (found == -1 && strstr(line, "\"error\"")) {
			/* {"error": {"class": "GenericError", "desc": "TEXT"}}: TEXT */
			const char *e = strstr(line, "\"desc\"");

			e = e ? strchr(e + 6, '"') : NULL;
			if (e) {
				const char *end = strchr(++e, '"');

				text_escape(why, size, e, end ? (size_t)(end - e) : strlen(e));
			} else {
				snprintf(why, size, "QEMU refused a command");
			}
			found = QMP_ERROR;
			nl++;
			line = nl;
			break;
		}
	}
	r->len -= (size_t)(line - r->buf);
	memmove(r->buf, line, r->len);
	if (r->len == sizeof r->buf - 1)
		r->len = 0;	/* an overlong line: dropped */
	return found;
}

/* Read r until a line holds one of words: its index. QMP_ERROR (why: the error's
 * desc, or the failed wait), QMP_TIMEOUT past the deadline, QMP_CLOSED when QEMU closed
 * the monitor. */
static int read_until(struct qmp_reader *r, const char *const words[], long long deadline,
		      char *out, size_t osize, char *why, size_t wsize)
{
	*why = '\0';
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		long long left = deadline - monotonic_ms();
		int found = scan_lines(r, words, out, osize, why, wsize);
		ssize_t n;

		if (found >= 0)
			return found;
		if (found == QMP_ERROR)
			return QMP_ERROR;
		if (left <= 0)
			return QMP_TIMEOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			snprintf(why, wsize, "cannot wait for QEMU: %s", strerror(errno));
			return QMP_ERROR;
		}
		n = recv(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return QMP_CLOSED;
		if (n > 0)
			r->len += (size_t)n;
	}
}

/* Read lines until one contains key (0, the line in out when given) or an "error"
 * (-1), by the deadline. */
static int wait_for(int fd, const char *key, long long deadline, char *out, size_t osize,
		    struct msg *m)
{
	struct qmp_reader r = { .fd = fd };
	char why[256];

	switch (read_until(&r, (const char *const[]){ key, NULL }, deadline, out, osize, why,
			   sizeof why)) {
	case QMP_TIMEOUT:
		return fail(m, "QEMU's monitor did not answer in time.");
	case QMP_CLOSED:
		return fail(m, "QEMU's monitor closed the connection.");
	case QMP_ERROR:
		return fail(m, "QEMU's monitor refused: %s", why);
	default:
		return 0;
	}
}

static int send_line(int fd, const char *line, struct msg *m)
{
	size_t len = strlen(line), done = 0;

	while (done < len) {
		/* not a SIGPIPE when QEMU has gone (it exits when it refuses a stream) */
		ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL);

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
	long long deadline = monotonic_ms() + timeout_ms;
	int fd;

	if (strlen(path) >= sizeof addr.sun_path)
		return fail(m, "the monitor socket path %s is too long.", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return fail_errno(m, "cannot create a socket");
	/* A QEMU just started makes its socket soon: until the deadline, try again. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || monotonic_ms() >= deadline) {
			fail_errno(m, "cannot reach QEMU's monitor at %s", path);
			close(fd);
			return -1;
		}
		sleep_ms(1);
	}
	if (wait_for(fd, "\"QMP\"", deadline, NULL, 0, m) < 0 ||
	    send_line(fd, "{\"execute\":\"qmp_capabilities\"}\n", m) < 0 ||
	    wait_for(fd, "\"return\"", deadline, NULL, 0, m) < 0) {
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
	return wait_for(fd, "\"return\"", monotonic_ms() + timeout_ms, NULL, 0, m);
}

int qmp_command(int fd, const char *json, char *reply, size_t size, int timeout_ms, struct msg *m)
{
	if (send_line(fd, json, m) < 0 || send_line(fd, "\n", m) < 0)
		return -1;
	return wait_for(fd, "\"return\"", monotonic_ms() + timeout_ms, reply, size, m);
}

int qmp_send_fd(int fd, const char *name, int passfd, int timeout_ms, struct msg *m)
{
	char line[160], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int len = snprintf(line, sizeof line, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}\n",
			   name);

	iov = (struct iovec){ .iov_base = line, .iov_len = (size_t)len };
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passfd, sizeof passfd);
	/* The descriptor travels with the command's first byte: the whole line at once. */
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != len)
		return fail_errno(m, "cannot hand QEMU's monitor a file");
	return wait_for(fd, "\"return\"", monotonic_ms() + timeout_ms, NULL, 0, m);
}

int qmp_wait_words(struct qmp_reader *r, const char *const words[], int timeout_ms, char *why,
		   size_t size)
{
	int found = read_until(r, words, monotonic_ms() + timeout_ms, NULL, 0, why, size);

	if (found == QMP_TIMEOUT)
		snprintf(why, size, "QEMU did not load it within %d s", timeout_ms / 1000);
	else if (found == QMP_CLOSED)
		*why = '\0';	/* QEMU ended: its log says why */
	return found < 0 ? -1 : found;
}
