/* qmp.h - the few QMP commands vmctl needs, over QEMU's Unix socket. */
#ifndef VMCTL_QMP_H
#define VMCTL_QMP_H

#include "util.h"

/* Connect to the QMP socket at path and leave capabilities negotiation done; the fd,
 * or -1 with m. timeout_ms bounds the whole exchange. */
int qmp_open(const char *path, int timeout_ms, struct msg *m);
/* Send {"execute": command} and wait for its return (events are skipped). */
int qmp_execute(int fd, const char *command, int timeout_ms, struct msg *m);

/* Send one JSON command (no newline) and wait for its return, copied into reply (a
 * line, cut to size) when given. */
int qmp_command(int fd, const char *json, char *reply, size_t size, int timeout_ms, struct msg *m);
/* Hand QEMU the descriptor passfd under name (QMP getfd), for an "fd:NAME" URI. */
int qmp_send_fd(int fd, const char *name, int passfd, int timeout_ms, struct msg *m);

/* What QEMU wrote on a monitor whose commands were written before it started (a
 * socket pair, launch_mode.ctl), read as it comes: the lines not looked at yet. */
struct qmp_reader {
	int fd;
	size_t len;
	char buf[8192];
};
/* Wait until a line of r holds words[i] (a NULL-ended list; the first one found in the
 * lines read so far wins): i. -1 with why (escaped) when QEMU answered a command with
 * an error or took longer than timeout_ms; -1 with why empty when it ended (its log
 * says why). */
int qmp_wait_words(struct qmp_reader *r, const char *const words[], int timeout_ms, char *why,
		   size_t size);

#endif
