/* cmd_keys.c -- owns `pbrctl keygen NAME`: a CURVE key pair written as
 * NAME.key (public) and NAME.key_secret (secret, mode 0600), Z85 + newline,
 * never overwriting an existing file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "pbrctl/pbrctl.h"

/* Creates path exclusively with mode and writes key + "\n". Returns 0 or -1
 * (message printed; a partly written file is removed). */
static int write_key_file(const char *path, const char *key, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "pbrctl keygen: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[42];
    memcpy(line, key, 40);
    line[40] = '\n';
    if (fchmod(fd, mode) != 0 || write(fd, line, 41) != 41 || fsync(fd) != 0) {
        fprintf(stderr, "pbrctl keygen: writing %s: %s\n", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "pbrctl keygen: close %s: %s\n", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int cmd_keygen(const pbrctl_opts *o, int argc, char **argv)
{
    (void)o;
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: pbrctl keygen NAME   (writes NAME.key and NAME.key_secret)\n");
        return 2;
    }
    char pub_path[4096], sec_path[4096], pub[41], sec[41];
    if (snprintf(pub_path, sizeof pub_path, "%s.key", argv[1]) >= (int)sizeof pub_path ||
        snprintf(sec_path, sizeof sec_path, "%s.key_secret", argv[1]) >= (int)sizeof sec_path) {
        fprintf(stderr, "pbrctl keygen: name too long\n");
        return 2;
    }
    if (access(pub_path, F_OK) == 0 || access(sec_path, F_OK) == 0) {
        fprintf(stderr, "pbrctl keygen: %s or %s exists; refusing to overwrite\n", pub_path, sec_path);
        return 1;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "pbrctl keygen: zmq_curve_keypair: %s (libzmq built without CURVE?)\n", zmq_strerror(errno));
        return 1;
    }
    int rc = 1;
    if (write_key_file(sec_path, sec, 0600) == 0) {
        if (write_key_file(pub_path, pub, 0644) == 0)
            rc = 0;
        else
            unlink(sec_path);
    }
    memset(sec, 0, sizeof sec);
    if (rc == 0)
        printf("wrote %s (public) and %s (secret, mode 0600)\n", pub_path, sec_path);
    return rc;
}
