/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance configuration as loaded from its libconfig file
 * (docs/CONFIG.md documents every key).  Plain data, no pointers, so that
 * it can be copied whole; indices of services and backends are the
 * slots used by the flow table, the Maglev tables and the counters.  As
 * loaded, slots are file positions; a reload (docs/RELOAD.md,
 * halb/cfg_reload.h) keeps each service and backend in its slot and
 * leaves retired and free slots among them (enum cfg_slot).
 */
#ifndef HALB_CFG_T_H
#define HALB_CFG_T_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/seal-t.h"
#include "halb/ip.h"

#define CFG_MAX_EAL_ARGS 32
#define CFG_MAX_PORTS 4
#define CFG_MAX_WORKERS 16
#define CFG_MAX_SERVICES 64
#define CFG_MAX_BACKENDS 256 /* per service */
#define CFG_MAX_NEIGH 256
#define CFG_MAX_LCORE 128     /* lcore ids 0..127: DPDK's RTE_MAX_LCORE (checked
                               * by the forwarder) */
#define CFG_NAME_LEN 32
#define CFG_ARG_LEN 256
#define CFG_HOST_LEN 64       /* host ids: 1..63 bytes (HL_NAME_MAX) */
#define CFG_SOCK_LEN 108      /* sizeof(sockaddr_un.sun_path) */
#define CFG_CHECK_PATH_LEN 64 /* an HTTP check's path */
#define CFG_MAX_AGENTS 1024   /* distinct agent hosts */
#define CFG_MAX_PEERS 8       /* peer healthd instances */
#define CFG_MTU_DEFAULT 1500  /* ports[].mtu */
#define CFG_MTU_MIN 1280      /* IPv6's minimum link MTU (RFC 8200 5) */
#define CFG_MTU_MAX 9216
#define CFG_PCI_LEN 13        /* "DDDD:BB:DD.F" and its NUL */
#define CFG_CPUS_LEN 64       /* eal.classifier_cpus */
#define CFG_MAX_CPU 1024      /* CPU ids 0..1023 (CPU_SETSIZE) */
#define CFG_METRICS_PORT 9650 /* halb-exporter's default TCP port */
#define CFG_IFNAME_LEN 16     /* a kernel interface name and its NUL (IFNAMSIZ) */
#define CFG_KERNEL_RATE 10000 /* ports[].kernel_rate: frames/s per worker */
#define CFG_KERNEL_VDEV "net_tap_halb" /* + port index: ports[].kernel's device */
#define CFG_MAX_BGP_NEIGH 8   /* bgp.neighbours */
#define CFG_BGP_PASS_LEN 81   /* TCP MD5 keys: 80 bytes at most (Linux) */

/* CFG_MODE_DSR, ... from halb/mode-list.h. */
enum cfg_mode {
#define HALB_MODE(e, name) CFG_MODE_##e,
#include "halb/mode-list.h"
#undef HALB_MODE
	CFG_MODE_MAX
};

/* CFG_SCHED_MAGLEV, ... from halb/sched-list.h. */
enum cfg_sched {
#define HALB_SCHED(e, name) CFG_SCHED_##e,
#include "halb/sched-list.h"
#undef HALB_SCHED
	CFG_SCHED_MAX
};

/* HA_PART_FORWARDER, ... from halb/ha-list.h: the parts halb-had runs. */
enum ha_part_id {
#define HA_PART(e, name, prog, tmo, after, bound, wanted, probe) HA_PART_##e,
#include "halb/ha-list.h"
#undef HA_PART
	HA_PARTS
};
#define HA_BIT(e) (1u << HA_PART_##e)
#define HA_MAX_ARGS 16          /* ha.<part>.command's words */
#define HA_MAX_FAILURES 100     /* ha.<part>.max_failures' ceiling */

struct cfg_port {
	char name[CFG_NAME_LEN];
	char vdev[CFG_ARG_LEN]; /* EAL --vdev argument; its first word names the
				 * device; "" for a PCI port */
	char pci[CFG_PCI_LEN];  /* PCI address "DDDD:BB:DD.F" (lower case, as
				 * DPDK names the device); "" for a vdev */
	char pci_args[CFG_ARG_LEN]; /* the driver's arguments after the
				     * address ("key=value,..."), or "" */
	uint16_t queues;        /* queue pairs the device has, when its
				 * arguments say (af_packet qpairs=, ...);
				 * 0: known only at start (PCI, most vdevs) */
	bool has_ip4, has_ip6;
	struct halb_ip ip4, ip6;   /* this port's own addresses */
	uint8_t plen4, plen6;      /* connected prefixes */
	bool has_gw4, has_gw6;
	struct halb_ip gw4, gw6;   /* next hop for everything not connected */
	uint16_t vlan;             /* 802.1Q VID 1..4094 of every frame in and
				    * out of the port; 0: untagged */
	uint16_t mtu;              /* IP MTU of the link (1500 by default) */
	char kernel[CFG_IFNAME_LEN]; /* the exception path's kernel (tap)
				      * interface; "" for none */
	uint32_t kernel_rate;      /* frames/s per worker to that interface */
	int line;
};

struct cfg_neigh {
	struct halb_ip ip;
	uint8_t mac[6];
	int line;
};

/*
 * The kinds of health check, one list for halb-healthd's probes and
 * halb-agent's checks: X(ENUM, "name as the files spell it", the struct
 * hc_ops that runs it).
 * It makes enum cfg_check_type, the names (cfg_check_name) and the table
 * of operations (struct hc_ops, healthload/hc_run.c); a kind is one line
 * here and one file with its operations (healthload/hc_tcp.c).  The
 * appliance's file offers none, tcp and http; the agent's every kind.
 */
#define CFG_CHECK_KINDS(X) \
	X(NONE, "none", hc_none_ops) \
	X(TCP, "tcp", hc_tcp_ops) \
	X(HTTP, "http", hc_http_ops) \
	X(COMMAND, "command", hc_command_ops)

enum cfg_check_type {
#define CFG_CHECK_ENUM(e, name, ops) CFG_CHECK_##e,
	CFG_CHECK_KINDS(CFG_CHECK_ENUM)
#undef CFG_CHECK_ENUM
	CFG_CHECK__COUNT
};

/* halb-healthd's active probe of one backend, with every default
 * resolved: type NONE means "not probed"; otherwise port is 1..65535. */
struct cfg_check {
	uint8_t type;          /* enum cfg_check_type */
	uint8_t rise, fall;    /* HAProxy's meaning, 1..100 */
	uint16_t port;
	uint16_t expect;       /* http: the status wanted */
	uint32_t interval_ms, timeout_ms;
	struct halb_ip addr;   /* where to probe: the backend's ip unless set */
	char path[CFG_CHECK_PATH_LEN]; /* http: "/" unless set */
};

/* A host that runs halb-agent; one entry per distinct host id, shared by
 * every backend that names it (cfg_backend.agent). */
struct cfg_agent {
	char host[CFG_HOST_LEN];
	struct seal_key key;
	struct halb_ip addr;   /* where ReportRequests go: agent.address, or
				* the ip of the first backend naming it */
	uint16_t port;         /* the agent's UDP port, 7301 by default */
	bool listed;           /* written once in health.agents (backends
				* then say agent = "HOST") */
	int line;              /* of its health.agents entry, or of the
				* first agent { } naming it */
};

/*
 * A slot's state across reloads (docs/RELOAD.md).  LIVE as loaded from a
 * file; RETIRED: removed by a reload, kept (weight 0, no lookup entry,
 * the rewrite data of when it was live) until no flow can name it;
 * FREE: an empty slot that a later reload may give to a new service or
 * backend (everything else zero).
 */
enum cfg_slot {
	CFG_SLOT_LIVE = 0,
	CFG_SLOT_RETIRED,
	CFG_SLOT_FREE,
};

struct cfg_backend {
	struct halb_ip ip;
	uint16_t port;       /* 0: same as the packet's destination port */
	uint32_t weight;     /* 1..CFG_MAX_WEIGHT; 0 = configured out */
	bool has_tunnel_mac;
	uint8_t tunnel_mac[6]; /* tunnel mode: MAC of the backend's VXLAN device */
	uint16_t agent;      /* 1 + index in health.agents; 0: no agent */
	struct cfg_check check;
	uint8_t slot;        /* enum cfg_slot */
	uint8_t pool;        /* requests { }: its pool, an index in the
			      * service's l7.pools; 0 without requests */
	int line;
};

#define CFG_MAX_WEIGHT 65535

/* What happens to the flows of a backend that goes down (draining
 * backends always keep theirs). */
enum cfg_down_flows {
	CFG_DOWN_RESET = 0,
	CFG_DOWN_KEEP,
};
/* down_hold's default: longer than a health flap on a busy machine
 * (a check or two missed, a few hundred ms), short against the time a
 * dead backend's clients wait anyway (TCP's first retransmissions). */
#define CFG_DOWN_HOLD_MS 3000u

/*
 * requests { } of a service (docs/CONFIG.md, "requests"; issue #14):
 * request routing by delayed binding.  Only in NAT mode over TCP.  The
 * rules are tried in order by l7_match() (halb/l7req.h); each names a
 * pool, a set of the service's backends (cfg_backend.pool), which share
 * the service's health view and scheduler.
 */
#define CFG_L7_MAX_RULES 32
#define CFG_L7_MAX_POOLS 16
#define CFG_L7_NAME_LEN 256   /* a host or sni pattern and its NUL */
#define CFG_L7_PATH_LEN 256   /* a path prefix and its NUL */
#define CFG_L7_ALPN_LEN 32    /* an ALPN protocol and its NUL */
#define CFG_L7_MAX_REQUEST_DEFAULT 8192
#define CFG_L7_MAX_REQUEST_MIN 256
#define CFG_L7_MAX_REQUEST_MAX 65535
#define CFG_L7_BIND_TIMEOUT_DEFAULT 3000  /* ms */
#define CFG_L7_MAX_BINDING_DEFAULT 65536
#define CFG_L7_MAX_BINDING_MAX 1048576
#define CFG_L7_WSCALE_DEFAULT 7
#define CFG_L7_MSS_DEFAULT 1460

/* What a client gets when no rule matches and there is no default pool. */
enum cfg_l7_no_match {
	CFG_L7_NO_MATCH_RESET = 0,  /* "reset": a TCP RST */
	CFG_L7_NO_MATCH_HTTP_503,   /* "http-503": HTTP gets a minimal 503
				     * then FIN, TLS an alert then FIN */
};

/* What a rule matches on: the kind of request it is for (enum l7_kind). */
struct cfg_l7_rule {
	uint8_t kind;                  /* L7_HTTP (host, path) or L7_TLS
					* (sni, alpn) */
	uint8_t pool;                  /* index in cfg_l7.pools */
	char name[CFG_L7_NAME_LEN];    /* HTTP host or TLS sni: "" any,
					* "*.suffix" or a name, lower case */
	char path[CFG_L7_PATH_LEN];    /* HTTP: a path prefix, "" any */
	char alpn[CFG_L7_ALPN_LEN];    /* TLS: a protocol, "" any */
	int line;
};

struct cfg_l7 {
	bool has;                /* the service has requests { } */
	uint8_t no_match;        /* enum cfg_l7_no_match */
	uint8_t wscale;          /* window scale the SYN-ACK promises, 0..14 */
	uint16_t mss;            /* MSS the SYN-ACK offers */
	int16_t default_pool;    /* index in pools; -1: none */
	uint32_t max_request;    /* bytes of a request read at most */
	uint32_t bind_timeout_ms; /* from the client's ACK to the binding */
	uint32_t max_binding;    /* connections binding at once */
	uint32_t n_rules;
	struct cfg_l7_rule rules[CFG_L7_MAX_RULES];
	uint32_t n_pools;        /* pools, in the order backends name them */
	char pools[CFG_L7_MAX_POOLS][CFG_NAME_LEN];
	int line;
};

struct cfg_service {
	char name[CFG_NAME_LEN];
	struct halb_ip vip;
	uint16_t port;       /* 0: all ports */
	uint8_t proto;       /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t mode;        /* enum cfg_mode */
	uint8_t sched;       /* enum cfg_sched */
	uint32_t vni;        /* tunnel mode: VXLAN network identifier */
	uint16_t tunnel_port; /* tunnel mode: UDP destination port (4789) */
	uint8_t down_flows;  /* enum cfg_down_flows */
	uint8_t slot;        /* enum cfg_slot */
	struct cfg_l7 l7;    /* requests { } */
	uint32_t n_backends; /* slots: live, retired and free ones */
	/* down_flows "reset": how long a backend stays down (as health
	 * found it) before its flows go; a shorter flap keeps them. */
	uint32_t down_hold_ms;
	struct cfg_backend backends[CFG_MAX_BACKENDS];
	int line;
};

enum cfg_weight_policy {
	CFG_WEIGHT_STATIC = 0,
	CFG_WEIGHT_AGENT,
	CFG_WEIGHT_LEAST_LOAD,
};

struct cfg_peer {
	char name[CFG_HOST_LEN];
	struct halb_ip ip;
	uint16_t port;
	struct seal_key key;
	int line;
};

/* health { }: halb-healthd, and what the classifier needs to trust it. */
struct cfg_health {
	struct halb_ip listen_ip; /* UDP: reports, requests, peer snapshots */
	uint16_t listen_port;
	char name[CFG_HOST_LEN];  /* this appliance's sender id */
	struct seal_key key;       /* its key: seals snapshots; len 0 if none */
	uint8_t weight_policy;    /* enum cfg_weight_policy */
	uint32_t weight_min, weight_max;
	uint32_t report_window_ms;    /* replay window (timestamps) */
	uint32_t handler_timeout_ms;  /* classifier: healthd silent after this */
	char socket[CFG_SOCK_LEN];        /* classifier's unix datagram socket */
	char status_socket[CFG_SOCK_LEN]; /* healthd's unix stream socket */
	char state_file[CFG_SOCK_LEN];    /* operator decisions (halbctl drain) */
	uint32_t n_peers;
	struct cfg_peer peers[CFG_MAX_PEERS];
	uint32_t n_agents;
	struct cfg_agent agents[CFG_MAX_AGENTS];
	int line;
};

/* metrics { }: halb-exporter's HTTP listener. */
struct cfg_metrics {
	bool has;                 /* the file has a metrics group */
	struct halb_ip listen_ip; /* 127.0.0.1 unless set */
	uint16_t listen_port;     /* CFG_METRICS_PORT unless set */
};

/* sessions { }: halb-sessiond, the session tracker (docs/SESSIONS.md). */
#define CFG_MAX_SYNC_PEERS 8  /* session/sync.h SYNC_MAX_PEERS */
#define CFG_SYNC_PORT 7303    /* sessions.listen's default port */

struct cfg_sessions {
	bool has;                 /* the file has a sessions group */
	char name[CFG_HOST_LEN];  /* this appliance's name on the sync link */
	struct halb_ip listen_ip; /* UDP: the sync socket */
	uint16_t listen_port;
	char socket[CFG_SOCK_LEN]; /* its control socket (halbctl sessions) */
	uint32_t ring_size;       /* session events, a power of two */
	uint32_t replica_entries; /* peers' sessions held here */
	uint32_t resend_ms, dead_ms;
	uint32_t window;          /* batches in flight per peer */
	uint32_t backlog;         /* records waiting per peer */
	uint32_t n_peers;
	struct cfg_peer peers[CFG_MAX_SYNC_PEERS];
	int line;
};

/* classifiers { }: the forwarder's list of classifiers in order of
 * preference, and a remote classifier's side (docs/CLASSIFIERS.md). */
#define CFG_MAX_CLASSIFIERS 8
#define CFG_MAX_PUNTERS 16    /* forwarders one remote classifier serves */
#define CFG_PUNT_PORT 7310    /* classifiers.serve.listen's default port */

enum cfg_cls_kind {
	CFG_CLS_LOCAL = 0,    /* the classifier attached to the shared memory */
	CFG_CLS_STANDBY,      /* a second one waiting on the attach lock
			       * (halb-classifier --takeover) */
	CFG_CLS_REMOTE,       /* halb-classifier --remote, over UDP */
};

struct cfg_cls_ent {
	uint8_t kind;             /* enum cfg_cls_kind */
	char name[CFG_HOST_LEN];  /* a remote's sender name */
	struct halb_ip ip;        /* a remote's address and port */
	uint16_t port;
	struct seal_key key;      /* the pair's key (len 0: not remote) */
	bool has_health;          /* healthd also sends its snapshots to */
	struct halb_ip health_ip; /* ... this UDP address (serve.health) */
	uint16_t health_port;
	int line;
};

struct cfg_classifiers {
	bool has;                 /* the file has a classifiers group */
	char name[CFG_HOST_LEN];  /* this forwarder's name towards remotes */
	uint32_t timeout_ms;      /* a remote without a pong this long: dead */
	uint32_t ping_ms;         /* pings to every remote this often */
	uint32_t hold;            /* frames awaiting a remote decision, at most */
	uint32_t hold_ms;         /* ... and for at most this long */
	uint32_t frame_cap;       /* bytes of a frame sent, at most */
	uint32_t n_list;
	struct cfg_cls_ent list[CFG_MAX_CLASSIFIERS];
	/* serve { }: halb-classifier --remote. */
	bool has_serve;
	char serve_name[CFG_HOST_LEN];
	struct halb_ip serve_ip;
	uint16_t serve_port;
	bool has_serve_health;    /* healthd's snapshots over UDP, here */
	struct halb_ip serve_health_ip;
	uint16_t serve_health_port;
	uint32_t n_punters;
	struct cfg_peer punters[CFG_MAX_PUNTERS]; /* name, key (ip unused) */
	int line;
};

/* One part in ha { } (halb-had), every default resolved. */
struct cfg_ha_part {
	bool enabled;
	uint32_t argc;                   /* command: argv[0] is absolute */
	char argv[HA_MAX_ARGS][CFG_ARG_LEN];
	bool with_config;          /* the default command: halb-had adds
				    * "-c FILE", the file it was given */
	uint32_t timeout_ms;       /* heartbeat older than this: hung */
	uint32_t start_timeout_ms; /* from start to its heartbeat's ready */
	uint32_t stop_timeout_ms;  /* SIGTERM to exit, then SIGKILL */
	uint32_t backoff_ms, backoff_max_ms; /* restart delay: doubles per
					      * failure in the window */
	uint32_t max_failures;     /* this many in window_ms: give up */
	uint32_t window_ms;
	uint32_t after;            /* HA_BIT()s that must be ready first */
	uint32_t bound;            /* HA_BIT()s whose restart restarts it */
	int line;
};

/* ha { }: halb-had, the HA daemon (docs/RELIABILITY.md). */
struct cfg_ha {
	uint32_t poll_ms;                 /* heartbeats read this often */
	char status_socket[CFG_SOCK_LEN]; /* its control socket */
	/* A graceful drain (halbctl drain-appliance, SIGTERM): routes
	 * withdrawn, then the parts stopped once the forwarder's traffic to
	 * the VIPs has stayed at most drain_idle_pps for drain_quiet_ms and
	 * every session is in the peers' replicas, or after
	 * drain_timeout_ms whatever is left. */
	uint32_t drain_timeout_ms;
	uint32_t drain_quiet_ms;
	uint32_t drain_idle_pps;
	char bird_file[CFG_SOCK_LEN];     /* BIRD's file, halb-had writes it */
	char bird_pid_file[CFG_SOCK_LEN]; /* where BIRD writes its pid */
	struct cfg_ha_part parts[HA_PARTS];
	int line;
};

/* One BGP neighbour of bgp { }: on the connected prefix of port `port`,
 * which has a kernel interface (the session runs over it). */
struct cfg_bgp_neigh {
	struct halb_ip ip;
	uint32_t as;
	uint16_t port;                   /* index in ports */
	char password[CFG_BGP_PASS_LEN]; /* TCP MD5; "" for none */
	int line;
};

/* bgp { }: what BIRD announces for this appliance (docs/CONFIG.md, "bgp";
 * the BIRD file is generated from it: src/core/bird_conf.c). */
struct cfg_bgp {
	bool has;                  /* the file has a bgp group */
	uint32_t as;               /* local AS */
	struct halb_ip router_id;  /* IPv4; the first port's IPv4 unless set */
	bool has_nh4, has_nh6;     /* next hops announced; else the session's
				    * own address (next hop self) */
	struct halb_ip nh4, nh6;
	uint32_t bfd_interval_ms;  /* BFD transmit and receive interval */
	uint32_t bfd_multiplier;   /* detection: interval x multiplier */
	uint32_t n_announce;       /* services whose VIPs are announced */
	uint16_t announce[CFG_MAX_SERVICES]; /* ... their indices */
	char socket[CFG_SOCK_LEN]; /* BIRD's control socket */
	uint32_t n_neigh;
	struct cfg_bgp_neigh neigh[CFG_MAX_BGP_NEIGH];
	int line;
};

/* log { }: levels as syslog's (0 emerg .. 7 debug). */
struct cfg_log {
	uint8_t level;       /* the DPDK-free programs' (info) */
	uint8_t dpdk_level;  /* the DPDK programs' rte_log level (info) */
	bool syslog;         /* DPDK-free programs log to syslog, not stderr */
};

struct halb_cfg {
	char path[256];
	/* eal { } */
	char file_prefix[64];
	char lcores[64];          /* EAL -l list: first is the main lcore */
	uint32_t n_eal_extra;
	char eal_extra[CFG_MAX_EAL_ARGS][CFG_ARG_LEN];
	uint32_t n_workers;       /* worker lcores (lcore list minus main) */
	uint32_t classifier_lcore; /* the classifier's lcore id: distinct from
				    * the forwarder's, as mempool caches are
				    * per lcore id */
	char forwarder_cpus[CFG_CPUS_LEN];  /* CPUs every forwarder lcore floats
					     * on, when not the lcore's own id
					     * (rigs with fewer CPUs); "": -l */
	char classifier_cpus[CFG_CPUS_LEN]; /* CPUs the classifier may run on
					     * ("2-3"); "": every CPU the
					     * process is allowed */
	/* ports ( ) */
	uint32_t n_ports;
	struct cfg_port ports[CFG_MAX_PORTS];
	/* flows { } */
	uint32_t flow_entries;    /* per worker */
	uint32_t tcp_syn_timeout_ms;
	uint32_t tcp_timeout_ms;
	uint32_t tcp_fin_timeout_ms;
	uint32_t udp_timeout_ms;
	/* top level */
	uint32_t idle_sleep_us;   /* max back-off sleep when idle; 0 = busy poll */
	uint32_t classifier_timeout_ms; /* heartbeat age that means "gone" */
	uint32_t n_neigh;
	struct cfg_neigh neigh[CFG_MAX_NEIGH];
	uint32_t n_services;
	struct cfg_service services[CFG_MAX_SERVICES];
	/* health { }, and the agents the backends name; the defaults are
	 * filled in when the file has no health group (has_health false).
	 * A key's len is 0 when the file gives none. */
	bool has_health;
	struct cfg_health health;
	struct cfg_metrics metrics;
	struct cfg_log log;
	struct cfg_sessions sessions;
	struct cfg_ha ha;
	struct cfg_bgp bgp;
	struct cfg_classifiers classifiers;
};

#endif
