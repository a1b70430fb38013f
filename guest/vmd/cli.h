/* cli.h - vmd's command line, parsed into a struct (tested alone). */
#ifndef VMD_CLI_H
#define VMD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

#define VMD_SECRET_LEN 64	/* hex digits */

struct vmd_options {
	int port;			/* TCP port, default 8080 */
	const char *secret_file;	/* this or identity, not both */
	const char *identity;		/* --identity: the fw_cfg item's path */
	const char *sandbox;		/* sandbox-helper's path; NULL for "none" */
	const char *bind;		/* address to listen on, default 0.0.0.0 */
	const char *home_root;		/* where session homes go, default /home */
	const char *bin_dir;		/* where binary_install writes, /usr/local/bin */
	const char *share_root;		/* where shares are mounted, /mnt */
	bool own_uids;			/* --own-uids */
	bool help;			/* -h, --help: print usage and exit 0 */
	bool version;			/* --version: print the version and exit 0 */
};

/* Parse argv into o; -1 with one sentence in m on bad input. */
int vmd_cli_parse(int argc, char **argv, struct vmd_options *o, struct msg *m);
/* The usage text, one line per option, from the option table. */
void vmd_cli_usage(FILE *f);
/* The line printed after a usage error. */
void vmd_cli_hint(FILE *f);

/* Read the secret: exactly 64 hex digits, optionally followed by one newline.
 * The message on failure never quotes the file's content. */
int vmd_secret_load(const char *path, char secret[VMD_SECRET_LEN + 1], struct msg *m);

#endif
