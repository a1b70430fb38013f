/* imgtool - write every VM container from a raw disk or a boot program, and read
 * them back. The subcommands are in cli.c, what they do in commands.c, and each
 * format in its own file behind the table in format.c.
 */
#include <stdio.h>

#include "cli.h"
#include "util.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct cli c;
	struct msg m;
	int rc;

	prog_name = "imgtool";
	if (cli_parse(argc, argv, &c, &m) < 0) {
		warn("%s", m.text);
		cli_hint(stderr, &c);
		cli_free(&c);
		return 2;
	}
	if (c.help) {
		cli_usage(stdout);
		rc = 0;
	} else if (c.version) {
		print_version(stdout, prog_name);
		rc = 0;
	} else {
		rc = c.cmd->run(&c, &m);
		if (rc < 0) {
			cli_free(&c);
			die("%s", m.text);
		}
	}
	cli_free(&c);
	if (fflush(stdout) == EOF || ferror(stdout))
		die_errno("cannot write to standard output");
	return rc;
}
