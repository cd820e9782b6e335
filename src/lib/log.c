/* log.c — logging with domains and levels. */
#include "lib/log.h"
#include "lib/err.h"
#include "lib/vxtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum vx_log_level global_level = VX_LOG_INFO;
static signed char domain_level[LD_COUNT_]; /* -1: use global */
static int domain_level_init;
static char ident[32] = "vx6";
static int journal = -1; /* -1: not yet probed */

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error", "none"};
static const char *const domain_names[LD_COUNT_] = {
        "general", "config", "crypto",  "net",     "session", "dht",  "registry",
        "path",    "front",  "service", "control", "bpf",     "quic", "tls",
};
/* syslog priorities for journald's "<N>" prefix */
static const int level_prio[] = {7, 6, 5, 4, 3, 3};

static void domain_levels_init(void)
{
    if (domain_level_init)
        return;
    memset(domain_level, -1, sizeof(domain_level));
    domain_level_init = 1;
}

void vx_log_set_level(enum vx_log_level level)
{
    if (level <= VX_LOG_NONE)
        global_level = level;
}

enum vx_log_level vx_log_get_level(void)
{
    return global_level;
}

int vx_log_set_domain_level(enum vx_log_domain d, enum vx_log_level level)
{
    if ((unsigned)d >= LD_COUNT_ || (unsigned)level > VX_LOG_NONE)
        return VX_ERR_INVAL;
    domain_levels_init();
    domain_level[d] = (signed char)level;
    return 0;
}

int vx_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i <= VX_LOG_NONE; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return VX_LOG_WARN;
    if (strcasecmp(s, "err") == 0)
        return VX_LOG_ERR;
    return -1;
}

const char *vx_log_level_name(enum vx_log_level level)
{
    return (unsigned)level <= VX_LOG_NONE ? level_names[level] : "?";
}

int vx_log_domain_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < LD_COUNT_; i++)
        if (strcasecmp(s, domain_names[i]) == 0)
            return i;
    return -1;
}

const char *vx_log_domain_name(enum vx_log_domain d)
{
    return (unsigned)d < LD_COUNT_ ? domain_names[d] : "?";
}

int vx_log_configure(const char *spec)
{
    char buf[256], *save = NULL, *tok;
    int global = -1;
    signed char dl[LD_COUNT_];

    if (!spec || strlen(spec) >= sizeof(buf))
        return VX_ERR_INVAL;
    memset(dl, -1, sizeof(dl));
    strcpy(buf, spec);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            if ((global = vx_log_level_parse(tok)) < 0)
                return VX_ERR_INVAL;
            continue;
        }
        *eq = '\0';
        int d = vx_log_domain_parse(tok), l = vx_log_level_parse(eq + 1);
        if (d < 0 || l < 0)
            return VX_ERR_INVAL;
        dl[d] = (signed char)l;
    }
    /* Only apply once the whole spec parsed. */
    domain_levels_init();
    if (global >= 0)
        global_level = (enum vx_log_level)global;
    memcpy(domain_level, dl, sizeof(dl));
    return 0;
}

void vx_log_set_ident(const char *id)
{
    snprintf(ident, sizeof(ident), "%s", id ? id : "vx6");
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stream stderr is connected to. */
static int probe_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return 0;
    if (fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int vx_log_enabled(enum vx_log_domain d, enum vx_log_level level)
{
    int threshold = global_level;
    if (domain_level_init && (unsigned)d < LD_COUNT_ && domain_level[d] >= 0)
        threshold = domain_level[d];
    return (int)level >= threshold && level < VX_LOG_NONE;
}

void vx_logv(enum vx_log_domain d, enum vx_log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    int n = 0, saved_errno = errno;

    if (!vx_log_enabled(d, level))
        goto out;
    if (journal < 0)
        journal = probe_journal();
    if (journal) {
        n = snprintf(line, sizeof(line), "<%d>%s: ", level_prio[level], vx_log_domain_name(d));
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000L, ident, (int)getpid(), vx_log_level_name(level),
                     vx_log_domain_name(d));
    }
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = (m < 0) ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    /* Strip trailing newlines the caller may have added, and control bytes
     * that could forge log lines. */
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = '?';
    line[len++] = '\n';
    /* One write(2) so concurrent processes do not interleave a line. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
out:
    errno = saved_errno;
}

void vx_log(enum vx_log_domain d, enum vx_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vx_logv(d, level, fmt, ap);
    va_end(ap);
}

void vx_log_rl(struct vx_ratelim *rl, enum vx_log_domain d, enum vx_log_level level,
               const char *fmt, ...)
{
    uint64_t now = vx_time_mono_ms();
    va_list ap;

    if (!vx_log_enabled(d, level))
        return;
    if (rl->last_ms && now - rl->last_ms < rl->interval_ms) {
        rl->suppressed++;
        return;
    }
    if (rl->suppressed) {
        vx_log(d, level, "(%llu similar messages suppressed)", (unsigned long long)rl->suppressed);
        rl->suppressed = 0;
    }
    rl->last_ms = now ? now : 1;
    va_start(ap, fmt);
    vx_logv(d, level, fmt, ap);
    va_end(ap);
}
