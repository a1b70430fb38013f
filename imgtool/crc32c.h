/* crc32c.h - CRC-32C (Castagnoli), the checksum of VHDX headers and region tables.
 *
 * The reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF (RFC
 * 3720, appendix B.4): crc32c("123456789") is 0xE3069283.
 */
#ifndef IMGTOOL_CRC32C_H
#define IMGTOOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over len bytes at p. */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

#endif
