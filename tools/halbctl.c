/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halbctl: the operator's tool.  Speaks the DPDK telemetry protocol (a
 * SOCK_SEQPACKET socket, JSON replies) to the forwarder of the appliance
 * named by a configuration file (its eal.file_prefix) and prints the
 * answer as indented "key: value" lines, or raw JSON with `json`.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/cfg.h"

#define REPLY_MAX (1 << 20)

static void
usage(void)
{
	fprintf(stderr,
		"usage: halbctl (-c CONFIG | -p FILE_PREFIX) COMMAND\n"
		"commands:\n"
		"  status          forwarder, classifier and flow counts\n"
		"  stats [W]       counters (all workers or worker W), drops by reason\n"
		"  services        services and backends with weights and live flows\n"
		"  flows [N]       up to N installed flows (default 32)\n"
		"  json CMD        raw telemetry command, e.g. json /ethdev/stats,0\n"
		"  --check-config FILE\n");
}

static int
tel_connect(const char *prefix)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *run = getenv("XDG_RUNTIME_DIR");
	char hello[1024];
	int fd;

	if (getuid() == 0 || run == NULL)
		run = "/var/run";
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dpdk/%s/dpdk_telemetry.v2",
		 run, prefix);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    read(fd, hello, sizeof(hello)) <= 0) {
		int err = errno;

		fprintf(stderr, "halbctl: cannot reach the forwarder at %s: %s\n",
			sun.sun_path, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

static json_t *
tel_query(int fd, const char *cmd)
{
	json_error_t jerr;
	json_t *reply;
	char *buf;
	ssize_t n;

	if (write(fd, cmd, strlen(cmd)) < 0)
		return NULL;
	buf = malloc(REPLY_MAX);
	if (buf == NULL)
		return NULL;
	n = read(fd, buf, REPLY_MAX - 1);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	reply = json_loads(buf, 0, &jerr);
	if (reply == NULL)
		fprintf(stderr, "halbctl: bad reply to %s: %s\n", cmd, jerr.text);
	free(buf);
	return reply;
}

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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char prefix[64] = "", cmd[256];
	const char *what;
	json_t *reply, *body;
	int opt, fd, rc = 0;

	while ((opt = getopt_long(argc, argv, "+c:p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': {
			struct halb_cfg *cfg = cfg_load(optarg, stderr);

			if (cfg == NULL)
				return 1;
			snprintf(prefix, sizeof(prefix), "%s", cfg->file_prefix);
			cfg_free(cfg);
			break;
		}
		case 'p':
			snprintf(prefix, sizeof(prefix), "%s", optarg);
			break;
		case 'C':
			return cfg_check_main(optarg);
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (prefix[0] == '\0' || optind >= argc) {
		usage();
		return 2;
	}
	what = argv[optind];
	if (strcmp(what, "status") == 0 || strcmp(what, "services") == 0) {
		snprintf(cmd, sizeof(cmd), "/halb/%s", what);
	} else if (strcmp(what, "stats") == 0) {
		snprintf(cmd, sizeof(cmd), "/halb/stats%s%s",
			 optind + 1 < argc ? "," : "",
			 optind + 1 < argc ? argv[optind + 1] : "");
	} else if (strcmp(what, "flows") == 0) {
		snprintf(cmd, sizeof(cmd), "/halb/flows,%s",
			 optind + 1 < argc ? argv[optind + 1] : "32");
	} else if (strcmp(what, "json") == 0 && optind + 1 < argc) {
		snprintf(cmd, sizeof(cmd), "%s", argv[optind + 1]);
	} else {
		usage();
		return 2;
	}
	fd = tel_connect(prefix);
	if (fd < 0)
		return 1;
	reply = tel_query(fd, cmd);
	close(fd);
	if (reply == NULL)
		return 1;
	if (strcmp(what, "json") == 0) {
		char *s = json_dumps(reply, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
	} else {
		body = json_object_get(reply, cmd);
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
