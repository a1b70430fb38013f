/* pvh-stub.S - the kernel a clone's QEMU is given instead of the guest's.
 *
 * A clone never boots: its memory is its template's, kernel and all. But QEMU builds
 * the machine before it loads the template's devices, and the machine must be the
 * template's: booted as a PVH ELF, with the pvh.bin option ROM in fw_cfg. Given the
 * guest's 65 MB kernel and 15 MB initramfs, QEMU reads and parses both at each clone's
 * start (15 ms of the start under TCG's host) only to drop them. This ELF has what QEMU
 * looks for, the Xen PVH entry note, and an entry that halts; nothing runs it (QEMU is
 * started with -no-reboot, so there is never a reset that would load it).
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* the name's size: "Xen" and its NUL */
	.long 4			/* the descriptor's: a 32-bit address */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long entry

	.text
	.code32
	.globl entry
entry:	hlt
	jmp entry
