/* progress.c - see progress.h. */
#include "progress.h"

/* Hundredths of a percent, rounded down: 100.00 only once it is all done. */
static unsigned hundredths(const struct progress *p, uint64_t done)
{
	if (p->total == 0 || done >= p->total)
		return 10000;
	return (unsigned)((double)done / (double)p->total * 10000.0);
}

static void draw(struct progress *p, unsigned h)
{
	fprintf(p->out, "\r    (%u.%02u/100%%)", h / 100, h % 100);
	fflush(p->out);
	p->shown = h;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

void progress_start(struct progress *p, FILE *out, uint64_t total)
{
	p->out = out;
	p->total = total;
	draw(p, 0);
}

void progress_update(struct progress *p, uint64_t done)
{
	unsigned h = hundredths(p, done);
	struct timespec now;

	if (h <= p->shown)
		return;
	if (h < p->shown + 100) {
		long long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long long)(now.tv_sec - p->last.tv_sec) * 1000 +
		     (now.tv_nsec - p->last.tv_nsec) / 1000000;
		if (ms < 100)
			return;
	}
	draw(p, h);
}

void progress_end(struct progress *p, bool ok)
{
	if (ok && p->shown < 10000)
		draw(p, 10000);
	fputc('\n', p->out);
	fflush(p->out);
}
