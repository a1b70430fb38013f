/* filter.h - the sandboxed command's system-call filter, built with libseccomp.
 *
 * Default deny: a call not on the list fails with ENOSYS, as it would on a kernel
 * too old to have it, so that libc and language runtimes take their fallbacks
 * (glibc tries clone3 before clone, faccessat2 before faccessat, and so on).
 * Calls that could reach outside the sandbox are listed as denied with EPERM, the
 * answer a program expects when it lacks the privilege. A call made through
 * another ABI (i386 "int $0x80", x32) kills the process: only native x86_64
 * is in the filter, and libseccomp sends everything else to the bad-arch action.
 */
#ifndef SANDBOX_FILTER_H
#define SANDBOX_FILTER_H

#include <seccomp.h>
#include <stddef.h>

#include "util.h"

enum filter_action { FILTER_ALLOW, FILTER_EPERM, FILTER_ENOSYS };

struct filter_rule {
	const char *name;	/* as libseccomp names it; unknown names are skipped */
	enum filter_action action;
};

/* The calls decided by number alone; clone, socket, ioctl and personality also
 * have argument rules (see filter.c) and are not in this table. */
extern const struct filter_rule filter_rules[];
extern const size_t filter_nrules;

/* The filter, not loaded; NULL with the reason in m on failure. */
scmp_filter_ctx filter_build(struct msg *m);

/*
 * Build the filter and write it to fd as the BPF program the kernel takes.
 * On failure errno says why (EPIPE: nobody reads any more).
 */
int filter_export(int fd, struct msg *m);

/*
 * What filter_export writes, generated once at build time by sandbox/tools/filter-gen
 * (into build/gen/filter_bpf.c): the program depends on nothing at run time, and
 * under TCG generating it cost 12 ms of every sandboxed command's start. The helper
 * sends these bytes down a pipe to the command, which loads them with
 * filter_load_from.
 */
extern const unsigned char filter_bpf[];
extern const size_t filter_bpf_size;

/*
 * Read a program written by filter_export from fd (to its end) and load it into
 * this process, which must have no_new_privs set: the last step before execve.
 */
int filter_load_from(int fd, struct msg *m);

#endif
