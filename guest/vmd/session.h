/* session.h - the state of one client connection. */
#ifndef VMD_SESSION_H
#define VMD_SESSION_H

#include "auth.h"
#include "vmd.h"

struct download;
struct upload;

/* A WebSocket message being received, which may come in many pieces. */
struct rx {
	uint8_t *buf;
	size_t len, cap;	/* bytes kept, and room for them */
	size_t size;		/* bytes received, kept or not */
	uint8_t head[PROTO_HEADER_SIZE];
	size_t head_len;
	bool text;		/* a text message: refused whole */
	bool refused;		/* its framing is already known to be bad */
};

struct session {
	struct session *prev, *next;
	struct lws *wsi;
	struct out_msg *head, *tail;	/* frames waiting to be written */
	size_t queued;			/* their bytes */
	bool output_paused;		/* processes' output not read (queue full) */
	size_t stdin_queued;		/* input waiting for this client's processes */
	bool rx_paused;			/* the socket not read: too much input queued
					 * or too much output unread */
	struct process *procs;		/* newest first, exited ones included */
	struct download *downloads;	/* fs_read and load_state in progress */
	struct upload *uploads;		/* file_put not yet ended */
	struct rx rx;
	/* Until authed, the one message served is the client's proof (server.c). */
	bool authed;
	char client_proof[AUTH_HEX + 1];
	unsigned secret_generation;	/* vmd's when the proofs were made */
	bool closing;			/* closed once the queue is written */
};

#endif
