/* cli.c - see cli.h. */
#include "cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define DEFAULT_BIND "0.0.0.0"
#define DEFAULT_SANDBOX "/bin/sandbox-helper"
#define DEFAULT_HOME_ROOT "/home"
#define DEFAULT_BIN_DIR "/usr/local/bin"
#define DEFAULT_SHARE_ROOT "/mnt"

enum opt_id { OPT_PORT, OPT_SECRET_FILE, OPT_IDENTITY, OPT_SANDBOX, OPT_BIND, OPT_HOME_ROOT, OPT_BIN_DIR,
	      OPT_SHARE_ROOT, OPT_OWN_UIDS, OPT_HELP, OPT_VERSION };

static const struct option_row {
	enum opt_id id;
	const char *name;
	const char *arg;	/* NULL for a flag */
	const char *help;
} options[] = {
	{ OPT_PORT, "--port", "N", "TCP port to listen on (default 8080)" },
	{ OPT_SECRET_FILE, "--secret-file", "PATH",
	  "file holding the 64-hex-digit secret clients must present" },
	{ OPT_IDENTITY, "--identity", "PATH",
	  "the VM's identity (its fw_cfg item opt/vmd/identity): wait until it is "
	  "given, then set the RNG, clock, hostname, mounts, proxy and secret from it "
	  "(instead of --secret-file)" },
	{ OPT_SANDBOX, "--sandbox", "PATH|none",
	  "sandbox-helper to run commands through (default " DEFAULT_SANDBOX "); "
	  "none runs every command directly, for tests on a host" },
	{ OPT_BIND, "--bind", "ADDR", "address to listen on (default " DEFAULT_BIND ")" },
	{ OPT_HOME_ROOT, "--home-root", "DIR",
	  "folder of the users' homes (default " DEFAULT_HOME_ROOT "); tests on a host "
	  "use a temporary one" },
	{ OPT_BIN_DIR, "--bin-dir", "DIR",
	  "folder binary_install writes to (default " DEFAULT_BIN_DIR ")" },
	{ OPT_SHARE_ROOT, "--share-root", "DIR",
	  "folder the host's shares are mounted under, and mount requests go beneath; "
	  "sandboxes see it as it is (default " DEFAULT_SHARE_ROOT ")" },
	{ OPT_OWN_UIDS, "--own-uids", NULL,
	  "the session uids are vmd's alone (the guest): session_destroy kills every "
	  "process of the uid, also those that left their process group" },
	{ OPT_HELP, "--help", NULL, "print this help and exit" },
	{ OPT_VERSION, "--version", NULL, "print the version and exit" },
};

#define NOPTIONS (sizeof options / sizeof options[0])

void vmd_cli_usage(FILE *f)
{
	fprintf(f, "usage: vmd --secret-file PATH|--identity PATH [--port N] [--sandbox PATH|none] "
		"[--bind ADDR] [--home-root DIR] [--bin-dir DIR] [--share-root DIR] [--own-uids]\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char left[40];

		snprintf(left, sizeof left, "%s%s%s%s", options[i].name,
			 options[i].arg ? " " : "", options[i].arg ? options[i].arg : "",
			 options[i].id == OPT_HELP ? ", -h" : "");
		fprintf(f, "  %-24s %s\n", left, options[i].help);
	}
	fprintf(f, "Exit status: 0 when stopped by SIGTERM or SIGINT, 1 when vmd cannot start (the\n"
		   "secret file, the identity, the port), 2 for a usage error.\n");
}

void vmd_cli_hint(FILE *f)
{
	fprintf(f, "usage: vmd --secret-file PATH|--identity PATH [OPTION]... (vmd --help lists "
		"the options)\n");
}

static int parse_port(const char *v, int *port, struct msg *m)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || *end || errno || n < 1 || n > 65535)
		return fail(m, "--port \"%s\": the port must be a number from 1 to 65535.", v);
	*port = (int)n;
	return 0;
}

static int apply(const struct option_row *o, const char *v, struct vmd_options *opt,
		 struct msg *m)
{
	unsigned char addr[16];

	switch (o->id) {
	case OPT_PORT:
		return parse_port(v, &opt->port, m);
	case OPT_SECRET_FILE:
		if (!v[0])
			return fail(m, "--secret-file needs a path, not an empty string.");
		opt->secret_file = v;
		return 0;
	case OPT_IDENTITY:
		if (!v[0])
			return fail(m, "--identity needs a path, not an empty string.");
		opt->identity = v;
		return 0;
	case OPT_SANDBOX:
		if (!v[0])
			return fail(m, "--sandbox needs a path or none, not an empty string.");
		opt->sandbox = strcmp(v, "none") ? v : NULL;
		return 0;
	case OPT_BIND:
		if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
			return fail(m, "--bind \"%s\": not an IPv4 or IPv6 address.", v);
		opt->bind = v;
		return 0;
	case OPT_HOME_ROOT:
	case OPT_BIN_DIR:
	case OPT_SHARE_ROOT:
		/* absolute and without a trailing '/': vmd compares paths against it */
		if (v[0] != '/' || v[strlen(v) - 1] == '/')
			return fail(m, "%s \"%s\": give an absolute path without a trailing "
				    "'/'.", o->name, v);
		if (strlen(v) > 1024)
			return fail(m, "%s: the path is over 1024 bytes long.", o->name);
		/* a home (and the share root) is handed to sandbox-helper as --bind D:D */
		if (strchr(v, ':'))
			return fail(m, "%s \"%s\": the path must not contain ':'.", o->name, v);
		*(o->id == OPT_HOME_ROOT ? &opt->home_root :
		  o->id == OPT_BIN_DIR ? &opt->bin_dir : &opt->share_root) = v;
		return 0;
	case OPT_OWN_UIDS:
		opt->own_uids = true;
		return 0;
	case OPT_HELP:
		opt->help = true;
		return 0;
	case OPT_VERSION:
		opt->version = true;
		return 0;
	}
	return 0;
}

int vmd_cli_parse(int argc, char **argv, struct vmd_options *opt, struct msg *m)
{
	bool seen[NOPTIONS] = { false };

	*opt = (struct vmd_options){ .port = DEFAULT_PORT, .sandbox = DEFAULT_SANDBOX,
				     .bind = DEFAULT_BIND, .home_root = DEFAULT_HOME_ROOT,
				     .bin_dir = DEFAULT_BIN_DIR, .share_root = DEFAULT_SHARE_ROOT };
	/* -h, --help and --version win over any mistake on the same line. vmd takes no
	 * "--", so every word counts (text.h's help_flag stops at one). */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			opt->help = true;
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			opt->version = true;
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v = NULL;
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		size_t k;

		for (k = 0; k < NOPTIONS; k++)
			if (strlen(options[k].name) == len && !strncmp(a, options[k].name, len))
				break;
		if (k == NOPTIONS) {
			if (a[0] == '-')
				return fail(m, "unknown option \"%s\"; see vmd --help.", a);
			return fail(m, "unexpected argument \"%s\"; vmd takes only options.", a);
		}
		if (seen[k])
			return fail(m, "%s is given twice; give it once.", options[k].name);
		seen[k] = true;
		if (!options[k].arg) {
			if (eq)
				return fail(m, "%s takes no value.", options[k].name);
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			return fail(m, "%s needs a value (%s).", options[k].name, options[k].arg);
		}
		if (apply(&options[k], v, opt, m) < 0)
			return -1;
	}
	if (opt->secret_file && opt->identity)
		return fail(m, "--secret-file and --identity both give the secret; give one "
			    "of them.");
	if (!opt->secret_file && !opt->identity)
		return fail(m, "--secret-file or --identity is required: clients must present "
			    "the secret it holds.");
	return 0;
}

int vmd_secret_load(const char *path, char secret[VMD_SECRET_LEN + 1], struct msg *m)
{
	char buf[VMD_SECRET_LEN + 2];
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail_errno(m, "cannot read the secret file %s", path);
	/* one byte more than a valid file can hold, to tell "too long" */
	while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail_errno(m, "cannot read the secret file %s", path);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	bool ok = got == VMD_SECRET_LEN ||
		  (got == VMD_SECRET_LEN + 1 && buf[VMD_SECRET_LEN] == '\n');
	for (size_t i = 0; ok && i < VMD_SECRET_LEN; i++)
		ok = isxdigit((unsigned char)buf[i]);
	if (!ok) {
		memset(buf, 0, sizeof buf);
		return fail(m, "the secret file %s must hold exactly 64 hex digits "
			    "(and at most a newline).", path);
	}
	memcpy(secret, buf, VMD_SECRET_LEN);
	secret[VMD_SECRET_LEN] = '\0';
	memset(buf, 0, sizeof buf);
	return 0;
}
