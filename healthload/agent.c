/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-agent: runs on a backend host and tells the appliances how the
 * host is (docs/AGENT.md).
 *
 * One thread, one epoll loop over: the UDP socket on agent.listen
 * (reports go out to every handler from it, ReportRequests come in on
 * it), the control socket (`halb-agent --drain` and friends), one socket
 * per TCP/HTTP check in flight, and a signalfd (SIGCHLD reaps command
 * checks, SIGINT/SIGTERM stop).  Every interval it reads the load,
 * starts the checks that are not running, and reports; a changed check
 * result, a drain or a request makes it report at once (at most every
 * AG_MIN_GAP_MS).  The first report waits until every check has given
 * its first result, so a restarted agent never claims a service it has
 * not checked.  A handler that is away costs a counted sendto error per
 * report, nothing more: nothing is queued.
 *
 * --proc-root DIR reads the load from DIR/stat, DIR/meminfo,
 * DIR/net/tcp and DIR/net/tcp6 instead of /proc: a test points it at a
 * fake tree to make a host look loaded (tests/e2e/health.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "hlu.h"

#define AG_TICK_MS 100
#define AG_MIN_GAP_MS 100
#define AG_MAX_CLIENTS 4
#define AG_EVENTS 32

extern char **environ;

enum tag {
	T_UDP = 1,
	T_LISTEN,
	T_CLIENT,
	T_PROBE,
	T_SIGNAL,
};

#define TAG(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

struct client {
	int fd;
	char in[32];
	size_t in_len;
};

struct agent {
	struct agc *cfg;
	struct ag *ag;
	const char *proc_root;       /* --proc-root, or NULL for /proc */
	int ep, udp, listen, sig;
	struct client clients[AG_MAX_CLIENTS];
	uint64_t next_interval, next_tick, last_report;
	bool want_report, started, stop;
	struct hlu_ratelimit rl_reject, rl_send;
};

static int
ep_set(struct agent *a, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(a->ep, op, fd, &ev) == 0 ? 0 : -errno;
}

/* ---- reporting ---- */

static void
report(struct agent *a, uint64_t now)
{
	uint8_t buf[HL_MTU];
	uint64_t held;
	uint32_t i;
	int len;

	len = ag_build_report(a->ag, hlu_unix_ms(), buf);
	if (len < 0) {
		HLU_LOG(ERR, "cannot seal the report: %s", strerror(-len));
		return;
	}
	a->last_report = now;
	a->want_report = false;
	for (i = 0; i < a->cfg->n_handlers; i++) {
		const struct agc_handler *h = &a->cfg->handlers[i];
		struct sockaddr_storage ss;
		socklen_t sl = hlu_sockaddr(&h->ip, h->port, &ss);
		char addr[80];

		if (sendto(a->udp, buf, (size_t)len, 0, (struct sockaddr *)&ss,
			   sl) == len) {
			a->ag->c.reports++;
			continue;
		}
		/* Away: try again next time, keep nothing. */
		a->ag->c.send_errors++;
		if (hlu_ratelimit(&a->rl_send, now, &held))
			HLU_LOG(WARNING, "handler %s: %s (%" PRIu64 " more not logged)",
				hlu_sockaddr_fmt((struct sockaddr *)&ss, addr,
						 sizeof(addr)),
				strerror(errno), held);
	}
}

/* Reports now if allowed, or soon. */
static void
report_soon(struct agent *a, uint64_t now)
{
	a->want_report = true;
	if (a->started && now - a->last_report >= AG_MIN_GAP_MS) {
		a->ag->c.immediate++;
		report(a, now);
	}
}

/* ---- checks ---- */

static bool
checks_known(const struct agent *a)
{
	uint32_t i;

	for (i = 0; i < a->cfg->n_services; i++)
		if (a->cfg->services[i].check_type != AGC_CHECK_NONE &&
		    !hc_rf_known(&a->ag->chk[i].rf))
			return false;
	return true;
}

static void
check_done(struct agent *a, uint32_t i, bool ok, const char *why,
	   uint64_t now)
{
	const struct agc_service *s = &a->cfg->services[i];
	bool first = !hc_rf_known(&a->ag->chk[i].rf);

	if (ag_check_result(a->ag, i, ok, why)) {
		HLU_LOG(NOTICE, "service %s (%s check): %s (%s)", s->service,
			cfg_agent_check_name(s->check_type),
			ag_service_state(a->ag, i) ==
				HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ? "down" : "up",
			why);
		report_soon(a, now);
	}
	if (first && !a->started && checks_known(a)) {
		a->started = true;
		HLU_LOG(INFO, "every check has a result: reporting");
		report(a, now);
	}
}

static void
spawn_command(struct agent *a, uint32_t i, uint64_t now)
{
	const struct agc_service *s = &a->cfg->services[i];
	struct ag_check *c = &a->ag->chk[i];
	char *argv[] = { (char *)(uintptr_t)"sh", (char *)(uintptr_t)"-c",
			 (char *)(uintptr_t)s->command, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	/* Its own process group, so that a timeout kills what it started. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&c->pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		c->pid = 0;
		check_done(a, i, false, "cannot start the command", now);
		return;
	}
	c->deadline_ms = now + s->timeout_ms;
}

static void
start_check(struct agent *a, uint32_t i, uint64_t now)
{
	const struct agc_service *s = &a->cfg->services[i];
	struct ag_check *c = &a->ag->chk[i];
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[HALB_IP_STRLEN + 2], ip[HALB_IP_STRLEN];
	enum hc_result r;

	if (c->probe.fd >= 0 || c->pid > 0)
		return; /* still running: the last one decides first */
	switch (s->check_type) {
	case AGC_CHECK_TCP:
	case AGC_CHECK_HTTP:
		sl = hlu_sockaddr(&s->check_ip, s->check_port, &ss);
		halb_ip_fmt(&s->check_ip, ip, sizeof(ip));
		snprintf(host, sizeof(host),
			 halb_ip_is_v4(&s->check_ip) ? "%s" : "[%s]", ip);
		r = hc_probe_start(&c->probe, (struct sockaddr *)&ss, sl,
				   s->check_type == AGC_CHECK_HTTP ? s->path : NULL,
				   host, s->expect, now + s->timeout_ms);
		if (r == HC_PENDING &&
		    ep_set(a, EPOLL_CTL_ADD, c->probe.fd,
			   hc_probe_events(&c->probe), TAG(T_PROBE, i)) != 0)
			check_done(a, i, false, "epoll_ctl failed", now);
		else if (r != HC_PENDING)
			check_done(a, i, false, c->probe.why, now);
		break;
	case AGC_CHECK_COMMAND:
		spawn_command(a, i, now);
		break;
	default:
		break;
	}
}

static void
on_probe(struct agent *a, uint32_t i, uint64_t now)
{
	struct ag_check *c = &a->ag->chk[i];
	enum hc_result r;

	if (i >= a->cfg->n_services || c->probe.fd < 0)
		return;
	r = hc_probe_step(&c->probe);
	if (r == HC_PENDING &&
	    ep_set(a, EPOLL_CTL_MOD, c->probe.fd, hc_probe_events(&c->probe),
		   TAG(T_PROBE, i)) != 0)
		check_done(a, i, false, "epoll_ctl failed", now);
	else if (r != HC_PENDING)
		check_done(a, i, r == HC_OK, c->probe.why, now);
}

static void
reap(struct agent *a, uint64_t now)
{
	char why[HC_WHY_LEN];
	uint32_t i;
	int st;

	for (i = 0; i < a->cfg->n_services; i++) {
		struct ag_check *c = &a->ag->chk[i];

		if (c->pid <= 0 || waitpid(c->pid, &st, WNOHANG) != c->pid)
			continue;
		c->pid = 0;
		if (WIFEXITED(st))
			snprintf(why, sizeof(why), "command exited %d",
				 WEXITSTATUS(st));
		else
			snprintf(why, sizeof(why), "command killed by signal %d",
				 WTERMSIG(st));
		if (c->deadline_ms == 0)
			snprintf(why, sizeof(why), "command timed out");
		check_done(a, i, WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
			   c->deadline_ms != 0, why, now);
	}
}

static void
check_deadlines(struct agent *a, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < a->cfg->n_services; i++) {
		struct ag_check *c = &a->ag->chk[i];

		if (c->probe.fd >= 0 && now >= c->probe.deadline_ms) {
			hc_probe_abort(&c->probe);
			check_done(a, i, false, c->probe.why, now);
		}
		if (c->pid > 0 && c->deadline_ms != 0 && now >= c->deadline_ms) {
			kill(-c->pid, SIGKILL);
			c->deadline_ms = 0; /* reaped as a timeout */
		}
	}
}

/* ---- control ---- */

static void
set_drain(struct agent *a, bool drain, uint64_t now)
{
	int rc;

	if (a->ag->draining == drain)
		return;
	rc = ag_drain_save(a->cfg->state_file, drain);
	if (rc != 0)
		HLU_LOG(WARNING, "cannot keep the drain mark in %s: %s (it holds until a restart)",
			a->cfg->state_file, strerror(-rc));
	a->ag->draining = drain;
	HLU_LOG(NOTICE, "host %s %s", a->cfg->host,
		drain ? "draining: no new connections" : "no longer draining");
	report_soon(a, now);
}

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
on_client(struct agent *a, uint32_t i, uint64_t now)
{
	struct client *c = &a->clients[i];
	const struct ag_counters *k = &a->ag->c;
	char out[512];
	ssize_t n;
	uint32_t s;
	size_t o;

	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (strchr(c->in, '\n') == NULL && c->in_len < sizeof(c->in) - 1)
		return;
	c->in[strcspn(c->in, "\r\n")] = '\0';
	if (strcmp(c->in, "drain") == 0 || strcmp(c->in, "undrain") == 0) {
		set_drain(a, c->in[0] == 'd', now);
		snprintf(out, sizeof(out), "{\"host\":\"%s\",\"draining\":%s}\n",
			 a->cfg->host, a->ag->draining ? "true" : "false");
	} else if (strcmp(c->in, "status") == 0) {
		o = (size_t)snprintf(out, sizeof(out),
			"{\"host\":\"%s\",\"draining\":%s,\"cpu_permille\":%u,"
			"\"mem_used_permille\":%u,\"active_connections\":%u,"
			"\"reports\":%" PRIu64 ",\"send_errors\":%" PRIu64
			",\"requests\":%" PRIu64 ",\"rejected\":%" PRIu64
			",\"services\":[",
			a->cfg->host, a->ag->draining ? "true" : "false",
			a->ag->cpu_permille, a->ag->mem_permille, a->ag->conns,
			k->reports, k->send_errors, k->requests,
			k->rx - k->requests - k->unexpected);
		for (s = 0; s < a->cfg->n_services && o < sizeof(out); s++) {
			int st = ag_service_state(a->ag, s);

			o += (size_t)snprintf(out + o, sizeof(out) - o,
				"%s{\"service\":\"%s\",\"state\":\"%s\"}",
				s ? "," : "", a->cfg->services[s].service,
				st == HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ? "down" :
				st == HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING ?
				"draining" : "up");
		}
		if (o < sizeof(out))
			snprintf(out + o, sizeof(out) - o, "]}\n");
	} else {
		snprintf(out, sizeof(out),
			 "{\"error\":\"unknown command; try drain, undrain or status\"}\n");
	}
	/* A short answer to a local client: one non-blocking send. */
	if (send(c->fd, out, strlen(out), MSG_NOSIGNAL) < 0)
		HLU_LOG(DEBUG, "control client: %s", strerror(errno));
	client_close(c);
}

static void
on_listen(struct agent *a)
{
	int fd, i;

	while ((fd = accept4(a->listen, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < AG_MAX_CLIENTS; i++)
			if (a->clients[i].fd < 0)
				break;
		if (i == AG_MAX_CLIENTS ||
		    ep_set(a, EPOLL_CTL_ADD, fd, EPOLLIN, TAG(T_CLIENT, i)) != 0) {
			close(fd);
			continue;
		}
		a->clients[i].fd = fd;
	}
}

/* ---- requests ---- */

static void
on_udp(struct agent *a, uint64_t now)
{
	uint8_t buf[HL_MAX_DATAGRAM + 1];
	struct sockaddr_storage from;
	socklen_t fl;
	uint64_t held;
	char addr[80];
	ssize_t n;
	int rc, i;

	for (i = 0; i < AG_EVENTS; i++) {
		fl = sizeof(from);
		n = recvfrom(a->udp, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		rc = ag_handle_dgram(a->ag, buf,
				     (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n,
				     hlu_unix_ms());
		if (rc > 0) {
			HLU_LOG(DEBUG, "report request from %s",
				hlu_sockaddr_fmt((struct sockaddr *)&from, addr,
						 sizeof(addr)));
			report_soon(a, now);
		} else if (rc < 0 && hlu_ratelimit(&a->rl_reject, now, &held)) {
			HLU_LOG(WARNING, "refused a datagram from %s: %s (%" PRIu64 " more not logged)",
				hlu_sockaddr_fmt((struct sockaddr *)&from, addr,
						 sizeof(addr)),
				seal_reject_name(rc), held);
		}
	}
}

/* ---- the loop ---- */

static void
interval(struct agent *a, uint64_t now)
{
	uint32_t i;

	ag_read_load(a->ag);
	for (i = 0; i < a->cfg->n_services; i++)
		start_check(a, i, now);
	if (a->started)
		report(a, now);
	a->next_interval = now + a->cfg->interval_ms;
}

static int
open_all(struct agent *a)
{
	char ip[HALB_IP_STRLEN];
	sigset_t mask;
	int r;

	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (a->ep < 0)
		return -errno;
	a->udp = hlu_udp_bind(&a->cfg->listen_ip, a->cfg->listen_port);
	if (a->udp < 0) {
		HLU_LOG(ERR, "cannot bind UDP %s port %u (agent.listen): %s",
			halb_ip_fmt(&a->cfg->listen_ip, ip, sizeof(ip)),
			a->cfg->listen_port, strerror(-a->udp));
		return a->udp;
	}
	a->listen = hlu_unix_bind(a->cfg->control, SOCK_STREAM);
	if (a->listen < 0) {
		HLU_LOG(ERR, "cannot listen on %s (agent.control): %s",
			a->cfg->control, strerror(-a->listen));
		return a->listen;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sig = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig < 0)
		return -errno;
	if ((r = ep_set(a, EPOLL_CTL_ADD, a->udp, EPOLLIN, TAG(T_UDP, 0))) != 0 ||
	    (r = ep_set(a, EPOLL_CTL_ADD, a->listen, EPOLLIN, TAG(T_LISTEN, 0))) != 0 ||
	    (r = ep_set(a, EPOLL_CTL_ADD, a->sig, EPOLLIN, TAG(T_SIGNAL, 0))) != 0)
		HLU_LOG(ERR, "epoll_ctl: %s", strerror(-r));
	return r;
}

static void
on_signal(struct agent *a, uint64_t now)
{
	struct signalfd_siginfo si;

	while (read(a->sig, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(a, now);
		else
			a->stop = true;
	}
}

static int
run(struct agent *a)
{
	struct epoll_event ev[AG_EVENTS];
	uint64_t now;
	int n, i, timeout;

	a->ag = ag_new(a->cfg);
	if (a->ag == NULL || open_all(a) != 0)
		return 1;
	a->ag->proc_root = a->proc_root;
	a->ag->draining = ag_drain_load(a->cfg->state_file);
	HLU_LOG(NOTICE, "host %s: %u services, %u handlers, every %u ms%s",
		a->cfg->host, a->cfg->n_services, a->cfg->n_handlers,
		a->cfg->interval_ms, a->ag->draining ? ", draining (kept from before)" : "");
	now = hlu_mono_ms();
	a->started = checks_known(a);
	interval(a, now);
	a->next_tick = now + AG_TICK_MS;
	while (!a->stop) {
		now = hlu_mono_ms();
		timeout = a->next_tick > now ? (int)(a->next_tick - now) : 0;
		n = epoll_wait(a->ep, ev, AG_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			return 1;
		now = hlu_mono_ms();
		for (i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)ev[i].data.u64;

			switch (kind) {
			case T_UDP:
				on_udp(a, now);
				break;
			case T_LISTEN:
				on_listen(a);
				break;
			case T_CLIENT:
				on_client(a, idx, now);
				break;
			case T_PROBE:
				on_probe(a, idx, now);
				break;
			case T_SIGNAL:
				on_signal(a, now);
				break;
			}
		}
		if (now < a->next_tick)
			continue;
		a->next_tick = now + AG_TICK_MS;
		check_deadlines(a, now);
		reap(a, now);
		if (a->want_report && a->started &&
		    now - a->last_report >= AG_MIN_GAP_MS)
			report(a, now);
		if (now >= a->next_interval)
			interval(a, now);
	}
	HLU_LOG(NOTICE, "stopping");
	return 0;
}

static void
close_all(struct agent *a)
{
	uint32_t i;

	for (i = 0; i < AG_MAX_CLIENTS; i++)
		client_close(&a->clients[i]);
	for (i = 0; a->ag != NULL && i < a->cfg->n_services; i++)
		if (a->ag->chk[i].pid > 0)
			kill(-a->ag->chk[i].pid, SIGKILL);
	if (a->listen >= 0) {
		close(a->listen);
		unlink(a->cfg->control);
	}
	if (a->udp >= 0)
		close(a->udp);
	if (a->sig >= 0)
		close(a->sig);
	if (a->ep >= 0)
		close(a->ep);
	ag_free(a->ag);
}

/* --drain, --undrain, --status: ask the running agent. */
static int
control(const struct agc *cfg, const char *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[1024], dir[sizeof(cfg->state_file)], *slash;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cfg->control);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		if (write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd))
			while (len < sizeof(buf) - 1 &&
			       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
				len += (size_t)n;
		close(fd);
		buf[len] = '\0';
		fputs(buf, stdout);
		return len > 0 && strstr(buf, "\"error\"") == NULL ? 0 : 1;
	}
	if (fd >= 0)
		close(fd);
	if (strcmp(cmd, "status\n") == 0) {
		fprintf(stderr, "halb-agent: not running (no %s)\n", cfg->control);
		return 1;
	}
	/* Not running: the mark is what it will start from. */
	snprintf(dir, sizeof(dir), "%s", cfg->state_file);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	rc = ag_drain_save(cfg->state_file, cmd[0] == 'd');
	if (rc != 0) {
		fprintf(stderr, "halb-agent: not running, and cannot write %s: %s\n",
			cfg->state_file, strerror(-rc));
		return 1;
	}
	printf("halb-agent: not running; host %s will start %s\n", cfg->host,
	       cmd[0] == 'd' ? "draining" : "not draining");
	return 0;
}

static int
check_config(const char *path)
{
	struct agc *c = cfg_agent_load(path, stderr);

	if (c == NULL)
		return 1;
	printf("%s: ok (host %s, %u services, %u handlers)\n", path, c->host,
	       c->n_services, c->n_handlers);
	cfg_agent_free(c);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: halb-agent -c CONFIG [-v] [--proc-root DIR]\n"
		"                                             run (load from DIR/stat,\n"
		"                                             meminfo, net/tcp*; default /proc)\n"
		"       halb-agent -c CONFIG --drain|--undrain|--status\n"
		"       halb-agent --check-config CONFIG\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "drain", no_argument, NULL, 'd' },
		{ "undrain", no_argument, NULL, 'u' },
		{ "status", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "proc-root", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .ep = -1, .udp = -1, .listen = -1, .sig = -1 };
	const char *path = NULL, *cmd = NULL;
	int opt, rc, i;

	hlu_prog = "halb-agent";
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			return check_config(optarg);
		case 'd':
			cmd = "drain\n";
			break;
		case 'u':
			cmd = "undrain\n";
			break;
		case 's':
			cmd = "status\n";
			break;
		case 'v':
			hlu_verbosity = HLU_DEBUG;
			break;
		case 'P': {
			struct stat st;

			if (strlen(optarg) > 1000 || stat(optarg, &st) != 0 ||
			    !S_ISDIR(st.st_mode)) {
				fprintf(stderr, "halb-agent: --proc-root %s: not a directory\n",
					optarg);
				return 2;
			}
			a.proc_root = optarg;
			break;
		}
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage();
		return 2;
	}
	a.cfg = cfg_agent_load(path, stderr);
	if (a.cfg == NULL)
		return 1;
	if (cmd != NULL) {
		rc = control(a.cfg, cmd);
		cfg_agent_free(a.cfg);
		return rc;
	}
	for (i = 0; i < AG_MAX_CLIENTS; i++)
		a.clients[i].fd = -1;
	a.rl_reject = (struct hlu_ratelimit){ .period_ms = 10000, .burst = 10 };
	a.rl_send = (struct hlu_ratelimit){ .period_ms = 60000, .burst = 2 };
	rc = run(&a);
	close_all(&a);
	cfg_agent_free(a.cfg);
	return rc;
}
