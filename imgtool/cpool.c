/* cpool.c - see cpool.h. */
#include "cpool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Take jobs of the current batch until none is left. */
static void work(struct cpool *p, void *state)
{
	for (;;) {
		size_t i;

		pthread_mutex_lock(&p->lock);
		i = p->taken < p->njobs ? p->taken++ : SIZE_MAX;
		pthread_mutex_unlock(&p->lock);
		if (i == SIZE_MAX)
			return;
		p->jobs[i].rc = p->codec->run(state, &p->jobs[i], p->arg);
		pthread_mutex_lock(&p->lock);
		if (++p->finished == p->njobs)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
}

static void *worker(void *arg)
{
	struct cpool_thread *t = arg;
	struct cpool *p = t->pool;
	unsigned long seen = 0;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->quit && p->round == seen)
			pthread_cond_wait(&p->start, &p->lock);
		if (p->quit) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		seen = p->round;
		pthread_mutex_unlock(&p->lock);
		work(p, t->state);
	}
}

bool cpool_run(struct cpool *p, size_t n)
{
	pthread_mutex_lock(&p->lock);
	p->njobs = n;
	p->taken = 0;
	p->finished = 0;
	p->round++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	work(p, p->state);
	pthread_mutex_lock(&p->lock);
	while (p->finished < p->njobs)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n; i++)
		if (p->jobs[i].rc < 0)
			return false;
	return true;
}

/* A codec state, set up; NULL (released again) when memory or the codec fails. */
static void *new_state(const struct cpool *p)
{
	void *s = calloc(1, p->codec->state_size ? p->codec->state_size : 1);

	if (s && p->codec->init(s, p->arg) < 0) {
		p->codec->end(s);
		free(s);
		s = NULL;
	}
	return s;
}

static void free_state(const struct cpool *p, void *s)
{
	if (s) {
		p->codec->end(s);
		free(s);
	}
}

int cpool_start(struct cpool *p, const struct cpool_codec *codec, const void *arg,
		size_t in_size, size_t out_size, const char *path, struct msg *m)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cores > 1 ? (size_t)cores - 1 : 0;

	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	p->live = true;
	p->codec = codec;
	p->arg = arg;
	p->batch = CPOOL_BATCH_BYTES / (in_size ? in_size : 1);
	if (p->batch < CPOOL_BATCH_MIN)
		p->batch = CPOOL_BATCH_MIN;
	if (p->batch > CPOOL_BATCH_MAX)
		p->batch = CPOOL_BATCH_MAX;
	for (size_t i = 0; i < p->batch; i++)
		if (!(p->jobs[i].in = malloc(in_size)) || !(p->jobs[i].out = malloc(out_size)))
			return fail_errno(m, "cannot write %s", path);
	if (!(p->state = new_state(p)))
		return fail(m, "cannot write %s: the compressor does not start.", path);
	if (want > CPOOL_THREADS_MAX - 1)
		want = CPOOL_THREADS_MAX - 1;
	for (size_t i = 0; i < want; i++) {
		struct cpool_thread *t = &p->thread[p->nthreads];

		t->pool = p;
		if (!(t->state = new_state(p)))
			break;
		if (pthread_create(&t->id, NULL, worker, t) != 0) {
			free_state(p, t->state);
			break;
		}
		p->nthreads++;
	}
	return 0;
}

void cpool_stop(struct cpool *p)
{
	if (!p->live)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++) {
		pthread_join(p->thread[i].id, NULL);
		free_state(p, p->thread[i].state);
	}
	free_state(p, p->state);
	for (size_t i = 0; i < CPOOL_BATCH_MAX; i++) {
		free(p->jobs[i].in);
		free(p->jobs[i].out);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	p->live = false;
}

/* The test: the collision entropy of the bytes (-log2 of the sum of p^2, a lower bound
 * of the Shannon entropy) is above 8 - log2(21/20) = 7.93 bits a byte, which leaves
 * Huffman coding less than 1% to gain. Integers only, so every machine decides the
 * same. */
bool cpool_incompressible(const unsigned char *data, size_t len)
{
	uint32_t count[4][256] = { { 0 } };
	uint64_t sum = 0;

	for (size_t i = 0; i + 3 < len; i += 4) {	/* four tables: no store stalls */
		count[0][data[i]]++;
		count[1][data[i + 1]]++;
		count[2][data[i + 2]]++;
		count[3][data[i + 3]]++;
	}
	for (int b = 0; b < 256; b++) {
		uint64_t c = (uint64_t)count[0][b] + count[1][b] + count[2][b] + count[3][b];

		sum += c * c;
	}
	return 20 * 256 * sum < 21 * (uint64_t)len * len;
}
