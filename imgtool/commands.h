/* commands.h - what each imgtool subcommand does (commands.c). */
#ifndef IMGTOOL_COMMANDS_H
#define IMGTOOL_COMMANDS_H

#include "util.h"

struct cli;

int cmd_convert(const struct cli *c, struct msg *m);
int cmd_create(const struct cli *c, struct msg *m);
/* Refuse to write out over in (what words it: "the input"). */
int same_file(const char *in, const char *out, const char *what, struct msg *m);
/* pack.h says what the packages are. */
int cmd_pack(const struct cli *c, struct msg *m);
int cmd_info(const struct cli *c, struct msg *m);
/* Returns 0 when clean, 1 when faults were printed, -1 with m when it could not look. */
int cmd_check(const struct cli *c, struct msg *m);

#endif
