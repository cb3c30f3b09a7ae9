/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halbctl: the operator's tool.  Speaks the DPDK telemetry protocol (a
 * SOCK_SEQPACKET socket, JSON replies) to the forwarder of the appliance
 * named by a configuration file (its eal.file_prefix) and prints the
 * answer as indented "key: value" lines, or raw JSON with `json`.
 * `health` asks halb-healthd instead, on its status socket (JSON lines,
 * one per backend, then the counters), and prints a table; so do the
 * operator's decisions (drain, disable, enable, weight), which healthd
 * owns and keeps (docs/HEALTH.md, "Operator decisions").  `reload`
 * checks the file, has the forwarder apply it (/halb/reload), then
 * halb-healthd (docs/RELOAD.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/cfg.h"
#include "halb/cli.h"
#include "halb/ctl.h"
#include "halb/hb.h"
#include "halb/tlm.h"
#include "halbctl_bgp.h"

#define HEALTH_TIMEOUT_MS 5000   /* halb-healthd answers at once */
/* A reload loads its file and waits for a grace period and healthd's
 * probes to be set up: longer than a query. */
#define RELOAD_TIMEOUT_MS 20000

#define USAGE \
	"commands:\n" \
	"  status          every part's state (halb-had's, when it runs: up,\n" \
	"                  restarts, last failure; else its heartbeat), then\n" \
	"                  the forwarder's and classifier's state and flows\n" \
	"  stats [W]       counters (all workers or worker W), drops by reason\n" \
	"  router          the request router: cookies, bindings and their outcomes\n" \
	"  services        services and backends with weights and live flows\n" \
	"  classifiers     the classifiers in order of preference (local,\n" \
	"                  standby, remote): which one is active, each one's\n" \
	"                  heartbeat age and decisions, the fallbacks\n" \
	"  flows [N|all] [service NAME] [backend ADDR[:PORT]] [client ADDR]\n" \
	"                  installed flows, up to N (32) or all of them, those\n" \
	"                  of a service, a backend or a client only\n" \
	"  log-level [LEVEL]\n" \
	"                  the forwarder's log level (err, warning, notice,\n" \
	"                  info, debug), set to LEVEL first when given; the\n" \
	"                  DPDK-free daemons take SIGUSR1 (more) and SIGUSR2\n" \
	"  json CMD        raw telemetry command, e.g. json /ethdev/stats,0\n" \
	"  health [json]   each backend's health, load, weight and where the\n" \
	"                  state came from (halb-healthd; needs -c CONFIG)\n" \
	"  drain SERVICE BACKEND    no new connections to BACKEND\n" \
	"                  (ADDRESS:PORT); established ones stay\n" \
	"  disable SERVICE BACKEND  maintenance: down, its established\n" \
	"                  connections follow the service's down_flows\n" \
	"  enable SERVICE BACKEND   undo drain or disable: health decides\n" \
	"  weight SERVICE BACKEND N|config  the operator's weight, or the\n" \
	"                  configured one again (all four: halb-healthd keeps\n" \
	"                  them across restarts, in health.state_file)\n" \
	"  reload          checks CONFIG, then has the forwarder apply it\n" \
	"                  (each change printed, or why it is refused) and\n" \
	"                  halb-healthd after it (needs -c CONFIG)\n" \
	"  sessions        the session tracker: own and replicated sessions,\n" \
	"                  per peer alive, last heard, backlog, in flight,\n" \
	"                  resends, dumps (halb-sessiond; sessions.socket)\n" \
	"  drain-appliance  the whole appliance out, gracefully (halb-had):\n" \
	"                  its VIPs withdrawn, the router's traffic and the\n" \
	"                  sessions moved to the peers, then every part\n" \
	"                  stopped; returns once done (halb-had stays up)\n" \
	"  resume-appliance  after drain-appliance: the parts started again,\n" \
	"                  the VIPs announced once all is ready\n" \
	"  bird-config     the BIRD 2 file for the bgp { } section (needs -c)\n" \
	"  bgp [announce|withdraw]  the VIPs announced or withdrawn, then the\n" \
	"                  BGP sessions and BFD as BIRD reports them (needs -c)\n" \
	"or: halbctl --check-config FILE | --version | --help\n"

static void
print_value(const json_t *v, int depth)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)(uintptr_t)v, key, item) {
			printf("%*s%s:", depth * 2, "", key);
			if (json_is_object(item) || json_is_array(item)) {
				printf("\n");
				print_value(item, depth + 1);
			} else {
				printf(" ");
				print_value(item, 0);
			}
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, item) {
			printf("%*s- ", depth * 2, "");
			if (json_is_object(item) || json_is_array(item)) {
				printf("\n");
				print_value(item, depth + 1);
			} else {
				print_value(item, 0);
			}
		}
		break;
	case JSON_STRING:
		printf("%s\n", json_string_value(v));
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
		break;
	case JSON_REAL:
		printf("%g\n", json_real_value(v));
		break;
	case JSON_TRUE:
		printf("true\n");
		break;
	case JSON_FALSE:
		printf("false\n");
		break;
	default:
		printf("null\n");
		break;
	}
}

/* ---- status: every part's heartbeat (halb/hb.h) ---- */

static const char *const parts[] = { "forwarder", "classifier", "healthd",
				     "sessiond", "router",
				     NULL };

static void
parts_print(const char *prefix)
{
	struct halb_hb_view v;
	unsigned int i;

	printf("%-11s %-9s %8s %10s %8s  %s\n", "part", "state", "pid",
	       "beat_ms", "up_s", "note");
	for (i = 0; parts[i] != NULL; i++) {
		if (halb_hb_read(prefix, parts[i], 0, &v) != 0) {
			printf("%-11s %-9s\n", parts[i], v.verdict);
			continue;
		}
		printf("%-11s %-9s %8d %10" PRIu64 " %8" PRIu64 "  %s\n", parts[i],
		       v.verdict, (int)v.hb.pid, v.age_ms,
		       (uint64_t)((halb_hb_now_ns() - v.hb.started_ns) / 1000000000u),
		       v.hb.note);
	}
}

/* ---- sessions: halb-sessiond's control socket (docs/SESSIONS.md) ---- */

static int
sessions_main(const char *prefix, const char *path)
{
	struct halb_hb_view v;
	char *buf;

	if (halb_hb_read(prefix, "sessiond", 0, &v) == 0)
		printf("sessiond: %s (pid %d, %s)\n", v.verdict, (int)v.hb.pid,
		       v.hb.state == HALB_HB_READY ? "replica loaded" :
						      "replica loading");
	buf = ctl_request(path, "status\n", HEALTH_TIMEOUT_MS, NULL);
	if (buf == NULL) {
		fprintf(stderr, "halbctl: cannot reach halb-sessiond at %s: %s\n",
			path, strerror(errno));
		return 1;
	}
	fputs(buf, stdout);
	free(buf);
	return 0;
}

/* halb-had's view of every part (docs/RELIABILITY.md), when it runs;
 * false when nobody answers on its socket. */
static bool
had_print(const char *path)
{
	char *buf = ctl_request(path, "status\n", HEALTH_TIMEOUT_MS, NULL);

	if (buf == NULL || buf[0] == '\0') {
		free(buf);
		return false;
	}
	fputs(buf, stdout);
	free(buf);
	return true;
}

/*
 * drain-appliance and resume-appliance: one request to halb-had ("drain",
 * "resume"); a drain is then followed on had's status until its "drain:
 * done" line, at most wait_ms.  Distinct from `drain SERVICE BACKEND`,
 * which is one backend's, kept by halb-healthd.
 */
static int
appliance_main(const char *path, const char *what, int wait_ms)
{
	bool drain = strcmp(what, "drain-appliance") == 0;
	char *buf = ctl_request(path, drain ? "drain\n" : "resume\n",
				HEALTH_TIMEOUT_MS, NULL);
	const char *line;
	int waited = 0;

	if (buf == NULL) {
		fprintf(stderr, "halbctl: cannot reach halb-had at %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	if (strncmp(buf, "ok", 2) != 0) {
		fprintf(stderr, "halbctl: halb-had: %s", buf);
		free(buf);
		return 1;
	}
	fputs(buf, stdout);
	free(buf);
	if (!drain)
		return 0;
	for (;;) {
		buf = ctl_request(path, "status\n", HEALTH_TIMEOUT_MS, NULL);
		if (buf == NULL) {
			fprintf(stderr, "halbctl: halb-had at %s went away: %s\n",
				path, strerror(errno));
			return 1;
		}
		line = strstr(buf, "\ndrain: ");
		if (line != NULL && strncmp(line + 8, "done", 4) == 0 &&
		    strstr(line, "every part stopped") != NULL) {
			line++;
			printf("%.*s\n", (int)strcspn(line, "\n"), line);
			free(buf);
			return 0;
		}
		free(buf);
		if (waited >= wait_ms) {
			fprintf(stderr, "halbctl: not drained within %d s: see halbctl status\n",
				wait_ms / 1000);
			return 1;
		}
		usleep(100000);
		waited += 100;
	}
}

/* ---- health: halb-healthd's status socket (docs/HEALTH.md) ---- */

/* Reads the whole answer to "status\n" from the socket at path. */
static char *
health_query(const char *path)
{
	char *buf = ctl_request(path, "status\n", HEALTH_TIMEOUT_MS, NULL);

	if (buf == NULL)
		fprintf(stderr, "halbctl: cannot reach halb-healthd at %s: %s\n",
			path, strerror(errno));
	return buf;
}

static const char *
jstr(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

/* "0.4s", "12s", "3m" or "-" for an age in ms (null: unknown). */
static const char *
age_fmt(const json_t *v, char *buf, size_t len)
{
	json_int_t ms;

	if (!json_is_integer(v))
		return "-";
	ms = json_integer_value(v);
	if (ms < 10000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	else if (ms < 600000)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	return buf;
}

static void
health_row(const json_t *b)
{
	const json_t *load = json_object_get(b, "load");
	char cpu[24] = "-", mem[24] = "-", conns[24] = "-", age[32];
	char why[80] = "", op[48] = "";
	const char *reason = jstr(b, "agent_reason", "");
	const json_t *ow = json_object_get(b, "operator_weight");
	size_t n;

	if (json_is_object(load)) {
		snprintf(cpu, sizeof(cpu), "%.1f%%",
			 (double)json_integer_value(json_object_get(load, "cpu_permille")) / 10.0);
		snprintf(mem, sizeof(mem), "%.1f%%",
			 (double)json_integer_value(json_object_get(load, "mem_used_permille")) / 10.0);
		snprintf(conns, sizeof(conns), "%lld",
			 (long long)json_integer_value(json_object_get(load, "active_connections")));
	}
	/* The operator's decision first, shown even when health's verdict
	 * (down) is what the state says. */
	if (jstr(b, "operator", NULL) != NULL || json_is_integer(ow)) {
		n = (size_t)snprintf(op, sizeof(op), "operator:");
		if (jstr(b, "operator", NULL) != NULL)
			n += (size_t)snprintf(op + n, sizeof(op) - n, " %s",
					      jstr(b, "operator", ""));
		if (json_is_integer(ow) && n < sizeof(op))
			snprintf(op + n, sizeof(op) - n, " weight %lld",
				 (long long)json_integer_value(ow));
	}
	if (strcmp(jstr(b, "source", ""), "probe") == 0)
		snprintf(why, sizeof(why), "%s%s%s", op, op[0] ? "; " : "",
			 jstr(b, "probe_why", ""));
	else if (reason[0] != '\0' && strcmp(jstr(b, "state", ""), "up") != 0 &&
		 strcmp(jstr(b, "source", ""), "operator") != 0)
		snprintf(why, sizeof(why), "%s%s%s", op, op[0] ? "; " : "",
			 reason);
	else
		snprintf(why, sizeof(why), "%s", op);
	printf("%-14s %-24s %-9s %6lld %6s %6s %6s %-10s %6s %-8s %-7s %s\n",
	       jstr(b, "service", "?"), jstr(b, "backend", "?"),
	       jstr(b, "state", "?"),
	       (long long)json_integer_value(json_object_get(b, "weight")),
	       cpu, conns, mem, jstr(b, "source", "?"),
	       age_fmt(json_object_get(b, "age_ms"), age, sizeof(age)),
	       jstr(b, "agent", "-"), jstr(b, "probe", "-"), why);
}

static void
health_counters(const json_t *o)
{
	const json_t *h = json_object_get(o, "healthd");
	const json_t *c = json_object_get(o, "counters");
	const json_t *rej = json_object_get(c, "rejected"), *v;
	const char *key;
	bool any = false;

	printf("\nhealthd %s: policy %s, snapshot generation %lld, agents heard %lld/%lld\n",
	       jstr(h, "name", "?"), jstr(h, "policy", "?"),
	       (long long)json_integer_value(json_object_get(h, "generation")),
	       (long long)json_integer_value(json_object_get(h, "agents_heard")),
	       (long long)json_integer_value(json_object_get(h, "agents")));
	printf("refused:");
	json_object_foreach((json_t *)(uintptr_t)rej, key, v) {
		if (json_integer_value(v) == 0)
			continue;
		printf(" %s %lld", key, (long long)json_integer_value(v));
		any = true;
	}
	printf("%s\n", any ? "" : " none");
	printf("counters:");
	json_object_foreach((json_t *)(uintptr_t)c, key, v)
		if (json_is_integer(v))
			printf(" %s=%lld", key, (long long)json_integer_value(v));
	printf("\n");
}

static int
health_main(const char *path, bool raw)
{
	char *text = health_query(path), *line, *next;
	json_error_t jerr;
	int rc = 0;

	if (text == NULL)
		return 1;
	if (raw) {
		fputs(text, stdout);
		free(text);
		return 0;
	}
	printf("%-14s %-24s %-9s %6s %6s %6s %6s %-10s %6s %-8s %-7s %s\n",
	       "SERVICE", "BACKEND", "STATE", "WEIGHT", "CPU", "CONNS", "MEM",
	       "SOURCE", "AGE", "AGENT", "PROBE", "WHY");
	for (line = text; *line != '\0'; line = next) {
		json_t *o;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '\0')
			continue;
		o = json_loads(line, 0, &jerr);
		if (o == NULL) {
			fprintf(stderr, "halbctl: bad line from halb-healthd: %s\n",
				jerr.text);
			rc = 1;
			continue;
		}
		if (json_object_get(o, "counters") != NULL)
			health_counters(o);
		else if (json_object_get(o, "error") != NULL)
			fprintf(stderr, "halbctl: %s\n", jstr(o, "error", "?"));
		else
			health_row(o);
		json_decref(o);
	}
	free(text);
	return rc;
}

/* ---- flows: the forwarder's tables page by page (/halb/flowpage) ---- */

struct flow_filter {
	unsigned long max;       /* 0: all */
	const char *service, *backend, *client;
};

/* "ADDR:PORT" or "[ADDR]:PORT" is addr, or addr and port both. */
static bool
endpoint_is(const char *ep, const char *want)
{
	size_t n = strlen(want);
	const char *colon;

	if (strcmp(ep, want) == 0)
		return true;
	if (ep[0] == '[') /* [v6]:port against a bare v6 address */
		return strncmp(ep + 1, want, n) == 0 && ep[1 + n] == ']';
	colon = strrchr(ep, ':');
	return colon != NULL && (size_t)(colon - ep) == n &&
	       strncmp(ep, want, n) == 0;
}

/* A line of forwarder/telemetry.c flow_line():
 * "wW PROTO CLIENT -> VIP svc=NAME backend=ADDR:PORT state=S". */
static bool
flow_match(const struct flow_filter *f, const char *line)
{
	char w[8], proto[8], cli[64], arrow[4], vip[64], svc[48], be[72];

	if (sscanf(line, "%7s %7s %63s %3s %63s svc=%47s backend=%71s", w, proto,
		   cli, arrow, vip, svc, be) != 7)
		return f->service == NULL && f->backend == NULL &&
		       f->client == NULL;
	return (f->service == NULL || strcmp(svc, f->service) == 0) &&
	       (f->backend == NULL || endpoint_is(be, f->backend)) &&
	       (f->client == NULL || endpoint_is(cli, f->client));
}

/* Parses "[N|all] [service NAME] [backend ADDR] [client ADDR]"; 0 or 2. */
static int
flow_args(int argc, char **argv, struct flow_filter *f)
{
	int i = 0;
	char *end;

	f->max = 32;
	if (i < argc && strcmp(argv[i], "all") == 0) {
		f->max = 0;
		i++;
	} else if (i < argc && argv[i][0] >= '0' && argv[i][0] <= '9') {
		f->max = strtoul(argv[i], &end, 10);
		if (*end != '\0' || f->max == 0)
			return 2;
		i++;
	}
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "service") == 0)
			f->service = argv[i + 1];
		else if (strcmp(argv[i], "backend") == 0)
			f->backend = argv[i + 1];
		else if (strcmp(argv[i], "client") == 0)
			f->client = argv[i + 1];
		else
			return 2;
	}
	return i == argc ? 0 : 2;
}

static int
flows_main(const char *prefix, const struct flow_filter *f)
{
	unsigned long w = 0, b = 0, n = 0;
	char cmd[96], sock[128], why[128];
	int fd, rc = 0;

	fd = tlm_open(prefix, sock, sizeof(sock));
	if (fd < 0) {
		fprintf(stderr, "halbctl: cannot reach the forwarder at %s: %s\n",
			sock, strerror(-fd));
		return 1;
	}
	for (;;) {
		const json_t *body, *flows, *v;
		json_t *reply;
		size_t i;
		bool done;

		snprintf(cmd, sizeof(cmd), "/halb/flowpage,%lu,%lu", w, b);
		reply = tlm_query(fd, cmd, why, sizeof(why));
		if (reply == NULL) {
			fprintf(stderr, "halbctl: %s: %s\n", cmd, why);
			rc = 1;
			break;
		}
		/* {"/halb/flowpage": {...}}, whatever DPDK names the key. */
		body = json_object_iter_value(json_object_iter(reply));
		flows = json_object_get(body, "flows");
		if (!json_is_array(flows)) {
			fprintf(stderr, "halbctl: the forwarder does not know /halb/flowpage\n");
			json_decref(reply);
			rc = 1;
			break;
		}
		json_array_foreach(flows, i, v) {
			const char *line = json_string_value(v);

			if (line == NULL || !flow_match(f, line))
				continue;
			if (f->max != 0 && n >= f->max)
				break;
			printf("%s\n", line);
			n++;
		}
		w = (unsigned long)json_integer_value(json_object_get(body, "next_worker"));
		b = (unsigned long)json_integer_value(json_object_get(body, "next_bucket"));
		done = json_integer_value(json_object_get(body, "done")) != 0;
		json_decref(reply);
		if (done || (f->max != 0 && n >= f->max))
			break;
	}
	close(fd);
	return rc;
}

/*
 * drain|disable|enable SERVICE BACKEND, weight SERVICE BACKEND N|config:
 * one line to halb-healthd, which checks it, keeps it and answers
 * {"ok": ...} or {"error": ...}.  0, 1 (refused or unreachable), 2
 * (usage).
 */
static int
operator_main(const char *path, int argc, char **argv)
{
	char line[512], *text;
	json_error_t jerr;
	size_t n = 0;
	json_t *o;
	int i, want = strcmp(argv[0], "weight") == 0 ? 4 : 3, rc;

	if (argc != want) {
		fprintf(stderr, "usage: halbctl %s SERVICE BACKEND%s\n", argv[0],
			want == 4 ? " N|config" : "");
		return 2;
	}
	for (i = 0; i < argc; i++) {
		/* One line, words without blanks: nothing else to smuggle. */
		if (argv[i][0] == '\0' || strpbrk(argv[i], " \t\r\n") != NULL ||
		    n + strlen(argv[i]) + 2 > sizeof(line)) {
			fprintf(stderr, "halbctl: \"%s\": not a word\n", argv[i]);
			return 2;
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", argv[i],
				      i + 1 < argc ? " " : "\n");
	}
	text = ctl_request(path, line, HEALTH_TIMEOUT_MS, NULL);
	if (text == NULL) {
		fprintf(stderr, "halbctl: cannot reach halb-healthd at %s: %s (operator decisions are kept by halb-healthd)\n",
			path, strerror(errno));
		return 1;
	}
	o = json_loads(text, JSON_DISABLE_EOF_CHECK, &jerr);
	free(text);
	if (o == NULL) {
		fprintf(stderr, "halbctl: bad answer from halb-healthd: %s\n",
			jerr.text);
		return 1;
	}
	rc = jstr(o, "ok", NULL) != NULL ? 0 : 1;
	if (rc == 0)
		printf("%s\n", jstr(o, "ok", ""));
	else
		fprintf(stderr, "halbctl: %s\n", jstr(o, "error", "refused"));
	json_decref(o);
	return rc;
}

/*
 * reload: 1. the file checked here (as --check-config, keys left to the
 * forwarder); 2. /halb/reload,FILE: the forwarder applies it or refuses
 * it, saying each change or the reason; 3. `reload` on halb-healthd's
 * status socket, when the file has a health section.  0 when all of it
 * was applied, 1 otherwise.
 */
static int
reload_main(const char *path, const char *prefix, const char *health_sock)
{
	char abs[PATH_MAX], cmd[PATH_MAX + 16], sock[128], why[128], *text;
	const json_t *body, *changes, *v;
	struct halb_cfg *cfg;
	json_error_t jerr;
	json_t *reply, *o;
	bool has_health, applied;
	size_t i;
	int fd, rc;

	if (path == NULL) {
		fprintf(stderr, "halbctl: reload needs -c CONFIG: the file to apply\n");
		return 2;
	}
	cfg = cfg_load_opts(path, stderr, CFG_LOAD_NO_KEYS);
	if (cfg == NULL) {
		fprintf(stderr, "halbctl: %s is not valid: nothing reloaded\n", path);
		return 1;
	}
	has_health = cfg->has_health;
	cfg_free(cfg);
	if (realpath(path, abs) == NULL) {
		fprintf(stderr, "halbctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fd = tlm_open(prefix, sock, sizeof(sock));
	if (fd < 0) {
		fprintf(stderr, "halbctl: cannot reach the forwarder at %s: %s\n",
			sock, strerror(-fd));
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "/halb/reload,%s", abs);
	reply = tlm_query(fd, cmd, why, sizeof(why));
	close(fd);
	if (reply == NULL) {
		fprintf(stderr, "halbctl: /halb/reload: %s\n", why);
		return 1;
	}
	body = json_object_iter_value(json_object_iter(reply));
	if (!json_is_object(body)) {
		fprintf(stderr, "halbctl: the forwarder does not know /halb/reload\n");
		json_decref(reply);
		return 1;
	}
	applied = strcmp(jstr(body, "result", "?"), "applied") == 0;
	changes = json_object_get(body, "changes");
	json_array_foreach(changes, i, v)
		fprintf(applied ? stdout : stderr, "forwarder: %s\n",
			json_string_value(v) != NULL ? json_string_value(v) : "?");
	if (!applied) {
		json_decref(reply);
		return 1;
	}
	printf("forwarder: reloaded, generation %" JSON_INTEGER_FORMAT "\n",
	       json_integer_value(json_object_get(body, "generation")));
	json_decref(reply);
	if (!has_health)
		return 0;
	text = ctl_request(health_sock, "reload\n", RELOAD_TIMEOUT_MS, NULL);
	if (text == NULL) {
		fprintf(stderr, "halbctl: cannot reach halb-healthd at %s: %s: reload it with SIGHUP when it runs\n",
			health_sock, strerror(errno));
		return 1;
	}
	o = json_loads(text, JSON_DISABLE_EOF_CHECK, &jerr);
	free(text);
	if (o == NULL) {
		fprintf(stderr, "halbctl: bad answer from halb-healthd: %s\n",
			jerr.text);
		return 1;
	}
	rc = jstr(o, "ok", NULL) != NULL ? 0 : 1;
	if (rc == 0)
		printf("healthd: %s\n", jstr(o, "ok", ""));
	else
		fprintf(stderr, "healthd: %s\n", jstr(o, "error", "refused"));
	json_decref(o);
	return rc;
}

static const struct option halbctl_options[] = {
	{ "prefix", required_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 },
};

/* -p FILE_PREFIX */
static int
halbctl_opt(void *arg, int val, const char *optarg)
{
	char *prefix = arg;

	if (val != 'p')
		return 2;
	snprintf(prefix, 64, "%s", optarg);
	return 0;
}

int
main(int argc, char **argv)
{
	char prefix[64] = "", cmd[256], health_sock[108] = "", sock[128],
	     why[128], sess_sock[108] = "", had_sock[108] = "";
	int drain_wait_ms = 0;
	const struct halb_cli cli = {
		.prog = "halbctl",
		.what = "(-c CONFIG | -p FILE_PREFIX) COMMAND",
		.usage = USAGE,
		.check = cfg_check_main,
		.opts = halbctl_options,
		.shortopts = "p:",
		.opt = halbctl_opt,
		.arg = prefix,
		.operands = true,
	};
	const char *what, *path;
	json_t *reply, *body;
	int fd, rc;

	rc = halb_cli(&cli, argc, argv, &path);
	if (rc >= 0)
		return rc;
	rc = 0;
	if (path != NULL) {
		/* Only the prefix and a socket path: no key is decoded, no
		 * key file opened (halbctl may run without them). */
		struct halb_cfg *cfg = cfg_load_opts(path, stderr,
						     CFG_LOAD_NO_KEYS);

		if (cfg == NULL)
			return 1;
		/* -p, if given too, names the prefix. */
		if (prefix[0] == '\0')
			snprintf(prefix, sizeof(prefix), "%s", cfg->file_prefix);
		snprintf(health_sock, sizeof(health_sock), "%s",
			 cfg->health.status_socket);
		snprintf(sess_sock, sizeof(sess_sock), "%s", cfg->sessions.socket);
		snprintf(had_sock, sizeof(had_sock), "%s",
			 cfg->ha.status_socket);
		/* The drain's own bound, and the parts' stops after it. */
		drain_wait_ms = (int)cfg->ha.drain_timeout_ms;
		for (rc = 0; rc < HA_PARTS; rc++)
			drain_wait_ms += (int)cfg->ha.parts[rc].stop_timeout_ms;
		rc = 0;
		cfg_free(cfg);
	}
	if (prefix[0] == '\0') {
		fprintf(stderr, "usage: halbctl %s\n%s", cli.what, USAGE);
		return 2;
	}
	what = argv[optind];
	if (strcmp(what, "bird-config") == 0 || strcmp(what, "bgp") == 0)
		return halbctl_bgp_main(path, argc - optind, argv + optind);
	/* Without a file, the default path for the prefix. */
	if (health_sock[0] == '\0')
		snprintf(health_sock, sizeof(health_sock),
			 "/run/halb/%s.healthd.sock", prefix);
	if (sess_sock[0] == '\0')
		snprintf(sess_sock, sizeof(sess_sock), "/run/halb/%s.sessiond.sock",
			 prefix);
	if (strcmp(what, "sessions") == 0)
		return sessions_main(prefix, sess_sock);
	if (strcmp(what, "health") == 0)
		return health_main(health_sock, optind + 1 < argc &&
				   strcmp(argv[optind + 1], "json") == 0);
	if (strcmp(what, "flows") == 0) {
		struct flow_filter f = { 0 };

		if (flow_args(argc - optind - 1, argv + optind + 1, &f) != 0) {
			fprintf(stderr, "halbctl: flows: bad arguments; flows [N|all] [service NAME] [backend ADDR[:PORT]] [client ADDR]\n");
			return 2;
		}
		return flows_main(prefix, &f);
	}
	if (strcmp(what, "drain") == 0 || strcmp(what, "disable") == 0 ||
	    strcmp(what, "enable") == 0 || strcmp(what, "weight") == 0)
		return operator_main(health_sock, argc - optind, argv + optind);
	if (strcmp(what, "reload") == 0)
		return reload_main(path, prefix, health_sock);
	if (had_sock[0] == '\0')
		snprintf(had_sock, sizeof(had_sock), "/run/halb/%s.had.sock",
			 prefix);
	if (strcmp(what, "drain-appliance") == 0 ||
	    strcmp(what, "resume-appliance") == 0)
		return appliance_main(had_sock, what, drain_wait_ms > 0 ?
				      drain_wait_ms : 120000);
	/* halb-had knows more of each part than its heartbeat tells. */
	if (strcmp(what, "status") == 0 && !had_print(had_sock))
		parts_print(prefix);
	if (strcmp(what, "status") == 0 || strcmp(what, "services") == 0 ||
	    strcmp(what, "classifiers") == 0 || strcmp(what, "router") == 0) {
		snprintf(cmd, sizeof(cmd), "/halb/%s", what);
	} else if (strcmp(what, "stats") == 0) {
		if (optind + 1 < argc &&
		    strspn(argv[optind + 1], "0123456789") != strlen(argv[optind + 1])) {
			fprintf(stderr, "halbctl: stats: \"%s\" is no worker number\n",
				argv[optind + 1]);
			return 2;
		}
		snprintf(cmd, sizeof(cmd), "/halb/stats%s%s",
			 optind + 1 < argc ? "," : "",
			 optind + 1 < argc ? argv[optind + 1] : "");
	} else if (strcmp(what, "log-level") == 0) {
		int l = optind + 1 < argc ? cfg_log_level_parse(argv[optind + 1]) : 0;

		if (l < 0) {
			fprintf(stderr, "halbctl: log-level: \"%s\" is not one of emerg, alert, crit, err, warning, notice, info, debug\n",
				argv[optind + 1]);
			return 2;
		}
		if (optind + 1 < argc)
			snprintf(cmd, sizeof(cmd), "/halb/loglevel,%d", l);
		else
			snprintf(cmd, sizeof(cmd), "/halb/loglevel");
	} else if (strcmp(what, "json") == 0 && optind + 1 < argc) {
		snprintf(cmd, sizeof(cmd), "%s", argv[optind + 1]);
	} else {
		if (strcmp(what, "json") == 0)
			fprintf(stderr, "halbctl: json needs a telemetry command, e.g. json /ethdev/stats,0\n");
		else
			fprintf(stderr, "halbctl: unknown command \"%s\" (halbctl --help lists them)\n",
				what);
		return 2;
	}
	fd = tlm_open(prefix, sock, sizeof(sock));
	if (fd < 0) {
		fprintf(stderr, "halbctl: cannot reach the forwarder at %s: %s\n",
			sock, strerror(-fd));
		return 1;
	}
	reply = tlm_query(fd, cmd, why, sizeof(why));
	close(fd);
	if (reply == NULL) {
		fprintf(stderr, "halbctl: %s: %s\n", cmd, why);
		return 1;
	}
	if (strcmp(what, "json") == 0) {
		char *s = json_dumps(reply, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
	} else {
		/* DPDK keys the reply by the command without its
		 * parameters ("/halb/stats" for "/halb/stats,0"). */
		body = json_object_iter_value(json_object_iter(reply));
		if (body == NULL || json_is_null(body)) {
			fprintf(stderr, "halbctl: the forwarder does not know %s\n", cmd);
			rc = 1;
		} else {
			print_value(body, 0);
		}
	}
	json_decref(reply);
	return rc;
}
