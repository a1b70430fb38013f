/* logring.h - the files the guest and QEMU write into the state folder, bounded.
 *
 * The guest is hostile: what it writes to its serial port, and what it can make QEMU
 * print, must not fill the host's state folder. Each file grows to its cap, then keeps
 * only its newest half (from a line start) behind a marker line, so its tail, which
 * explains a failed start or shows the last console line, is always there. A small
 * process of vmctl's (logring_run) copies QEMU's pipes into them for the VM's life.
 */
#ifndef VMCTL_LOGRING_H
#define VMCTL_LOGRING_H

#include <stddef.h>
#include <sys/types.h>

#define LOGRING_CONSOLE_CAP (1024 * 1024)	/* the guest's serial console */
#define LOGRING_QEMU_CAP (256 * 1024)		/* QEMU's and qemu-boot's own output */
#define LOGRING_MARKER "[vmctl: older lines dropped to keep this file small]\n"

struct logring {
	int fd;		/* open for reading and writing */
	size_t cap;	/* the file never grows past this */
	off_t size;	/* its current size */
};

/* Add len bytes at the end, first dropping the older half when they would pass the
 * cap; 0, or -1 with errno set. */
int logring_append(struct logring *r, const void *data, size_t len);

/* Copy each of the n pipes in[i] into ring[i] until every one is at its end. */
void logring_run(const int *in, struct logring *ring, int n);

/* The last line of the file at path (looked for in its last 4 KiB), without its
 * newline and cut to size - 1 bytes; "" when there is none. */
void logring_last_line(const char *path, char *out, size_t size);
/* The same, but the last line that starts with one of prefixes (a NULL-ended list;
 * NULL: any line). */
void logring_last_line_of(const char *path, const char *const prefixes[], char *out, size_t size);

#endif
