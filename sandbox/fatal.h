/* fatal.h - how sandbox-helper fails, and the exit statuses that say so.
 *
 * A sandboxed command's own exit status passes through unchanged, so the
 * helper's failures need a status that commands rarely use. Like env(1) and
 * the shell: 125 is the helper's own failure (a bad option, a namespace or
 * mount that could not be set up, a cwd that does not exist), 126 a command
 * that was found but could not be run, 127 a command that was not found.
 */
#ifndef SANDBOX_FATAL_H
#define SANDBOX_FATAL_H

#include "util.h"

#define EXIT_HELPER	125
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127

/*
 * Print "sandbox-helper: message" and _exit() with status. _exit, not exit:
 * after a fork, stdio buffers and atexit handlers belong to the parent.
 */
_Noreturn void fatal_status(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* fatal_status(EXIT_HELPER, ...), the usual case. */
_Noreturn void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* As fatal(), ending the sentence with ": strerror(errno)". */
_Noreturn void fatal_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
