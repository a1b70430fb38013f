/* cli.h - imgtool's command line, parsed into a struct so it can be tested alone.
 *
 * The subcommands, their operands and their usage lines come from one table
 * (cli_commands), and the format list in --help from the format table.
 */
#ifndef IMGTOOL_CLI_H
#define IMGTOOL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "format.h"
#include "options.h"
#include "util.h"

struct cli;
struct package;

struct command {
	const char *name;
	const char *usage;	/* options and operands, for the usage line */
	const char *summary;
	int nargs;		/* operands it takes at most */
	int min_args;		/* and at least (create's SIZE is optional) */
	int (*run)(const struct cli *c, struct msg *m);
};

extern const struct command cli_commands[];
extern const size_t cli_ncommands;

struct cli {
	const struct command *cmd;	/* NULL with help or version */
	bool help;			/* -h, --help: the full usage */
	bool version;			/* --version */
	const char *arg[2];		/* INPUT (DISK) OUTPUT, IMAGE, or OUTPUT [SIZE] */
	const struct format *in_fmt;	/* -f, or NULL: probe INPUT or IMAGE */
	const struct format *out_fmt;	/* -O (create: -f), or NULL: from OUTPUT's name */
	const struct format *backing_fmt;	/* create -F */
	const struct package *package;	/* pack -O, or NULL: from OUTPUT's name */
	struct opts opts;		/* -o, and --force */
	bool json;			/* info --json */
	bool progress;			/* convert -p */
};

/* Parse argv; on failure m says why (and c->cmd, when known, picks the usage line). */
int cli_parse(int argc, char **argv, struct cli *c, struct msg *m);
void cli_free(struct cli *c);
/* The full --help text. */
void cli_usage(FILE *out);
/* One line pointing at the usage after a mistake. */
void cli_hint(FILE *out, const struct cli *c);

#endif
