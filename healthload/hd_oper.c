/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator's decisions about backends (hd.h, docs/HEALTH.md
 * "Operator decisions"): `halbctl drain|disable|enable|weight`, taken on
 * healthd's status socket, kept in health.state_file, loaded at start.
 *
 * They live here, in healthd, because healthd is where every view of a
 * backend is merged into the one state the classifier applies: a
 * decision is one more input of that merge (hd_state.c, oper_overlay),
 * it reaches the classifier in the same snapshots, is shown with the
 * same source ("operator") in `halbctl health` and `halbctl services`,
 * and survives a classifier restart as every applied state does (shared
 * memory, then healthd's next full snapshot).  It survives a healthd
 * restart through the state file, which is written (new file, fsync,
 * rename) before the decision is applied: one the appliance could not
 * keep is refused, not half taken.
 *
 * The file is text, one backend a line, keyed by what names a backend
 * everywhere else too (service name, address and port), never by its
 * position in the configuration:
 *     web 198.18.0.11:80 drain -
 *     web 198.18.0.12:80 - 5
 * Only healthd's thread touches the decisions.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd.h"

#define OPER_LINE 512
#define OPER_WORDS 5

static const char *const op_names[] = { "", "drain", "disable" };

const char *
hd_op_name(unsigned int op)
{
	return op <= HD_OP_DISABLE ? op_names[op] : "?";
}

/* Backend i as "ADDRESS:PORT" or "[IPV6]:PORT", as `halbctl health`. */
static void
endpoint(const struct hd_backend *be, char *buf, size_t len)
{
	char a[HALB_IP_STRLEN];
	uint16_t port = be->cb->port ? be->cb->port : be->svc->port;

	halb_ip_fmt(&be->cb->ip, a, sizeof(a));
	snprintf(buf, len, halb_ip_is_v4(&be->cb->ip) ? "%s:%u" : "[%s]:%u",
		 a, port);
}

/* Splits a copy of line into at most max words; returns how many, or
 * max + 1 when there are more. */
static int
split(char *line, char **w, int max)
{
	char *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " \t\r\n", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = t;
	}
	return n;
}

/*
 * The backend of service named by text: ADDRESS:PORT, [IPV6]:PORT, or
 * an address alone when exactly one backend of the service has it.
 * Returns its index, -ENOENT, or -EINVAL (not an endpoint; ambiguous),
 * with why in msg.
 */
static int
find_backend(const struct hd *hd, const char *service, const char *text,
	     char *msg, size_t len)
{
	char addr[OPER_LINE], *colon, *end;
	const char *ptext = NULL;
	struct halb_ip ip;
	unsigned long port = 0;
	int found = -1, n = 0;
	uint32_t i;

	if (strlen(text) >= sizeof(addr)) {
		snprintf(msg, len, "\"%.64s...\" is no backend", text);
		return -EINVAL;
	}
	if (text[0] == '[') {
		snprintf(addr, sizeof(addr), "%s", text + 1);
		colon = strchr(addr, ']');
		if (colon == NULL || colon[1] != ':') {
			snprintf(msg, len, "\"%s\": an IPv6 backend is [ADDRESS]:PORT",
				 text);
			return -EINVAL;
		}
		*colon = '\0';
		ptext = colon + 2;
	} else {
		snprintf(addr, sizeof(addr), "%s", text);
		colon = strchr(addr, ':');
		/* One colon: IPv4 and port; more: an IPv6 address alone. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			*colon = '\0';
			ptext = colon + 1;
		}
	}
	if (ptext != NULL) {
		errno = 0;
		port = strtoul(ptext, &end, 10);
		if (errno != 0 || end == ptext || *end != '\0' || port > 65535) {
			snprintf(msg, len, "\"%s\": the port is no number from 0 to 65535",
				 text);
			return -EINVAL;
		}
	}
	if (halb_ip_parse(addr, &ip) != 0) {
		snprintf(msg, len, "\"%s\" is no address", text);
		return -EINVAL;
	}
	for (i = 0; i < hd->n_be; i++) {
		const struct hd_backend *be = &hd->be[i];
		uint16_t p = be->cb->port ? be->cb->port : be->svc->port;

		if (strcmp(be->svc->name, service) != 0 ||
		    !halb_ip_eq(&be->cb->ip, &ip) ||
		    (ptext != NULL && p != port))
			continue;
		found = (int)i;
		n++;
	}
	if (n == 1)
		return found;
	if (n > 1) {
		snprintf(msg, len, "service %s has %d backends at %s: give the port",
			 service, n, text);
		return -EINVAL;
	}
	for (i = 0; i < hd->n_be; i++)
		if (strcmp(hd->be[i].svc->name, service) == 0)
			break;
	if (i == hd->n_be)
		snprintf(msg, len, "no service %s", service);
	else
		snprintf(msg, len, "service %s has no backend %s", service, text);
	return -ENOENT;
}

bool
hd_oper_is_command(const char *line)
{
	static const char *const cmds[] = { "drain", "disable", "enable",
					    "weight", NULL };
	size_t n = strcspn(line, " \t\r\n");
	int i;

	for (i = 0; cmds[i] != NULL; i++)
		if (strlen(cmds[i]) == n && strncmp(line, cmds[i], n) == 0)
			return true;
	return false;
}

/* The parent directory of path, made if missing (one level, as
 * /var/lib/halb on a fresh appliance). */
static int
make_parent(const char *path)
{
	char dir[CFG_SOCK_LEN], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The rename itself made durable; a failure here leaves a complete file,
 * old or new, so it is not reported. */
static void
sync_parent(const char *path)
{
	char dir[CFG_SOCK_LEN], *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return;
	slash[slash == dir] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
hd_oper_save(const struct hd *hd)
{
	const char *path = hd->cfg->health.state_file;
	char tmp[CFG_SOCK_LEN + 8], ep[HALB_IP_STRLEN + 10], wt[16];
	uint32_t i;
	FILE *f;
	int fd, rc;

	rc = make_parent(path);
	if (rc != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = -errno;
		close(fd);
		goto out;
	}
	fprintf(f, "# halb-healthd's operator decisions (halbctl drain, disable, weight):\n"
		   "# SERVICE BACKEND drain|disable|- WEIGHT|-; written by halb-healthd\n");
	for (i = 0; i < hd->n_be; i++) {
		const struct hd_backend *be = &hd->be[i];

		if (be->op == HD_OP_NONE && be->op_weight == HD_OP_WEIGHT_NONE)
			continue;
		endpoint(be, ep, sizeof(ep));
		if (be->op_weight == HD_OP_WEIGHT_NONE)
			snprintf(wt, sizeof(wt), "-");
		else
			snprintf(wt, sizeof(wt), "%u", be->op_weight);
		fprintf(f, "%s %s %s %s\n", be->svc->name, ep,
			be->op == HD_OP_NONE ? "-" : hd_op_name(be->op), wt);
	}
	errno = 0;
	if (fflush(f) != 0 || ferror(f) || fsync(fd) != 0)
		rc = errno != 0 ? -errno : -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0)
		sync_parent(path);
out:
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* One line of the state file into backend decisions; 0 or -EINVAL. */
static int
load_line(struct hd *hd, char *line, uint64_t now)
{
	char *w[OPER_WORDS], msg[160], *end;
	struct hd_backend *be;
	unsigned long wt = 0;
	uint8_t op;
	int n, i;

	n = split(line, w, 4);
	if (n != 4)
		return -EINVAL;
	if (strcmp(w[2], "-") == 0)
		op = HD_OP_NONE;
	else if (strcmp(w[2], "drain") == 0)
		op = HD_OP_DRAIN;
	else if (strcmp(w[2], "disable") == 0)
		op = HD_OP_DISABLE;
	else
		return -EINVAL;
	if (strcmp(w[3], "-") != 0) {
		errno = 0;
		wt = strtoul(w[3], &end, 10);
		if (errno != 0 || *end != '\0' || wt > CFG_MAX_WEIGHT)
			return -EINVAL;
	}
	i = find_backend(hd, w[0], w[1], msg, sizeof(msg));
	if (i < 0) {
		HLOG(WARNING, "%s: %s: left out (and dropped at the next change)",
			hd->cfg->health.state_file, msg);
		return 0;
	}
	be = &hd->be[i];
	be->op = op;
	be->op_weight = strcmp(w[3], "-") == 0 ? HD_OP_WEIGHT_NONE : (uint32_t)wt;
	be->op_ms = now;
	be->op_seen = true;
	be->reweigh = true;
	hd_refresh(hd, (uint32_t)i, now);
	HLOG(NOTICE, "operator: service %s backend %s: %s%s%s%s kept from before",
		w[0], w[1], op == HD_OP_NONE ? "" : hd_op_name(op),
		op != HD_OP_NONE && be->op_weight != HD_OP_WEIGHT_NONE ? ", " : "",
		be->op_weight != HD_OP_WEIGHT_NONE ? "weight " : "",
		be->op_weight != HD_OP_WEIGHT_NONE ? w[3] : "");
	return 1;
}

int
hd_oper_load(struct hd *hd, uint64_t now)
{
	const char *path = hd->cfg->health.state_file;
	char line[OPER_LINE];
	int lineno = 0, taken = 0, rc;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		rc = load_line(hd, line, now);
		if (rc < 0)
			HLOG(WARNING, "%s:%d: not a decision (SERVICE BACKEND drain|disable|- WEIGHT|-): left out",
				path, lineno);
		else
			taken += rc;
	}
	rc = ferror(f) ? -EIO : taken;
	fclose(f);
	return rc;
}

/* What backend be is now, for the operator's answer. */
static void
answer(const struct hd_backend *be, const char *what, char *msg, size_t len)
{
	char ep[HALB_IP_STRLEN + 10];

	endpoint(be, ep, sizeof(ep));
	snprintf(msg, len, "service %s backend %s: %s; now %s, weight %u, source %s",
		 be->svc->name, ep, what, hd_state_name(be->state), be->weight,
		 hd_source_name(be->source));
}

/* hd_oper_command, but for its counters. */
static int
oper_run(struct hd *hd, const char *line, uint64_t now, char *msg, size_t len)
{
	char copy[OPER_LINE], *w[OPER_WORDS], *end;
	struct hd_backend *be;
	unsigned long wt = 0;
	uint32_t old_weight;
	uint8_t old_op;
	int n, i, rc;

	if (strlen(line) >= sizeof(copy)) {
		snprintf(msg, len, "command too long");
		return -EINVAL;
	}
	snprintf(copy, sizeof(copy), "%s", line);
	n = split(copy, w, OPER_WORDS - 1);
	if (n < 1 || !hd_oper_is_command(w[0]) ||
	    n != (strcmp(w[0], "weight") == 0 ? 4 : 3)) {
		snprintf(msg, len, "usage: drain|disable|enable SERVICE BACKEND, or weight SERVICE BACKEND N|config");
		return -EINVAL;
	}
	if (strcmp(w[0], "weight") == 0 && strcmp(w[3], "config") != 0) {
		errno = 0;
		wt = strtoul(w[3], &end, 10);
		if (errno != 0 || end == w[3] || *end != '\0' ||
		    w[3][0] == '-' || wt > CFG_MAX_WEIGHT) {
			snprintf(msg, len, "weight \"%.32s\": a number from 0 to %u, or config",
				 w[3], CFG_MAX_WEIGHT);
			return -EINVAL;
		}
	}
	i = find_backend(hd, w[1], w[2], msg, len);
	if (i < 0)
		return i;
	be = &hd->be[i];
	old_op = be->op;
	old_weight = be->op_weight;
	if (strcmp(w[0], "drain") == 0)
		be->op = HD_OP_DRAIN;
	else if (strcmp(w[0], "disable") == 0)
		be->op = HD_OP_DISABLE;
	else if (strcmp(w[0], "enable") == 0)
		be->op = HD_OP_NONE;
	else if (strcmp(w[3], "config") == 0)
		be->op_weight = HD_OP_WEIGHT_NONE;
	else
		be->op_weight = (uint32_t)wt;
	/* Kept first: a decision that would not survive a restart is none. */
	rc = hd_oper_save(hd);
	if (rc != 0) {
		be->op = old_op;
		be->op_weight = old_weight;
		snprintf(msg, len, "cannot keep the decision in %s: %s; nothing changed",
			 hd->cfg->health.state_file, strerror(-rc));
		HLOG(ERR, "operator: %s", msg);
		return rc;
	}
	if (be->op != old_op)
		be->op_ms = now;
	be->op_seen = true;
	be->reweigh = true;
	hd_refresh(hd, (uint32_t)i, now);
	answer(be, strcmp(w[0], "drain") == 0 ? "draining by the operator" :
		   strcmp(w[0], "disable") == 0 ? "disabled by the operator" :
		   strcmp(w[0], "enable") == 0 ? "health decides again" :
		   be->op_weight == HD_OP_WEIGHT_NONE ? "configured weight again" :
		   "weight set by the operator", msg, len);
	HLOG(NOTICE, "operator: %s: %s", w[0], msg);
	return 0;
}

int
hd_oper_command(struct hd *hd, const char *line, uint64_t now, char *msg,
		size_t len)
{
	int rc = oper_run(hd, line, now, msg, len);

	if (rc == 0)
		hd->c.operator_commands++;
	else
		hd->c.operator_refused++;
	return rc;
}
