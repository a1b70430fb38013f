/* ident.h - reproducible identity: UUIDs, the VMDK CID and timestamps.
 *
 * The same input must give the same bytes on every machine, so nothing here reads
 * a clock or a random source: UUIDs are derived from the content digest (disk.h),
 * the format and the UUID's role, unless the user gives one with -o uuid=; times
 * come from SOURCE_DATE_EPOCH, or are the fixed epoch of the format.
 */
#ifndef IMGTOOL_IDENT_H
#define IMGTOOL_IDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "options.h"
#include "util.h"

/* Bytes in RFC 4122 order (the text form, read left to right). */
struct uuid {
	uint8_t b[16];
};

/* A version-4-shaped UUID derived from sum, the format name and a role such as
 * "create" or "modify", so each UUID of an image differs and no two images share one. */
struct uuid uuid_derive(const struct digest *sum, const char *format, const char *role);
/* 32 bits derived the same way (the VMDK CID). */
uint32_t ident_u32(const struct digest *sum, const char *format, const char *role);
/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case). */
bool uuid_parse(const char *s, struct uuid *u);
/* The text form, lower case; buf holds 37 bytes. */
void uuid_format(const struct uuid *u, char *buf);
bool uuid_is_null(const struct uuid *u);
/* The Microsoft GUID layout (VDI, VHD): the first three fields little-endian. */
void uuid_to_guid(const struct uuid *u, uint8_t out[16]);
struct uuid uuid_from_guid(const uint8_t in[16]);

/* -o uuid=: the user's UUID when given (and valid), else uuid_derive(sum, format,
 * role). The null UUID is refused: VirtualBox rejects it. */
int uuid_option(const struct opts *o, const struct digest *sum, const char *format,
		const char *role, struct uuid *u, struct msg *m);

/* Seconds since 1970 from SOURCE_DATE_EPOCH; 0 when it is unset. A malformed value
 * is an error rather than a silent 0. */
int source_date_epoch(int64_t *t, struct msg *m);

#endif
