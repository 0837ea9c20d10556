/* record.c -- owns the statement record (record.h): its stored JSON form,
 * the statement files on disk (paths, atomic writes, comparison), their
 * repair from the store and the removal of stale temporary files. */
#include "pbrd/record.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/statement.h"
#include "pbrd/log.h"

#define RECORD_PATH_MAX 4096

char *pbrd_record_encode(const char *contract_sha256, const char *statement, const char *ledger)
{
    json_t *o = json_pack("{ss ss ss}", "contract_sha256", contract_sha256, "statement", statement, "ledger", ledger);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

void pbrd_record_clear(pbrd_record *r)
{
    if (r == NULL)
        return;
    free(r->contract_sha256);
    free(r->statement);
    free(r->ledger);
    memset(r, 0, sizeof *r);
}

/* A copy of o's string member name into *out. Returns 0, or -1 with err
 * (missing, not a string, out of memory). */
static int copy_member(const json_t *o, const char *name, char **out, char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (s == NULL)
        return pbr_errf(err, errlen, "statement record: \"%s\" is missing or not a string", name);
    *out = strdup(s);
    return *out != NULL ? 0 : pbr_errf(err, errlen, "statement record: out of memory");
}

int pbrd_record_decode(const char *bytes, size_t len, pbrd_record *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_error_t je;
    json_t *o = json_loadb(bytes, len, 0, &je);
    if (o == NULL)
        return pbr_errf(err, errlen, "statement record: not JSON (line %d, column %d): %s", je.line, je.column,
                        je.text);
    int rc = -1;
    if (!json_is_object(o))
        pbr_errf(err, errlen, "statement record: not a JSON object");
    else if (copy_member(o, "contract_sha256", &r->contract_sha256, err, errlen) == 0 &&
             copy_member(o, "statement", &r->statement, err, errlen) == 0 &&
             copy_member(o, "ledger", &r->ledger, err, errlen) == 0)
        rc = 0;
    json_decref(o);
    if (rc != 0)
        pbrd_record_clear(r);
    return rc;
}

int pbrd_record_key_of(const pbrd_record *r, pbrd_record_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    json_error_t je;
    json_t *st = json_loads(r->statement, 0, &je);
    if (st == NULL)
        return pbr_errf(err, errlen, "statement record: the statement is not JSON (line %d, column %d): %s", je.line,
                        je.column, je.text);
    const char *contract = json_string_value(json_object_get(st, "contract"));
    const char *quarter = json_string_value(json_object_get(st, "quarter"));
    json_t *through = json_object_get(st, "events_through");
    int rc = -1;
    if (contract == NULL || contract[0] == '\0' || strlen(contract) > PBR_ID_MAX)
        pbr_errf(err, errlen, "statement record: the statement's \"contract\" is missing or not an identifier");
    else if (quarter == NULL || pbr_date_parse(quarter, strlen(quarter), &k->q) != 0)
        pbr_errf(err, errlen, "statement record: the statement's \"quarter\" is missing or not a date");
    else
        rc = 0;
    if (rc == 0) {
        snprintf(k->contract, sizeof k->contract, "%s", contract);
        pbr_date_format(k->q, k->quarter);
        k->events_through = json_is_integer(through) ? (uint64_t)json_integer_value(through) : 0;
    }
    json_decref(st);
    return rc;
}

int pbrd_record_get(pbr_store *store, const char *contract, const char *quarter, pbrd_record *r, char *err,
                    size_t errlen)
{
    char *bytes = NULL;
    size_t len = 0;
    memset(r, 0, sizeof *r);
    int rc = pbr_store_get_statement(store, contract, quarter, &bytes, &len, err, errlen);
    if (rc != PBR_STORE_OK)
        return rc == PBR_STORE_NOTFOUND ? PBR_STORE_NOTFOUND : PBR_STORE_ERROR;
    rc = pbrd_record_decode(bytes, len, r, err, errlen);
    free(bytes);
    return rc == 0 ? PBR_STORE_OK : PBRD_RECORD_UNREADABLE;
}

int pbrd_record_path(const char *statements_dir, const char *contract, const char *quarter, const char *ext, char *out,
                     size_t n)
{
    int w = snprintf(out, n, "%s/%s/%s.%s", statements_dir, contract, quarter, ext);
    return w >= 0 && (size_t)w < n ? 0 : -1;
}

/* The .json file's bytes: the statement and a newline. Returns malloc'd
 * text (caller frees; *len its length), or NULL when out of memory. */
static char *json_file_bytes(const char *statement, size_t *len)
{
    size_t sl = strlen(statement);
    char *b = malloc(sl + 2);
    if (b == NULL)
        return NULL;
    memcpy(b, statement, sl);
    b[sl] = '\n';
    b[sl + 1] = '\0';
    *len = sl + 1;
    return b;
}

int pbrd_record_write_files(const char *statements_dir, const char *contract, const char *quarter, const char *title,
                            const char *statement, char *err, size_t errlen)
{
    char path[RECORD_PATH_MAX];
    size_t len;
    if (pbrd_record_path(statements_dir, contract, quarter, "json", path, sizeof path) != 0)
        return pbr_errf(err, errlen, "statement file path of %s %s is too long", contract, quarter);
    char *bytes = json_file_bytes(statement, &len);
    if (bytes == NULL)
        return pbr_errf(err, errlen, "writing %s: out of memory", path);
    int rc = pbr_write_file_atomic(path, bytes, len, err, errlen);
    free(bytes);
    if (rc != 0)
        return -1;
    char *csv = pbr_statement_render_titled(statement, strlen(statement), PBR_FMT_CSV, title, err, errlen);
    if (csv == NULL)
        return -1;
    pbrd_record_path(statements_dir, contract, quarter, "csv", path, sizeof path); /* no longer than the .json's */
    rc = pbr_write_file_atomic(path, csv, strlen(csv), err, errlen);
    free(csv);
    return rc;
}

/* Does the file at path hold exactly want? (0 when it cannot be read) */
static int file_equals(const char *path, const char *want, size_t wantlen)
{
    size_t len;
    char *got = pbr_read_file(path, &len, NULL, 0);
    int same = got != NULL && len == wantlen && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

int pbrd_record_check_files(const char *statements_dir, const char *contract, const char *quarter, const char *title,
                            const char *statement)
{
    char path[RECORD_PATH_MAX], err[PBR_ERR_MAX];
    size_t len;
    int problems = 0;
    char *bytes = json_file_bytes(statement, &len);
    if (bytes == NULL || pbrd_record_path(statements_dir, contract, quarter, "json", path, sizeof path) != 0 ||
        !file_equals(path, bytes, len))
        problems |= PBRD_RECORD_JSON_DIFFERS;
    free(bytes);
    char *csv = pbr_statement_render_titled(statement, strlen(statement), PBR_FMT_CSV, title, err, sizeof err);
    if (csv == NULL)
        problems |= PBRD_RECORD_CSV_UNRENDERED;
    else if (pbrd_record_path(statements_dir, contract, quarter, "csv", path, sizeof path) != 0 ||
             !file_equals(path, csv, strlen(csv)))
        problems |= PBRD_RECORD_CSV_DIFFERS;
    free(csv);
    return problems;
}

typedef struct repair_ctx {
    const char *statements_dir;
    pbrd_record_title_fn title;
    void *title_ctx;
    size_t rewritten;
} repair_ctx;

/* pbr_store_event_fn: rewrites the files of one record when they are
 * missing or differ (the .csv is a rendering: rewritten too when of an
 * older layout). Never stops the walk. */
static int repair_one(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    repair_ctx *rc = ctx;
    pbrd_record r;
    pbrd_record_key k;
    char err[PBR_ERR_MAX];
    if (pbrd_record_decode(json, len, &r, err, sizeof err) != 0)
        return 0;
    if (pbrd_record_key_of(&r, &k, err, sizeof err) == 0) {
        const char *title = rc->title ? rc->title(rc->title_ctx, r.contract_sha256) : NULL;
        if (pbrd_record_check_files(rc->statements_dir, k.contract, k.quarter, title, r.statement) != 0 &&
            pbrd_record_write_files(rc->statements_dir, k.contract, k.quarter, title, r.statement, err, sizeof err) ==
                0) {
            rc->rewritten++;
            pbrd_log(PBRD_LOG_WARN, "statement files rewritten from the store", "contract=%s quarter=%s", k.contract,
                     k.quarter);
        }
    }
    pbrd_record_clear(&r);
    return 0;
}

int pbrd_record_repair(pbr_store *store, const char *statements_dir, pbrd_record_title_fn title, void *title_ctx,
                       size_t *rewritten, char *err, size_t errlen)
{
    repair_ctx rc = {statements_dir, title, title_ctx, 0};
    int r = pbr_store_foreach_statement(store, NULL, repair_one, &rc, err, errlen);
    if (rewritten != NULL)
        *rewritten = rc.rewritten;
    return r == 0 ? 0 : -1;
}

/* Removes the "NAME.tmpXXXXXX" files of one contract's directory. Returns
 * the number removed. */
static size_t remove_temp_files_in(const char *dir)
{
    size_t removed = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *f;
    while ((f = readdir(d)) != NULL) {
        const char *tmp = strstr(f->d_name, ".tmp");
        if (tmp == NULL || strlen(tmp) != 10)
            continue;
        char path[2 * RECORD_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
        if (unlink(path) == 0)
            removed++;
        else
            pbrd_log(PBRD_LOG_WARN, "cannot remove a temporary statement file", "file=%s error=\"%s\"", path,
                     strerror(errno));
    }
    closedir(d);
    return removed;
}

size_t pbrd_record_remove_temp_files(const char *statements_dir)
{
    size_t removed = 0;
    DIR *top = opendir(statements_dir);
    if (top == NULL)
        return 0;
    struct dirent *c;
    while ((c = readdir(top)) != NULL) {
        if (c->d_name[0] == '.')
            continue;
        char dir[RECORD_PATH_MAX];
        if ((size_t)snprintf(dir, sizeof dir, "%s/%s", statements_dir, c->d_name) >= sizeof dir)
            continue;
        removed += remove_temp_files_in(dir);
    }
    closedir(top);
    return removed;
}
