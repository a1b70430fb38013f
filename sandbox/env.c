/* env.c - see env.h. */
#include "env.h"

#include <stdlib.h>
#include <string.h>

/* Does some --env set the variable that entry ("NAME=...") sets? */
static bool overridden(const struct cli *c, const char *entry)
{
	size_t n = strcspn(entry, "=") + 1;

	for (size_t i = 0; i < c->nenv; i++) {
		if (strncmp(c->env[i], entry, n) == 0)
			return true;
	}
	return false;
}

const char **env_build(const struct cli *c, char **envp)
{
	size_t count = 0, n = 0;
	bool path = false;
	const char **out;

	while (envp && envp[count])
		count++;
	/* The caller's entries, the --env ones, perhaps PATH, and NULL. */
	out = calloc(count + c->nenv + 2, sizeof *out);
	if (!out)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		if (!overridden(c, envp[i]))
			out[n++] = envp[i];
	}
	for (size_t i = 0; i < c->nenv; i++)
		out[n++] = c->env[i];
	for (size_t i = 0; i < n; i++)
		path |= strncmp(out[i], "PATH=", 5) == 0;
	if (!path)
		out[n++] = ENV_PATH;
	out[n] = NULL;
	return out;
}
