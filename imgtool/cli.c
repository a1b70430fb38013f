/* cli.c - see cli.h. */
#include "cli.h"

#include <string.h>

#include "commands.h"
#include "pack.h"
#include "text.h"

const struct command cli_commands[] = {
	{ "convert", "[-f FORMAT] [-O FORMAT] [-o KEY=VALUE,...] [-c] [-p] [--force] INPUT OUTPUT",
	  "Write INPUT (a raw disk, a boot.bin or any image below) as OUTPUT.", 2, 2,
	  cmd_convert },
	{ "create", "[-f FORMAT] [-o KEY=VALUE,...] [-b BACKING -F FORMAT] OUTPUT [SIZE]",
	  "Write an empty disk of SIZE bytes (K, M, G, T or P may follow), or a qcow2\n"
	  "      overlay on BACKING, as large as BACKING unless SIZE says more.", 2, 1,
	  cmd_create },
	{ "pack", "[-f FORMAT] [-O PACKAGE] [-o KEY=VALUE,...] [--force] DISK OUTPUT",
	  "Write DISK, with a VM to boot it, as the package a platform imports.", 2, 2,
	  cmd_pack },
	{ "info", "[-f FORMAT] [--json] IMAGE",
	  "Show the format, sizes, allocation, UUIDs and geometry of IMAGE.", 1, 1, cmd_info },
	{ "check", "[-f FORMAT] IMAGE",
	  "Check the structure of IMAGE: one sentence per fault, exit 1 if any.", 1, 1,
	  cmd_check },
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < cli_ncommands; i++)
		if (strcmp(name, cli_commands[i].name) == 0)
			return &cli_commands[i];
	return NULL;
}

static int unknown_command(const char *name, struct msg *m)
{
	char list[128] = "";
	size_t len = 0;

	for (size_t i = 0; i < cli_ncommands; i++)
		list_append(list, sizeof list, &len, i, cli_ncommands, cli_commands[i].name);
	if (!name)
		return fail(m, "no command given; the commands are %s.", list);
	if (name[0] == '-')
		return fail(m, "unknown option \"%s\"; the commands are %s.", name, list);
	return fail(m, "unknown command \"%s\"; the commands are %s.", name, list);
}

/* The value of an option: "-O x", "-Ox", "--opt x" or "--opt=x". */
static const char *value_of(int argc, char **argv, int *i, const char *name, size_t nlen,
			    struct msg *m)
{
	const char *a = argv[*i];

	if (a[nlen] == '=' && a[1] == '-')
		return a + nlen + 1;
	if (a[nlen] && a[1] != '-')
		return a + nlen;
	if (*i + 1 >= argc) {
		fail(m, "%s needs a value.", name);
		return NULL;
	}
	return argv[++*i];
}

int cli_parse(int argc, char **argv, struct cli *c, struct msg *m)
{
	enum help_flag flag = help_flag(argc, argv);
	int nargs = 0;
	bool dashdash = false;

	memset(c, 0, sizeof *c);
	c->help = flag == HELP_USAGE;
	c->version = flag == HELP_VERSION;
	if (flag != HELP_NONE)
		return 0;
	if (argc < 2 || argv[1][0] == '-')
		return unknown_command(argc < 2 ? NULL : argv[1], m);
	c->cmd = find_command(argv[1]);
	if (!c->cmd)
		return unknown_command(argv[1], m);

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v;
		bool is_convert = c->cmd->run == cmd_convert;
		bool is_create = c->cmd->run == cmd_create;
		bool is_pack = c->cmd->run == cmd_pack;

		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (!dashdash && is_create && strncmp(a, "-f", 2) == 0) {
			/* As in qemu-img create: -f is the format of the image made. */
			if (c->out_fmt)
				return fail(m, "-f is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-f", 2, m)))
				return -1;
			if (!(c->out_fmt = format_by_name(v, m)))
				return -1;
		} else if (!dashdash && is_create && strncmp(a, "-b", 2) == 0) {
			if (c->opts.backing)
				return fail(m, "-b is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-b", 2, m)))
				return -1;
			if (!*v)
				return fail(m, "-b needs a file name, not an empty one.");
			c->opts.backing = v;
		} else if (!dashdash && is_create && strncmp(a, "-F", 2) == 0) {
			if (c->backing_fmt)
				return fail(m, "-F is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-F", 2, m)))
				return -1;
			if (!(c->backing_fmt = format_by_name(v, m)))
				return -1;
			c->opts.backing_fmt = c->backing_fmt->name;
		} else if (!dashdash && strncmp(a, "-f", 2) == 0) {
			if (c->in_fmt)
				return fail(m, "-f is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-f", 2, m)))
				return -1;
			if (!(c->in_fmt = format_by_name(v, m)))
				return -1;
		} else if (!dashdash && is_pack && strncmp(a, "-O", 2) == 0) {
			/* pack's -O names a package, not a disk format. */
			if (c->package)
				return fail(m, "-O is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-O", 2, m)))
				return -1;
			if (!(c->package = package_by_name(v, m)))
				return -1;
		} else if (!dashdash && is_convert && strncmp(a, "-O", 2) == 0) {
			if (c->out_fmt)
				return fail(m, "-O is given twice; give it once.");
			if (!(v = value_of(argc, argv, &i, "-O", 2, m)))
				return -1;
			if (!(c->out_fmt = format_by_name(v, m)))
				return -1;
		} else if (!dashdash && (is_convert || is_create || is_pack) &&
			   strncmp(a, "-o", 2) == 0) {
			if (!(v = value_of(argc, argv, &i, "-o", 2, m)) ||
			    opts_parse(&c->opts, v, m) < 0)
				return -1;
		} else if (!dashdash && is_convert && strcmp(a, "-c") == 0) {
			if (c->opts.compress)
				return fail(m, "-c is given twice; give it once.");
			c->opts.compress = true;
		} else if (!dashdash && is_convert && strcmp(a, "-p") == 0) {
			if (c->progress)
				return fail(m, "-p is given twice; give it once.");
			c->progress = true;
		} else if (!dashdash && (is_convert || is_pack) && strcmp(a, "--force") == 0) {
			c->opts.force = true;
		} else if (!dashdash && c->cmd->run == cmd_info && strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (!dashdash && a[0] == '-' && a[1]) {
			return fail(m, "%s takes no option %s.", c->cmd->name, a);
		} else if (nargs == c->cmd->nargs) {
			return fail(m, "%s takes %d operand%s, so \"%s\" is one too many.",
				    c->cmd->name, c->cmd->nargs, c->cmd->nargs == 1 ? "" : "s", a);
		} else {
			c->arg[nargs++] = a;
		}
	}
	if (nargs < c->cmd->min_args)
		return fail(m, "%s needs %s.", c->cmd->name,
			    c->cmd->run == cmd_create ? "an OUTPUT"
			    : c->cmd->run == cmd_pack ? (nargs ? "an OUTPUT" : "a DISK and an OUTPUT")
			    : c->cmd->nargs == 2 ? (nargs ? "an OUTPUT" : "an INPUT and an OUTPUT")
						 : "an IMAGE");
	/* qemu-img 7.2 refuses to guess a backing file's format, and so does imgtool:
	 * a raw base probed as something else would be a different disk. */
	if (c->opts.backing && !c->backing_fmt)
		return fail(m, "-b needs -F naming the backing file's format.");
	if (c->backing_fmt && !c->opts.backing)
		return fail(m, "-F names the backing file's format; give the file with -b.");
	return 0;
}

void cli_free(struct cli *c)
{
	opts_free(&c->opts);
}

void cli_usage(FILE *out)
{
	char foreign[256];

	foreign_list(foreign, sizeof foreign);
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(out, "  imgtool %s %s\n      %s\n", cli_commands[i].name,
			cli_commands[i].usage, cli_commands[i].summary);
	fprintf(out, "  imgtool --help | -h\n      Show this help.\n"
		     "  imgtool --version\n      Show the version.\n");
	fprintf(out, "\nFormats (for -f and -O, or OUTPUT's extension), and their -o options:\n");
	for (size_t i = 0; i < nformats; i++) {
		const struct format *f = formats[i];

		fprintf(out, "  %-6s %-7s %s%s%s%s\n", f->name, f->ext, f->summary,
			f->alias ? " (also \"" : "", f->alias ? f->alias : "",
			f->alias ? "\")" : "");
		for (const struct opt_spec *s = f->opts; s && s->key; s++)
			fprintf(out, "           -o %s=%s\n", s->key, s->values);
	}
	fprintf(out, "\nPackages (for pack's -O, or OUTPUT's extension), and their -o options:\n");
	for (size_t i = 0; i < npackages; i++) {
		const struct package *p = packages[i];

		fprintf(out, "  %-18s %-7s %s\n", p->name, p->ext ? p->ext : ".box", p->summary);
		for (const struct opt_spec *s = p->opts; s && s->key; s++)
			fprintf(out, "           -o %s=%s\n", s->key, s->values);
	}
	fprintf(out,
		"\nINPUT's format is found from its content unless -f names it (-f raw reads any\n"
		"file as a raw disk). Images imgtool knows but does not read are refused by name:\n"
		"%s.\n"
		"A name ending in .bin is a boot program (256 bytes, or a 512-byte sector ending\n"
		"in 0x55AA) and becomes a 1 MiB disk with the signature at 510. convert's\n"
		"-o size=SIZE (every format) grows the disk to SIZE, the rest reading as zeros\n"
		"(for Azure, at least 20M). Outputs are\n"
		"written whole or not at all; -p shows how far a conversion is, on a terminal.\n"
		"UUIDs and timestamps are derived from the content and SOURCE_DATE_EPOCH, so the\n"
		"same input gives the same bytes.\n"
		"Exit status: 0 done, 1 failed (or faults found), 2 usage error.\n", foreign);
}

void cli_hint(FILE *out, const struct cli *c)
{
	if (c->cmd)
		fprintf(out, "usage: imgtool %s %s\n", c->cmd->name, c->cmd->usage);
	else {
		fprintf(out, "usage: imgtool ");
		for (size_t i = 0; i < cli_ncommands; i++)
			fprintf(out, "%s%s", i ? "|" : "", cli_commands[i].name);
		fprintf(out, " ... (imgtool --help says more)\n");
	}
}
