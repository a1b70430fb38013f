/* command.h - the last steps before the command: its group, terminal, limits,
 * directory, environment and signals, then the seccomp filter, then execve. */
#ifndef SANDBOX_COMMAND_H
#define SANDBOX_COMMAND_H

#include <stdbool.h>

#include "cli.h"

/*
 * Runs in the sandbox, after the capabilities are gone. The command leads its own
 * process group; with take_tty that group becomes the terminal's foreground, so
 * Ctrl-C and window-size changes reach the command and only the command. filter_fd
 * delivers the seccomp program (see filter_export). Exits 125 if a step fails, 126
 * or 127 if execve does.
 */
_Noreturn void command_run(const struct cli *c, bool take_tty, int filter_fd);

#endif
