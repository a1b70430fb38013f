/* cli.h - sandbox-helper's command line, parsed into a struct so it can be tested alone.
 *
 *   sandbox-helper [--uid N] [--gid N] [--network] [--ro-bind SRC:DST]...
 *                  [--bind SRC:DST]... [--tmpfs PATH]... [--cwd PATH]
 *                  [--env NAME=VALUE]... [--hostname NAME] -- CMD [ARGS...]
 *
 * The struct points into argv: nothing is allocated. Mounts keep their command-line
 * order, so "--tmpfs /work --bind /src:/work/src" mounts /src inside the tmpfs.
 */
#ifndef SANDBOX_CLI_H
#define SANDBOX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "util.h"

#define CLI_PROG		"sandbox-helper"
#define CLI_DEFAULT_ID		1000
/* The largest id: (uid_t)-1 means "unchanged" to the set*id calls. */
#define CLI_MAX_ID		4294967294UL
#define CLI_DEFAULT_HOSTNAME	"sandbox"
#define CLI_MAX_HOSTNAME	64
#define CLI_MAX_MOUNTS		64
#define CLI_MAX_ENV		256

enum mount_kind { MOUNT_RO_BIND, MOUNT_BIND, MOUNT_TMPFS };

struct cli_mount {
	enum mount_kind kind;
	/* SRC is the first srclen bytes of spec (NULL for a tmpfs); DST ends spec. */
	const char *spec;
	size_t srclen;
	const char *dst;
};

struct cli {
	bool help;		/* -h, --help */
	bool version;		/* --version */
	uid_t uid;
	gid_t gid;		/* the uid unless --gid says otherwise */
	bool network;		/* stay in the caller's network namespace */
	struct cli_mount mounts[CLI_MAX_MOUNTS];
	size_t nmounts;
	const char *cwd;	/* NULL: "/" */
	const char *env[CLI_MAX_ENV];	/* NAME=VALUE, as given */
	size_t nenv;
	const char *hostname;
	char **cmd;		/* CMD ARGS..., NULL-terminated (argv's own end) */
};

/* Parse argv; on a usage error return -1 with one sentence in m. */
int cli_parse(int argc, char **argv, struct cli *cli, struct msg *m);
/* The --help text, from the option table. */
void cli_usage(FILE *out);
/* The line printed after a usage error. */
void cli_hint(FILE *out);

#endif
