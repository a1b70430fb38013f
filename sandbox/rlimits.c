/* rlimits.c - see rlimits.h. */
#include "rlimits.h"

#include <sys/resource.h>

static const struct {
	int resource;
	const char *name;
	rlim_t soft, hard;
} limits[] = {
	{ RLIMIT_CORE, "RLIMIT_CORE", 0, 0 },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", 1024, 1024 },
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", 1024, 4096 },
	{ RLIMIT_RTPRIO, "RLIMIT_RTPRIO", 0, 0 },
};

static rlim_t lower(rlim_t current, rlim_t wanted)
{
	return current != RLIM_INFINITY && current < wanted ? current : wanted;
}

int rlimits_apply(struct msg *m)
{
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		struct rlimit rl;

		if (getrlimit(limits[i].resource, &rl) < 0)
			return fail_errno(m, "cannot read %s", limits[i].name);
		rl.rlim_max = lower(rl.rlim_max, limits[i].hard);
		rl.rlim_cur = lower(lower(rl.rlim_cur, limits[i].soft), rl.rlim_max);
		if (setrlimit(limits[i].resource, &rl) < 0)
			return fail_errno(m, "cannot set %s", limits[i].name);
	}
	return 0;
}
