/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Big-endian fields of packet headers, read and written byte by byte so
 * that any alignment works; private to the packet code of src/dp/.
 */
#ifndef HALB_WIRE_H
#define HALB_WIRE_H

#include <stdint.h>

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#endif
