/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host's load as /proc shows it (ag.h).  The parsers take the text,
 * so the tests feed them fixed samples; ag_read_text() fetches it.
 *
 * CPU: the first line of /proc/stat, "cpu  user nice system idle iowait
 * irq softirq steal guest guest_nice" in jiffies; busy is everything but
 * idle and iowait (guest time is already inside user and nice).
 * Memory: MemTotal and MemAvailable of /proc/meminfo.  Connections:
 * /proc/net/tcp and tcp6 lines "sl local rem st ...", local as
 * ADDRESS:PORT in hex, st 01 for ESTABLISHED.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag.h"

int
ag_parse_stat(const char *text, struct ag_cpu *out)
{
	unsigned long long v[10] = { 0 };
	const char *p = text;
	char *end;
	int i;

	if (strncmp(p, "cpu ", 4) != 0)
		return -EINVAL;
	p += 4;
	for (i = 0; i < 10; i++) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		v[i] = strtoull(p, &end, 10);
		p = end;
	}
	if (i < 4)  /* user nice system idle at least */
		return -EINVAL;
	out->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	out->busy = out->total - v[3] - v[4];
	return 0;
}

uint32_t
ag_cpu_permille(const struct ag_cpu *prev, const struct ag_cpu *cur)
{
	uint64_t dt, db;

	if (cur->total <= prev->total || cur->busy < prev->busy)
		return 0;
	dt = cur->total - prev->total;
	db = cur->busy - prev->busy;
	if (db > dt)
		db = dt;
	return (uint32_t)((db * 1000 + dt / 2) / dt);
}

/* The value in kB of "key:" at the start of a line of text. */
static int
meminfo_value(const char *text, const char *key, uint64_t *out)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			char *end;

			*out = strtoull(p + n + 1, &end, 10);
			return end == p + n + 1 ? -EINVAL : 0;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -EINVAL;
}

int
ag_parse_meminfo(const char *text, uint32_t *permille)
{
	uint64_t total, avail;

	if (meminfo_value(text, "MemTotal", &total) != 0 ||
	    meminfo_value(text, "MemAvailable", &avail) != 0 || total == 0)
		return -EINVAL;
	if (avail > total)
		avail = total;
	*permille = (uint32_t)(((total - avail) * 1000 + total / 2) / total);
	return 0;
}

int
ag_count_established(const char *text, const uint16_t *ports, size_t n)
{
	const char *p = text;
	int count = 0;
	size_t i;

	while (*p == ' ')
		p++;
	if (strncmp(p, "sl", 2) != 0)
		return -EINVAL;
	p = strchr(p, '\n');
	while (p != NULL && *++p != '\0') {
		unsigned int port, st;
		const char *colon, *local;
		char *end;

		/* "  0: 0100007F:1F90 0100007F:C2A4 01 ..." */
		local = strchr(p, ':');
		if (local == NULL)
			break;
		local++;
		while (*local == ' ')
			local++;
		colon = strchr(local, ':');
		if (colon == NULL)
			break;
		port = (unsigned int)strtoul(colon + 1, &end, 16);
		/* remote address:port, then the state */
		while (*end == ' ')
			end++;
		end = strchr(end, ' ');
		if (end == NULL)
			break;
		st = (unsigned int)strtoul(end, NULL, 16);
		if (st == 1)
			for (i = 0; i < n; i++)
				if (ports[i] == port) {
					count++;
					break;
				}
		p = strchr(p, '\n');
	}
	return count;
}

ssize_t
ag_read_text(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < cap - 1) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}
