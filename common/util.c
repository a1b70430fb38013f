/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The loop of write_all, pread_all and pwrite_all. */
enum io_kind { IO_WRITE, IO_PREAD, IO_PWRITE };

static int io_all(enum io_kind kind, int fd, char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = kind == IO_WRITE  ? write(fd, p, len)
			  : kind == IO_PREAD  ? pread(fd, p, len, off)
					      : pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	return io_all(IO_WRITE, fd, (char *)buf, len, 0);
}

int pread_all(int fd, void *buf, size_t len, off_t off)
{
	return io_all(IO_PREAD, fd, buf, len, off);
}

int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return io_all(IO_PWRITE, fd, (char *)buf, len, off);
}

long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
