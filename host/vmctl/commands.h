/* commands.h - what each vmctl subcommand does. */
#ifndef VMCTL_COMMANDS_H
#define VMCTL_COMMANDS_H

#include "util.h"

struct vmctl_args;

int cmd_start(const struct vmctl_args *a, struct msg *m);
int cmd_template(const struct vmctl_args *a, struct msg *m);
/* Returns the command's exit code (0..255) or -1 with m for vmctl's own failures. */
int cmd_exec(const struct vmctl_args *a, struct msg *m);
/* Serves until interrupted; 0 then, or -1 with m (a busy HTTP port, say). */
int cmd_web(const struct vmctl_args *a, struct msg *m);
/* install and cp (files.c): 0, or -1 with m (vmd's sentence when it refused). */
int cmd_install(const struct vmctl_args *a, struct msg *m);
int cmd_cp(const struct vmctl_args *a, struct msg *m);
int cmd_session(const struct vmctl_args *a, struct msg *m);
int cmd_stop(const struct vmctl_args *a, struct msg *m);
int cmd_list(const struct vmctl_args *a, struct msg *m);
/* egress.c: one proxied connection on stdin and stdout; 0, or 1 when refused. */
int cmd_egress(const struct vmctl_args *a, struct msg *m);

#endif
