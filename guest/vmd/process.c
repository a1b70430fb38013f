/* process.c - spawning, feeding, reading, signalling and reaping the processes.
 *
 * A process's pipes (or its PTY master) live in vmd's one event loop. Its `exit`
 * is sent only once it has been reaped AND its output has reached end of file, so
 * output is never cut off; a grandchild holding the pipes open gets EXIT_GRACE_MS
 * before vmd reads what is there and closes them (see vmd.h). Once reaped, a
 * process is "not running" for ever: its record, not its pid, answers is_running,
 * so a reused pid cannot be mistaken for it.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"

extern char **environ;

/* Every process not yet reaped, whoever owns it. */
static struct process *live;
static size_t nlive;

/* Pipe capacity asked for, so that a fast writer blocks less often. */
#define PIPE_SIZE (1 << 20)

/* What the child reports through its CLOEXEC pipe when it cannot exec. */
enum child_stage { STAGE_TTY, STAGE_IDS, STAGE_CWD, STAGE_EXEC };

struct child_report {
	int stage;
	int err;
};

/* --- lists ------------------------------------------------------------------------- */

void process_list_link(struct process **head, struct process *p)
{
	p->prev = NULL;
	p->next = *head;
	if (*head)
		(*head)->prev = p;
	*head = p;
}

void process_list_unlink(struct process **head, struct process *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		*head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void live_unlink(struct process *p)
{
	for (struct process **q = &live; *q; q = &(*q)->live_next) {
		if (*q == p) {
			*q = p->live_next;
			nlive--;
			return;
		}
	}
}

size_t process_live_count(void)
{
	return nlive;
}

/* --- the child --------------------------------------------------------------------- */

static _Noreturn void child_fail(int report, enum child_stage stage)
{
	struct child_report r = { stage, errno };

	(void)!write(report, &r, sizeof r);
	_exit(127);
}

/* After fork, before exec: only async-signal-safe calls from here. */
static _Noreturn void child_run(const struct launch *l, const int fds[3], const char *tty,
				int report, pid_t parent)
{
	sigset_t none;

	/* vmd blocks SIGCHLD/SIGTERM/SIGINT for its signalfd and ignores SIGPIPE;
	 * both would be inherited across exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Its own session and process group, so a kill reaches its children too. */
	setsid();
	if (tty) {
		int fd = open(tty, O_RDWR);

		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			child_fail(report, STAGE_TTY);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			child_fail(report, STAGE_TTY);
	} else if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0) {
		child_fail(report, STAGE_TTY);
	}
	/* vmd is spared by the kernel's OOM killer (guest/init gives it -1000, which
	 * children inherit); its commands must not be, or running out of memory in a
	 * sandbox would find nothing it may kill. */
	int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (adj >= 0) {
		if (write(adj, "0", 1) < 0) {
			/* left as it was: the command still runs */
		}
		close(adj);
	}
	/* Die with vmd rather than run on unobserved. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	/* Nothing of vmd's but 0-2 may reach the command (the report pipe is
	 * already close-on-exec). */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			if (fd != report)
				close(fd);
	if (l->set_gid) {
		if (setgroups(1, &l->gid) < 0 || setgid(l->gid) < 0)
			child_fail(report, STAGE_IDS);
	}
	if (l->set_uid && setuid(l->uid) < 0)
		child_fail(report, STAGE_IDS);
	if (l->cwd && chdir(l->cwd) < 0)
		child_fail(report, STAGE_CWD);
	/* execvp looks PATH up in environ: make it the command's. */
	environ = l->envp;
	execvp(l->argv[0], l->argv);
	child_fail(report, STAGE_EXEC);
}

/* --- spawning ------------------------------------------------------------------------ */

void random_handle(char out[33])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof b) {
		/* GRND_INSECURE: a handle only needs to be unguessable, and early in
		 * the guest's boot the blocking pool may not be ready yet. */
		ssize_t n = getrandom(b + got, sizeof b - got, GRND_INSECURE);

		if (n < 0 && errno == EINVAL)
			n = getrandom(b + got, sizeof b - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void spawn_error(struct session *s, const struct proto_request *req,
			const struct launch *l, const struct child_report *r)
{
	const char *what = strerror(r->err);

	switch (r->stage) {
	case STAGE_TTY:
		session_send_error(s, req->id, PROTO_E_SPAWN,
				   "cannot set up the terminal: %s.", what);
		break;
	case STAGE_IDS:
		session_send_error(s, req->id, PROTO_E_SPAWN,
				   "cannot switch to uid %u and gid %u: %s.", l->uid, l->gid,
				   what);
		break;
	case STAGE_CWD:
		session_send_error(s, req->id, PROTO_E_SPAWN,
				   "cannot change directory to \"%.200s\": %s.", l->cwd, what);
		break;
	default:
		session_send_error(s, req->id, PROTO_E_SPAWN, "cannot run \"%.200s\": %s.",
				   l->argv[0], what);
	}
}

static void set_window(int fd, uint16_t rows, uint16_t cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	ioctl(fd, TIOCSWINSZ, &ws);
}

/* Open a PTY master (close-on-exec) sized rows x cols, and name its slave. */
static int open_pty(uint16_t rows, uint16_t cols, char *slave, size_t n)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, slave, n) != 0) {
		close(fd);
		return -1;
	}
	set_window(fd, rows, cols);
	return fd;
}

/* vmd holds the slave open itself until the child is reaped. Otherwise, when the
 * child closes its terminal just before exiting, the master reads EIO, vmd closes
 * it, and the hang-up kills the child with SIGHUP before it can exit on its own. */
static void release_slave(struct process *p)
{
	if (p->pty_slave >= 0)
		close(p->pty_slave);
	p->pty_slave = -1;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void send_spawned(struct session *s, struct process *p)
{
	cJSON *o = proto_object(p->id);
	uint8_t *buf = NULL;
	size_t len;

	if (o && cJSON_AddNumberToObject(o, "pid", p->pid) &&
	    cJSON_AddStringToObject(o, "handle", p->handle))
		buf = proto_frame_json(PROTO_SPAWNED, o, LWS_PRE, &len);
	cJSON_Delete(o);
	if (buf)
		session_send(s, buf, len);
}

struct process *process_spawn(struct session *s, struct proto_request *req)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int report[2] = { -1, -1 }, master = -1;
	char slave[64];
	int keep = -1;
	struct launch l;
	struct child_report r;
	struct process *p;
	struct msg m;
	ssize_t n;
	pid_t pid;

	/* who the command will run as decides its home: the sandbox's default user
	 * unless told, root in raw mode unless told */
	bool sandboxed = vmd.sandbox && !req->raw;
	uid_t who = req->has_uid ? req->uid : sandboxed ? LAUNCH_SANDBOX_ID : 0;

	if (users_dying(who)) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "uid %u's session is being "
				   "destroyed; it takes no new commands.", who);
		return NULL;
	}

	struct stat st;
	const char *shares = stat(vmd.share_root, &st) == 0 && S_ISDIR(st.st_mode) ?
			     vmd.share_root : NULL;

	if (launch_build(req, vmd.sandbox, who ? users_home(who) : NULL, shares, &l, &m) < 0) {
		session_send_error(s, req->id, l.bad_params ? PROTO_E_PARAMS : PROTO_E_INTERNAL,
				   "%s", m.text);
		return NULL;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
		launch_free(&l);
		return NULL;
	}
	p->pty_slave = -1;
	if (req->pty) {
		master = open_pty(req->rows, req->cols, slave, sizeof slave);
		if (master < 0)
			goto fail_errno;
		keep = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (keep < 0)
			goto fail_errno;
		/* The terminal belongs to the user who runs on it, as login makes it, so
		 * the command can also open it by name (in the sandbox: /dev/console). */
		if (fchown(keep, l.tty_uid, l.tty_gid) < 0)
			goto fail_errno;
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		goto fail_errno;
	}
	if (pipe2(report, O_CLOEXEC) < 0)
		goto fail_errno;
	pid_t parent = getpid();

	pid = fork();
	if (pid < 0)
		goto fail_errno;
	if (pid == 0) {
		const int fds[3] = { in[0], out[1], err[1] };

		close(report[0]);
		child_run(&l, fds, req->pty ? slave : NULL, report[1], parent);
	}
	close_fd(&report[1]);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	/* Wait for exec: end of file means it happened; a report means it failed.
	 * A short wait, and it lets a bad command fail the spawn itself. */
	do
		n = read(report[0], &r, sizeof r);
	while (n < 0 && errno == EINTR);
	close_fd(&report[0]);
	if (n == (ssize_t)sizeof r) {
		waitpid(pid, NULL, 0);
		spawn_error(s, req, &l, &r);
		goto fail;
	}
	launch_free(&l);

	p->pid = pid;
	p->run_uid = who;
	p->sandboxed = sandboxed;
	p->pty = req->pty;
	p->pty_slave = keep;
	p->out = (struct fdref){ .kind = req->pty ? FD_PTY : FD_STDOUT, .p = p, .fd = -1 };
	p->err = (struct fdref){ .kind = FD_STDERR, .p = p, .fd = -1 };
	p->in = (struct fdref){ .kind = FD_STDIN, .p = p, .fd = -1 };
	p->live_next = live;
	live = p;
	nlive++;
	random_handle(p->handle);
	p->id = cJSON_Duplicate(req->id, true);
	p->id_json = cJSON_PrintUnformatted(req->id);
	p->s = s;
	process_list_link(&s->procs, p);

	if (req->pty) {
		set_nonblock(master);
		if (server_adopt(&p->out, master) < 0)
			goto fail_adopt;
	} else {
		set_nonblock(in[1]);
		set_nonblock(out[0]);
		set_nonblock(err[0]);
		fcntl(out[0], F_SETPIPE_SZ, PIPE_SIZE);
		fcntl(err[0], F_SETPIPE_SZ, PIPE_SIZE);
		int o = out[0], e = err[0];

		out[0] = err[0] = -1;	/* lws owns them now, even on failure */
		if (server_adopt(&p->out, o) < 0) {
			close(e);
			goto fail_adopt;
		}
		if (server_adopt(&p->err, e) < 0)
			goto fail_adopt;
		p->in.fd = in[1];
		in[1] = -1;
		if (server_adopt(&p->in, p->in.fd) < 0) {
			p->in.fd = -1;
			p->stdin_closed = true;
			goto fail_adopt;
		}
	}
	if (!p->id || !p->id_json)
		goto fail_adopt;
	if (session_output_paused(s))
		process_set_paused(p, true);
	send_spawned(s, p);
	return p;

fail_adopt:
	close_fd(&in[1]);
	session_send_error(s, req->id, PROTO_E_INTERNAL,
			   "cannot watch the new process's output (too many open files?).");
	process_list_unlink(&s->procs, p);
	process_abandon(p);
	return NULL;
fail_errno:
	session_send_error(s, req->id, PROTO_E_INTERNAL, "cannot start a process: %s.",
			   strerror(errno));
fail:
	launch_free(&l);
	close_fd(&master);
	close_fd(&keep);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&report[0]);
	close_fd(&report[1]);
	free(p);
	return NULL;
}

struct process *process_find(struct session *s, const char *handle)
{
	for (struct process *p = s->procs; p; p = p->next)
		if (!strcmp(p->handle, handle))
			return p;
	return NULL;
}

/* --- output -------------------------------------------------------------------------- */

/* Read one chunk and queue it: 1 when it read some, 0 when there is nothing now,
 * -1 at end of file (EIO is a PTY's end of file). */
static int read_chunk(struct process *p, struct fdref *ref)
{
	static uint8_t buf[READ_CHUNK];
	uint8_t *frame;
	size_t len;
	ssize_t n = read(ref->fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	if (p->s) {
		frame = proto_frame_data(ref->kind == FD_STDERR ? PROTO_STDERR : PROTO_STDOUT,
					 p->id_json, p->handle, buf, (size_t)n, LWS_PRE, &len);
		if (frame)
			session_send(p->s, frame, len);
	}
	return 1;
}

/* Read what a stream still holds, ignoring the pause: its writer is gone (or is
 * being cut off), so this is bounded by the pipe's capacity. */
static void drain(struct process *p, struct fdref *ref)
{
	for (size_t budget = PIPE_SIZE / READ_CHUNK + 2; budget; budget--)
		if (read_chunk(p, ref) <= 0)
			return;
}

void process_set_paused(struct process *p, bool paused)
{
	p->paused = paused;
	if (p->out.wsi)
		lws_rx_flow_control(p->out.wsi, !paused);
	if (p->err.wsi)
		lws_rx_flow_control(p->err.wsi, !paused);
}

/* --- standard input ------------------------------------------------------------------- */

static void inq_clear(struct process *p)
{
	while (p->inq) {
		struct out_msg *b = p->inq;

		p->inq = b->next;
		free(b->buf);
		free(b);
	}
	p->inq_tail = NULL;
	p->inq_off = 0;
	if (p->s && p->inq_bytes)
		session_stdin_account(p->s, -(ssize_t)p->inq_bytes);
	p->inq_bytes = 0;
}

static struct fdref *stdin_ref(struct process *p)
{
	return p->pty ? &p->out : &p->in;
}

/* Mark standard input finished and let go of it. For a pipe that closes it
 * (the command reads end of file). A PTY has no separate input to close; see
 * close_stdin() for what it gets instead. `self` is true inside the stdin
 * descriptor's own callback, where lws closes it when the callback returns -1. */
static void stdin_done(struct process *p, bool self)
{
	p->stdin_closed = true;
	p->close_after_flush = false;
	inq_clear(p);
	if (!p->pty && !self)
		server_close_fd(&p->in);
}

/* Write queued input; 1 when the descriptor must be watched for room, -1 when
 * the input is gone (the reader closed it), else 0. */
static int stdin_flush(struct process *p)
{
	struct fdref *ref = stdin_ref(p);

	while (p->inq) {
		struct out_msg *b = p->inq;
		ssize_t n = write(ref->fd, b->buf + p->inq_off, b->len - p->inq_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			return -1;
		}
		p->inq_off += (size_t)n;
		p->inq_bytes -= (size_t)n;
		if (p->s)
			session_stdin_account(p->s, -n);
		if (p->inq_off == b->len) {
			p->inq = b->next;
			if (!p->inq)
				p->inq_tail = NULL;
			p->inq_off = 0;
			free(b->buf);
			free(b);
		}
	}
	return 0;
}

/* Flush after new input or close_stdin, outside the descriptor's callbacks. */
static void stdin_kick(struct process *p)
{
	struct fdref *ref = stdin_ref(p);
	int r = stdin_flush(p);

	if (r == 1) {
		if (ref->wsi)
			lws_callback_on_writable(ref->wsi);
	} else if (r < 0) {
		stdin_done(p, false);
	} else if (p->close_after_flush) {
		stdin_done(p, false);
	}
}

static void stdin_append(struct process *p, uint8_t *data, size_t len)
{
	struct out_msg *b = malloc(sizeof *b);

	if (!b) {
		free(data);
		return;
	}
	*b = (struct out_msg){ .buf = data, .len = len };
	if (p->inq_tail)
		p->inq_tail->next = b;
	else
		p->inq = b;
	p->inq_tail = b;
	p->inq_bytes += len;
	session_stdin_account(p->s, (ssize_t)len);
}

/* A PTY has no end of file of its own: send the terminal's EOF character, which
 * a reader in canonical mode sees as end of input. */
static void pty_eof(struct process *p)
{
	struct termios t;
	uint8_t *c = malloc(1);

	if (!c)
		return;
	*c = tcgetattr(p->out.fd, &t) == 0 ? t.c_cc[VEOF] : 4;
	stdin_append(p, c, 1);
}

/* --- requests --------------------------------------------------------------------------- */

/* code (the status, or 128 + N) and signal N when killed, as exit and
 * running_status give them. */
static bool add_status(cJSON *o, const struct process *p)
{
	int sig = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(p->status);

	return cJSON_AddNumberToObject(o, "code", code) &&
	       (!sig || cJSON_AddNumberToObject(o, "signal", sig)) &&
	       (!p->oom || cJSON_AddStringToObject(o, "reason", "oom"));
}

static void send_running(struct session *s, struct process *p, const cJSON *id)
{
	cJSON *o = proto_object(id);
	uint8_t *buf = NULL;
	size_t len;

	/* Once reaped, the record answers (code and signal as its exit gives them);
	 * the pid, which may belong to someone else by now, is never looked at. */
	if (o && cJSON_AddStringToObject(o, "handle", p->handle) &&
	    cJSON_AddBoolToObject(o, "running", !p->reaped) &&
	    (p->reaped ? add_status(o, p)
		       : cJSON_AddNumberToObject(o, "pid", p->pid) != NULL))
		buf = proto_frame_json(PROTO_RUNNING_STATUS, o, LWS_PRE, &len);
	cJSON_Delete(o);
	if (buf)
		session_send(s, buf, len);
}

void process_request(struct session *s, struct process *p, struct proto_request *req)
{
	const cJSON *id = req->id;

	switch (req->type) {
	case PROTO_IS_RUNNING:
		send_running(s, p, id);
		return;
	case PROTO_RESIZE:
		if (!p->pty)
			return session_send_error(s, id, PROTO_E_PARAMS,
						  "resize: the process has no terminal.");
		if (!p->out.wsi)
			return session_send_error(s, id, PROTO_E_EXITED,
						  "the process has already exited.");
		set_window(p->out.fd, req->rows, req->cols);
		return send_ok(s, id);
	case PROTO_KILL:
		if (p->reaped)
			return session_send_error(s, id, PROTO_E_EXITED,
						  "the process has already exited.");
		/* the whole group (its own, from setsid); the leader at least */
		if (kill(-p->pid, req->signal) < 0 && kill(p->pid, req->signal) < 0)
			return session_send_error(s, id, PROTO_E_INTERNAL,
						  "cannot signal the process: %s.",
						  strerror(errno));
		return send_ok(s, id);
	case PROTO_STDIN:
	case PROTO_CLOSE_STDIN:
		if (p->reaped)
			return session_send_error(s, id, PROTO_E_EXITED,
						  "the process has already exited.");
		if (p->stdin_closed || p->close_after_flush)
			return session_send_error(s, id, PROTO_E_EXITED,
						  "the standard input of the process is "
						  "closed.");
		if (req->type == PROTO_STDIN) {
			if (req->data_len) {
				stdin_append(p, req->data, req->data_len);
				req->data = NULL;	/* the queue owns it now */
			}
		} else {
			if (p->pty)
				pty_eof(p);
			p->close_after_flush = true;
		}
		stdin_kick(p);
		if (req->type == PROTO_CLOSE_STDIN)
			send_ok(s, id);
		return;
	default:
		return;
	}
}

/* --- exit ------------------------------------------------------------------------------- */

static void grace_expired(lws_sorted_usec_list_t *sul);

bool process_finished(const struct process *p)
{
	return p->exit_sent;
}

static void send_exit(struct process *p)
{
	cJSON *o = proto_object(p->id);
	uint8_t *buf = NULL;
	size_t len;

	if (o && cJSON_AddStringToObject(o, "handle", p->handle) && add_status(o, p))
		buf = proto_frame_json(PROTO_EXIT, o, LWS_PRE, &len);
	cJSON_Delete(o);
	if (buf)
		session_send(p->s, buf, len);
}

/* Forget the oldest exited processes past EXITED_KEPT. */
static void trim_exited(struct session *s)
{
	struct process *p, *oldest = NULL;
	size_t n = 0;

	for (p = s->procs; p; p = p->next) {
		if (p->exit_sent) {
			n++;
			oldest = p;	/* the list is newest first */
		}
	}
	if (n > EXITED_KEPT && oldest) {
		process_list_unlink(&s->procs, oldest);
		process_free(oldest);
	}
}

/* Send exit when it is due, or start the grace period for the pipes. */
static void finish(struct process *p)
{
	if (p->exit_sent || !p->reaped || !p->s)
		return;
	if (p->out.wsi || p->err.wsi) {
		if (!p->grace_armed) {
			p->grace_armed = true;
			lws_sul_schedule(vmd.ctx, 0, &p->grace, grace_expired,
					 EXIT_GRACE_MS * LWS_US_PER_MS);
		}
		return;
	}
	if (p->grace_armed) {
		lws_sul_cancel(&p->grace);
		p->grace_armed = false;
	}
	if (!p->stdin_closed)
		stdin_done(p, false);
	send_exit(p);
	p->exit_sent = true;
	trim_exited(p->s);
}

static void grace_expired(lws_sorted_usec_list_t *sul)
{
	struct process *p = lws_container_of(sul, struct process, grace);

	p->grace_armed = false;
	if (p->out.wsi) {
		drain(p, &p->out);
		server_close_fd(&p->out);
	}
	if (p->err.wsi) {
		drain(p, &p->err);
		server_close_fd(&p->err);
	}
	finish(p);
}

/* --- the loop's events ----------------------------------------------------------------- */

static void stdin_rearm(lws_sorted_usec_list_t *sul)
{
	struct process *p = lws_container_of(sul, struct process, rearm);
	struct fdref *ref = stdin_ref(p);

	if (ref->wsi && p->inq)
		lws_callback_on_writable(ref->wsi);
}

int process_fd_event(struct fdref *ref, int reason)
{
	struct process *p = ref->p;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (ref->kind == FD_STDIN)
			return 0;
		return read_chunk(p, ref) < 0 ? -1 : 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		switch (stdin_flush(p)) {
		case 1:
			/* lws clears a raw descriptor's POLLOUT after this callback,
			 * undoing a request made in it: ask again from a timer. */
			lws_sul_schedule(vmd.ctx, 0, &p->rearm, stdin_rearm, 1);
			return 0;
		case -1:
			stdin_done(p, true);
			return ref->kind == FD_STDIN ? -1 : 0;
		default:
			if (p->close_after_flush) {
				stdin_done(p, true);
				return ref->kind == FD_STDIN ? -1 : 0;
			}
			return 0;
		}
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		ref->wsi = NULL;
		if (ref->closing)
			return 0;
		/* lws closes on hang-up even while reading is paused: what the
		 * pipe still holds is read now, before the descriptor goes. */
		if (ref->kind == FD_STDIN) {
			stdin_done(p, true);
			return 0;
		}
		drain(p, ref);
		if (ref->kind == FD_PTY && !p->stdin_closed)
			stdin_done(p, true);
		finish(p);
		return 0;
	default:
		return 0;
	}
}

/* True when the sandbox of helper pid ran out of memory: sandbox-helper leaves its
 * cgroup leaf behind then (sandbox/cgroup.h), with oom_kill counted in
 * memory.events, for vmd to read and remove. Read while the helper is a zombie, so
 * no other helper's sweep can take the leaf first. */
static bool sandbox_oom(pid_t pid)
{
	char path[96], line[128];
	unsigned long long n = 0;
	FILE *f;

	snprintf(path, sizeof path, SANDBOX_CGROUP "/%d/memory.events", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "oom_kill %llu", &n) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof path, SANDBOX_CGROUP "/%d", (int)pid);
	rmdir(path);
	return n > 0;
}

void process_reap(void)
{
	siginfo_t info;
	int status;
	pid_t pid;

	for (;;) {
		struct process *p;

		/* WNOWAIT: a sandbox's leaf is read before its helper's pid is free */
		info.si_pid = 0;
		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || !info.si_pid)
			break;
		pid = info.si_pid;
		for (p = live; p && p->pid != pid; p = p->live_next)
			;
		if (p && p->sandboxed)
			p->oom = sandbox_oom(pid);
		if (waitpid(pid, &status, 0) < 0)
			continue;
		if (!p)
			continue;
		live_unlink(p);
		p->reaped = true;
		p->status = status;
		release_slave(p);
		if (!p->s) {		/* abandoned: nobody to tell */
			process_list_unlink(&vmd.orphans, p);
			process_free(p);
			continue;
		}
		finish(p);
	}
}

/* Signal uid's processes in one list; true when one of them is unreaped. */
static bool kill_in(struct process *list, uid_t uid)
{
	bool any = false;

	for (struct process *p = list; p; p = p->next) {
		if (p->reaped || !p->pid || p->run_uid != uid)
			continue;
		kill(-p->pid, SIGKILL);
		any = true;
	}
	return any;
}

bool process_uid_gone(uid_t uid)
{
	bool any = kill_in(vmd.orphans, uid);

	for (struct session *s = vmd.sessions; s; s = s->next)
		any = kill_in(s->procs, uid) || any;
	return !any;
}

void process_abandon(struct process *p)
{
	if (!p->reaped)
		kill(-p->pid, SIGKILL);
	else if (p->out.wsi || p->err.wsi)
		kill(-p->pid, SIGKILL);	/* grandchildren still holding the pipes */
	inq_clear(p);
	lws_sul_cancel(&p->rearm);
	p->s = NULL;
	release_slave(p);
	server_close_fd(&p->out);
	server_close_fd(&p->err);
	server_close_fd(&p->in);
	if (p->grace_armed) {
		lws_sul_cancel(&p->grace);
		p->grace_armed = false;
	}
	if (p->reaped || !p->pid)
		process_free(p);
	else
		process_list_link(&vmd.orphans, p);
}

void process_free(struct process *p)
{
	if (p->grace_armed)
		lws_sul_cancel(&p->grace);
	if (!p->reaped && p->pid)
		live_unlink(p);
	release_slave(p);
	inq_clear(p);
	lws_sul_cancel(&p->rearm);
	cJSON_Delete(p->id);
	cJSON_free(p->id_json);
	free(p);
}

/* --- signals ----------------------------------------------------------------------------- */

int process_signals_init(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd;
}
