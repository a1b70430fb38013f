/* launch.c - see launch.h. */
#include "launch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing NULL-terminated array of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
	bool oom;
};

static void strv_push(struct strv *s, char *str)
{
	if (!str || s->oom) {
		s->oom = true;
		free(str);
		return;
	}
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof *v);

		if (!v) {
			s->oom = true;
			free(str);
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void strv_pushf(struct strv *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void strv_pushf(struct strv *s, const char *fmt, ...)
{
	char *str = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0)
		str = NULL;
	va_end(ap);
	strv_push(s, str);
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Set NAME=value, replacing an earlier NAME so the request's env wins. */
static void env_set(struct strv *e, const char *name, const char *value)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=') {
			char *str = NULL;

			if (asprintf(&str, "%s=%s", name, value) < 0) {
				e->oom = true;
				return;
			}
			free(e->v[i]);
			e->v[i] = str;
			return;
		}
	}
	strv_pushf(e, "%s=%s", name, value);
}

/* "http://ADDR:PORT", or "" for a VM without egress. */
static char proxy_url[64];

int launch_set_proxy(const char *addr_port)
{
	if (!*addr_port) {
		proxy_url[0] = '\0';
		return 0;
	}
	if ((size_t)snprintf(proxy_url, sizeof proxy_url, "http://%s", addr_port) >=
	    sizeof proxy_url) {
		proxy_url[0] = '\0';
		return -1;
	}
	return 0;
}

int launch_build(const struct proto_request *req, const char *sandbox, const char *home,
		 const char *shares, struct launch *l, struct msg *m)
{
	struct strv a = { 0 }, e = { 0 };
	const cJSON *item;
	bool root;
	/* A VM with egress (vmctl start --internet or --allow) has an HTTP proxy on the
	 * host, which the VM's identity names: sandboxed commands share the guest's
	 * network to reach it (off the VM nothing else is reachable there, and in it only
	 * vmd's port, which wants the secret), and every command is told. */
	const char *proxy = proxy_url[0] ? proxy_url : NULL;

	memset(l, 0, sizeof *l);
	l->sandboxed = sandbox && !req->raw;
	/* The sandbox never runs a command as root: that is what raw mode is for. */
	if (l->sandboxed && ((req->has_uid && req->uid == 0) || (req->has_gid && req->gid == 0))) {
		l->bad_params = true;
		return fail(m, "uid and gid 0 run only in raw mode (\"raw\": true).");
	}
	if (l->sandboxed) {
		strv_push(&a, strdup(sandbox));
		if (req->has_uid) {
			strv_push(&a, strdup("--uid"));
			strv_pushf(&a, "%u", req->uid);
		}
		if (req->has_gid) {
			strv_push(&a, strdup("--gid"));
			strv_pushf(&a, "%u", req->gid);
		}
		if (req->network || proxy)
			strv_push(&a, strdup("--network"));
		if (home) {
			strv_push(&a, strdup("--bind"));
			strv_pushf(&a, "%s:%s", home, home);
		}
		if (shares) {
			strv_push(&a, strdup("--bind"));
			strv_pushf(&a, "%s:%s", shares, shares);
		}
		if (req->cwd || home) {
			strv_push(&a, strdup("--cwd"));
			strv_push(&a, strdup(req->cwd ? req->cwd : home));
		}
		strv_push(&a, strdup("--"));
		root = false;	/* the helper's identity is never root */
		l->tty_uid = req->has_uid ? req->uid : LAUNCH_SANDBOX_ID;
		l->tty_gid = req->has_gid ? req->gid : req->has_uid ? req->uid : LAUNCH_SANDBOX_ID;
	} else {
		l->cwd = req->cwd ? req->cwd : home;
		l->set_uid = req->has_uid;
		l->uid = req->uid;
		/* a uid alone also sets the group of the same number, as most images
		 * pair them; a gid alone changes only the group */
		l->set_gid = req->has_gid || req->has_uid;
		l->gid = req->has_gid ? req->gid : req->uid;
		root = !req->has_uid || req->uid == 0;
		l->tty_uid = l->set_uid ? l->uid : 0;
		l->tty_gid = l->set_gid ? l->gid : 0;
	}
	strv_push(&a, strdup(req->command));
	cJSON_ArrayForEach(item, req->args)
		strv_push(&a, strdup(item->valuestring));

	env_set(&e, "PATH", LAUNCH_PATH);
	env_set(&e, "HOME", home ? home : root ? "/root" : "/tmp");
	if (req->pty)
		env_set(&e, "TERM", "xterm-256color");
	if (proxy) {
		env_set(&e, "http_proxy", proxy);
		env_set(&e, "https_proxy", proxy);
		env_set(&e, "HTTP_PROXY", proxy);
		env_set(&e, "HTTPS_PROXY", proxy);
		env_set(&e, "no_proxy", "localhost,127.0.0.1,::1");
	}
	cJSON_ArrayForEach(item, req->env)
		env_set(&e, item->string, item->valuestring);

	if (a.oom || e.oom || !a.v || !e.v) {
		strv_free(a.v);
		strv_free(e.v);
		return fail(m, "out of memory building the command line.");
	}
	l->argv = a.v;
	l->envp = e.v;
	return 0;
}

void launch_free(struct launch *l)
{
	strv_free(l->argv);
	strv_free(l->envp);
	memset(l, 0, sizeof *l);
}
