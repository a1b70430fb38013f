/* cli.c - see cli.h. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "disk.h"
#include "proto.h"
#include "text.h"

const struct vmctl_command vmctl_commands[] = {
	{ "start", "[IMAGE] [--kernel K] [--initrd I] [--share[-ro] HOST TAG]... [--memory MIB] [--cpus N] "
	  "[--internet | --allow HOST[:PORT]...] [--disk SIZE] [--cold]",
	  "Start a sandbox VM (default: the built guest) as a clone of a booted template, or boot "
	  "it (--cold); wait until it answers, print its port.",
	  cmd_start },
	{ "template", "build [--kernel K] [--initrd I] [--share[-ro] HOST TAG]... [--memory MIB] "
	  "[--cpus N] [--internet | --allow HOST[:PORT]...] [--disk SIZE] | rm",
	  "Make the template that start with these options clones (start makes it when missing), "
	  "or remove every template.",
	  cmd_template },
	{ "exec", "PORT [--raw] [--tty] [--uid N] [--env K=V]... [--cwd P] -- CMD [ARG]...",
	  "Run CMD in the sandbox on PORT: stdin, stdout, stderr and the exit code pass through.",
	  cmd_exec },
	{ "install", "[--idle-timeout S] PORT FILE [NAME]",
	  "Install the program FILE in the sandbox on PORT as /usr/local/bin/NAME.",
	  cmd_install },
	{ "cp", "[--uid N] [--idle-timeout S] LOCAL PORT:PATH | [--uid N] [--idle-timeout S] "
	  "[--max-size SIZE] PORT:PATH LOCAL",
	  "Copy a file to or from a home in the sandbox (the sandbox user's, or uid N's).",
	  cmd_cp },
	{ "session", "create [--idle-timeout S] PORT UID [NAME] | destroy [--delete-home] "
	  "[--idle-timeout S] PORT UID",
	  "Add a user with its own home /home/NAME (default uUID), or end one and its processes.",
	  cmd_session },
	{ "web", "PORT [HTTP_PORT]",
	  "Serve a terminal on the sandbox on PORT at http://127.0.0.1:HTTP_PORT (default 8000).",
	  cmd_web },
	{ "stop", "PORT", "Power the sandbox on PORT off (ACPI), and remove its state.", cmd_stop },
	{ "egress", "PORT --internet | PORT --allow HOST[:PORT]...",
	  "Internal: QEMU runs it, an HTTP proxy on stdin and stdout, for each connection a "
	  "sandbox started with --internet or --allow opens to 10.0.2.100:3128.",
	  cmd_egress },
	{ "list", "", "List the sandboxes this user runs.", cmd_list },
};
const size_t vmctl_ncommands = sizeof vmctl_commands / sizeof vmctl_commands[0];

/* egress is QEMU's to run, not a user's: --help shows it, the hints do not. */
static bool internal(const struct vmctl_command *c)
{
	return c->run == cmd_egress;
}

#define MAX_MEMORY_MIB 65536u
#define MAX_CPUS 64u

static int unknown_command(const char *name, struct msg *m)
{
	char list[128] = "";
	size_t len = 0, shown = 0, k = 0;

	for (size_t i = 0; i < vmctl_ncommands; i++)
		shown += !internal(&vmctl_commands[i]);
	for (size_t i = 0; i < vmctl_ncommands; i++)
		if (!internal(&vmctl_commands[i]))
			list_append(list, sizeof list, &len, k++, shown, vmctl_commands[i].name);
	if (!name)
		return fail(m, "no command given; the commands are %s.", list);
	if (name[0] == '-')
		return fail(m, "unknown option \"%s\"; the commands are %s.", name, list);
	return fail(m, "unknown command \"%s\"; the commands are %s.", name, list);
}

/* A whole number in [lo, hi], decimal digits only. */
static int number(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *v,
		  struct msg *m)
{
	unsigned long n = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		goto bad;
	for (const char *p = s; *p; p++) {
		n = n * 10 + (unsigned long)(*p - '0');
		if (n > hi)
			goto bad;
	}
	if (n < lo)
		goto bad;
	*v = (unsigned)n;
	return 0;
bad:
	return fail(m, "%s wants a whole number from %u to %u, not \"%s\".", opt, lo, hi, s);
}

static const char *value(int argc, char **argv, int *i, struct msg *m)
{
	if (*i + 1 >= argc) {
		fail(m, "%s needs a value.", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* --internet, --allow HOST[:PORT] (of start, and of the egress that start has QEMU run). */
static int parse_net(int argc, char **argv, int *i, struct vmctl_args *a, struct msg *m)
{
	struct egress_allow e;
	const char *v;

	if (!strcmp(argv[*i], "--internet")) {
		if (a->internet)
			return fail(m, "--internet is given twice; give it once.");
		a->internet = true;
	} else {
		if (!(v = value(argc, argv, i, m)) || egress_allow_parse(v, &e, m) < 0)
			return -1;
		if (a->nallow == EGRESS_MAX_ALLOW)
			return fail(m, "--allow: at most %d hosts.", EGRESS_MAX_ALLOW);
		a->allow[a->nallow++] = v;
	}
	if (a->internet && a->nallow)
		return fail(m, "--internet and --allow do not go together: --internet opens every "
			    "public address, --allow only those it names.");
	return 0;
}

/* Options of start. */
static int parse_start(int argc, char **argv, int i, struct vmctl_args *a, struct msg *m)
{
	for (; i < argc; i++) {
		const char *o = argv[i], *v;

		if (strcmp(o, "--kernel") == 0 || strcmp(o, "--initrd") == 0) {
			const char **slot = o[2] == 'k' ? &a->kernel : &a->initrd;

			if (*slot)
				return fail(m, "%s is given twice; give it once.", o);
			if (!(v = value(argc, argv, &i, m)))
				return -1;
			*slot = v;
		} else if (strcmp(o, "--share") == 0 || strcmp(o, "--share-ro") == 0) {
			struct share *sh = &a->shares[a->nshares];

			if (i + 2 >= argc)
				return fail(m, "%s needs a host folder and a tag.", o);
			if (a->nshares == VMCTL_MAX_SHARES)
				return fail(m, "%s: at most %d shares.", o, VMCTL_MAX_SHARES);
			sh->host = argv[++i];
			sh->tag = argv[++i];
			sh->read_only = o[7] == '-';
			if (!*sh->host)
				return fail(m, "%s needs a host folder, not \"\".", o);
			if (!vmctl_share_tag_ok(sh->tag))
				return fail(m, "%s wants a TAG of 1 to 31 letters, digits, \"_\", \"-\" "
					    "or \".\" (not \".\" or \"..\"), not \"%s\".", o, sh->tag);
			for (int k = 0; k < a->nshares; k++)
				if (!strcmp(a->shares[k].tag, sh->tag))
					return fail(m, "the share tag \"%s\" is given twice; each "
						    "share needs its own.", sh->tag);
			a->nshares++;
		} else if (strcmp(o, "--memory") == 0) {
			if (a->memory_mib)
				return fail(m, "--memory is given twice; give it once.");
			if (!(v = value(argc, argv, &i, m)) ||
			    number("--memory", v, 64, MAX_MEMORY_MIB, &a->memory_mib, m) < 0)
				return -1;
		} else if (strcmp(o, "--internet") == 0 || strcmp(o, "--allow") == 0) {
			if (parse_net(argc, argv, &i, a, m) < 0)
				return -1;
		} else if (strcmp(o, "--cpus") == 0) {
			if (a->cpus)
				return fail(m, "--cpus is given twice; give it once.");
			if (!(v = value(argc, argv, &i, m)) ||
			    number("--cpus", v, 1, MAX_CPUS, &a->cpus, m) < 0)
				return -1;
		} else if (strcmp(o, "--disk") == 0) {
			if (a->disk_size)
				return fail(m, "--disk is given twice; give it once.");
			if (!(v = value(argc, argv, &i, m)))
				return -1;
			if (vmctl_parse_size(v, &a->disk_size) < 0 || a->disk_size < DISK_MIN_SIZE ||
			    a->disk_size % DISK_SIZE_UNIT || a->disk_size > DISK_MAX_SIZE)
				return fail(m, "--disk wants a size in whole MiB from 16M to 16T (such as "
					    "8G), not \"%s\".", v);
		} else if (strcmp(o, "--cold") == 0 && a->cmd->run == cmd_start) {
			if (a->cold)
				return fail(m, "--cold is given twice; give it once.");
			a->cold = true;
		} else if (o[0] == '-' && o[1]) {
			return fail(m, "%s takes no option %s.", a->cmd->run == cmd_start ? "start" : "template build", o);
		} else if (a->cmd->run != cmd_start) {
			return fail(m, "template build takes no IMAGE (a sandbox with its own disk boots cold), so not \"%s\".", o);
		} else if (a->image) {
			return fail(m, "start takes one IMAGE, so \"%s\" is one too many.", o);
		} else {
			a->image = o;
		}
	}
	if (a->initrd && !a->kernel && a->image)
		return fail(m, "--initrd without --kernel: give the kernel that goes with it.");
	return 0;
}

static int parse_port(const char *cmd, int argc, char **argv, int *i, struct vmctl_args *a,
		      struct msg *m)
{
	if (*i >= argc || argv[*i][0] == '-')
		return fail(m, "%s needs the PORT that vmctl start printed.", cmd);
	if (number("PORT", argv[*i], 1, 65535, &a->port, m) < 0)
		return -1;
	(*i)++;
	return 0;
}

/* --uid N: a session's user (1000, the sandbox's own, needs none). */
static int parse_uid(int argc, char **argv, int *i, struct vmctl_args *a, struct msg *m)
{
	const char *v;

	if (a->has_uid)
		return fail(m, "--uid is given twice; give it once.");
	if (!(v = value(argc, argv, i, m)) ||
	    number("--uid", v, PROTO_SESSION_UID_MIN, PROTO_SESSION_UID_MAX, &a->uid, m) < 0)
		return -1;
	a->has_uid = true;
	return 0;
}

/* --idle-timeout S and --max-size SIZE, the bounds of cp, install and session: 1 when
 * argv[*i] is one of them (taken, with its value), 0 when it is not, -1 on a mistake. */
static int parse_bound(int argc, char **argv, int *i, bool max_size, struct vmctl_args *a,
		       struct msg *m)
{
	const char *o = argv[*i], *v;

	if (strcmp(o, "--idle-timeout") == 0) {
		if (a->idle_timeout)
			return fail(m, "--idle-timeout is given twice; give it once.");
		if (!(v = value(argc, argv, i, m)) ||
		    number("--idle-timeout", v, 1, VMCTL_IDLE_MAX_S, &a->idle_timeout, m) < 0)
			return -1;
		return 1;
	}
	if (max_size && strcmp(o, "--max-size") == 0) {
		if (a->max_size)
			return fail(m, "--max-size is given twice; give it once.");
		if (!(v = value(argc, argv, i, m)))
			return -1;
		if (vmctl_parse_size(v, &a->max_size) < 0)
			return fail(m, "--max-size wants a size from 1 byte to 1P: a whole number "
				    "of bytes, or one with K, M, G, T or P after it, not \"%s\".", v);
		return 1;
	}
	return 0;
}

int vmctl_parse_size(const char *s, unsigned long long *bytes)
{
	static const char units[] = "KMGTP";
	unsigned long long n = 0, mult = 1;
	size_t d = strspn(s, "0123456789");
	const char *u = NULL;

	if (!d || d > 16 || (s[d] && (s[d + 1] || !(u = strchr(units, s[d])))))
		return -1;
	if (s[d])
		mult = 1ull << (10 * (u - units + 1));
	for (size_t k = 0; k < d; k++)
		n = n * 10 + (unsigned long long)(s[k] - '0');
	if (!n || n > (1ull << 50) / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

static int parse_exec(int argc, char **argv, int i, struct vmctl_args *a, struct msg *m)
{
	if (parse_port("exec", argc, argv, &i, a, m) < 0)
		return -1;
	for (; i < argc; i++) {
		const char *o = argv[i], *v;

		if (strcmp(o, "--") == 0) {
			a->argv = argv + i + 1;
			a->argc = argc - i - 1;
			break;
		} else if (strcmp(o, "--raw") == 0 || strcmp(o, "--tty") == 0) {
			bool *flag = o[2] == 'r' ? &a->raw : &a->tty;

			if (*flag)
				return fail(m, "%s is given twice; give it once.", o);
			*flag = true;
		} else if (strcmp(o, "--uid") == 0) {
			if (parse_uid(argc, argv, &i, a, m) < 0)
				return -1;
		} else if (strcmp(o, "--env") == 0) {
			if (!(v = value(argc, argv, &i, m)))
				return -1;
			if (!strchr(v, '=') || v[0] == '=')
				return fail(m, "--env wants NAME=VALUE, not \"%s\".", v);
			if (a->nenv == VMCTL_MAX_ENV)
				return fail(m, "--env: at most %d variables.", VMCTL_MAX_ENV);
			a->env[a->nenv++] = v;
		} else if (strcmp(o, "--cwd") == 0) {
			if (a->cwd)
				return fail(m, "--cwd is given twice; give it once.");
			if (!(v = value(argc, argv, &i, m)))
				return -1;
			if (v[0] != '/')
				return fail(m, "--cwd wants an absolute path in the guest, not \"%s\".", v);
			a->cwd = v;
		} else if (o[0] == '-') {
			return fail(m, "exec takes no option %s.", o);
		} else {
			return fail(m, "exec wants -- before the command (\"%s\").", o);
		}
	}
	if (!a->argv || a->argc == 0)
		return fail(m, "exec needs a command after --.");
	return 0;
}

bool vmctl_share_tag_ok(const char *tag)
{
	size_t n = strlen(tag);

	return n >= 1 && n <= 31 && strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789_-.") == n &&
	       strcmp(tag, ".") && strcmp(tag, "..");
}

bool vmctl_install_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 255 && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

bool vmctl_guest_path_ok(const char *path, const char *last)
{
	char safe[PATH_MAX * 4];
	size_t n = strlen(path), k = last ? strlen(last) : 0;

	if (path[0] != '/' || path[n - 1] == '/' || n <= k)
		return false;
	text_escape(safe, sizeof safe, path, n - k);
	if (strlen(safe) != n - k || memcmp(safe, path, n - k))
		return false;
	for (const char *p = path + 1, *e; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, '/');
		if (e == p || (e - p == 1 && p[0] == '.') || (e - p == 2 && !strncmp(p, "..", 2)))
			return false;
	}
	return !last || (n > k && path[n - k - 1] == '/' && !strcmp(path + n - k, last));
}

static int parse_install(int argc, char **argv, int i, struct vmctl_args *a, struct msg *m)
{
	char *ops[4];
	int nops = 0, k = 0, r;

	/* the options first, wherever they are; then PORT FILE [NAME] */
	for (; i < argc; i++) {
		if ((r = parse_bound(argc, argv, &i, false, a, m)) < 0)
			return -1;
		if (r)
			continue;
		if (argv[i][0] == '-' && argv[i][1] && nops)
			return fail(m, "install takes no option %s.", argv[i]);
		if (nops == 4)
			break;
		ops[nops++] = argv[i];
	}
	if (parse_port("install", nops, ops, &k, a, m) < 0)
		return -1;
	if (k >= nops)
		return fail(m, "install needs the FILE to install.");
	bool given = k + 1 < nops;

	a->file = ops[k++];
	if (given) {
		a->name = ops[k++];
	} else {
		const char *slash = strrchr(a->file, '/');

		a->name = slash ? slash + 1 : a->file;
	}
	if (k < nops || i < argc)
		return fail(m, "install takes no more operands, so \"%s\" is one too many.",
			    k < nops ? ops[k] : argv[i]);
	/* The guest would refuse it too, but only after the whole file went over. */
	if (!vmctl_install_name_ok(a->name))
		return fail(m, "install wants a NAME of 1 to 255 bytes, without \"/\" and not "
			    "\".\" or \"..\", not \"%s\"%s.", a->name,
			    given ? "" : " (FILE's name; give a NAME)");
	return 0;
}

/* Whether s has the form PORT:PATH, digits then a colon; *colon points at it. */
static bool remote_form(const char *s, const char **colon)
{
	size_t d = strspn(s, "0123456789");

	*colon = s + d;
	return d > 0 && s[d] == ':';
}

static int parse_cp(int argc, char **argv, int i, struct vmctl_args *a, struct msg *m)
{
	const char *ops[2], *colon[2];
	bool remote[2];
	int nops = 0;

	for (; i < argc; i++) {
		const char *o = argv[i];

		int r = parse_bound(argc, argv, &i, true, a, m);

		if (r < 0)
			return -1;
		if (r)
			continue;
		if (strcmp(o, "--uid") == 0) {
			if (parse_uid(argc, argv, &i, a, m) < 0)
				return -1;
		} else if (o[0] == '-' && o[1]) {
			return fail(m, "cp takes no option %s.", o);
		} else if (nops == 2) {
			return fail(m, "cp takes two operands, so \"%s\" is one too many.", o);
		} else {
			ops[nops++] = o;
		}
	}
	if (nops < 2)
		return fail(m, "cp needs a source and a destination, one of them PORT:PATH.");
	for (int k = 0; k < 2; k++)
		remote[k] = remote_form(ops[k], &colon[k]);
	if (remote[0] == remote[1])
		return fail(m, "cp copies between this host and one sandbox: give exactly one of "
			    "\"%s\" and \"%s\" as PORT:PATH.", ops[0], ops[1]);
	a->upload = remote[1];
	{
		int r = a->upload ? 1 : 0;
		char port[16];
		size_t len = (size_t)(colon[r] - ops[r]);

		snprintf(port, sizeof port, "%.*s", len < sizeof port ? (int)len : 15, ops[r]);
		if (number("PORT", port, 1, 65535, &a->port, m) < 0)
			return -1;
		a->remote = colon[r] + 1;
		a->local = ops[1 - r];
		if (!*a->remote)
			return fail(m, "cp wants a path after \"%s\".", ops[r]);
		if (a->upload && a->max_size)
			return fail(m, "--max-size bounds a download; an upload sends LOCAL whole.");
	}
	return 0;
}

/* session create PORT UID [NAME] | session destroy [--delete-home] PORT UID */
static int parse_session(int argc, char **argv, int i, struct vmctl_args *a, struct msg *m)
{
	const char *ops[3];
	int nops = 0, max;

	if (i >= argc || (strcmp(argv[i], "create") && strcmp(argv[i], "destroy")))
		return fail(m, "session wants create or destroy%s%s%s.", i < argc ? ", not \"" : "",
			    i < argc ? argv[i] : "", i < argc ? "\"" : "");
	a->destroy = argv[i++][0] == 'd';
	max = a->destroy ? 2 : 3;
	for (; i < argc; i++) {
		const char *o = argv[i];
		int r = parse_bound(argc, argv, &i, false, a, m);

		if (r < 0)
			return -1;
		if (r)
			continue;
		if (a->destroy && strcmp(o, "--delete-home") == 0) {
			if (a->delete_home)
				return fail(m, "--delete-home is given twice; give it once.");
			a->delete_home = true;
		} else if (o[0] == '-' && o[1]) {
			return fail(m, "session %s takes no option %s.", a->destroy ? "destroy" :
				    "create", o);
		} else if (nops == max) {
			return fail(m, "session %s takes %s, so \"%s\" is one too many.",
				    a->destroy ? "destroy" : "create",
				    a->destroy ? "PORT and UID" : "PORT, UID and NAME", o);
		} else {
			ops[nops++] = o;
		}
	}
	if (nops < 2)
		return fail(m, "session %s needs the PORT that vmctl start printed and a UID.",
			    a->destroy ? "destroy" : "create");
	if (number("PORT", ops[0], 1, 65535, &a->port, m) < 0 ||
	    number("UID", ops[1], PROTO_SESSION_UID_MIN, PROTO_SESSION_UID_MAX, &a->uid,
		   m) < 0)
		return -1;
	a->has_uid = true;
	if (nops == 3) {
		a->name = ops[2];
		if (!proto_username_valid(a->name))
			return fail(m, "session create wants a NAME of 1 to 32 lower-case letters, "
				    "digits, \"_\" or \"-\", starting with a letter or \"_\", "
				    "not \"%s\".", a->name);
	}
	return 0;
}

int vmctl_parse(int argc, char **argv, struct vmctl_args *a, struct msg *m)
{
	enum help_flag flag = help_flag(argc, argv);
	int i = 2;

	memset(a, 0, sizeof *a);
	a->help = flag == HELP_USAGE;
	a->version = flag == HELP_VERSION;
	if (flag != HELP_NONE)
		return 0;
	if (argc < 2 || argv[1][0] == '-')
		return unknown_command(argc < 2 ? NULL : argv[1], m);
	for (size_t k = 0; k < vmctl_ncommands; k++)
		if (strcmp(argv[1], vmctl_commands[k].name) == 0)
			a->cmd = &vmctl_commands[k];
	if (!a->cmd)
		return unknown_command(argv[1], m);

	if (a->cmd->run == cmd_start)
		return parse_start(argc, argv, i, a, m);
	if (a->cmd->run == cmd_template) {
		if (i < argc && strcmp(argv[i], "build") == 0)
			return parse_start(argc, argv, i + 1, a, m);
		if (i < argc && strcmp(argv[i], "rm") == 0)
			a->template_rm = true, i++;
		else
			return fail(m, "template needs build or rm%s%s%s.", i < argc ? ", not \"" : "",
				    i < argc ? argv[i] : "", i < argc ? "\"" : "");
	}
	if (a->cmd->run == cmd_exec)
		return parse_exec(argc, argv, i, a, m);
	if (a->cmd->run == cmd_install)
		return parse_install(argc, argv, i, a, m);
	if (a->cmd->run == cmd_cp)
		return parse_cp(argc, argv, i, a, m);
	if (a->cmd->run == cmd_session)
		return parse_session(argc, argv, i, a, m);
	if (a->cmd->run == cmd_egress) {
		if (parse_port("egress", argc, argv, &i, a, m) < 0)
			return -1;
		for (; i < argc; i++)
			if (strcmp(argv[i], "--internet") && strcmp(argv[i], "--allow"))
				return fail(m, "egress takes no %s \"%s\".",
					    argv[i][0] == '-' ? "option" : "operand", argv[i]);
			else if (parse_net(argc, argv, &i, a, m) < 0)
				return -1;
		if (!a->internet && !a->nallow)
			return fail(m, "egress needs --internet or --allow HOST[:PORT].");
	}
	if (a->cmd->run == cmd_stop) {
		if (parse_port("stop", argc, argv, &i, a, m) < 0)
			return -1;
	}
	if (a->cmd->run == cmd_web) {
		if (parse_port("web", argc, argv, &i, a, m) < 0)
			return -1;
		a->http_port = VMCTL_WEB_DEFAULT_PORT;
		if (i < argc && argv[i][0] != '-' &&
		    number("HTTP_PORT", argv[i++], 1, 65535, &a->http_port, m) < 0)
			return -1;
	}
	if (i < argc)
		return argv[i][0] == '-' ? fail(m, "%s takes no option %s.", a->cmd->name, argv[i])
					 : fail(m, "%s takes no more operands, so \"%s\" is one "
						"too many.", a->cmd->name, argv[i]);
	return 0;
}

void vmctl_usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < vmctl_ncommands; i++)
		fprintf(out, "  vmctl %s%s%s\n      %s\n", vmctl_commands[i].name,
			*vmctl_commands[i].usage ? " " : "", vmctl_commands[i].usage,
			vmctl_commands[i].summary);
	fprintf(out, "  vmctl --help | -h\n      Show this help.\n"
		     "  vmctl --version\n      Show the version.\n");
	fprintf(out,
		"\nA sandbox is a QEMU VM whose vmd serves 127.0.0.1:PORT only, and only to\n"
		"clients that hold its secret (kept in the user's 0600 state file). Commands run\n"
		"as a non-root user in their own namespaces, under seccomp; --raw runs them as\n"
		"root in the guest itself. The VM has no network but with --internet or --allow,\n"
		"and then only TCP through an HTTP proxy on the host that refuses the host itself\n"
		"and private, link-local and reserved addresses (http_proxy in commands).\n"
		"State: $XDG_RUNTIME_DIR/vmctl (or /tmp/vmctl-UID). Exit status of exec: the\n"
		"command's, or 128+N when a signal N ended it; 1 (2 for usage) for vmctl's own.\n");
}

void vmctl_hint(FILE *out, const struct vmctl_args *a)
{
	if (a->cmd)
		fprintf(out, "usage: vmctl %s %s\n", a->cmd->name, a->cmd->usage);
	else {
		fprintf(out, "usage: vmctl ");
		for (size_t i = 0; i < vmctl_ncommands; i++)
			if (!internal(&vmctl_commands[i]))
				fprintf(out, "%s%s", i ? "|" : "", vmctl_commands[i].name);
		fprintf(out, " ... (vmctl --help says more)\n");
	}
}
