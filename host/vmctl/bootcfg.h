/* bootcfg.h - how vmctl boots a guest: the accelerator and the kernel command line.
 *
 * The built guest ships its command line in a file beside the kernel (guest/cmdline,
 * joined by build-image): comment lines start with '#', the words of every other
 * line are joined with single spaces. A user's own kernel gets a plain serial
 * console line instead. Under KVM the word mitigations=off is dropped: the guest's
 * code then runs on the real CPU, whose speculation the mitigations guard against;
 * under TCG nothing runs speculatively and they only cost boot time.
 */
#ifndef VMCTL_BOOTCFG_H
#define VMCTL_BOOTCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* For a kernel that does not come with its own command line. */
#define BOOTCFG_DEFAULT_CMDLINE "console=ttyS0 quiet panic=-1"
#define BOOTCFG_CMDLINE_MAX 2048

/* Can KVM work here? /dev/kvm read-write and the CPU offers vmx or svm (a nested
 * guest without them fails with "KVM internal error"). cpuinfo: /proc/cpuinfo's text. */
bool bootcfg_kvm_usable(const char *cpuinfo, bool dev_kvm_rw);

/* The command line from the text of a cmdline file, into out (at most size bytes with
 * the NUL); with kvm, without mitigations=off. -1 and a sentence when it is empty or
 * too long. */
int bootcfg_cmdline(const char *text, bool kvm, char *out, size_t size, struct msg *m);

#endif
