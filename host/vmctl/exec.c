/* exec.c - vmctl exec: run one command in a sandbox as if it ran here.
 *
 * Standard input is forwarded (its end included, so `echo hi | vmctl exec P -- cat`
 * ends), stdout and stderr go to their own streams byte for byte, the exit code comes
 * back (128 + N for a signal N), and SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on
 * to the command. With --tty the command gets a terminal of this terminal's size,
 * this terminal goes raw for the duration, and window size changes follow.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "proto.h"
#include "state.h"
#include "text.h"

#define CONNECT_TIMEOUT_MS 10000
#define SPAWN_ID 1		/* the spawn's id: its output and exit carry it */
#define CONTROL_ID 2		/* stdin, close_stdin, kill and resize */

struct exec {
	struct client *c;
	const struct vmctl_args *a;
	char handle[64];	/* from "spawned" */
	bool spawned, exited, input_done;
	int code;		/* the command's exit code */
	char error[400];	/* vmd's reason when the spawn failed, escaped */
	struct msg fail;	/* a failure of our own, to report after the loop */
	bool failed;
};

static volatile sig_atomic_t pending_signal, pending_winch;
static struct client *live_client;
static struct termios saved_tty;
static bool tty_raw;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		pending_winch = 1;
	else
		pending_signal = sig;
	if (live_client)
		client_wake(live_client);
}

static void restore_tty(void)
{
	if (tty_raw) {
		tcsetattr(0, TCSAFLUSH, &saved_tty);
		tty_raw = false;
	}
}


/* buf and len come from a proto_frame_*() call made before this one: C leaves the
 * order of argument evaluation open, so the length is never read in the same call. */
static void send_frame(struct exec *e, uint8_t *buf, size_t len)
{
	if (!e->failed && client_send(e->c, buf, len, &e->fail) < 0) {
		e->failed = true;
		client_stop(e->c);
	}
}

/* {"id":2,"handle":H,...} with one more field, framed. */
static void send_control(struct exec *e, uint8_t type, const char *key, int value,
			 const char *key2, int value2)
{
	cJSON *o = cJSON_CreateObject();
	uint8_t *buf;
	size_t len = 0;

	if (!o)
		return;
	cJSON_AddNumberToObject(o, "id", CONTROL_ID);
	cJSON_AddStringToObject(o, "handle", e->handle);
	if (key)
		cJSON_AddNumberToObject(o, key, value);
	if (key2)
		cJSON_AddNumberToObject(o, key2, value2);
	buf = proto_frame_json(type, o, LWS_PRE, &len);
	send_frame(e, buf, len);
	cJSON_Delete(o);
}

static void window_size(unsigned short *rows, unsigned short *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

static void on_frame(struct client *c, const uint8_t *msg, size_t len, void *user)
{
	struct exec *e = user;
	struct proto_reply r;
	struct proto_error pe;

	if (proto_reply_decode(msg, len, &r, &pe) < 0) {
		fail(&e->fail, "the sandbox sent a message vmctl cannot read: %s", pe.message);
		e->failed = true;
		proto_reply_free(&r);
		client_stop(c);
		return;
	}
	switch (r.type) {
	case PROTO_SPAWNED:
		snprintf(e->handle, sizeof e->handle, "%s", r.handle);
		e->spawned = true;
		if (client_adopt_input(c, 0, &e->fail) < 0) {
			e->failed = true;
			client_stop(c);
		}
		break;
	case PROTO_STDOUT:
	case PROTO_STDERR:
		/* A closed stdout (vmctl ... | head) drops the rest, as a local command
		 * would get SIGPIPE; the command still runs to its end. */
		write_all(r.type == PROTO_STDOUT ? 1 : 2, r.data, r.data_len);
		break;
	case PROTO_EXIT:
		e->exited = true;
		e->code = r.code;
		client_stop(c);
		break;
	case PROTO_ERROR:
		if (!e->spawned) {
			text_safe(e->error, sizeof e->error, r.message);
			client_stop(c);
		} else if (r.code != PROTO_E_EXITED) {
			char why[400];

			/* stdin to a process that closed it is not worth a word */
			warn("the sandbox said: %s", r.message ? text_safe(why, sizeof why, r.message)
							       : "(no reason)");
		}
		break;
	default:
		break;
	}
	proto_reply_free(&r);
}

static void on_input(struct client *c, const uint8_t *data, size_t len, void *user)
{
	struct exec *e = user;
	uint8_t *buf;
	size_t flen = 0;

	(void)c;
	if (e->exited || e->input_done)
		return;
	if (len == 0) {
		e->input_done = true;
		send_control(e, PROTO_CLOSE_STDIN, NULL, 0, NULL, 0);
		return;
	}
	buf = proto_frame_data(PROTO_STDIN, "2", e->handle, data, len, LWS_PRE, &flen);
	send_frame(e, buf, flen);
}

static void on_wake(struct client *c, void *user)
{
	struct exec *e = user;
	int sig = pending_signal;

	(void)c;
	pending_signal = 0;
	if (sig && e->spawned && !e->exited)
		send_control(e, PROTO_KILL, "signal", sig, NULL, 0);
	if (pending_winch && e->spawned && !e->exited && e->a->tty) {
		unsigned short rows, cols;

		pending_winch = 0;
		window_size(&rows, &cols);
		send_control(e, PROTO_RESIZE, "rows", rows, "cols", cols);
	}
}

static uint8_t *spawn_frame(const struct vmctl_args *a, bool pty, size_t *len)
{
	cJSON *o = cJSON_CreateObject(), *args, *env;
	uint8_t *buf = NULL;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", SPAWN_ID);
	cJSON_AddStringToObject(o, "command", a->argv[0]);
	args = cJSON_AddArrayToObject(o, "args");
	for (int i = 1; args && i < a->argc; i++)
		cJSON_AddItemToArray(args, cJSON_CreateString(a->argv[i]));
	if (a->nenv) {
		env = cJSON_AddObjectToObject(o, "env");
		for (int i = 0; env && i < a->nenv; i++) {
			char name[256];
			const char *eq = strchr(a->env[i], '=');

			snprintf(name, sizeof name, "%.*s", (int)(eq - a->env[i]), a->env[i]);
			cJSON_AddStringToObject(env, name, eq + 1);
		}
	}
	if (a->cwd)
		cJSON_AddStringToObject(o, "cwd", a->cwd);
	if (a->has_uid)
		cJSON_AddNumberToObject(o, "uid", a->uid);
	if (pty) {
		cJSON *p = cJSON_AddObjectToObject(o, "pty");
		unsigned short rows, cols;

		window_size(&rows, &cols);
		cJSON_AddNumberToObject(p, "rows", rows);
		cJSON_AddNumberToObject(p, "cols", cols);
	}
	cJSON_AddBoolToObject(o, "raw", a->raw);
	buf = proto_frame_json(PROTO_SPAWN, o, LWS_PRE, len);
	cJSON_Delete(o);
	return buf;
}

int cmd_exec(const struct vmctl_args *a, struct msg *m)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
	struct exec e = { .a = a };
	struct client_hooks hooks = { .frame = on_frame, .input = on_input, .wake = on_wake,
				      .user = &e };
	char dir[PATH_MAX];
	struct vm_state s;
	struct sigaction sa;
	bool pty = a->tty && isatty(0);
	uint8_t *buf;
	size_t len = 0;
	int rc;

	if (state_dir(dir, sizeof dir, m) < 0 || state_load(dir, a->port, &s, m) < 0)
		return -1;
	if (!state_alive(&s))
		return fail(m, "the sandbox on port %u is not running any more (vmctl stop %u "
			    "clears it).", a->port, a->port);
	e.c = client_open(a->port, s.secret, CONNECT_TIMEOUT_MS, &hooks, m);
	if (!e.c)
		return -1;
	live_client = e.c;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaction(forwarded[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pty && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		cfmakeraw(&raw);
		if (tcsetattr(0, TCSAFLUSH, &raw) == 0) {
			tty_raw = true;
			atexit(restore_tty);
		}
	}
	buf = spawn_frame(a, pty, &len);
	if (client_send(e.c, buf, len, m) < 0) {
		restore_tty();
		client_close(e.c);
		return -1;
	}
	rc = client_run(e.c, m);
	restore_tty();
	live_client = NULL;
	client_close(e.c);
	if (e.failed) {
		*m = e.fail;
		return -1;
	}
	if (e.exited)
		return e.code;
	if (*e.error)
		return fail(m, "cannot run %s in the sandbox: %s", a->argv[0], e.error);
	if (rc < 0)
		return -1;
	return fail(m, "the sandbox on port %u closed the connection before %s ended.",
		    a->port, a->argv[0]);
}
