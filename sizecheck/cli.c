/* cli.c - see cli.h. */
#include "cli.h"

#include <string.h>

#include "check.h"
#include "text.h"

/* Every subcommand takes the same options, so usage shows them once per line. */
#define OPTIONS "[--budget N]"

const struct command cli_commands[] = {
	{ "size", "BOOT.BIN MAP",
	  "Print how many bytes of the budget BOOT.BIN uses, from its NASM map.",
	  cmd_size },
	{ "check", "BOOT.BIN MAP IMAGE",
	  "Check BOOT.BIN, its map and the disk IMAGE; show the budget per routine.",
	  cmd_check },
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

/* The i-th word of s; its length goes to *len. */
static const char *word_at(const char *s, size_t i, int *len)
{
	for (s += strspn(s, " "); i > 0; i--) {
		s += strcspn(s, " ");
		s += strspn(s, " ");
	}
	*len = (int)strcspn(s, " ");
	return s;
}

/* The subcommand names joined for a sentence ("size and check") or usage ("size|check"). */
static void join_names(char *buf, size_t size, const char *sep, const char *last)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cli_ncommands; i++) {
		const char *s = i == 0 ? "" : i + 1 == cli_ncommands ? last : sep;
		int n = snprintf(buf + len, size - len, "%s%s", s, cli_commands[i].name);

		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

static bool is_budget(const char *arg)
{
	return strcmp(arg, "--budget") == 0 || strncmp(arg, "--budget=", 9) == 0;
}

/* A whole number in 1..CLI_BUDGET_MAX: decimal digits only, no sign or blanks. */
static bool parse_budget(const char *s, unsigned long *v)
{
	unsigned long n = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	for (; *s; s++) {
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > CLI_BUDGET_MAX)
			return false;
	}
	*v = n;
	return n >= 1;
}

/* value is NULL when --budget ended the command line; *given is the first value. */
static int budget_option(const char *value, const char **given, struct cli *c,
			 struct msg *m)
{
	if (!value)
		return fail(m, "--budget needs a value: a whole number from 1 to %d.",
			    CLI_BUDGET_MAX);
	if (*given)
		return fail(m, "--budget is given twice (\"%.40s\", then \"%.40s\"); give it once.",
			    *given, value);
	if (!parse_budget(value, &c->budget))
		return fail(m, "--budget wants a whole number from 1 to %d, not \"%.40s\".",
			    CLI_BUDGET_MAX, value);
	*given = value;
	return 0;
}

static int find_command(const char *name, struct cli *c, struct msg *m)
{
	char names[128];

	for (size_t i = 0; i < cli_ncommands; i++) {
		if (strcmp(name, cli_commands[i].name) == 0) {
			c->cmd = &cli_commands[i];
			return 0;
		}
	}
	join_names(names, sizeof names, ", ", " and ");
	return fail(m, "unknown subcommand \"%.40s\"; the subcommands are %s.",
		    name, names);
}

/* Options may come anywhere before "--"; the first other word is the subcommand. */
int cli_parse(int argc, char **argv, struct cli *c, struct msg *m)
{
	enum help_flag flag = help_flag(argc, argv);
	const char **slot[CLI_MAX_OPERANDS] = { &c->bin, &c->map, &c->image };
	const char *budget = NULL;
	size_t nop = 0, want = 0;
	bool options = true;
	char names[128];
	int len;

	memset(c, 0, sizeof *c);
	c->budget = CLI_BUDGET_DEFAULT;
	c->help = flag == HELP_USAGE;
	c->version = flag == HELP_VERSION;
	if (flag != HELP_NONE)
		return 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (options && strcmp(arg, "--") == 0) {
			options = false;
		} else if (options && is_budget(arg)) {
			const char *value = arg[8] == '=' ? arg + 9 :
					    i + 1 < argc ? argv[++i] : NULL;

			if (budget_option(value, &budget, c, m) < 0)
				return -1;
		} else if (options && arg[0] == '-' && arg[1] != '\0') {
			return fail(m, "unknown option \"%.40s\"; the options are --budget N, --help "
				    "and --version.", arg);
		} else if (!c->cmd) {
			if (find_command(arg, c, m) < 0)
				return -1;
			want = count_words(c->cmd->args);
		} else if (nop == want) {
			return fail(m, "%s takes %zu operands (%s), so \"%.40s\" is one too many.",
				    c->cmd->name, want, c->cmd->args, arg);
		} else {
			*slot[nop++] = arg;
		}
	}
	if (!c->cmd) {
		join_names(names, sizeof names, ", ", " and ");
		return fail(m, "no subcommand given; the subcommands are %s.", names);
	}
	if (nop < want) {
		const char *missing = word_at(c->cmd->args, nop, &len);

		return fail(m, "%s needs %zu operands (%s); %.*s is missing.",
			    c->cmd->name, want, c->cmd->args, len, missing);
	}
	return 0;
}

void cli_usage(FILE *out)
{
	int w = 0;

	for (size_t i = 0; i < cli_ncommands; i++) {
		int n = (int)strlen(cli_commands[i].name);

		w = n > w ? n : w;
	}
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(out, "  %s %-*s %s %s\n      %s\n", CLI_PROG, w,
			cli_commands[i].name, OPTIONS, cli_commands[i].args,
			cli_commands[i].summary);
	fprintf(out, "  %s --help | -h\n      Show this help.\n", CLI_PROG);
	fprintf(out, "  %s --version\n      Show the version.\n\n", CLI_PROG);
	fprintf(out, "--budget N is the size BOOT.BIN must have, in bytes: a whole number from 1 to %d (default %d).\n",
		CLI_BUDGET_MAX, CLI_BUDGET_DEFAULT);
	fprintf(out, "Exit status: 0 when all is well, 1 when a check fails or a file cannot be read, 2 for a usage error.\n");
}

void cli_hint(FILE *out, const struct cli *c)
{
	char names[128];

	if (c->cmd) {
		fprintf(out, "usage: %s %s %s %s\n", CLI_PROG, c->cmd->name, OPTIONS,
			c->cmd->args);
		return;
	}
	join_names(names, sizeof names, "|", "|");
	fprintf(out, "usage: %s %s %s FILE... (%s --help says more)\n", CLI_PROG,
		names, OPTIONS, CLI_PROG);
}
