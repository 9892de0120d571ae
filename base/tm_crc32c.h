/* CRC32C, the checksum of every file Tidemark writes (binlogs, index
 * files). */
#ifndef TM_CRC32C_H
#define TM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli, reflected 0x82F63B78) of p, continuing from crc (0 to
 * start): SSE4.2 when the CPU has it, else slice-by-8 tables. */
uint32_t tm_crc32c(uint32_t crc, const void *p, size_t n);
/* The table-driven form, also on machines with SSE4.2 (tests compare). */
uint32_t tm_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
