/* fileio.c: whole-file reads and crash-safe writes (temp file, fsync, rename, fsync of the folder). */
#include "retrace/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

rt_status rt_file_read(const char *path, char **data, size_t *len) {
    *data = NULL;
    if (len) *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_fail(RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return rt_fail(RT_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    long size = ftell(fp);
    rewind(fp);
    if (size < 0) {
        fclose(fp);
        return rt_fail(RT_ERR_IO, "%s: cannot size: %s", path, strerror(errno));
    }
    char *buf = rt_try_alloc((size_t)size + 1, path);
    if (!buf) {
        fclose(fp);
        return RT_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, (size_t)size, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err || got != (size_t)size) {
        free(buf);
        return rt_fail(RT_ERR_IO, "%s: short read (%zu of %ld bytes)", path, got, size);
    }
    buf[size] = '\0';
    *data = buf;
    if (len) *len = (size_t)size;
    return RT_OK;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return rt_strdup(".");
    if (slash == path) return rt_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = rt_malloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

static void fsync_dir(const char *path) {
    char *dir = dir_of(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

rt_status rt_atomic_open(rt_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    size_t n = strlen(path) + 16;
    f->tmp_path = rt_malloc(n);
    snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        rt_status s = rt_fail(RT_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        return s;
    }
    /* mkstemp creates 0600; give the final file the usual permissions. */
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        unlink(f->tmp_path);
        free(f->tmp_path);
        f->tmp_path = NULL;
        return rt_fail(RT_ERR_IO, "%s: fdopen failed: %s", path, strerror(errno));
    }
    f->path = rt_strdup(path);
    return RT_OK;
}

rt_status rt_atomic_write(rt_atomic_file *f, const void *data, size_t len) {
    if (f->failed) return RT_ERR_IO;
    if (len && (rt_fault_hit(RT_FAULT_WRITE) ? (errno = EIO, 1) : fwrite(data, 1, len, f->fp) != len)) {
        f->failed = 1;
        return rt_fail(RT_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    }
    return RT_OK;
}

static void atomic_release(rt_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fp = NULL;
}

rt_status rt_atomic_commit(rt_atomic_file *f) {
    if (f->failed) {
        rt_atomic_abort(f);
        return RT_ERR_IO;
    }
    rt_status s = RT_OK;
    if (fflush(f->fp) != 0 || (rt_fault_hit(RT_FAULT_FSYNC) ? (errno = EIO, 1) : fsync(fileno(f->fp)) != 0))
        s = rt_fail(RT_ERR_IO, "%s: flush failed: %s", f->path, strerror(errno));
    if (fclose(f->fp) != 0 && s == RT_OK) s = rt_fail(RT_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (s == RT_OK && (rt_fault_hit(RT_FAULT_RENAME) ? (errno = EXDEV, 1) : rename(f->tmp_path, f->path) != 0))
        s = rt_fail(RT_ERR_IO, "%s: rename failed: %s", f->path, strerror(errno));
    if (s != RT_OK) unlink(f->tmp_path);
    else fsync_dir(f->path);
    atomic_release(f);
    return s;
}

void rt_atomic_abort(rt_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    atomic_release(f);
}

rt_status rt_file_write_atomic(const char *path, const void *data, size_t len) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_open(&f, path));
    rt_status s = rt_atomic_write(&f, data, len);
    if (s != RT_OK) {
        rt_atomic_abort(&f);
        return s;
    }
    return rt_atomic_commit(&f);
}

int rt_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int rt_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

rt_status rt_mkdir_p(const char *path) {
    char *p = rt_strdup(path);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rt_status s = rt_fail(RT_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
            free(p);
            return s;
        }
        *c = '/';
    }
    rt_status s = RT_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) s = rt_fail(RT_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
    else if (!rt_is_dir(p)) s = rt_fail(RT_ERR_IO, "%s: exists and is not a folder", p);
    free(p);
    return s;
}

char *rt_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    int sep = a > 0 && dir[a - 1] != '/';
    char *out = rt_malloc(a + b + 2);
    memcpy(out, dir, a);
    if (sep) out[a] = '/';
    memcpy(out + a + sep, name, b + 1);
    return out;
}

rt_status rt_copy_files(const char *from_dir, const char *to_dir, const char *const *names) {
    rt_status s = RT_OK;
    for (; s == RT_OK && *names; names++) {
        char *src = rt_path_join(from_dir, *names), *dst = rt_path_join(to_dir, *names), *data = NULL;
        size_t len = 0;
        if (rt_path_exists(src)) {
            s = rt_file_read(src, &data, &len);
            if (s == RT_OK) s = rt_file_write_atomic(dst, data, len);
        }
        free(src), free(dst), free(data);
    }
    return s;
}
