/* CRC-32 as gzip and zlib define it (polynomial 0x04C11DB7, reflected, pre- and
 * post-inverted): wp_crc32(crc, p, n) equals zlib's crc32(crc, p, n). On x86-64 processors
 * with carry-less multiplication, long buffers are folded 64 bytes at a time. */
#ifndef WP_COMMON_CRC32_H
#define WP_COMMON_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t wp_crc32(uint32_t crc, const void *data, size_t len);

#endif
