/* SPDX-License-Identifier: BSD-3-Clause */
/* The bare receive-and-transmit loop of halb-bench-gen (bare.c). */
#ifndef HALB_BENCH_BARE_H
#define HALB_BENCH_BARE_H

#include <stdbool.h>
#include <stdint.h>

/* Registers /bench/bare on the telemetry socket.  Returns 0 or -errno. */
int bare_telemetry_init(void);

/* Reflects frames on queue 0 of port until *quit; a memif server starts
 * polling before its client connects. */
void bare_loop(uint16_t port, const volatile bool *quit);

#endif
