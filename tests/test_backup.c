/* test_backup.c -- the backup op and a restore drill against a real pbrd
 * (daemon/pbrd/backup.c, SECURITY.md "Backups"):
 *   - back up while a thread keeps sending events, restore the backup into
 *     a new directory, start pbrd on it: verify reports 0 differences, and
 *     exactly the events acknowledged up to the manifest's last_seq are
 *     there (every batch at or below it whole, none above it);
 *   - the manifest's SHA-256s match the files; modes are 0700 and 0600;
 *   - refusals: relative, non-empty, missing parent; roles (CURVE): finance
 *     and operator may, a provider gets "forbidden".
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>

#include "pbr/files.h"
#include "pbr/sha256.h"
#include "daemon_harness.h"
#include "settle_helpers.h"
#include "pbr/store.h"

#define SENDER_BATCH 50 /* events per batch of the sending thread */
#define SENDER_MAX 4096 /* batches it may send */

/* ---- fixtures ------------------------------------------------------------------ */

/* A contracts dir <data>.contracts holding the spec's example.yaml. */
static void make_contracts(daemon_t *d)
{
    snprintf(d->contracts, sizeof d->contracts, "%s.contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    char from[1024], to[1024], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(spec_example(from, sizeof from, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/example.yaml", d->contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, text, len, err, sizeof err), 0);
    free(text);
}

static void remove_dir(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
}

/* The example events (12) and a settle through 2030-01-01 (12 statements). */
static void ingest_example_and_settle(daemon_t *d)
{
    char path[1024], err[PBR_ERR_MAX];
    char *events = pbr_read_file(spec_example(path, sizeof path, "example.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(events != NULL, "%s", err);
    json_t *r = ingest_batch(d, events);
    ck_assert_int_eq(geti(r, "accepted"), 12);
    json_decref(r);
    free(events);
    r = api_call(d, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 12);
    json_decref(r);
}

/* ---- the sending thread ------------------------------------------------------------ */

typedef struct sender {
    void *ctx;
    const char *endpoint;
    atomic_int stop;
    atomic_int acked;                /* batches acknowledged so far */
    json_int_t last_seq[SENDER_MAX]; /* reply last_seq of batch i (valid for i < acked) */
    char failure[256];               /* "" or what went wrong (no Check asserts off the test thread) */
} sender;

/* Batch k: SENDER_BATCH release events with ids s<k>-<i>. */
static char *sender_batch(int k)
{
    size_t cap = SENDER_BATCH * 256, len = 0;
    char *b = malloc(cap);
    for (int i = 0; i < SENDER_BATCH; i++)
        len += (size_t)snprintf(b + len, cap - len,
                                "{\"id\": \"s%d-%d\", \"type\": \"release\", \"offender\": \"S%d-%d\", "
                                "\"date\": \"2021-02-03\", \"area\": \"X\", \"establishment\": \"HMP-X\", "
                                "\"sentence_days\": 90, \"age\": 33, \"gender\": \"F\"}\n",
                                k, i, k, i);
    return b;
}

/* Sends batches one after the other until stop, recording each reply's last_seq. */
static void *sender_main(void *arg)
{
    sender *s = arg;
    void *sock = zmq_socket(s->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(sock, s->endpoint);
    for (int k = 0; k < SENDER_MAX && !atomic_load(&s->stop); k++) {
        char *body = sender_batch(k);
        int ok = zmq_send(sock, "", 0, ZMQ_SNDMORE) == 0 && zmq_send(sock, body, strlen(body), 0) >= 0;
        free(body);
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        char *reply = NULL;
        if (ok && zmq_poll(&it, 1, 30000) == 1) {
            zmq_msg_t m;
            for (int more = 1, f = 0; more; f++) {
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, sock, 0) < 0)
                    break;
                if (f == 1)
                    reply = strndup(zmq_msg_data(&m), zmq_msg_size(&m));
                more = zmq_msg_more(&m);
                zmq_msg_close(&m);
            }
        }
        json_t *r = reply ? json_loads(reply, 0, NULL) : NULL;
        free(reply);
        json_int_t accepted = json_integer_value(json_object_get(r, "accepted"));
        if (accepted != SENDER_BATCH) {
            snprintf(s->failure, sizeof s->failure, "batch %d: accepted %lld of %d", k, (long long)accepted,
                     SENDER_BATCH);
            json_decref(r);
            break;
        }
        s->last_seq[k] = json_integer_value(json_object_get(r, "last_seq"));
        json_decref(r);
        atomic_store(&s->acked, k + 1);
    }
    zmq_close(sock);
    return NULL;
}

static void wait_acked(sender *s, int n)
{
    for (int i = 0; i < 3000 && atomic_load(&s->acked) < n && !s->failure[0]; i++)
        usleep(10000);
    ck_assert_msg(!s->failure[0], "sender: %s", s->failure);
    ck_assert_msg(atomic_load(&s->acked) >= n, "sender acknowledged only %d batches", atomic_load(&s->acked));
}

/* ---- checks on the backup ------------------------------------------------------------ */

static const char *walk_failure;
static char walk_path[4096];

/* nftw: every directory 0700, every file 0600. */
static int check_mode(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    mode_t want = type == FTW_D ? 0700 : 0600;
    if ((sb->st_mode & 07777) != want) {
        walk_failure = type == FTW_D ? "directory not 0700" : "file not 0600";
        snprintf(walk_path, sizeof walk_path, "%s", path);
        return 1;
    }
    return 0;
}

/* The manifest of dir: its files exist with the listed size and SHA-256
 * and nothing else is in dir. Returns the manifest (new reference). */
static json_t *check_manifest(const char *dir)
{
    char path[4096], err[PBR_ERR_MAX];
    snprintf(path, sizeof path, "%s/MANIFEST.json", dir);
    json_error_t jerr;
    json_t *m = json_load_file(path, 0, &jerr);
    ck_assert_msg(m != NULL, "MANIFEST.json: %s", jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(m, "format")), "pbrd-backup/1");
    size_t i, nfiles = 0;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(f, "path")));
        size_t len;
        char *data = pbr_read_file(path, &len, err, sizeof err);
        ck_assert_msg(data != NULL, "%s", err);
        char sha[65];
        pbr_sha256_hex(data, len, sha);
        free(data);
        ck_assert_msg(len == (size_t)json_integer_value(json_object_get(f, "bytes")), "size of %s", path);
        ck_assert_msg(!strcmp(sha, json_string_value(json_object_get(f, "sha256"))), "sha256 of %s", path);
        nfiles++;
    }
    /* the files on disk: the listed ones and MANIFEST.json */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    unsigned long on_disk = 0;
    ck_assert_int_eq(fscanf(p, "%lu", &on_disk), 1);
    pclose(p);
    ck_assert_uint_eq(on_disk, nfiles + 1);
    walk_failure = NULL;
    ck_assert_int_eq(nftw(dir, check_mode, 16, FTW_PHYS), 0);
    ck_assert_msg(walk_failure == NULL, "%s: %s", walk_path, walk_failure ? walk_failure : "");
    return m;
}

/* The ids of every event in the store at dir, sorted (malloc'd array of malloc'd strings). */
typedef struct idlist {
    char **ids;
    size_t n, cap;
} idlist;

static int collect_id(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    idlist *l = ctx;
    json_t *e = json_loadb(json, len, 0, NULL);
    if (l->n == l->cap)
        l->ids = realloc(l->ids, (l->cap = l->cap ? l->cap * 2 : 1024) * sizeof *l->ids);
    l->ids[l->n++] = strdup(json_string_value(json_object_get(e, "id")));
    json_decref(e);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_id(const idlist *l, const char *id)
{
    return bsearch(&id, l->ids, l->n, sizeof *l->ids, cmp_id) != NULL;
}

/* ---- tests ---------------------------------------------------------------------------- */

/* The restore drill of SECURITY.md: back up during ingest, restore into
 * a new directory, start pbrd on it, verify, check every event. */
START_TEST(backup_during_ingest_restores)
{
    daemon_t d;
    daemon_prepare(&d, "auto_settle: false\n");
    snprintf(d.now, sizeof d.now, "2030-01-01");
    make_contracts(&d);
    daemon_start(&d);
    ingest_example_and_settle(&d);

    static sender s; /* large: not on the stack */
    memset(&s, 0, sizeof s);
    s.ctx = d.ctx;
    s.endpoint = d.ingest;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, sender_main, &s), 0);
    wait_acked(&s, 3);
    int acked_before = atomic_load(&s.acked);

    char bk[256], req[512];
    snprintf(bk, sizeof bk, "%s.backup", d.dir);
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", bk);
    json_t *r = api_call(&d, req);
    ck_assert_msg(json_object_get(r, "error") == NULL, "backup: %s", json_string_value(json_object_get(r, "error")));
    wait_acked(&s, atomic_load(&s.acked) + 3); /* ingest went on */
    atomic_store(&s.stop, 1);
    pthread_join(t, NULL);
    ck_assert_msg(!s.failure[0], "sender: %s", s.failure);
    int acked = atomic_load(&s.acked);

    json_t *m = check_manifest(bk);
    json_int_t last_seq = json_integer_value(json_object_get(m, "last_seq"));
    ck_assert_int_eq(geti(r, "last_seq"), last_seq);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "statements")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "events")), last_seq); /* no gaps */
    /* the backup is no older than the request: what was acknowledged before is in it */
    ck_assert_int_ge(last_seq, s.last_seq[acked_before - 1]);
    ck_assert_int_lt(last_seq, s.last_seq[acked - 1]);

    /* restore: a copy of the backup as the data dir of a new pbrd */
    daemon_t rd;
    daemon_prepare(&rd, "auto_settle: false\n");
    snprintf(rd.now, sizeof rd.now, "2030-01-01");
    snprintf(rd.contracts, sizeof rd.contracts, "%s", d.contracts);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -a '%s/.' '%s/'", bk, rd.dir);
    ck_assert_int_eq(system(cmd), 0);
    daemon_start(&rd);
    json_t *v = api_call(&rd, "{\"op\":\"verify\"}");
    ck_assert_int_eq(geti(v, "checked"), 12);
    ck_assert_uint_eq(json_array_size(json_object_get(v, "differences")), 0);
    json_decref(v);
    json_t *st = api_call(&rd, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "last_seq"), last_seq);
    ck_assert_int_eq(geti(st, "events"), last_seq);
    json_decref(st);
    int status = daemon_signal_wait(&rd, SIGTERM);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* every acknowledged event up to last_seq is there; nothing after it */
    pbr_store *restored;
    char err[PBR_ERR_MAX];
    ck_assert_msg(pbr_store_open_readonly(rd.dir, &restored, err, sizeof err) == 0, "%s", err);
    idlist ids = {0};
    ck_assert_int_eq(pbr_store_foreach_event(restored, 1, UINT64_MAX, collect_id, &ids, err, sizeof err), 0);
    pbr_store_close(&restored);
    qsort(ids.ids, ids.n, sizeof *ids.ids, cmp_id);
    ck_assert_uint_eq(ids.n, (size_t)last_seq);
    ck_assert(has_id(&ids, "e01") && has_id(&ids, "e12"));
    int below = 0;
    for (int k = 0; k < acked; k++) {
        int in = s.last_seq[k] <= last_seq;
        below += in;
        for (int i = 0; i < SENDER_BATCH; i++) {
            char id[32];
            snprintf(id, sizeof id, "s%d-%d", k, i);
            ck_assert_msg(has_id(&ids, id) == in, "event %s (batch last_seq %lld, backup %lld) %s", id,
                          (long long)s.last_seq[k], (long long)last_seq, in ? "missing" : "present");
        }
    }
    ck_assert_uint_eq(ids.n, 12 + (size_t)below * SENDER_BATCH);
    for (size_t i = 0; i < ids.n; i++)
        free(ids.ids[i]);
    free(ids.ids);

    json_decref(m);
    json_decref(r);
    remove_dir(bk);
    zmq_ctx_term(rd.ctx);
    remove_tree(rd.dir);
    remove_dir(d.contracts);
    daemon_finish(&d);
}
END_TEST

/* Where a backup cannot go: the error names the problem and nothing of
 * the existing directory is touched; an existing empty one is used. */
START_TEST(backup_refusals)
{
    daemon_t d;
    daemon_prepare(&d, "auto_settle: false\n");
    snprintf(d.now, sizeof d.now, "2030-01-01");
    make_contracts(&d);
    daemon_start(&d);
    ingest_example_and_settle(&d);
    char req[512], dir[256], file[300];

    json_t *r = api_call(&d, "{\"op\":\"backup\",\"dir\":\"relative/dir\"}");
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")),
                     "backup: needs \"dir\", an absolute path on the daemon's machine");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"backup\"}");
    ck_assert_ptr_nonnull(json_object_get(r, "error"));
    json_decref(r);

    snprintf(dir, sizeof dir, "%s.nonempty", d.dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/keep", dir);
    harness_write_text(file, "x\n");
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", dir);
    r = api_call(&d, req);
    ck_assert_msg(strstr(json_string_value(json_object_get(r, "error")), "exists and is not empty") != NULL, "got %s",
                  json_string_value(json_object_get(r, "error")));
    json_decref(r);
    ck_assert_int_eq(access(file, F_OK), 0);
    remove_dir(dir);

    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s.missing/sub\"}", d.dir);
    r = api_call(&d, req);
    ck_assert_msg(strstr(json_string_value(json_object_get(r, "error")), "No such file or directory") != NULL, "got %s",
                  json_string_value(json_object_get(r, "error")));
    json_decref(r);

    snprintf(dir, sizeof dir, "%s.empty", d.dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", dir);
    r = api_call(&d, req);
    ck_assert_int_eq(geti(r, "statements"), 12);
    ck_assert_int_eq(geti(r, "last_seq"), 12);
    /* 12 statements x (.json + .csv) + data.mdb + MANIFEST.json */
    ck_assert_int_eq(geti(r, "files"), 26);
    json_decref(r);
    json_decref(check_manifest(dir)); /* also: the directory is now 0700 */
    remove_dir(dir);
    remove_dir(d.contracts);
    daemon_finish(&d);
}
END_TEST

/* Roles: finance and operator may back up, a provider may not. */
START_TEST(backup_roles)
{
    harness_keypair server = harness_keypair_new(), fin = harness_keypair_new(), op = harness_keypair_new(),
                    prov = harness_keypair_new();
    char clients[1024];
    snprintf(clients, sizeof clients,
             "- {key: \"%s\", role: finance}\n- {key: \"%s\", role: operator}\n- {key: \"%s\", role: "
             "\"provider:serco\"}\n",
             fin.pub, op.pub, prov.pub);
    daemon_t d;
    daemon_prepare_curve(&d, "auto_settle: false\n", &server, &fin, clients);
    make_contracts(&d);
    daemon_start(&d);
    char req[512], dir[256];
    snprintf(dir, sizeof dir, "%s.prov", d.dir);
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", dir);
    json_t *r = api_call_as(&d, prov.pub, prov.sec, req, 10000);
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")), "forbidden");
    json_decref(r);
    ck_assert_int_ne(access(dir, F_OK), 0);
    snprintf(dir, sizeof dir, "%s.op", d.dir);
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", dir);
    r = api_call_as(&d, op.pub, op.sec, req, 10000);
    ck_assert_msg(json_object_get(r, "error") == NULL, "operator: %s", json_string_value(json_object_get(r, "error")));
    json_decref(r);
    remove_dir(dir);
    snprintf(dir, sizeof dir, "%s.fin", d.dir);
    snprintf(req, sizeof req, "{\"op\":\"backup\",\"dir\":\"%s\"}", dir);
    r = api_call_as(&d, fin.pub, fin.sec, req, 10000);
    ck_assert_msg(json_object_get(r, "error") == NULL, "finance: %s", json_string_value(json_object_get(r, "error")));
    json_decref(r);
    remove_dir(dir);
    remove_dir(d.contracts);
    daemon_finish(&d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("backup");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, backup_during_ingest_restores);
    tcase_add_test(tc, backup_refusals);
    tcase_add_test(tc, backup_roles);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)
