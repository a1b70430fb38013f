/* raw.h - raw disks, and boot programs turned into raw disks. */
#ifndef IMGTOOL_RAW_H
#define IMGTOOL_RAW_H

#include <stdbool.h>

#include "disk.h"
#include "util.h"

/* The disk a boot program goes on: 1 MiB, as SeaBIOS wants at least that much before
 * it treats an AHCI or virtio disk as bootable. */
#define BOOT_DISK_SIZE (1u << 20)
#define BOOT_SIGNATURE_OFFSET 510

/* A .bin file as a 1 MiB disk: its bytes, zeros, and 0x55 0xAA at 510. It must be a
 * 256-byte program, or a 512-byte sector that already ends in 0x55AA; with force, any
 * size up to 1 MiB (the signature is added when the program leaves room for it).
 * f passes to the disk, even on failure. */
int boot_program_open(struct infile *f, bool force, struct disk **d, struct msg *m);

#endif
