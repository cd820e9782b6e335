/* fileio.c — small-file I/O with crash safety. */
#include "lib/fileio.h"
#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return VX_ERR_SYS;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = 0;

    if (!copy)
        return VX_ERR_NOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = VX_ERR_SYS;
        goto out;
    }
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = VX_ERR_SYS;
    close(fd);
out:
    free(copy);
    return rc;
}

int vx_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096];
    int fd = -1, rc, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
        return VX_ERR_TOOBIG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return VX_ERR_SYS;
    if (fchmod(fd, mode) < 0) {
        rc = VX_ERR_SYS;
        goto fail;
    }
    if ((rc = write_all(fd, data, len)) < 0)
        goto fail;
    if (fsync(fd) < 0) {
        rc = VX_ERR_SYS;
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = VX_ERR_SYS;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = VX_ERR_SYS;
        goto fail;
    }
    return fsync_parent_dir(path);
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return rc;
}

int vx_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd, rc = 0;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? VX_ERR_NOTFOUND : VX_ERR_SYS;
    if (fstat(fd, &st) < 0) {
        rc = VX_ERR_SYS;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = VX_ERR_INVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = VX_ERR_TOOBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = VX_ERR_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = VX_ERR_SYS;
            goto out;
        }
        if (n == 0)
            break; /* file shrank under us: return what is there */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

int vx_mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return VX_ERR_INVAL;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return VX_ERR_SYS;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return VX_ERR_SYS;
    return 0;
}

int vx_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int n;
    if (dl > 0 && dir[dl - 1] == '/')
        n = snprintf(out, cap, "%s%s", dir, name);
    else
        n = snprintf(out, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? VX_ERR_TOOBIG : 0;
}
