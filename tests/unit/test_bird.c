/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BIRD 2's control socket client (src/core/bird.c) against a fake BIRD:
 * a thread listening on a unix socket that greets, reads each command
 * line and answers with the reply lines a test gives it (BIRD's reply
 * codes, continuation lines, asynchronous '+' lines), or misbehaves
 * (no greeting, garbage, silence, a close in mid-reply).  And the BIRD
 * file generated from conf/samples/fabric-lb1.conf (src/core/bird_conf.c).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/bird.h"
#include "halb/cfg.h"

#ifndef HALB_SRCDIR
#define HALB_SRCDIR "."
#endif

#define MAX_STEPS 8

/* What the fake does: greet (or not), then for each command received,
 * check it and write the step's reply; close after the last step. */
struct fake {
	char path[108];
	int lfd;
	const char *greeting;       /* NULL: say nothing for a second */
	int n;
	const char *want[MAX_STEPS];  /* the command expected */
	const char *reply[MAX_STEPS]; /* what is written back (NULL: silence) */
	char got[MAX_STEPS][256];     /* the commands received */
	pthread_t th;
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char buf[256];
	int fd, i;
	size_t len;
	ssize_t r;

	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (f->greeting == NULL) {
		sleep(1); /* no greeting: longer than the client's timeout */
		goto out;
	}
	if (write(fd, f->greeting, strlen(f->greeting)) < 0)
		goto out;
	for (i = 0; i < f->n; i++) {
		len = 0;
		while (len < sizeof(buf) - 1) {
			r = read(fd, buf + len, 1);
			if (r <= 0)
				goto out;
			if (buf[len++] == '\n')
				break;
		}
		buf[len] = '\0';
		snprintf(f->got[i], sizeof(f->got[i]), "%s", buf);
		if (f->reply[i] == NULL) {
			sleep(1); /* silence: longer than the client's timeout */
			goto out;
		}
		if (write(fd, f->reply[i], strlen(f->reply[i])) < 0)
			goto out;
	}
out:
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "/tmp/halb-test-bird-%d.ctl", getpid());
	unlink(f->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
}

#define GREETING "0001 BIRD 2.0.12 ready.\n"

static const char protocols_reply[] =
	"2002-Name       Proto      Table      State  Since         Info\n"
	"1002-device1    Device     ---        up     10:00:00.000  \n"
	" halb_bfd   BFD        ---        up     10:00:00.000  \n"
	"+async log line to skip\n"
	" halb_vip4_198_18_2_100 Static     master4    down   10:00:00.000  \n"
	" halb_peer1 BGP        ---        up     2026-12-04 10:00:01  Established   \n"
	" halb_peer2 BGP        ---        start  10:00:00.000  Active        Socket: Connection refused\n"
	"0000 \n";

static const char bfd_reply[] =
	"1020-halb_bfd:\n"
	" IP address                Interface  State      Since         Interval  Timeout\n"
	" 198.18.0.254              halb0k     Up         10:00:01.000    0.100    0.300\n"
	" fd00:68::fe               halb0k     Down       10:00:00.000    1.000    0.000\n"
	"0000 \n";

static void
test_commands(void **state)
{
	struct fake f = {
		.greeting = GREETING,
		.n = 6,
		.want = { "enable halb_vip4_198_18_2_100\n", "enable halb_vip4_198_18_2_100\n",
			  "disable halb_vip4_198_18_2_100\n", "enable halb_nope\n",
			  "show protocols\n", "show bfd sessions\n" },
		/* As BIRD 2.0.12 answers. */
		.reply = { "0011-halb_vip4_198_18_2_100: enabled\n0000 \n",
			   "0010-halb_vip4_198_18_2_100: already enabled\n0000 \n",
			   "0009-halb_vip4_198_18_2_100: disabled\n0000 \n",
			   "9001 syntax error, unexpected CF_SYM_UNDEFINED, expecting CF_SYM_KNOWN or TEXT or ALL\n",
			   protocols_reply, bfd_reply },
	};
	struct bird_proto p[3];
	struct bird_bfd b[4];
	struct bird_conn c;
	int i;

	(void)state;
	fake_start(&f);
	assert_int_equal(bird_open(&c, f.path, 2000), 0);
	assert_string_equal(c.version, "BIRD 2.0.12");
	assert_int_equal(bird_proto_enable(&c, "halb_vip4_198_18_2_100", true), 0);
	assert_int_equal(bird_proto_enable(&c, "halb_vip4_198_18_2_100", true), 0);
	assert_int_equal(bird_proto_enable(&c, "halb_vip4_198_18_2_100", false), 0);
	assert_int_equal(bird_proto_enable(&c, "halb_nope", true), -ENOENT);
	assert_int_equal(bird_proto_enable(&c, "bad name", true), -EINVAL);
	/* Five rows, three stored; the heading and the '+' line are none. */
	assert_int_equal(bird_protocols(&c, p, 3), 5);
	assert_string_equal(p[0].name, "device1");
	assert_string_equal(p[0].proto, "Device");
	assert_string_equal(p[1].name, "halb_bfd");
	assert_string_equal(p[2].name, "halb_vip4_198_18_2_100");
	assert_string_equal(p[2].state, "down");
	assert_int_equal(bird_bfd_sessions(&c, b, 4), 2);
	assert_string_equal(b[0].addr, "198.18.0.254");
	assert_string_equal(b[0].iface, "halb0k");
	assert_string_equal(b[0].state, "Up");
	assert_int_equal(b[0].interval_us, 100000);
	assert_int_equal(b[0].timeout_us, 300000);
	assert_string_equal(b[1].addr, "fd00:68::fe");
	assert_string_equal(b[1].state, "Down");
	bird_close(&c);
	fake_stop(&f);
	for (i = 0; i < f.n; i++)
		assert_string_equal(f.got[i], f.want[i]);
}

/* A row with a date and a time, and one with words in its info. */
static void
test_parse_rows(void **state)
{
	struct bird_proto p;
	struct bird_bfd b;

	(void)state;
	assert_int_equal(bird_parse_proto("halb_peer1 BGP        ---        up     2026-12-04 10:00:01  Established   ", &p), 0);
	assert_string_equal(p.name, "halb_peer1");
	assert_string_equal(p.state, "up");
	assert_string_equal(p.info, "Established   ");
	assert_int_equal(bird_parse_proto("halb_peer2 BGP  ---  start  10:00:00.000  Active        Socket: Connection refused", &p), 0);
	assert_string_equal(p.state, "start");
	assert_string_equal(p.info, "Active        Socket: Connection refused");
	assert_int_equal(bird_parse_proto("Name       Proto      Table      State  Since         Info", &p), -EINVAL);
	assert_int_equal(bird_parse_proto("short line", &p), -EINVAL);
	assert_int_equal(bird_parse_bfd("halb_bfd:", &b), -EINVAL);
	assert_int_equal(bird_parse_bfd("IP address                Interface  State      Since         Interval  Timeout", &b), -EINVAL);
	assert_int_equal(bird_parse_bfd("198.18.0.254 halb0k Up 10:00:01.000 x 0.300", &b), -EINVAL);
	assert_int_equal(bird_parse_bfd("198.18.0.254 halb0k Init 2026-12-04 10:00:01 1.000 3.000", &b), 0);
	assert_string_equal(b.state, "Init");
	assert_int_equal(b.timeout_us, 3000000);
}

/* Each read line to count and check with the code the client gave. */
struct seen {
	int n;
	int codes[8];
	char text[8][64];
};

static int
collect(void *arg, int code, const char *text)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->codes[s->n] = code;
		snprintf(s->text[s->n], sizeof(s->text[s->n]), "%s", text);
	}
	s->n++;
	return 0;
}

static void
test_lines(void **state)
{
	struct fake f = {
		.greeting = GREETING,
		.n = 2,
		.want = { "show status\n", "configure\n" },
		.reply = { "1000-BIRD 2.0.12\n1011-Router ID is 198.18.0.2\n"
			   " Current server time is 10:00:00\n0013 Daemon is up and running\n",
			   "0002-Reading configuration from /etc/bird.conf\n"
			   "8002 /etc/bird.conf:3:1 syntax error\n" },
	};
	struct bird_conn c;
	struct seen s = { 0 };

	(void)state;
	fake_start(&f);
	assert_int_equal(bird_open(&c, f.path, 2000), 0);
	assert_int_equal(bird_cmd(&c, "show status", collect, &s), 13);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.codes[1], 1011);
	/* A continuation line has the code of the line before it. */
	assert_int_equal(s.codes[2], 1011);
	assert_string_equal(s.text[2], "Current server time is 10:00:00");
	assert_string_equal(s.text[3], "Daemon is up and running");
	/* A run-time error is the caller's to judge: its code. */
	assert_int_equal(bird_cmd(&c, "configure", NULL, NULL), 8002);
	/* No newline in a command, nothing too long. */
	assert_int_equal(bird_cmd(&c, "show\nprotocols", NULL, NULL), -EINVAL);
	bird_close(&c);
	fake_stop(&f);
}

/* A peer that is not BIRD, or a BIRD that misbehaves: an error, never a
 * hang or a crash. */
static void
test_misbehaving(void **state)
{
	struct bird_conn c;

	(void)state;
	{
		struct fake f = { .greeting = "HTTP/1.0 200 OK\n" };

		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 1000), -EPROTO);
		fake_stop(&f);
	}
	{
		struct fake f = { .greeting = NULL };

		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 200), -ETIMEDOUT);
		fake_stop(&f);
	}
	{
		struct fake f = { .greeting = GREETING, .n = 1,
				  .want = { "show protocols\n" },
				  .reply = { "1002-device1 Device --- up 10:00\n" } };

		/* Closed in mid-reply. */
		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 1000), 0);
		assert_int_equal(bird_protocols(&c, NULL, 0), -EPIPE);
		bird_close(&c);
		fake_stop(&f);
	}
	{
		struct fake f = { .greeting = GREETING, .n = 1,
				  .want = { "show protocols\n" },
				  .reply = { "hello there\n" } };

		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 1000), 0);
		assert_int_equal(bird_protocols(&c, NULL, 0), -EPROTO);
		bird_close(&c);
		fake_stop(&f);
	}
	{
		struct fake f = { .greeting = GREETING, .n = 1,
				  .want = { "show bfd sessions\n" },
				  .reply = { NULL } };

		/* Silence: the client gives up after its timeout. */
		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 200), 0);
		assert_int_equal(bird_bfd_sessions(&c, NULL, 0), -ETIMEDOUT);
		bird_close(&c);
		fake_stop(&f);
	}
	{
		static char longline[3 * BIRD_LINE_MAX];
		struct fake f = { .greeting = GREETING, .n = 1,
				  .want = { "show protocols\n" },
				  .reply = { longline } };

		memset(longline, 'x', sizeof(longline) - 2);
		memcpy(longline, "1002-", 5);
		longline[sizeof(longline) - 2] = '\n';
		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 1000), 0);
		assert_int_equal(bird_protocols(&c, NULL, 0), -EPROTO);
		bird_close(&c);
		fake_stop(&f);
	}
	assert_int_equal(bird_open(&c, "/nonexistent/bird.ctl", 100), -ENOENT);
	/* A BFD-less BIRD. */
	{
		struct fake f = { .greeting = GREETING, .n = 1,
				  .want = { "show bfd sessions\n" },
				  .reply = { "9001 There is no BFD protocol running\n" } };

		fake_start(&f);
		assert_int_equal(bird_open(&c, f.path, 1000), 0);
		assert_int_equal(bird_bfd_sessions(&c, NULL, 0), -ENOENT);
		bird_close(&c);
		fake_stop(&f);
	}
}

/* A BIRD that accepts nothing (stopped): its backlog fills with the
 * connections of earlier attempts, after which a blocking connect would
 * wait for ever.  Each attempt must end within its timeout. */
static void
test_backlog_full(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bird_conn c;
	int lfd, i;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/halb-test-bird-bl-%d.ctl",
		 getpid());
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	alarm(10); /* a blocked connect fails the test instead of hanging it */
	for (i = 0; i < 4; i++)
		assert_int_equal(bird_open(&c, sa.sun_path, 50), -ETIMEDOUT);
	alarm(0);
	close(lfd);
	unlink(sa.sun_path);
}

static bool
has_line(const char *text, const char *line)
{
	return strstr(text, line) != NULL;
}

/* The generated file: what the fabric relies on is there, and no kernel
 * protocol. */
static void
test_conf(void **state)
{
	struct halb_cfg *cfg;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	cfg = cfg_load(HALB_SRCDIR "/conf/samples/fabric-lb1.conf", stderr);
	assert_non_null(cfg);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(bird_conf_write(cfg, f), 0);
	fclose(f);
	assert_true(has_line(out, "router id 198.18.0.2;\n"));
	/* One protocol per VIP, each disabled, each named after its
	 * address; the export filter takes them all. */
	assert_true(has_line(out, "protocol static halb_vip4_198_18_2_100 {\n\tdisabled;\n\tipv4;\n"
				  "\troute 198.18.2.100/32 blackhole;\t# web-dsr\n}\n"));
	assert_true(has_line(out, "protocol static halb_vip6_fd00_68_2__100 {\n\tdisabled;\n\tipv6;\n"
				  "\troute fd00:68:2::100/128 blackhole;\t# web6-dsr\n}\n"));
	assert_true(has_line(out, "\tif proto ~ \"halb_vip*\" then {\n"));
	assert_true(has_line(out, "\tinterface \"halb0k\" {\n\t\tinterval 100 ms;\n"
				  "\t\tmultiplier 3;\n"));
	assert_true(has_line(out, "protocol bgp halb_peer1 {\n"));
	assert_true(has_line(out, "\tlocal 198.18.0.2 as 65001;\n\tneighbor 198.18.0.254 as 65000;\n"));
	assert_true(has_line(out, "\tlocal fd00:68::2 as 65001;\n\tneighbor fd00:68::fe as 65000;\n"));
	assert_true(has_line(out, "\tbfd on;\n"));
	assert_true(has_line(out, "\terror wait time 1, 5;\n\tconnect delay time 1;\n"));
	assert_true(has_line(out, "bgp_origin = ORIGIN_IGP;"));
	assert_true(has_line(out, "\t\tnext hop self;\n"));
	assert_false(has_line(out, "protocol kernel"));
	assert_false(has_line(out, "password"));
	free(out);
	/* halb-had runs BIRD on the file it writes, with bgp.socket. */
	{
		const struct cfg_ha_part *b = &cfg->ha.parts[HA_PART_BIRD];

		assert_true(b->enabled);
		assert_false(b->with_config);
		assert_int_equal(b->argc, 8);
		assert_string_equal(b->argv[0], "/usr/sbin/bird");
		assert_string_equal(b->argv[1], "-f");
		assert_string_equal(b->argv[3], "/run/halb/halb-lb1/bird.conf");
		assert_string_equal(b->argv[5], "/run/bird/bird.ctl");
		assert_string_equal(b->argv[7], "/run/halb/halb-lb1/bird.pid");
		assert_false(cfg->ha.parts[HA_PART_SESSIOND].enabled);
	}
	/* No health section here: healthd does not run, waits for nothing. */
	assert_false(cfg->ha.parts[HA_PART_HEALTHD].enabled);
	assert_int_equal(cfg->ha.parts[HA_PART_HEALTHD].after, 0);
	/* Without bgp { }: nothing. */
	cfg->bgp.has = false;
	f = open_memstream(&out, &len);
	assert_int_equal(bird_conf_write(cfg, f), -EINVAL);
	fclose(f);
	free(out);
	cfg_free(cfg);
}

/* A VIP shared by two services is one protocol; names are BIRD symbols
 * made from the address. */
static void
test_vips(void **state)
{
	struct halb_cfg *cfg;
	uint16_t svc[4];
	char name[BIRD_VIP_NAME_LEN];
	struct halb_ip ip;

	(void)state;
	cfg = cfg_load(HALB_SRCDIR "/conf/samples/fabric-lb1.conf", stderr);
	assert_non_null(cfg);
	assert_int_equal(bird_conf_vips(cfg, svc, 4), 2);
	assert_int_equal(svc[0], 0);
	assert_int_equal(svc[1], 1);
	/* The second service on the first one's VIP: still two routes. */
	cfg->services[1].vip = cfg->services[0].vip;
	assert_int_equal(bird_conf_vips(cfg, svc, 4), 1);
	assert_int_equal(bird_conf_vips(cfg, svc, 0), 1);
	cfg_free(cfg);
	assert_int_equal(halb_ip_parse("fd00:68:2::100", &ip), 0);
	bird_vip_name(&ip, name, sizeof(name));
	assert_string_equal(name, "halb_vip6_fd00_68_2__100");
	assert_int_equal(halb_ip_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &ip), 0);
	bird_vip_name(&ip, name, sizeof(name));
	assert_true(strlen(name) < BIRD_VIP_NAME_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_parse_rows),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_misbehaving),
		cmocka_unit_test(test_backlog_full),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_vips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
