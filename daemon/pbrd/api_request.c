/* api_request.c -- owns the parsing and validation of API requests (see
 * api_request.h): request text -> op and arguments, or the error reply. */
#include "pbrd/api_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pbr/utf8.h"

static const struct {
    const char *name;
    int needs_service;
} op_info[PBRD_OP_COUNT] = {
#define OP_INFO(name, needs_service) {#name, needs_service},
    PBRD_API_OPS(OP_INFO)
#undef OP_INFO
};

pbrd_api_op pbrd_api_op_of(const char *name)
{
    for (size_t i = 0; i < PBRD_OP_COUNT; i++)
        if (strcmp(op_info[i].name, name) == 0)
            return (pbrd_api_op)i;
    return PBRD_OP_COUNT;
}

const char *pbrd_api_op_name(pbrd_api_op op)
{
    return op < PBRD_OP_COUNT ? op_info[op].name : "?";
}

json_t *pbrd_api_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof msg, "(unprintable error message)");
    unsigned char *s = (unsigned char *)msg;
    size_t len = strlen(msg);
    for (size_t i = 0; i < len;) {
        size_t k = pbr_utf8_char_len(s + i, len - i);
        if (k == 0) {
            s[i] = '?';
            k = 1;
        }
        i += k;
    }
    return json_pack("{ss}", "error", msg);
}

/* Sets r->arg_error when the op's arguments are incomplete or malformed
 * (the messages are the ones the daemon has always sent). */
static void check_arguments(pbrd_api_request *r)
{
    int has_date = r->quarter != NULL && pbr_date_parse(r->quarter, strlen(r->quarter), &r->quarter_date) == 0;
    switch (r->op) {
    case PBRD_OP_quarantine: {
        json_t *l = json_object_get(r->req, "limit");
        if (l && !json_is_null(l)) {
            if (!json_is_integer(l) || json_integer_value(l) < 1)
                r->arg_error = "quarantine: limit must be a positive integer";
            else
                r->limit = json_integer_value(l);
        }
        break;
    }
    case PBRD_OP_quarantine_purge: {
        const char *b = json_string_value(json_object_get(r->req, "before"));
        if (b == NULL)
            r->arg_error = "quarantine_purge: needs \"before\" (YYYY-MM-DD): records stored before that day "
                           "(UTC) are deleted";
        else if (pbr_date_parse(b, strlen(b), &r->before) != 0)
            r->arg_error = "quarantine_purge: \"before\" is not a date YYYY-MM-DD";
        break;
    }
    case PBRD_OP_statement:
        if (r->contract == NULL || !has_date)
            r->arg_error = "statement: needs \"contract\" and \"quarter\" (YYYY-MM-DD)";
        break;
    case PBRD_OP_cohorts:
        if (r->contract == NULL)
            r->arg_error = "cohorts: needs \"contract\"";
        break;
    case PBRD_OP_statements:
        if (r->contract == NULL)
            r->arg_error = "statements: needs \"contract\"";
        break;
    case PBRD_OP_explain: {
        json_t *seg = json_object_get(r->req, "segment");
        if (r->contract == NULL || !has_date || !json_is_string(json_object_get(r->req, "component")) ||
            !json_is_string(json_object_get(r->req, "period")))
            r->arg_error = "explain: needs \"contract\", \"quarter\" (YYYY-MM-DD), \"component\" and \"period\"";
        else if (seg != NULL && !json_is_null(seg) && !json_is_string(seg))
            r->arg_error = "explain: \"segment\" must be a string or null";
        break;
    }
    case PBRD_OP_settle: {
        json_t *c = json_object_get(r->req, "contract");
        if (!has_date)
            r->arg_error = "settle: needs \"quarter\" (YYYY-MM-DD, the first day of a quarter)";
        else if (c != NULL && !json_is_null(c) && !json_is_string(c))
            r->arg_error = "settle: \"contract\" must be a string";
        break;
    }
    case PBRD_OP_wait: {
        json_t *a = json_object_get(r->req, "after_seq"), *t = json_object_get(r->req, "timeout_ms");
        if (a != NULL && !json_is_null(a)) {
            if (!json_is_integer(a) || json_integer_value(a) < 0)
                r->arg_error = "wait: after_seq must be a non-negative integer (the seq of the last reply)";
            else
                r->after_seq = json_integer_value(a);
        }
        if (t != NULL && !json_is_null(t)) {
            if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > PBRD_API_WAIT_MAX_MS)
                r->arg_error = "wait: timeout_ms must be an integer from 0 to 3600000";
            else
                r->timeout_ms = json_integer_value(t);
        }
        break;
    }
    case PBRD_OP_backup:
        r->dir = json_string_value(json_object_get(r->req, "dir"));
        if (r->dir == NULL || r->dir[0] != '/')
            r->arg_error = "backup: needs \"dir\", an absolute path on the daemon's machine";
        break;
    default: break;
    }
}

int pbrd_api_request_parse(const char *text, size_t len, pbrd_api_request *out, json_t **reply)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    *reply = NULL;
    json_t *req = json_loadb(text, len, 0, &jerr);
    if (!req || !json_is_object(req)) {
        *reply = req
            ? pbrd_api_error("request is not a JSON object: got a JSON %s", json_is_array(req) ? "array" : "scalar")
            : pbrd_api_error("request is not a JSON object: %s", jerr.text);
        json_decref(req);
        return -1;
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    pbrd_api_op which = op ? pbrd_api_op_of(op) : PBRD_OP_COUNT;
    if (which == PBRD_OP_COUNT) {
        *reply = op ? pbrd_api_error("unknown op \"%s\"", op) : pbrd_api_error("request has no \"op\" string");
        json_decref(req);
        return -1;
    }
    out->req = req;
    out->op = which;
    out->op_name = op_info[which].name;
    out->needs_service = op_info[which].needs_service;
    out->contract = json_string_value(json_object_get(req, "contract"));
    out->quarter = json_string_value(json_object_get(req, "quarter"));
    out->limit = PBRD_API_QUARANTINE_DEFAULT_LIMIT;
    out->after_seq = -1;
    out->timeout_ms = PBRD_API_WAIT_DEFAULT_MS;
    check_arguments(out);
    return 0;
}

void pbrd_api_request_clear(pbrd_api_request *r)
{
    json_decref(r->req);
    memset(r, 0, sizeof *r);
}
