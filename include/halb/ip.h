/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One address type for both families.  IPv4 addresses are held as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) so that flow keys, configuration and
 * lookups handle both families with the same 16 bytes.  All bytes are in
 * network order.
 */
#ifndef HALB_IP_H
#define HALB_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct halb_ip {
	uint8_t b[16];
};

#define HALB_IP_STRLEN 46 /* INET6_ADDRSTRLEN */

static inline bool
halb_ip_is_v4(const struct halb_ip *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->b, pfx, sizeof(pfx)) == 0;
}

/* v4 is in network order, as it sits in an IPv4 header. */
static inline void
halb_ip_from_v4(struct halb_ip *a, uint32_t v4)
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(&a->b[12], &v4, 4);
}

static inline uint32_t
halb_ip_v4(const struct halb_ip *a)
{
	uint32_t v4;

	memcpy(&v4, &a->b[12], 4);
	return v4;
}

static inline bool
halb_ip_eq(const struct halb_ip *a, const struct halb_ip *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

static inline bool
halb_ip_is_zero(const struct halb_ip *a)
{
	static const struct halb_ip zero;

	return memcmp(a->b, zero.b, 16) == 0;
}

/*
 * Parses "a.b.c.d" or an IPv6 literal.  Returns 0, or -EINVAL.
 */
int halb_ip_parse(const char *s, struct halb_ip *out);

/*
 * Parses "addr/len"; len must fit the family (0-32 for IPv4, 0-128 for
 * IPv6).  Returns 0, or -EINVAL.  *plen is the prefix length in the
 * address's own family (not the mapped 128-bit form).
 */
int halb_prefix_parse(const char *s, struct halb_ip *out, uint8_t *plen);

/* Whether a lies in net/plen; families must match. */
bool halb_ip_in_prefix(const struct halb_ip *a, const struct halb_ip *net,
		       uint8_t plen);

/* Formats into buf (at least HALB_IP_STRLEN bytes); returns buf. */
const char *halb_ip_fmt(const struct halb_ip *a, char *buf, size_t len);

/* Parses "aa:bb:cc:dd:ee:ff".  Returns 0, or -EINVAL. */
int halb_mac_parse(const char *s, uint8_t mac[6]);

#endif
