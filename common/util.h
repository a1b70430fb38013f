/* util.h - the error family shared by the command-line programs.
 *
 * Every message is one sentence prefixed with the program name, as in
 * "sizecheck: build/boot.bin is 300 bytes; a boot program must be exactly 256."
 * Library code does not call these: it returns an error with its message in a
 * buffer (struct msg) so that tests can check the exact text; main() dies with it.
 */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* The name used as the message prefix; main() sets it once. */
extern const char *prog_name;

/* Print "prog: message" and exit with status 1. */
_Noreturn void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* As die(), ending the sentence with ": strerror(errno)". */
_Noreturn void die_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Print "prog: message" and carry on. */
void warn(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* A message buffer that library functions fill instead of printing. */
struct msg {
	char text[512];
};

/* Format into m (truncating safely) and return -1, for "return fail(m, ...)". */
int fail(struct msg *m, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* As fail(), ending with ": strerror(errno)". */
int fail_errno(struct msg *m, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Write all len bytes of buf to fd, going on after EINTR and short writes: 0, or -1
 * with errno set. */
int write_all(int fd, const void *buf, size_t len);
/* Read or write exactly len bytes at off, the same way; a file that ends first is -1
 * with errno EIO. */
int pread_all(int fd, void *buf, size_t len, off_t off);
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Milliseconds of CLOCK_MONOTONIC, for deadlines; a sleep that EINTR does not cut. */
long long monotonic_ms(void);
void sleep_ms(int ms);

#endif
