/* version.c - see version.h. */
#include "version.h"

/* The generated one, in $(BUILD)/gen: found through -I$(BUILD), not beside this file. */
#include "gen/version.h"

void print_version(FILE *out, const char *prog)
{
	fprintf(out, "%s %s\n", prog, CLIENTAPI_VERSION);
}
