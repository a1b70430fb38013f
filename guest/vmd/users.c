/* users.c - the users a client creates with session_create ("sessions" in the
 * protocol; vmd's connection objects in session.c are something else).
 *
 * A user is a uid, a name and a home HOME_ROOT/NAME (0700, uid:uid). Users belong
 * to vmd, not to the connection that made them: a client may reconnect and find
 * its user, and session_destroy from any connection ends it. The default sandbox
 * user (LAUNCH_SANDBOX_ID) needs no session: its home HOME_ROOT/sandbox is made at
 * start.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"

struct user {
	struct user *next;
	uid_t uid;
	char name[33];
	char *home;
};

static struct user *users;
static char *sandbox_home;

/* Make (or adopt) dir as a home: a real directory, not a link, 0700, owned by
 * uid:uid. An existing one is kept with its files: a user created again finds
 * what it left when its session ended without delete_home. */
static int make_home(const char *dir, uid_t uid)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || fchown(fd, uid, uid) < 0 || fchmod(fd, 0700) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void users_init(void)
{
	if (asprintf(&sandbox_home, "%s/%s", vmd.home_root, SANDBOX_HOME_NAME) < 0) {
		sandbox_home = NULL;
		return;
	}
	/* The folder of homes may not exist yet (a bare initramfs has no /home). */
	if (mkdir(vmd.home_root, 0755) < 0 && errno != EEXIST)
		warn("cannot make the folder of homes %s: %s.", vmd.home_root, strerror(errno));
	if (make_home(sandbox_home, LAUNCH_SANDBOX_ID) < 0) {
		/* Without it, spawns run as before (HOME=/tmp), rather than all failing
		 * on a bind of a folder that is not there. */
		warn("cannot make the sandbox user's home %s: %s.", sandbox_home,
		     strerror(errno));
		free(sandbox_home);
		sandbox_home = NULL;
	}
}

static struct user *find_uid(uid_t uid)
{
	struct user *u;

	for (u = users; u && u->uid != uid; u = u->next)
		;
	return u;
}

const char *users_session_home(uid_t uid)
{
	struct user *u = find_uid(uid);

	return u ? u->home : NULL;
}

const char *users_home(uid_t uid)
{
	const char *h = users_session_home(uid);

	return h ? h : uid == LAUNCH_SANDBOX_ID ? sandbox_home : NULL;
}

void users_create(struct session *s, const struct proto_request *req)
{
	char name[33];
	struct user *u;
	cJSON *o;

	if (req->username)
		snprintf(name, sizeof name, "%s", req->username);
	else
		snprintf(name, sizeof name, "u%u", req->uid);
	if (find_uid(req->uid))
		return session_send_error(s, req->id, PROTO_E_PARAMS,
					  "session_create: uid %u already has a session.",
					  req->uid);
	for (u = users; u; u = u->next)
		if (!strcmp(u->name, name))
			return session_send_error(s, req->id, PROTO_E_PARAMS,
						  "session_create: the username \"%s\" is "
						  "already taken by uid %u.", name, u->uid);
	if (!strcmp(name, SANDBOX_HOME_NAME))
		return session_send_error(s, req->id, PROTO_E_PARAMS,
					  "session_create: the username \"%s\" is reserved "
					  "for the default sandbox user.", name);
	u = calloc(1, sizeof *u);
	if (!u || asprintf(&u->home, "%s/%s", vmd.home_root, name) < 0) {
		free(u);
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	}
	if (make_home(u->home, req->uid) < 0) {
		session_send_error(s, req->id, PROTO_E_INTERNAL,
				   "cannot make the home %s: %s.", u->home, strerror(errno));
		free(u->home);
		free(u);
		return;
	}
	u->uid = req->uid;
	snprintf(u->name, sizeof u->name, "%s", name);
	u->next = users;
	users = u;
	o = proto_object(req->id);
	if (o && (!cJSON_AddNumberToObject(o, "uid", u->uid) ||
		  !cJSON_AddStringToObject(o, "username", u->name) ||
		  !cJSON_AddStringToObject(o, "home", u->home))) {
		cJSON_Delete(o);
		o = NULL;
	}
	session_send_json(s, PROTO_OK, o);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

void users_destroy(struct session *s, const struct proto_request *req)
{
	struct user **pu, *u;

	for (pu = &users; *pu && (*pu)->uid != req->uid; pu = &(*pu)->next)
		;
	u = *pu;
	if (!u)
		return session_send_error(s, req->id, PROTO_E_PARAMS,
					  "session_destroy: uid %u has no session.", req->uid);
	if (!process_kill_uid(u->uid))
		return session_send_error(s, req->id, PROTO_E_INTERNAL,
					  "session_destroy: processes of uid %u are still "
					  "running after SIGKILL; the session is kept.",
					  u->uid);
	/* FTW_PHYS: a link in the home is removed, never followed out of it; FTW_MOUNT:
	 * nothing mounted inside it is emptied */
	if (req->delete_home &&
	    nftw(u->home, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 &&
	    errno != ENOENT)
		return session_send_error(s, req->id, PROTO_E_INTERNAL,
					  "session_destroy: cannot remove the home %s: %s; "
					  "the session is kept.", u->home, strerror(errno));
	*pu = u->next;
	free(u->home);
	free(u);
	send_ok(s, req->id);
}
