/* users.c - the users a client creates with session_create ("sessions" in the
 * protocol; vmd's connection objects in session.c are something else).
 *
 * A user is a uid, a name and a home HOME_ROOT/NAME (0700, uid:uid). Users belong
 * to vmd, not to the connection that made them: a client may reconnect and find
 * its user, and session_destroy from any connection ends it. The default sandbox
 * user (LAUNCH_SANDBOX_ID) needs no session: its home HOME_ROOT/sandbox is made at
 * start.
 *
 * session_destroy answers only once the user's processes are gone (their home may
 * be removed next), without holding up the loop: SIGKILL, then a check every 10 ms
 * for at most 2 s. Meanwhile the user takes no new commands.
 */
#include "session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

#define DESTROY_TICK_US (10 * LWS_US_PER_MS)
#define DESTROY_TICKS 200	/* 2 s */

struct user {
	struct user *next;
	uid_t uid;
	char name[33];
	char *home;
	/* session_destroy under way */
	bool dying, delete_home;
	int ticks;
	struct session *asker;	/* NULL once that connection closed */
	cJSON *asker_id;
	lws_sorted_usec_list_t sul;
};

static struct user *users;
static char *sandbox_home;

/* The folder of homes, not through a link. */
static int open_home_root(void)
{
	return open(vmd.home_root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Make (or adopt) HOME_ROOT/name as uid's home: a real directory, not a link, 0700,
 * owned by uid:uid. An existing one is kept with its files when it is uid's: a user
 * created again finds what it left when its session ended without delete_home. One
 * that belongs to another uid is left alone and 1 returned, its owner in *owner: a
 * home serves one uid, and a new uid under an old name must not get the old one's
 * files. -1 with errno on failure. */
static int make_home(const char *name, uid_t uid, uid_t *owner)
{
	int root = open_home_root(), fd, saved, rc = 0;
	struct stat st;
	bool made;

	if (root < 0)
		return -1;
	made = mkdirat(root, name, 0700) == 0;
	fd = made || errno == EEXIST ? openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -1;
	} else if (!made && st.st_uid != uid) {
		*owner = st.st_uid;
		rc = 1;
	} else if (fchown(fd, uid, uid) < 0 || fchmod(fd, 0700) < 0) {
		rc = -1;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	close(root);
	errno = saved;
	return rc;
}

void users_init(void)
{
	uid_t owner;
	int r;

	if (asprintf(&sandbox_home, "%s/%s", vmd.home_root, SANDBOX_HOME_NAME) < 0) {
		sandbox_home = NULL;
		return;
	}
	/* The folder of homes may not exist yet (a bare initramfs has no /home). */
	if (mkdir(vmd.home_root, 0755) < 0 && errno != EEXIST)
		warn("cannot make the folder of homes %s: %s.", vmd.home_root, strerror(errno));
	r = make_home(SANDBOX_HOME_NAME, LAUNCH_SANDBOX_ID, &owner);
	if (r) {
		/* Without it, spawns run as before (HOME=/tmp), rather than all failing
		 * on a bind of a folder that is not there. */
		if (r > 0)
			warn("the sandbox user's home %s belongs to uid %u; going without it.",
			     sandbox_home, owner);
		else
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
	uid_t owner;
	cJSON *o;
	int r;

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
	r = make_home(name, req->uid, &owner);
	if (r) {
		if (r > 0)
			session_send_error(s, req->id, PROTO_E_PARAMS, "session_create: the home "
					   "%s belongs to uid %u; choose another username, or "
					   "remove it by creating uid %u's session again and "
					   "destroying it with delete_home.", u->home, owner, owner);
		else
			session_send_error(s, req->id, PROTO_E_INTERNAL,
					   "cannot make the home %s: %s.", u->home,
					   strerror(errno));
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

/* Folders nested deeper than this in a home are not removed: each level holds a
 * descriptor while it is emptied. */
#define REMOVE_DEPTH_MAX 128

static int mount_id(int fd, uint64_t *id)
{
	struct statx st;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) < 0)
		return -1;
	*id = st.stx_mnt_id;
	return 0;
}

/* Empty the folder dir, a descriptor vmd holds (closed here): every entry is removed
 * by its name in dir, and a folder is emptied first through a descriptor opened with
 * O_NOFOLLOW. So a link, planted or swapped in for a folder meanwhile, is removed
 * and never followed, and no path is looked up twice. A folder on another mount
 * (mnt, the home's mount id, differs) is not entered: EBUSY. */
static int empty_dir(int dir, uint64_t mnt, int depth)
{
	DIR *d = fdopendir(dir);
	struct dirent *e;
	int rc = 0, saved;

	if (!d) {
		close(dir);
		return -1;
	}
	while (!rc && (e = readdir(d))) {
		uint64_t id;
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* Linux refuses unlink of a folder with EISDIR */
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR || depth >= REMOVE_DEPTH_MAX) {
			if (errno == EISDIR)
				errno = ELOOP;
			rc = -1;
			break;
		}
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = errno == ENOENT ? 0 : -1;
			continue;
		}
		if (mount_id(sub, &id) < 0 || id != mnt) {
			close(sub);
			errno = EBUSY;
			rc = -1;
			break;
		}
		if (empty_dir(sub, mnt, depth + 1) < 0 ||
		    (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT))
			rc = -1;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

/* Remove u's home: opened by its name in the folder of homes without following a
 * link, emptied through that descriptor, then removed by name. 0 when it is gone. */
static int remove_home(const struct user *u)
{
	int root = open_home_root(), fd, rc = -1, saved;
	uint64_t mnt;

	if (root < 0)
		return -1;
	fd = openat(root, u->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? 0 : -1;
	} else if (mount_id(fd, &mnt) < 0) {
		close(fd);
	} else if (empty_dir(fd, mnt, 0) == 0) {
		rc = unlinkat(root, u->name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
	}
	saved = errno;
	close(root);
	errno = saved;
	return rc;
}

bool users_dying(uid_t uid)
{
	struct user *u = find_uid(uid);

	return u && u->dying;
}

/* Every process of uid, wherever it went (a new session, a double fork), gets
 * SIGKILL: kill(-1) from a child that is uid. Only where vmd owns the session uids
 * (--own-uids, the guest): on a host, uid 1000 may be a person's. */
static void kill_every_process_of(uid_t uid)
{
	pid_t pid;

	if (!vmd.own_uids)
		return;
	pid = fork();
	if (pid == 0) {
		if (setresgid(uid, uid, uid) == 0 && setresuid(uid, uid, uid) == 0)
			kill(-1, SIGKILL);
		_exit(0);
	}
	/* reaped here, before the loop's own reaper sees it */
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The answer to the asker, if it is still connected: ok when code is 0, else an
 * error with the sentence. */
static void reply(struct user *u, int code, const char *text)
{
	if (u->asker && code)
		session_send_error(u->asker, u->asker_id, code, "%s", text);
	else if (u->asker)
		send_ok(u->asker, u->asker_id);
	cJSON_Delete(u->asker_id);
	u->asker_id = NULL;
	u->asker = NULL;
}

/* The processes are gone: remove the home if asked, then the user. */
static void destroy_finish(struct user *u)
{
	struct user **pu;

	if (u->delete_home && remove_home(u) < 0) {
		char text[512];

		snprintf(text, sizeof text, "session_destroy: cannot remove the home %s: %s; "
			 "the session is kept.", u->home, strerror(errno));
		reply(u, PROTO_E_INTERNAL, text);
		u->dying = false;
		return;
	}
	for (pu = &users; *pu != u; pu = &(*pu)->next)
		;
	*pu = u->next;
	reply(u, 0, NULL);
	free(u->home);
	free(u);
}

static void destroy_tick(lws_sorted_usec_list_t *sul)
{
	struct user *u = lws_container_of(sul, struct user, sul);

	process_reap();
	if (process_uid_gone(u->uid))
		return destroy_finish(u);
	if (++u->ticks < DESTROY_TICKS) {
		lws_sul_schedule(vmd.ctx, 0, &u->sul, destroy_tick, DESTROY_TICK_US);
		return;
	}
	char text[200];

	snprintf(text, sizeof text, "session_destroy: processes of uid %u are still running "
		 "2 s after SIGKILL; the session is kept.", u->uid);
	reply(u, PROTO_E_INTERNAL, text);
	u->dying = false;
}

void users_destroy(struct session *s, const struct proto_request *req)
{
	struct user *u = find_uid(req->uid);

	if (!u)
		return session_send_error(s, req->id, PROTO_E_PARAMS,
					  "session_destroy: uid %u has no session.", req->uid);
	if (u->dying)
		return session_send_error(s, req->id, PROTO_E_INTERNAL,
					  "session_destroy: uid %u is being destroyed already.",
					  req->uid);
	u->asker_id = cJSON_Duplicate(req->id, true);
	if (!u->asker_id)
		return session_send_error(s, req->id, PROTO_E_INTERNAL, "out of memory.");
	u->dying = true;
	u->delete_home = req->delete_home;
	u->asker = s;
	u->ticks = 0;
	kill_every_process_of(u->uid);
	if (process_uid_gone(u->uid))
		return destroy_finish(u);
	lws_sul_schedule(vmd.ctx, 0, &u->sul, destroy_tick, DESTROY_TICK_US);
}

void users_session_end(struct session *s)
{
	for (struct user *u = users; u; u = u->next)
		if (u->asker == s) {
			u->asker = NULL;	/* the destroy goes on; nobody hears of it */
			cJSON_Delete(u->asker_id);
			u->asker_id = NULL;
		}
}
