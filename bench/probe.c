/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generator's probes (see probe.h): unix sockets, JSON counters and
 * schedstat (the DUT's telemetry client is libhalb_core's tlm.c).  Used between measuring windows, never per packet.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe.h"

int
probe_unix_connect(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "gen: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	err = errno;
	fprintf(stderr, "gen: cannot reach %s: %s\n", path, strerror(err));
	close(fd);
	return -err;
}

uint64_t
probe_json_u64(const char *reply, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(reply, pat);
	if (p == NULL)
		return 0;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return strtoull(p, NULL, 10);
}

int
probe_sched_read(pid_t pid, pid_t tid, struct probe_sched *s)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	if (n != 2)
		return -EINVAL;
	s->run = run;
	s->wait = wait;
	return 0;
}

pid_t
probe_find_thread(pid_t pid, const char *name)
{
	char path[320], comm[64];
	struct dirent *de;
	pid_t tid = 0;
	DIR *d;

	if (name == NULL)
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while (tid == 0 && (de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, name) == 0)
				tid = (pid_t)atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return tid;
}
