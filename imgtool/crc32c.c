/* crc32c.c - see crc32c.h. Table-driven, a byte at a time: VHDX checksums cover a few
 * 4 KiB headers and 64 KiB tables, never the data. */
#include "crc32c.h"

#include <stdbool.h>

static uint32_t table[256];
static bool table_ready;

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
	table_ready = true;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (!table_ready)
		make_table();
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *b++) & 0xFF] ^ crc >> 8;
	return ~crc;
}
