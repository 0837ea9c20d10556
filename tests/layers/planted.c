/* planted.c -- an evaluator object that breaks the layer rule on purpose:
 * `make check-layers` compiles it and requires scripts/check-layers.sh to
 * reject it (clock, file, store, ZeroMQ and JSON references), so the check
 * itself cannot silently pass everything. Never linked into anything. */
#include <stdio.h>
#include <time.h>

int mdb_env_open(void *env, const char *path, unsigned flags, int mode);
int zmq_send(void *s, const void *buf, size_t len, int flags);
void *pbr_store_open(const char *dir);
void *json_loads(const char *s, size_t flags, void *err);

int planted_impure(void);
int planted_impure(void)
{
    FILE *f = fopen("/dev/null", "r");
    if (f)
        fclose(f);
    return (int)time(NULL) + mdb_env_open(NULL, "", 0, 0) + zmq_send(NULL, "", 0, 0) + (pbr_store_open("") != NULL) +
        (json_loads("", 0, NULL) != NULL);
}
