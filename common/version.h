/* version.h - the one --version line every program prints: "PROG VERSION".
 *
 * VERSION is the release in the top-level VERSION file, followed in a build from a git
 * checkout by "(git describe)", so that a binary names the commit it was built from.
 * common/version.sh works it out; the Makefile writes it into $(BUILD)/gen/version.h.
 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#include <stdio.h>

/* Print "prog VERSION" and a newline to out. */
void print_version(FILE *out, const char *prog);

#endif
