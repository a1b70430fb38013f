/* rlimits.h - the resource limits of the sandboxed command.
 *
 * RLIMIT_CORE 0       no core files in the working directory or a bound one.
 * RLIMIT_NPROC 1024   a fork bomb stops there: since Linux 5.14 the count is per
 *                     user namespace, so each sandbox has its own 1024.
 * RLIMIT_NOFILE 1024 (hard 4096)   bounds kernel memory held in open files.
 * RLIMIT_RTPRIO 0     no realtime scheduling that could starve vmd.
 * RLIMIT_FSIZE is left alone: exceeding it kills with SIGXFSZ, a surprising death
 * for a command writing a large but legitimate file, and the writable file systems
 * are bounded already (tmpfs sizes, and the memory cgroup that tmpfs pages are
 * charged to). Memory and the number of tasks are limited by the cgroup (cgroup.h).
 * A limit is only ever lowered: a caller's stricter limit stays.
 */
#ifndef SANDBOX_RLIMITS_H
#define SANDBOX_RLIMITS_H

#include "util.h"

int rlimits_apply(struct msg *m);

#endif
