/* yamldoc.h -- YAML files as the daemon reads them (contracts, the config,
 * the clients file): exactly one document, errors located by line and
 * column, and FILE:LINE:COL messages for errors found in its nodes.
 */
#ifndef PBR_YAMLDOC_H
#define PBR_YAMLDOC_H

#include <stddef.h>
#include <yaml.h>

/* Where and why a YAML text could not be loaded (line and column 1-based). */
typedef struct pbr_yaml_problem {
    size_t line, column;
    char message[256];
} pbr_yaml_problem;

/* Parses len bytes of UTF-8 text as at most one YAML document; `what`
 * names the file in messages ("contract file"). Returns 0 with *doc (free
 * with yaml_document_delete; its root node is NULL when the text holds no
 * document), or -1 with *problem: a syntax or encoding error at the
 * parser's position, a second document, or out of memory. */
int pbr_yaml_load_one(const char *text, size_t len, const char *what, yaml_document_t *doc, pbr_yaml_problem *problem);

/* 1 when n is a plain scalar spelling null: empty, ~, null, Null, NULL. */
int pbr_yaml_is_null(const yaml_node_t *n);

/* Formats "PATH:LINE:COL: message" (1-based, from node n's start mark) into
 * err. Returns -1, so that callers can `return pbr_yaml_errf(...)`. */
int pbr_yaml_errf(char *err, size_t errlen, const char *path, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
