/* fatal.c - see fatal.h. */
#include "fatal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* "prog: text[: strerror]\n" into line; the line is cut short rather than overflowing. */
static void format_line(char *line, size_t size, int errnum, const char *fmt, va_list ap)
{
	size_t n = (size_t)snprintf(line, size, "%s: ", prog_name);

	if (n < size)
		n += (size_t)vsnprintf(line + n, size - n, fmt, ap);
	if (errnum && n < size)
		n += (size_t)snprintf(line + n, size - n, ": %s", strerror(errnum));
	if (n >= size - 1)
		n = size - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
}

/* One write, so that the sentence is not interleaved with the command's output. */
static _Noreturn void emit(int status, const char *line)
{
	ssize_t unused = write(STDERR_FILENO, line, strlen(line));

	(void)unused;
	_exit(status);
}

void fatal_status(int status, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	format_line(line, sizeof line, 0, fmt, ap);
	va_end(ap);
	emit(status, line);
}

void fatal(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	format_line(line, sizeof line, 0, fmt, ap);
	va_end(ap);
	emit(EXIT_HELPER, line);
}

void fatal_errno(const char *fmt, ...)
{
	int errnum = errno;
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	format_line(line, sizeof line, errnum, fmt, ap);
	va_end(ap);
	emit(EXIT_HELPER, line);
}
