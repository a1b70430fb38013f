/* launch.h - finding the guest, and starting QEMU for a sandbox through qemu-boot:
 * as QEMU_USER ("nobody") when vmctl is root, with its log and console kept under
 * their caps by a logger process, the shares idmapped in QEMU's own mount namespace.
 */
#ifndef VMCTL_LAUNCH_H
#define VMCTL_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "state.h"
#include "util.h"

struct vmctl_args;

#define GUEST_PORT 8080		/* vmd's port in the guest */
#define IDENTITY_SIZE 512	/* the fw_cfg item opt/vmd/identity */

/* How QEMU starts: a cold boot (all NULL/false but identity), the boot of a template
 * (its RAM written through to mem_file), or a clone (mem_file mapped copy-on-write,
 * waiting for the template's device state over QMP). */
struct launch_mode {
	const char *identity;	/* the file QEMU gives the guest as opt/vmd/identity */
	const char *mem_file;	/* the guest's RAM, or NULL */
	bool mem_shared;	/* written through (a template), else private (a clone) */
	bool incoming;		/* -incoming defer */
	/* Or a stream to load as soon as QEMU is up (a template's device state, a
	 * paused sandbox's): the QMP commands for it are written before QEMU starts,
	 * into a socket pair that is one of its monitors (no connecting, no round
	 * trips). *ctl gets vmctl's end, where QEMU answers them and says, with the
	 * MIGRATION and RESUME events, when the stream has loaded and the guest runs. */
	const char *state;
	bool state_whole;	/* the stream holds all the RAM (no mem_file) */
	int *ctl;
	const char *disk;	/* the home disk (virtio-blk), or NULL */
	bool balloon;		/* a balloon with free page reporting (never migrated) */
};

/* The guest's kernel and initramfs (s->kernel, s->initrd: the built guest's unless
 * the user gave theirs) and the launcher. */
int find_guest(const struct vmctl_args *a, struct vm_state *s, char *launcher, size_t lsize,
	       struct msg *m);
/* KVM when it can work, else TCG. */
bool use_kvm(void);
/* The kernel command line for the guest of s->kernel. */
int kernel_cmdline(const struct vmctl_args *a, const char *kernel, bool kvm, char *out,
		   size_t size, struct msg *m);
/* 32 random bytes as 64 hex digits. */
int make_secret(char out[SECRET_HEX + 1], struct msg *m);
/* A port nobody listens on now on 127.0.0.1 (someone may take it before QEMU does). */
int free_port(unsigned *port, struct msg *m);
/* Write the identity of the sandbox s (0600, created anew): its secret, fresh entropy,
 * the time now, its hostname, proxy, read-only shares and home; or a template's
 * placeholder, which holds none of it. */
int identity_write(const char *path, const struct vmctl_args *a, const struct vm_state *s,
		   bool placeholder, bool home_disk, struct msg *m);
/* Start QEMU for s in its own session; the pid, or -1 with m. *logger is the logger's
 * pid (or -1). */
pid_t launch(const char *launcher, const struct vmctl_args *a, const struct vm_state *s,
	     const char *dir, const struct launch_mode *mode, pid_t *logger, struct msg *m);
/* Wait a little for the logger of a QEMU that has ended: it has then written all. */
void logger_wait(pid_t logger);
/* The last line QEMU or the launcher logged, escaped, to explain a failure. */
void last_log_line(const char *dir, unsigned port, char *out, size_t size);

#endif
