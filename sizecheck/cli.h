/* cli.h - sizecheck's command line: one table of subcommands, parsed into a struct.
 *
 * Usage errors are sentences in a struct msg like every other error; main()
 * prints them with a one-line usage hint and exits with status 2.
 */
#ifndef SIZECHECK_CLI_H
#define SIZECHECK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

#define CLI_PROG		"sizecheck"
#define CLI_BUDGET_DEFAULT	256
#define CLI_BUDGET_MAX		65536
/* Operands fill struct cli's bin, map and image in that order. */
#define CLI_MAX_OPERANDS	3

struct cli;

struct command {
	const char *name;
	const char *args;	/* the operands, as usage shows them */
	const char *summary;	/* a sentence for --help */
	int (*handler)(const struct cli *cli, FILE *out, struct msg *m);
};

struct cli {
	const struct command *cmd;	/* NULL with --help or --version */
	bool help;			/* -h, --help: the full usage */
	bool version;			/* --version */
	unsigned long budget;
	const char *bin, *map, *image;	/* what cmd->args names, in order */
};

extern const struct command cli_commands[];
extern const size_t cli_ncommands;

/* Parse argv; on a usage error return -1 with the reason in m. */
int cli_parse(int argc, char **argv, struct cli *cli, struct msg *m);
/* The --help text. */
void cli_usage(FILE *out);
/* One usage line after an error: the subcommand's own, if cli names one. */
void cli_hint(FILE *out, const struct cli *cli);

#endif
