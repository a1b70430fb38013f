/* cpool.h - compressing a disk's units on every core, for every writer that
 * compresses (the stream-optimized VMDK's grains, the compressed qcow2's clusters).
 *
 * The writer fills a batch of jobs (p->batch of them, each one unit of input) and
 * runs it: every thread takes jobs of the batch until none is left, each with a codec
 * state of its own, and cpool_run returns when all are done; the writer then writes
 * the batch in disk order. A job's output depends on its input alone, so the bytes
 * written are the same whatever the timing and however many cores there are. With one
 * core (or when no thread can be made) the calling thread does it all.
 */
#ifndef IMGTOOL_CPOOL_H
#define IMGTOOL_CPOOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Jobs in a batch: as many as make CPOOL_BATCH_BYTES of input, 16 to 64 of them. The
 * threads wait for each other at the end of a batch, so a longer one wastes less. */
#define CPOOL_BATCH_MIN 16
#define CPOOL_BATCH_MAX 64
#define CPOOL_BATCH_BYTES (4u << 20)
#define CPOOL_THREADS_MAX 4

struct cpool_job {
	uint64_t key;		/* the writer's: where the unit goes */
	unsigned char *in;	/* in_size bytes: the unit, filled by the writer */
	size_t in_len;
	unsigned char *out;	/* out_size bytes: what the codec made of it */
	size_t out_len;
	int rc;			/* the codec's: 0, or -1 when it failed */
};

/* A compressor: each thread has a state of state_size bytes, set up by init and
 * released by end (also after a failed init); run compresses one job. arg is the
 * writer's, the same for every thread. */
struct cpool_codec {
	size_t state_size;
	int (*init)(void *state, const void *arg);
	void (*end)(void *state);
	int (*run)(void *state, struct cpool_job *j, const void *arg);
};

struct cpool;

struct cpool_thread {
	struct cpool *pool;
	pthread_t id;
	void *state;
};

struct cpool {
	pthread_mutex_t lock;
	pthread_cond_t start, done;
	const struct cpool_codec *codec;
	const void *arg;
	struct cpool_job jobs[CPOOL_BATCH_MAX];
	size_t batch;		/* jobs in a batch */
	size_t njobs, taken, finished;
	unsigned long round;	/* counts batches, so that workers see a new one */
	bool quit, live;
	size_t nthreads;
	struct cpool_thread thread[CPOOL_THREADS_MAX - 1];
	void *state;		/* the calling thread's */
};

/* Buffers for a batch and a thread for each other core (at most CPOOL_THREADS_MAX in
 * all). -1 with a sentence naming path (the file being written) when memory or the
 * codec fails; cpool_stop is still to be called. */
int cpool_start(struct cpool *p, const struct cpool_codec *codec, const void *arg,
		size_t in_size, size_t out_size, const char *path, struct msg *m);
/* Compress jobs[0..n); false when the codec failed on one. */
bool cpool_run(struct cpool *p, size_t n);
/* Stop the threads and free everything cpool_start made. */
void cpool_stop(struct cpool *p);

/* Whether len bytes (a multiple of 4) are too evenly spread for a compressor to gain
 * 1% (already compressed, or random): a writer then stores them as they are, at
 * memory speed, rather than spend a compression that gains nothing. */
bool cpool_incompressible(const unsigned char *data, size_t len);

#endif
