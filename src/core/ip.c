/* SPDX-License-Identifier: BSD-3-Clause */
/* Address parsing and formatting for struct halb_ip (see halb/ip.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "halb/ip.h"

int
halb_ip_parse(const char *s, struct halb_ip *out)
{
	struct in_addr v4;

	if (s == NULL)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		halb_ip_from_v4(out, v4.s_addr);
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1)
		return 0;
	return -EINVAL;
}

int
halb_prefix_parse(const char *s, struct halb_ip *out, uint8_t *plen)
{
	char buf[64];
	const char *slash;
	char *end;
	unsigned long len;
	size_t n;

	if (s == NULL || (slash = strchr(s, '/')) == NULL)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (halb_ip_parse(buf, out) != 0)
		return -EINVAL;
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || len > (halb_ip_is_v4(out) ? 32u : 128u))
		return -EINVAL;
	*plen = (uint8_t)len;
	return 0;
}

bool
halb_ip_in_prefix(const struct halb_ip *a, const struct halb_ip *net, uint8_t plen)
{
	unsigned int bits, i;

	if (halb_ip_is_v4(a) != halb_ip_is_v4(net))
		return false;
	bits = halb_ip_is_v4(a) ? 96u + plen : plen;
	for (i = 0; i < bits / 8; i++)
		if (a->b[i] != net->b[i])
			return false;
	if (bits % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - bits % 8));

		if ((a->b[i] & m) != (net->b[i] & m))
			return false;
	}
	return true;
}

const char *
halb_ip_fmt(const struct halb_ip *a, char *buf, size_t len)
{
	if (halb_ip_is_v4(a))
		inet_ntop(AF_INET, &a->b[12], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	return buf;
}

int
halb_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int v[6];
	char tail;
	int i;

	if (s == NULL ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}
