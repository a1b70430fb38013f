/* cli.c - see cli.h. */
#include "cli.h"

#include <string.h>

#include "fatal.h"
#include "text.h"

struct option_def {
	const char *name;
	const char *value;	/* what usage shows; NULL for a flag */
	bool repeat;		/* may be given more than once */
	const char *help;
	int (*set)(struct cli *c, const char *value, struct msg *m);
};

/* A whole decimal number in 1..CLI_MAX_ID: digits only, no sign, blanks or leading "0x". */
static bool parse_id(const char *s, unsigned long *v)
{
	unsigned long n = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	for (; *s; s++) {
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > CLI_MAX_ID)
			return false;
	}
	*v = n;
	return true;
}

static int set_uid(struct cli *c, const char *value, struct msg *m)
{
	unsigned long v;

	if (!parse_id(value, &v))
		return fail(m, "--uid wants a user id from 1 to %lu, not \"%.80s\".",
			    CLI_MAX_ID, value);
	if (v == 0)
		return fail(m, "--uid 0 would run the command as root; give a user id from 1 to %lu.",
			    CLI_MAX_ID);
	c->uid = (uid_t)v;
	return 0;
}

static int set_gid(struct cli *c, const char *value, struct msg *m)
{
	unsigned long v;

	if (!parse_id(value, &v))
		return fail(m, "--gid wants a group id from 1 to %lu, not \"%.80s\".",
			    CLI_MAX_ID, value);
	if (v == 0)
		return fail(m, "--gid 0 would run the command in group root; give a group id from 1 to %lu.",
			    CLI_MAX_ID);
	c->gid = (gid_t)v;
	return 0;
}

static int set_network(struct cli *c, const char *value, struct msg *m)
{
	(void)value;
	(void)m;
	c->network = true;
	return 0;
}

/* Does the absolute path p (len bytes) have a ".." component? */
static bool has_dotdot(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && p[i - 1] == '/' && p[i] == '.' && i + 1 < len && p[i + 1] == '.' &&
		    (i + 2 == len || p[i + 2] == '/'))
			return true;
	}
	return false;
}

/*
 * Where a mount goes inside the sandbox: absolute, never the new root itself, and
 * without "..", which could lead out of the root being built.
 */
static int check_dst(const char *opt, const char *dst, struct msg *m)
{
	if (strspn(dst, "/") == strlen(dst))
		return fail(m, "%s cannot mount over the sandbox's \"/\".", opt);
	if (has_dotdot(dst, strlen(dst)))
		return fail(m, "%s \"%.80s\" has a \"..\" component; give a path without one.",
			    opt, dst);
	return 0;
}

static int add_mount(struct cli *c, enum mount_kind kind, const char *spec,
		     size_t srclen, const char *dst, struct msg *m)
{
	if (c->nmounts == CLI_MAX_MOUNTS)
		return fail(m, "at most %d --ro-bind, --bind and --tmpfs options can be given.",
			    CLI_MAX_MOUNTS);
	c->mounts[c->nmounts++] = (struct cli_mount){ kind, spec, srclen, dst };
	return 0;
}

/* SRC:DST, split at the first colon: both absolute. */
static int bind_option(struct cli *c, enum mount_kind kind, const char *opt,
		       const char *value, struct msg *m)
{
	const char *colon = strchr(value, ':');

	if (!colon || value[0] != '/' || colon[1] != '/')
		return fail(m, "%s wants SRC:DST, two absolute paths, not \"%.80s\".", opt, value);
	if (check_dst(opt, colon + 1, m) < 0)
		return -1;
	return add_mount(c, kind, value, (size_t)(colon - value), colon + 1, m);
}

static int set_ro_bind(struct cli *c, const char *value, struct msg *m)
{
	return bind_option(c, MOUNT_RO_BIND, "--ro-bind", value, m);
}

static int set_bind(struct cli *c, const char *value, struct msg *m)
{
	return bind_option(c, MOUNT_BIND, "--bind", value, m);
}

static int set_tmpfs(struct cli *c, const char *value, struct msg *m)
{
	if (value[0] != '/')
		return fail(m, "--tmpfs wants an absolute path, not \"%.80s\".", value);
	if (check_dst("--tmpfs", value, m) < 0)
		return -1;
	return add_mount(c, MOUNT_TMPFS, value, 0, value, m);
}

static int set_cwd(struct cli *c, const char *value, struct msg *m)
{
	if (value[0] != '/')
		return fail(m, "--cwd wants an absolute path, not \"%.80s\".", value);
	c->cwd = value;
	return 0;
}

static int set_env(struct cli *c, const char *value, struct msg *m)
{
	size_t namelen = strcspn(value, "=");

	if (namelen == 0 || value[namelen] != '=')
		return fail(m, "--env wants NAME=VALUE, not \"%.80s\".", value);
	for (size_t i = 0; i < c->nenv; i++) {
		if (strncmp(c->env[i], value, namelen + 1) == 0)
			return fail(m, "--env sets %.*s twice; give it once.", (int)namelen, value);
	}
	if (c->nenv == CLI_MAX_ENV)
		return fail(m, "at most %d --env options can be given.", CLI_MAX_ENV);
	c->env[c->nenv++] = value;
	return 0;
}

/* What sethostname(2) takes and a resolver would accept: letters, digits, "." and "-". */
static int set_hostname(struct cli *c, const char *value, struct msg *m)
{
	size_t len = strlen(value);
	const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";

	if (len == 0 || len > CLI_MAX_HOSTNAME || strspn(value, ok) != len)
		return fail(m, "--hostname wants 1 to %d letters, digits, dots and dashes, not \"%.80s\".",
			    CLI_MAX_HOSTNAME, value);
	c->hostname = value;
	return 0;
}

static const struct option_def options[] = {
	{ "--uid", "N", false,
	  "run the command as user N (default 1000; never 0)", set_uid },
	{ "--gid", "N", false,
	  "run the command as group N (default: the uid; never 0)", set_gid },
	{ "--network", NULL, false,
	  "keep the caller's network; without it the sandbox has only loopback", set_network },
	{ "--ro-bind", "SRC:DST", true,
	  "mount SRC at DST, read-only (nosuid, nodev)", set_ro_bind },
	{ "--bind", "SRC:DST", true,
	  "mount SRC at DST, writable (nosuid, nodev)", set_bind },
	{ "--tmpfs", "PATH", true,
	  "mount an empty tmpfs at PATH, owned by the command's user", set_tmpfs },
	{ "--cwd", "PATH", false,
	  "start the command in PATH (default /)", set_cwd },
	{ "--env", "NAME=VALUE", true,
	  "set NAME in the command's environment (otherwise the caller's)", set_env },
	{ "--hostname", "NAME", false,
	  "the sandbox's host name (default " CLI_DEFAULT_HOSTNAME ")", set_hostname },
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* The option arg names, as "--name" or "--name=value"; NULL if none. */
static const struct option_def *find_option(const char *arg, const char **inline_value)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		size_t n = strlen(options[i].name);

		if (strncmp(arg, options[i].name, n) != 0)
			continue;
		if (arg[n] == '\0') {
			*inline_value = NULL;
			return &options[i];
		}
		if (arg[n] == '=') {
			*inline_value = arg + n + 1;
			return &options[i];
		}
	}
	return NULL;
}

int cli_parse(int argc, char **argv, struct cli *c, struct msg *m)
{
	enum help_flag flag = help_flag(argc, argv);
	const char *given[NOPTIONS] = { NULL };
	bool gid_given = false;
	int i;

	memset(c, 0, sizeof *c);
	c->uid = CLI_DEFAULT_ID;
	c->hostname = CLI_DEFAULT_HOSTNAME;
	c->help = flag == HELP_USAGE;
	c->version = flag == HELP_VERSION;
	if (flag != HELP_NONE)
		return 0;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *arg = argv[i], *value;
		const struct option_def *o = find_option(arg, &value);
		size_t k;

		if (!o && arg[0] == '-')
			return fail(m, "unknown option \"%.80s\"; %s --help lists the options.",
				    arg, CLI_PROG);
		if (!o)
			return fail(m, "\"%.80s\" is not an option; put the command after \"--\" (%s [OPTIONS] -- CMD [ARGS...]).",
				    arg, CLI_PROG);
		k = (size_t)(o - options);
		if (!o->value && value)
			return fail(m, "%s takes no value, not \"%.80s\".", o->name, arg);
		if (o->value && !value) {
			if (i + 1 == argc || strcmp(argv[i + 1], "--") == 0)
				return fail(m, "%s needs a value: %s %s.", o->name, o->name, o->value);
			value = argv[++i];
		}
		if (given[k] && !o->repeat) {
			if (!o->value)
				return fail(m, "%s is given twice; give it once.", o->name);
			return fail(m, "%s is given twice (\"%.80s\", then \"%.80s\"); give it once.",
				    o->name, given[k], value);
		}
		given[k] = o->value ? value : arg;
		if (o->set(c, o->value ? value : NULL, m) < 0)
			return -1;
		gid_given |= o->set == set_gid;
	}
	if (i == argc)
		return fail(m, "no command given; put it after \"--\" (%s [OPTIONS] -- CMD [ARGS...]).",
			    CLI_PROG);
	if (i + 1 == argc)
		return fail(m, "no command after \"--\".");
	if (!gid_given)
		c->gid = (gid_t)c->uid;
	c->cmd = argv + i + 1;
	return 0;
}

void cli_usage(FILE *out)
{
	fprintf(out, "usage: %s [OPTIONS] -- CMD [ARGS...]\n\n", CLI_PROG);
	fprintf(out, "Run CMD in new user, mount, pid, ipc, uts, cgroup and network namespaces, as a\n"
		     "user without capabilities, under a seccomp filter, in a root built from\n"
		     "read-only system directories, a fresh /proc, a minimal /dev and an empty /tmp.\n\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char head[40];

		snprintf(head, sizeof head, "%s%s%s%s", options[i].name,
			 options[i].value ? " " : "", options[i].value ? options[i].value : "",
			 options[i].repeat ? "..." : "");
		fprintf(out, "  %-22s %s\n", head, options[i].help);
	}
	fprintf(out, "  %-22s %s\n", "--help, -h", "show this help");
	fprintf(out, "  %-22s %s\n\n", "--version", "show the version");
	fprintf(out, "Exit status: the command's own. When the command is killed by signal N,\n"
		     "sandbox-helper kills itself with N, so that its parent sees the same death (a\n"
		     "shell shows 128+N). %d when sandbox-helper itself fails (a bad option, or a\n"
		     "namespace, mount or limit it could not set up); %d when CMD cannot be run; %d\n"
		     "when CMD is not found.\n",
		EXIT_HELPER, EXIT_NOEXEC, EXIT_NOTFOUND);
}

void cli_hint(FILE *out)
{
	fprintf(out, "usage: %s [OPTIONS] -- CMD [ARGS...] (%s --help lists the options)\n",
		CLI_PROG, CLI_PROG);
}
