/* sizecheck - check the 256-byte boot program against its budget, map and disk image.
 *
 * The subcommands and their usage are in cli.c; what they check is in check.c.
 */
#include <stdio.h>

#include "check.h"
#include "cli.h"
#include "util.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct cli cli;
	struct msg m;

	prog_name = CLI_PROG;
	if (cli_parse(argc, argv, &cli, &m) < 0) {
		warn("%s", m.text);
		cli_hint(stderr, &cli);
		return 2;
	}
	if (cli.help)
		cli_usage(stdout);
	else if (cli.version)
		print_version(stdout, prog_name);
	else if (cli.cmd->handler(&cli, stdout, &m) < 0)
		die("%s", m.text);
	/* A report that did not reach its reader is a failure too. */
	if (fflush(stdout) == EOF || ferror(stdout))
		die_errno("cannot write to standard output");
	return 0;
}
