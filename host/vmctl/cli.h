/* cli.h - vmctl's command line, parsed into a struct so it can be tested alone.
 *
 * The subcommands, their usage lines and their options come from one table
 * (vmctl_commands); a flag a subcommand does not take, a repeated one, or a bad value
 * is an error that names the option and the value.
 */
#ifndef VMCTL_CLI_H
#define VMCTL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "egress.h"
#include "util.h"

#define VMCTL_MAX_SHARES 16
#define VMCTL_MAX_ENV 64
#define VMCTL_WEB_DEFAULT_PORT 8000u
/* cp, install and session give up on a sandbox that sends nothing for this long
 * (--idle-timeout): under TCG on a loaded host vmd answers in well under a second. */
#define VMCTL_IDLE_DEFAULT_S 30u
#define VMCTL_IDLE_MAX_S 86400u
/* A download stops at this many bytes (--max-size): a hostile guest can send forever. */
#define VMCTL_MAX_SIZE_DEFAULT (1ull << 30)

struct vmctl_args;

struct vmctl_command {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(const struct vmctl_args *a, struct msg *m);
};

extern const struct vmctl_command vmctl_commands[];
extern const size_t vmctl_ncommands;

struct share {
	const char *host;	/* a folder on the host */
	const char *tag;	/* its 9p mount tag in the guest: /mnt/TAG there */
	bool read_only;		/* --share-ro */
};

struct vmctl_args {
	const struct vmctl_command *cmd;	/* NULL with help or version */
	bool help;				/* -h, --help: the full usage */
	bool version;				/* --version */

	/* start */
	const char *image;		/* a user's own disk, or NULL */
	const char *kernel, *initrd;	/* NULL: the built guest */
	struct share shares[VMCTL_MAX_SHARES];
	int nshares;
	unsigned memory_mib;		/* 0: the default */
	unsigned cpus;			/* 0: the default */
	bool cold;			/* --cold: boot, rather than clone a template */
	unsigned long long disk_size;	/* --disk SIZE of the home disk; 0: the default */
	/* template: build (with start's options) or rm */
	bool template_rm;
	/* start and egress: the way out (egress.h); neither, no network at all */
	bool internet;			/* --internet: any public address */
	const char *allow[EGRESS_MAX_ALLOW];	/* --allow HOST[:PORT]: only these */
	int nallow;

	/* exec, web, stop */
	unsigned port;
	unsigned http_port;		/* web: where the page is served */
	bool raw, tty;
	const char *env[VMCTL_MAX_ENV];	/* "K=V" */
	int nenv;
	const char *cwd;
	char **argv;			/* the command after --, NULL-terminated */
	int argc;

	/* install (port too) */
	const char *file;		/* the program on the host */
	const char *name;		/* its name in /usr/local/bin: FILE's basename;
					 * session create: the user's name, or NULL */

	/* cp (port too): one side is PORT:PATH, the other LOCAL ("-": stdin/stdout) */
	bool upload;			/* LOCAL -> PORT:PATH */
	const char *local;
	const char *remote;		/* PATH, after "PORT:" */
	bool has_uid;
	unsigned uid;			/* cp: whose home PATH is in; exec: who runs CMD;
					 * session: its user */

	/* session (port, uid and name too) */
	bool destroy;			/* destroy, else create */
	bool delete_home;		/* destroy --delete-home */

	/* cp, install, session: the bounds on what the sandbox may do to vmctl */
	unsigned idle_timeout;		/* --idle-timeout SECONDS, else the default */
	unsigned long long max_size;	/* cp download: --max-size, else the default */
};

/* SIZE of --max-size: a whole number of bytes, or with K, M, G, T or P (powers of 1024),
 * from 1 byte to 1 PiB; 0 with *bytes, or -1 when it is not one. */
int vmctl_parse_size(const char *s, unsigned long long *bytes);

/* TAG of --share: 1 to 31 bytes (QEMU's limit) of letters, digits, '_', '-' and
 * '.', not "." or "..": the guest mounts the share at /mnt/TAG. */
bool vmctl_share_tag_ok(const char *tag);

/* NAME of vmctl install: 1 to 255 bytes, no '/', not "." or "..". */
bool vmctl_install_name_ok(const char *name);

/* A path vmd names in an answer (binary_install's, a new session's home), before vmctl
 * prints it: absolute, of plain names (no empty, "." or ".." parts), nothing that
 * text_escape() would change (no control or text-hiding character, malformed UTF-8
 * or backslash) and, when last is given, ending in "/" last (the user's own name,
 * taken as it is). */
bool vmctl_guest_path_ok(const char *path, const char *last);

/* Parse argv; on failure m says why (and a->cmd, when known, picks the usage line). */
int vmctl_parse(int argc, char **argv, struct vmctl_args *a, struct msg *m);
void vmctl_usage(FILE *out);
void vmctl_hint(FILE *out, const struct vmctl_args *a);

#endif
