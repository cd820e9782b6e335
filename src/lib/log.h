/* log.h — logging with domains and levels.
 *
 * Messages go to stderr, one line each.  When stderr is the systemd journal
 * (JOURNAL_STREAM matches it) lines carry a "<N>" syslog priority prefix and
 * no timestamp, so journald files them at the right level.  Never log keys.
 * INFO and above must make sense to a user; DEBUG is for developers.
 */
#ifndef VX6_LIB_LOG_H
#define VX6_LIB_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum vx_log_level {
    VX_LOG_DEBUG = 0,
    VX_LOG_INFO = 1,
    VX_LOG_NOTICE = 2,
    VX_LOG_WARN = 3,
    VX_LOG_ERR = 4,
    VX_LOG_NONE = 5
};

enum vx_log_domain {
    LD_GENERAL = 0,
    LD_CONFIG,
    LD_CRYPTO,
    LD_NET,
    LD_SESSION,
    LD_DHT,
    LD_REGISTRY,
    LD_PATH,
    LD_FRONT,
    LD_SERVICE,
    LD_CONTROL,
    LD_BPF,
    LD_QUIC,
    LD_TLS,
    LD_COUNT_
};

/* Global threshold: messages below it are dropped.  Default VX_LOG_INFO. */
void vx_log_set_level(enum vx_log_level level);
enum vx_log_level vx_log_get_level(void);
/* Per-domain override ("dht=debug").  Returns 0 or VX_ERR_INVAL. */
int vx_log_set_domain_level(enum vx_log_domain d, enum vx_log_level level);

/* "debug", "info", "notice", "warn"/"warning", "error" -> level; -1 if unknown. */
int vx_log_level_parse(const char *s);
const char *vx_log_level_name(enum vx_log_level level);
/* "dht" -> LD_DHT; -1 if unknown. */
int vx_log_domain_parse(const char *s);
const char *vx_log_domain_name(enum vx_log_domain d);

/* Parse "info" or "info,dht=debug,session=warn".  0 or VX_ERR_INVAL. */
int vx_log_configure(const char *spec);

/* Set a program name shown in each line ("vx6d[1234]" style). */
void vx_log_set_ident(const char *ident);

int vx_log_enabled(enum vx_log_domain d, enum vx_log_level level);

void vx_log(enum vx_log_domain d, enum vx_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void vx_logv(enum vx_log_domain d, enum vx_log_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

/* Rate limiting: at most one message per `interval_ms` through one limiter; the
 * next message that passes reports how many were suppressed. */
struct vx_ratelim {
    uint64_t interval_ms;
    uint64_t last_ms;
    uint64_t suppressed;
};
#define VX_RATELIM_INIT(ms)                                                                        \
    {                                                                                              \
        (ms), 0, 0                                                                                 \
    }
void vx_log_rl(struct vx_ratelim *rl, enum vx_log_domain d, enum vx_log_level level,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_debug(d, ...)                                                                          \
    do {                                                                                           \
        if (vx_log_enabled((d), VX_LOG_DEBUG))                                                     \
            vx_log((d), VX_LOG_DEBUG, __VA_ARGS__);                                                \
    } while (0)
#define log_info(d, ...)   vx_log((d), VX_LOG_INFO, __VA_ARGS__)
#define log_notice(d, ...) vx_log((d), VX_LOG_NOTICE, __VA_ARGS__)
#define log_warn(d, ...)   vx_log((d), VX_LOG_WARN, __VA_ARGS__)
#define log_err(d, ...)    vx_log((d), VX_LOG_ERR, __VA_ARGS__)

/* Rate-limited warning from a call site: one per 5 s per site. */
#define log_warn_rl(d, ...)                                                                        \
    do {                                                                                           \
        static struct vx_ratelim rl__ = VX_RATELIM_INIT(5000);                                     \
        vx_log_rl(&rl__, (d), VX_LOG_WARN, __VA_ARGS__);                                           \
    } while (0)

#endif
