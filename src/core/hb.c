/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Heartbeat files (include/halb/hb.h): the writer's side creates and maps
 * HALB_RUN_DIR/<instance>/<part>.hb; the reader's side copies it and
 * judges the part.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "halb/hb.h"

uint64_t
halb_hb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
hb_path(const char *instance, const char *part, char *buf, size_t len,
	bool mkdirs)
{
	int n;

	if (mkdirs) {
		if (mkdir(HALB_RUN_DIR, 0755) != 0 && errno != EEXIST)
			return -errno;
		n = snprintf(buf, len, "%s/%s", HALB_RUN_DIR, instance);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
	}
	n = snprintf(buf, len, "%s/%s/%s.hb", HALB_RUN_DIR, instance, part);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

struct halb_hb *
halb_hb_open(const char *instance, const char *part, uint32_t interval_ms)
{
	char path[256];
	struct halb_hb *hb;
	int fd, rc;

	rc = hb_path(instance, part, path, sizeof(path), true);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, sizeof(*hb)) != 0) {
		rc = errno;
		close(fd);
		errno = rc;
		return NULL;
	}
	hb = mmap(NULL, sizeof(*hb), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = errno;
	close(fd);
	if (hb == MAP_FAILED) {
		errno = rc;
		return NULL;
	}
	/* A previous run's beat must not read as ours: state first. */
	__atomic_store_n(&hb->state, HALB_HB_STARTING, __ATOMIC_RELEASE);
	snprintf(hb->part, sizeof(hb->part), "%s", part);
	hb->pid = getpid();
	hb->interval_ms = interval_ms;
	hb->started_ns = halb_hb_now_ns();
	hb->seq = 0;
	hb->note[0] = '\0';
	halb_hb_beat(hb, hb->started_ns);
	__atomic_store_n(&hb->magic, HALB_HB_MAGIC, __ATOMIC_RELEASE);
	return hb;
}

void
halb_hb_set_state(struct halb_hb *hb, enum halb_hb_state st)
{
	__atomic_store_n(&hb->state, st, __ATOMIC_RELEASE);
}

void
halb_hb_note(struct halb_hb *hb, const char *note)
{
	snprintf(hb->note, sizeof(hb->note), "%s", note ? note : "");
}

void
halb_hb_close(struct halb_hb *hb)
{
	if (hb == NULL)
		return;
	halb_hb_set_state(hb, HALB_HB_STOPPED);
	munmap(hb, sizeof(*hb));
}

int
halb_hb_read(const char *instance, const char *part, unsigned int hung_factor,
	     struct halb_hb_view *v)
{
	char path[256];
	uint64_t now, beat;
	ssize_t n;
	int fd, rc;

	memset(v, 0, sizeof(*v));
	v->verdict = "absent";
	rc = hb_path(instance, part, path, sizeof(path), false);
	if (rc != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = pread(fd, &v->hb, sizeof(v->hb), 0);
	rc = errno;
	close(fd);
	if (n < 0)
		return -rc;
	if ((size_t)n != sizeof(v->hb) || v->hb.magic != HALB_HB_MAGIC)
		return -EPROTO;
	v->hb.part[sizeof(v->hb.part) - 1] = '\0';
	v->hb.note[sizeof(v->hb.note) - 1] = '\0';
	now = halb_hb_now_ns();
	beat = v->hb.beat_ns;
	v->age_ms = now > beat ? (now - beat) / 1000000 : 0;
	v->alive = v->hb.pid > 0 && (kill(v->hb.pid, 0) == 0 || errno == EPERM);
	if (hung_factor == 0)
		hung_factor = 3;
	if (v->hb.state == HALB_HB_STOPPED)
		v->verdict = "stopped";
	else if (!v->alive)
		v->verdict = "dead";
	else if (v->age_ms > (uint64_t)hung_factor * v->hb.interval_ms)
		v->verdict = "hung";
	else if (v->hb.state == HALB_HB_READY)
		v->verdict = "up";
	else
		v->verdict = "starting";
	return 0;
}
