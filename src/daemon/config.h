/* config.h — vx6d's typed configuration and its YAML parser.
 *
 * Life cycle: vx_config_parse() (pure: a memory buffer in, a struct or a
 * diagnostic out; no I/O beyond reading the environment for default paths)
 * -> vx_config_validate() (cross-field checks; parse calls it too) -> the
 * daemon swaps the new struct in.  vx_config_reload() does the swap and keeps
 * the old config when the new one fails, which is what SIGHUP does.
 *
 * Diagnostics have the form
 *     FILE:LINE:COLUMN: KEYPATH: message
 *     vx6.yaml:12:13: services[1].target: "127.0.0.1:99999" is not a valid address (port out of
 * range) LINE and COLUMN are 1-based and point at the offending value (or at the key for
 * unknown/duplicate keys); list indexes in KEYPATH are 0-based.  The parser reports every
 * independent error it finds (at most VX_CONFIG_MAX_ERRORS), one per line, the first one first.
 *
 * All pointers inside a struct vx_config are owned by it; vx_config_free()
 * releases everything.  A parsed config is read-only: share it, do not edit it.
 */
#ifndef VX6_DAEMON_CONFIG_H
#define VX6_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/identity.h"
#include "lib/addr.h"

#define VX_CONFIG_MAX_BYTES     (1u << 20) /* largest document accepted */
#define VX_CONFIG_MAX_SERVICES  1024
#define VX_CONFIG_MAX_FORWARDS  1024
#define VX_CONFIG_MAX_LISTEN    64
#define VX_CONFIG_MAX_BOOTSTRAP 1024
#define VX_CONFIG_MAX_ALIASES   4096
#define VX_CONFIG_MAX_ALLOW     1024 /* node IDs per service */
#define VX_CONFIG_MAX_PORTS     1024 /* virtual port maps per service */
#define VX_CONFIG_MAX_PATH      4095 /* data_dir and similar */
#define VX_CONFIG_MAX_SOCKPATH  107  /* control_socket: fits sun_path */
#define VX_CONFIG_MAX_USER      32   /* user: DNS label, [a-z0-9-] */
#define VX_CONFIG_MAX_LABEL     63   /* service and alias names */
#define VX_CONFIG_MAX_HOST      253  /* forwards[].to host part */
#define VX_CONFIG_MAX_CRED      255  /* socks_auth username/password (RFC 1929) */
#define VX_CONFIG_MAX_ERRORS    20
#define VX_CONFIG_MAX_CLIENTS   16 /* authorized_clients per hidden service */
#define VX_CONFIG_MAX_HS_AUTH   32 /* hidden_auth entries */
#define VX_CONFIG_DEFAULT_PORT  4242
#define VX_CONFIG_HSADDR_LEN    56 /* = VX_HSADDR_LEN */

/* Default config file: $(sysconfdir)/vx6/vx6.yaml. */
#ifdef VX6_SYSCONFDIR
#define VX_CONFIG_DEFAULT_PATH VX6_SYSCONFDIR "/vx6/vx6.yaml"
#else
#define VX_CONFIG_DEFAULT_PATH "/etc/vx6/vx6.yaml"
#endif

enum vx_cfg_transport { VX_CFG_TRANSPORT_AUTO = 0, VX_CFG_TRANSPORT_TCP, VX_CFG_TRANSPORT_QUIC };
enum vx_cfg_route { VX_CFG_ROUTE_AUTO = 0, VX_CFG_ROUTE_DIRECT, VX_CFG_ROUTE_RELAY };
enum vx_cfg_profile { VX_CFG_PROFILE_FAST = 0, VX_CFG_PROFILE_BALANCED };
enum vx_cfg_clearnet { VX_CFG_CLEARNET_DENY = 0, VX_CFG_CLEARNET_ALLOW };
enum vx_cfg_xdp_mode { VX_CFG_XDP_NATIVE = 0, VX_CFG_XDP_GENERIC };
#define VX_CFG_XDP_UDP_RATE  2000 /* = VX_XDP_DEFAULT_RATE */
#define VX_CFG_XDP_UDP_BURST 4000 /* = VX_XDP_DEFAULT_BURST */

/* "auto", "tcp", ... for dumps and logs. */
const char *vx_cfg_transport_name(enum vx_cfg_transport t);
const char *vx_cfg_route_name(enum vx_cfg_route r);
const char *vx_cfg_profile_name(enum vx_cfg_profile p);

/* Where something was written, for diagnostics after parsing (0 = built in). */
struct vx_cfg_pos {
    unsigned line, col;
};

/* A node ID: 52 lowercase base32 characters (case-insensitive, canonical
 * trailing bits) as written, and the 32 bytes they decode to. */
struct vx_cfg_node_id {
    char s[VX_NODE_ID_STRLEN + 1];
    uint8_t bin[VX_NODE_ID_LEN];
};

/* A client-authorization key: the client's Ed25519 public key as 64 hex
 * characters (what `vx6 id` and `vx6 hidden auth-key` print) and the X25519
 * key it converts to, which a hidden service's descriptor is encrypted to. */
struct vx_cfg_client_key {
    char s[2 * VX_PK_LEN + 1]; /* lowercase */
    uint8_t x25519[VX_X25519_LEN];
};

/* One virtual port map: connections to `vport` go to `target`. */
struct vx_cfg_port_map {
    uint16_t vport;
    struct vx_addr target;
};

struct vx_cfg_service {
    char *name;      /* DNS label, published as USER.NAME.vx6 */
    bool has_target; /* target set: any port not in ports[] goes there */
    struct vx_addr target;
    struct vx_cfg_port_map *ports; /* sorted by vport, no duplicates */
    size_t n_ports;
    bool hidden;                  /* published as a hidden service (ADDRESS.vx6) */
    bool allow_remote_target;     /* targets may be non-loopback */
    struct vx_cfg_node_id *allow; /* clients allowed; n_allow == 0: everyone */
    size_t n_allow;
    struct vx_cfg_client_key *clients; /* hidden: authorized_clients (n 0: anyone) */
    size_t n_clients;
    enum vx_cfg_route route;
    enum vx_cfg_profile profile;
    enum vx_cfg_transport transport;
    struct vx_cfg_pos pos; /* of the list item */
};

struct vx_cfg_forward {
    struct vx_addr listen; /* local address to accept on */
    char *host;            /* "alice.db.vx6", an alias, or an IPv6 literal without [] */
    uint16_t port;
    enum vx_cfg_route route;
    enum vx_cfg_transport transport;
    struct vx_cfg_pos pos;
};

struct vx_cfg_peer {
    bool has_id; /* "NODEID@[addr]:port" form */
    struct vx_cfg_node_id id;
    struct vx_addr addr;
};

struct vx_cfg_alias {
    char *name;   /* DNS label; used as NAME.vx6 */
    char *target; /* "alice.web" or a hidden ADDRESS; ".vx6" suffix removed */
};

/* Client authorization for one hidden service this node connects to. */
struct vx_cfg_hidden_auth {
    char address[VX_CONFIG_HSADDR_LEN + 1]; /* lowercase, without ".vx6" */
    char *key_file;                         /* NULL: the node's identity key */
    struct vx_cfg_pos pos;                  /* of the list item */
};

struct vx_cfg_limits {
    uint32_t max_connections;            /* [4096] */
    uint32_t max_connections_per_client; /* [256] */
    uint64_t handshake_timeout_ms;       /* [10 s] */
    uint64_t idle_timeout_ms;            /* [300 s] */
    uint32_t max_streams_per_peer;       /* [1024] */
    uint32_t max_sessions_per_peer;      /* isolated sessions per node [16] */
    uint32_t dht_rate;                   /* DHT requests per second per peer [50] */
};

struct vx_config {
    char *filename; /* as given to parse ("<defaults>" if none) */

    char *data_dir;       /* always set after parse: default resolved */
    char *user;           /* NULL: none */
    char *log_level;      /* always set ("info"); vx_log_configure() syntax */
    char *control_socket; /* always set after parse: default resolved */

    struct vx_addr *listen; /* [[::]:4242] */
    size_t n_listen;
    enum vx_cfg_transport transport;

    bool socks_enabled;   /* socks: off -> false */
    struct vx_addr socks; /* [127.0.0.1:1080] */
    char *socks_username; /* both NULL or both set */
    char *socks_password;

    enum vx_cfg_clearnet clearnet; /* [deny] */
    struct vx_cfg_peer *bootstrap;
    size_t n_bootstrap;
    bool relay;           /* [true] */
    unsigned relay_hops;  /* 1..8 [3] */
    bool metrics_enabled; /* [false] */
    struct vx_addr metrics;

    struct vx_cfg_service *services;
    size_t n_services;
    struct vx_cfg_forward *forwards;
    size_t n_forwards;
    struct vx_cfg_alias *aliases;
    size_t n_aliases;
    struct vx_cfg_hidden_auth *hidden_auth;
    size_t n_hidden_auth;

    char *xdp_interface;           /* NULL: XDP not used */
    enum vx_cfg_xdp_mode xdp_mode; /* [native] */
    uint32_t xdp_udp_rate;         /* UDP packets/s per source prefix, 0 = off [2000] */
    uint32_t xdp_udp_burst;        /* [4000] */

    struct vx_cfg_limits limits;
};

/* A config holding only the defaults (what vx6d runs on without a file).
 * Never NULL (aborts on out of memory, like the rest of the *_new()). */
struct vx_config *vx_config_new_default(void);
/* Reset *cfg to the defaults.  The fields must not own memory (a zeroed
 * struct, or one already freed with vx_config_clear()).  0 or VX_ERR_NOMEM,
 * VX_ERR_CONFIG when no default data_dir can be found (no HOME). */
int vx_config_defaults(struct vx_config *cfg);
/* Free everything a config owns, and the config.  Accepts NULL. */
void vx_config_free(struct vx_config *cfg);

/* Parse a YAML document of `len` bytes (need not be NUL-terminated).
 * `filename` is used only in diagnostics (NULL: "<config>").  An empty
 * document yields the defaults.  On success returns 0 and sets *out (free
 * with vx_config_free()).  On failure returns VX_ERR_CONFIG (or
 * VX_ERR_TOOBIG for a document over VX_CONFIG_MAX_BYTES, VX_ERR_NOMEM),
 * leaves *out NULL and writes the diagnostics (one per line, NUL-terminated,
 * truncated to errlen) into err.  err may be NULL when errlen is 0. */
int vx_config_parse(const char *buf, size_t len, const char *filename, struct vx_config **out,
                    char *err, size_t errlen);

/* Read `path` (at most VX_CONFIG_MAX_BYTES) and parse it.  VX_ERR_NOTFOUND
 * when the file does not exist, VX_ERR_SYS for other read errors (err then
 * names path and the reason), else as vx_config_parse(). */
int vx_config_load(const char *path, struct vx_config **out, char *err, size_t errlen);

/* Cross-field checks: a service has a target or ports, names are unique,
 * no two listeners share an address, per-client limits do not exceed totals,
 * targets are loopback unless allowed.  vx_config_parse() already calls it;
 * call it again after building or editing a config in code.  0 or
 * VX_ERR_CONFIG with diagnostics in err. */
int vx_config_validate(const struct vx_config *cfg, char *err, size_t errlen);

/* Load `path` and on success replace *current (the old config is freed).
 * On any failure *current is untouched and the error is returned: the
 * daemon keeps running on the old config (SIGHUP semantics). */
int vx_config_reload(struct vx_config **current, const char *path, char *err, size_t errlen);

/* Write the effective config (defaults included) as YAML that parses back to
 * the same config (what `vx6d --check-config -v` prints).  The socks_auth
 * password is written as "********"; vx_config_dump_ex() with
 * VX_CONFIG_DUMP_SECRETS writes it out.  0 or VX_ERR_SYS on a write error. */
#define VX_CONFIG_DUMP_SECRETS 0x1u
int vx_config_dump(const struct vx_config *cfg, FILE *f);
int vx_config_dump_ex(const struct vx_config *cfg, FILE *f, unsigned flags);

/* Look up a service by name; NULL if none. */
const struct vx_cfg_service *vx_config_find_service(const struct vx_config *cfg, const char *name);

/* The hidden_auth entry for ADDRESS (".vx6" optional); NULL if none. */
const struct vx_cfg_hidden_auth *vx_config_find_hidden_auth(const struct vx_config *cfg,
                                                            const char *address);

/* Parse a duration: "10s", "500ms", "5m", "2h", "1d" or a plain integer of
 * seconds, into milliseconds.  0 or VX_ERR_INVAL. */
int vx_config_parse_duration(const char *s, uint64_t *ms);

#endif
