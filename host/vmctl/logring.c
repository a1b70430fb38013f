/* logring.c - see logring.h. */
#include "logring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* Rewrite the file as the marker and then the newest `keep` bytes of old (the file's
 * content, or the data about to be added), cut to begin after a newline when there
 * is one in the first half of them. */
static int restart(struct logring *r, const char *old, size_t keep)
{
	const char *nl = memchr(old, '\n', keep / 2);
	size_t mlen = sizeof LOGRING_MARKER - 1;

	if (nl) {
		keep -= (size_t)(nl + 1 - old);
		old = nl + 1;
	}
	if (pwrite_all(r->fd, LOGRING_MARKER, mlen, 0) < 0 ||
	    pwrite_all(r->fd, old, keep, (off_t)mlen) < 0 ||
	    ftruncate(r->fd, (off_t)(mlen + keep)) < 0)
		return -1;
	r->size = (off_t)(mlen + keep);
	return 0;
}

int logring_append(struct logring *r, const void *data, size_t len)
{
	static char tail[LOGRING_CONSOLE_CAP / 2];
	size_t half = r->cap / 2 - (sizeof LOGRING_MARKER - 1), keep;

	if ((size_t)r->size + len > r->cap) {
		if (len >= half)	/* the new bytes alone fill the kept half */
			return restart(r, (const char *)data + (len - half), half);
		/* The newest bytes of the file, so that they and data fit in half the cap. */
		keep = half - len;
		if (keep > (size_t)r->size)
			keep = (size_t)r->size;
		if (keep > sizeof tail)
			keep = sizeof tail;
		if (pread_all(r->fd, tail, keep, r->size - (off_t)keep) < 0 ||
		    restart(r, tail, keep) < 0)
			return -1;
	}
	if (pwrite_all(r->fd, data, len, r->size) < 0)
		return -1;
	r->size += (off_t)len;
	return 0;
}

void logring_run(const int *in, struct logring *ring, int n)
{
	struct pollfd p[8];
	static char buf[64 * 1024];
	int open_n = n;

	for (int i = 0; i < n && i < 8; i++)
		p[i] = (struct pollfd){ .fd = in[i], .events = POLLIN };
	while (open_n > 0) {
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < n; i++) {
			ssize_t got;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			got = read(p[i].fd, buf, sizeof buf);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {	/* every writer is gone: QEMU has ended */
				close(p[i].fd);
				p[i].fd = -1;
				open_n--;
				continue;
			}
			/* A full disk loses console text, never the VM: carry on. */
			logring_append(&ring[i], buf, (size_t)got);
		}
	}
}

void logring_last_line_of(const char *path, const char *const prefixes[], char *out, size_t size)
{
	char buf[4096];
	off_t end, off;
	ssize_t n;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	end = lseek(fd, 0, SEEK_END);
	off = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	n = end > 0 ? pread(fd, buf, sizeof buf - 1, off) : 0;
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* From the last line back: each line ends at a newline (or the end) and starts
	 * after the newline before it (or at the start of what was read). */
	for (;;) {
		char *nl;
		const char *line;

		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		if (n == 0)
			return;
		nl = memrchr(buf, '\n', (size_t)n);
		line = nl ? nl + 1 : buf;
		for (int i = 0; !prefixes || prefixes[i]; i++)
			if (!prefixes || !strncmp(line, prefixes[i], strlen(prefixes[i]))) {
				snprintf(out, size, "%s", line);
				return;
			}
		if (!nl)
			return;
		n = nl - buf;
		buf[n] = '\0';
	}
}

void logring_last_line(const char *path, char *out, size_t size)
{
	logring_last_line_of(path, NULL, out, size);
}
