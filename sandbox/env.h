/* env.h - the command's environment.
 *
 * The caller's environment, as it is: the caller (vmd) builds it for the command,
 * from the request. Each --env NAME=VALUE replaces NAME or adds it, after the
 * caller's entries. With no PATH at all, the command gets ENV_PATH rather than
 * whatever execvp would guess.
 */
#ifndef SANDBOX_ENV_H
#define SANDBOX_ENV_H

#include "cli.h"

#define ENV_PATH	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * The command's environment, NULL-terminated, in an array from malloc (NULL if
 * there is no memory). The strings are not copied: they are envp's entries, the
 * --env arguments and ENV_PATH.
 */
const char **env_build(const struct cli *c, char **envp);

#endif
