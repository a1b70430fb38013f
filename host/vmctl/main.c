/* vmctl - start throwaway sandbox VMs, run commands in them, stop them.
 * The subcommands are in cli.c; start/stop/list in commands.c, exec in exec.c, install
 * and cp in files.c, web in web.c. */
#include <stdio.h>

#include "cli.h"
#include "util.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct vmctl_args a;
	struct msg m;
	int rc;

	prog_name = "vmctl";
	if (vmctl_parse(argc, argv, &a, &m) < 0) {
		warn("%s", m.text);
		vmctl_hint(stderr, &a);
		return 2;
	}
	if (a.help) {
		vmctl_usage(stdout);
		rc = 0;
	} else if (a.version) {
		print_version(stdout, prog_name);
		rc = 0;
	} else {
		rc = a.cmd->run(&a, &m);
		if (rc < 0)
			die("%s", m.text);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		die_errno("cannot write to standard output");
	return rc;
}
