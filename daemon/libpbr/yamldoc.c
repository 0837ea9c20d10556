/* yamldoc.c -- owns loading one YAML document from bytes (libyaml) with a
 * located error, for the contract loader, the config and the clients file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pbr/err.h"
#include "pbr/yamldoc.h"

/* Sets p to mark m (0-based) and the formatted message. Returns -1. */
static int problem_at(pbr_yaml_problem *p, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int problem_at(pbr_yaml_problem *p, const yaml_mark_t *m, const char *fmt, ...)
{
    p->line = m->line + 1;
    p->column = m->column + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Line and column (0-based) of byte offset off in bytes: libyaml reports
 * encoding errors by offset only. */
static void offset_mark(const char *bytes, size_t len, size_t off, yaml_mark_t *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < off && i < len; i++) {
        if (bytes[i] == '\n') {
            m->line++;
            m->column = 0;
        } else if (((unsigned char)bytes[i] & 0xC0) != 0x80) {
            m->column++;
        }
    }
}

/* Describes the parser's error (syntax, encoding, memory) in p. Returns -1. */
static int parser_problem(const yaml_parser_t *parser, const char *bytes, size_t len, pbr_yaml_problem *p)
{
    yaml_mark_t m = parser->problem_mark;
    const char *what = parser->error == YAML_READER_ERROR ? "YAML encoding error" : "YAML syntax error";
    const char *problem = parser->problem ? parser->problem : "error";
    if (parser->error == YAML_READER_ERROR)
        offset_mark(bytes, len, parser->problem_offset, &m);
    if (parser->error == YAML_MEMORY_ERROR)
        return problem_at(p, &m, "out of memory while parsing YAML");
    if (parser->context)
        return problem_at(p, &m, "%s: %s %s", what, problem, parser->context);
    return problem_at(p, &m, "%s: %s", what, problem);
}

int pbr_yaml_load_one(const char *text, size_t len, const char *what, yaml_document_t *doc, pbr_yaml_problem *problem)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    yaml_mark_t zero = {0, 0, 0};
    int rc = -1;
    memset(problem, 0, sizeof *problem);
    if (!yaml_parser_initialize(&parser))
        return problem_at(problem, &zero, "yaml_parser_initialize failed");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&parser, doc)) {
        parser_problem(&parser, text, len, problem);
        goto out_parser;
    }
    if (!yaml_document_get_root_node(doc)) {
        rc = 0; /* no document at all: the caller decides */
        goto out_parser;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        parser_problem(&parser, text, len, problem);
        goto out_doc;
    }
    if (yaml_document_get_root_node(&extra)) {
        problem_at(problem, &extra.start_mark, "a %s holds one YAML document, this is a second", what);
        yaml_document_delete(&extra);
        goto out_doc;
    }
    yaml_document_delete(&extra);
    rc = 0;
    goto out_parser;
out_doc:
    yaml_document_delete(doc);
out_parser:
    yaml_parser_delete(&parser);
    return rc;
}

int pbr_yaml_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
        !strcmp(v, "NULL");
}

int pbr_yaml_errf(char *err, size_t errlen, const char *path, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pbr_errf(err, errlen, "%s:%zu:%zu: %s", path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
}
