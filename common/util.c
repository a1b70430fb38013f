/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *prog_name = "?";

static void vreport(const char *fmt, va_list ap, int errnum)
{
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void die_errno(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, errnum);
	va_end(ap);
	exit(1);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, 0);
	va_end(ap);
}

static int vfail(struct msg *m, const char *fmt, va_list ap, int errnum)
{
	int n = vsnprintf(m->text, sizeof m->text, fmt, ap);

	if (errnum && n >= 0 && (size_t)n < sizeof m->text)
		snprintf(m->text + n, sizeof m->text - (size_t)n, ": %s",
			 strerror(errnum));
	return -1;
}

int fail(struct msg *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(m, fmt, ap, 0);
	va_end(ap);
	return -1;
}

int fail_errno(struct msg *m, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(m, fmt, ap, errnum);
	va_end(ap);
	return -1;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
