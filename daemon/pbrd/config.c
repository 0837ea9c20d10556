/* config.c -- owns pbrd's configuration: defaults, the YAML file (libyaml
 * document API) and derived values. */
#include "pbrd/config.h"
#include "pbrd/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "pbr/date.h"
#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/yamldoc.h"
#include "pbrd/metrics.h"

/* Replaces *field with a copy of value (NULL clears). Returns 0 or -1. */
int pbrd_config_set(char **field, const char *value, char *err, size_t errlen)
{
    char *copy = NULL;
    if (value) {
        copy = strdup(value);
        if (!copy)
            return pbr_errf(err, errlen, "strdup: out of memory");
    }
    free(*field);
    *field = copy;
    return 0;
}

/* The data dir systemd gives us: first entry of $STATE_DIRECTORY (a
 * colon-separated list), else /var/lib/pbrd. Returns 0 or -1. */
static int set_default_data_dir(pbrd_config *cfg, char *err, size_t errlen)
{
    const char *sd = getenv("STATE_DIRECTORY");
    if (!sd || !*sd)
        return pbrd_config_set(&cfg->data_dir, "/var/lib/pbrd", err, errlen);
    size_t n = strcspn(sd, ":");
    char *copy = strndup(sd, n);
    if (!copy)
        return pbr_errf(err, errlen, "strndup: out of memory");
    free(cfg->data_dir);
    cfg->data_dir = copy;
    return 0;
}

int pbrd_config_defaults(pbrd_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_frame_bytes = 16777216;
    cfg->auto_settle = 1;
    if (set_default_data_dir(cfg, err, errlen) < 0 ||
        pbrd_config_set(&cfg->contracts_dir, "/etc/pbrd/contracts", err, errlen) < 0 ||
        pbrd_config_set(&cfg->ingest, "tcp://127.0.0.1:7301", err, errlen) < 0 ||
        pbrd_config_set(&cfg->api, "tcp://127.0.0.1:7302", err, errlen) < 0 ||
        pbrd_config_set(&cfg->publish, "tcp://127.0.0.1:7303", err, errlen) < 0) {
        pbrd_config_clear(cfg);
        return -1;
    }
    return 0;
}

void pbrd_config_clear(pbrd_config *cfg)
{
    free(cfg->data_dir);
    free(cfg->contracts_dir);
    free(cfg->statements_dir);
    free(cfg->ingest);
    free(cfg->api);
    free(cfg->publish);
    free(cfg->now);
    free(cfg->server_secret_key);
    free(cfg->clients);
    free(cfg->metrics);
    free(cfg->log_level);
    memset(cfg, 0, sizeof *cfg);
}

/* Stores the scalar n in *field (null clears it when nullable). Returns 0 or -1. */
static int read_string(const char *path, const char *key, const yaml_node_t *n, int nullable, char **field, char *err,
                       size_t errlen)
{
    if (nullable && pbr_yaml_is_null(n))
        return pbrd_config_set(field, NULL, err, errlen);
    if (n->type != YAML_SCALAR_NODE || pbr_yaml_is_null(n))
        return pbr_yaml_errf(err, errlen, path, n, "%s must be a string", key);
    return pbrd_config_set(field, (const char *)n->data.scalar.value, err, errlen);
}

/* Reads a boolean scalar. Returns 0 or -1. */
static int read_bool(const char *path, const char *key, const yaml_node_t *n, int *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        for (int i = 0; yes[i]; i++)
            if (!strcmp(v, yes[i]))
                return *out = 1, 0;
        for (int i = 0; no[i]; i++)
            if (!strcmp(v, no[i]))
                return *out = 0, 0;
    }
    return pbr_yaml_errf(err, errlen, path, n, "%s must be true or false", key);
}

/* Reads a positive integer scalar. Returns 0 or -1. */
static int read_size(const char *path, const char *key, const yaml_node_t *n, uint64_t *out, char *err, size_t errlen)
{
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (*v >= '0' && *v <= '9' && end && *end == '\0' && errno == 0 && x > 0 && x <= (1ULL << 31)) {
            *out = x;
            return 0;
        }
    }
    return pbr_yaml_errf(err, errlen, path, n, "%s must be an integer between 1 and 2147483648", key);
}

#define CREDS_VAR "${CREDENTIALS_DIRECTORY}"

/* Replaces each ${CREDENTIALS_DIRECTORY} in *field (the auth key at node n)
 * with that environment variable: the directory where systemd puts the
 * files of the unit's LoadCredential= lines, readable only by the service's
 * (dynamic) user. Any other ${...} is an error, as is the variable unset or
 * empty. Returns 0 or -1 with err as PATH:LINE:COL: message. */
static int expand_credentials(const char *path, const char *key, const yaml_node_t *n, char **field, char *err,
                              size_t errlen)
{
    const char *v = *field;
    if (v == NULL || strstr(v, "${") == NULL)
        return 0;
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    size_t uses = 0, dirlen = dir ? strlen(dir) : 0;
    for (const char *p = strstr(v, "${"); p; p = strstr(p + 2, "${")) {
        if (strncmp(p, CREDS_VAR, strlen(CREDS_VAR)) != 0)
            return pbr_yaml_errf(err, errlen, path, n,
                                 "%s: only ${CREDENTIALS_DIRECTORY} may be used in it (got \"%.40s\")", key, p);
        uses++;
    }
    if (dir == NULL || dir[0] == '\0')
        return pbr_yaml_errf(err, errlen, path, n,
                             "%s uses ${CREDENTIALS_DIRECTORY}, which is not set: systemd sets it for a unit "
                             "with LoadCredential= (see pbrd(8), KEYS UNDER SYSTEMD)",
                             key);
    size_t len = strlen(v) + uses * dirlen + 1;
    char *out = malloc(len), *o = out;
    if (out == NULL)
        return pbr_errf(err, errlen, "malloc: out of memory");
    for (const char *p = v; *p;) {
        if (strncmp(p, CREDS_VAR, strlen(CREDS_VAR)) == 0) {
            memcpy(o, dir, dirlen);
            o += dirlen;
            p += strlen(CREDS_VAR);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    free(*field);
    *field = out;
    return 0;
}

/* Reads the auth: mapping. Returns 0 or -1. */
static int read_auth(pbrd_config *cfg, const char *path, yaml_document_t *doc, yaml_node_t *map, char *err,
                     size_t errlen)
{
    if (pbr_yaml_is_null(map)) {
        if (pbrd_config_set(&cfg->server_secret_key, NULL, err, errlen) < 0)
            return -1;
        return pbrd_config_set(&cfg->clients, NULL, err, errlen);
    }
    if (map->type != YAML_MAPPING_NODE)
        return pbr_yaml_errf(err, errlen, path, map, "auth must be a mapping");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return pbr_yaml_errf(err, errlen, path, k ? k : map, "auth keys must be strings");
        const char *key = (const char *)k->data.scalar.value;
        int rc;
        if (!strcmp(key, "server_secret_key"))
            rc = read_string(path, "auth.server_secret_key", v, 1, &cfg->server_secret_key, err, errlen) < 0
                ? -1
                : expand_credentials(path, "auth.server_secret_key", v, &cfg->server_secret_key, err, errlen);
        else if (!strcmp(key, "clients"))
            rc = read_string(path, "auth.clients", v, 1, &cfg->clients, err, errlen) < 0
                ? -1
                : expand_credentials(path, "auth.clients", v, &cfg->clients, err, errlen);
        else
            rc = pbr_yaml_errf(err, errlen, path, k, "unknown key \"auth.%s\"", key);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Applies one top-level key. Returns 0 or -1. */
static int read_key(pbrd_config *cfg, const char *path, yaml_document_t *doc, yaml_node_t *k, yaml_node_t *v, char *err,
                    size_t errlen)
{
    const char *key = (const char *)k->data.scalar.value;
    if (!strcmp(key, "data_dir"))
        return read_string(path, key, v, 0, &cfg->data_dir, err, errlen);
    if (!strcmp(key, "contracts_dir"))
        return read_string(path, key, v, 0, &cfg->contracts_dir, err, errlen);
    if (!strcmp(key, "statements_dir"))
        return read_string(path, key, v, 1, &cfg->statements_dir, err, errlen);
    if (!strcmp(key, "ingest"))
        return read_string(path, key, v, 0, &cfg->ingest, err, errlen);
    if (!strcmp(key, "api"))
        return read_string(path, key, v, 0, &cfg->api, err, errlen);
    if (!strcmp(key, "publish"))
        return read_string(path, key, v, 0, &cfg->publish, err, errlen);
    if (!strcmp(key, "max_frame_bytes"))
        return read_size(path, key, v, &cfg->max_frame_bytes, err, errlen);
    if (!strcmp(key, "now")) {
        if (read_string(path, key, v, 1, &cfg->now, err, errlen) < 0)
            return -1;
        pbr_date d;
        if (cfg->now && pbr_date_parse(cfg->now, strlen(cfg->now), &d) != 0)
            return pbr_yaml_errf(err, errlen, path, v, "now must be a date YYYY-MM-DD or null");
        return 0;
    }
    if (!strcmp(key, "auto_settle"))
        return read_bool(path, key, v, &cfg->auto_settle, err, errlen);
    if (!strcmp(key, "metrics")) {
        if (read_string(path, key, v, 1, &cfg->metrics, err, errlen) < 0)
            return -1;
        struct sockaddr_storage sa;
        char why[PBR_ERR_MAX];
        if (cfg->metrics && pbrd_metrics_parse_address(cfg->metrics, &sa, why, sizeof why) != 0)
            return pbr_yaml_errf(err, errlen, path, v, "metrics: %s", why);
        return 0;
    }
    if (!strcmp(key, "log_level")) {
        if (read_string(path, key, v, 0, &cfg->log_level, err, errlen) < 0)
            return -1;
        pbrd_log_level level;
        if (pbrd_log_level_parse(cfg->log_level, &level) != 0)
            return pbr_yaml_errf(err, errlen, path, v, "log_level must be debug, info, warn or error");
        return 0;
    }
    if (!strcmp(key, "auth"))
        return read_auth(cfg, path, doc, v, err, errlen);
    return pbr_yaml_errf(err, errlen, path, k, "unknown key \"%s\"", key);
}

int pbrd_config_load(pbrd_config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = pbr_read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    yaml_document_t doc;
    pbr_yaml_problem problem;
    int rc = -1;
    if (pbr_yaml_load_one(text, len, "configuration file", &doc, &problem) != 0) {
        pbr_errf(err, errlen, "%s:%zu:%zu: %s", path, problem.line, problem.column, problem.message);
        goto out_text;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || pbr_yaml_is_null(root)) {
        rc = 0; /* empty file: every default stands */
        goto out_doc;
    }
    if (root->type != YAML_MAPPING_NODE) {
        pbr_yaml_errf(err, errlen, path, root, "the configuration must be a mapping");
        goto out_doc;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            pbr_yaml_errf(err, errlen, path, k ? k : root, "keys must be strings");
            goto out_doc;
        }
        if (read_key(cfg, path, &doc, k, v, err, errlen) < 0)
            goto out_doc;
    }
    rc = 0;
out_doc:
    yaml_document_delete(&doc);
out_text:
    free(text);
    return rc;
}

int pbrd_config_finish(pbrd_config *cfg, char *err, size_t errlen)
{
    if (!cfg->statements_dir) {
        size_t n = strlen(cfg->data_dir) + sizeof "/statements";
        cfg->statements_dir = malloc(n);
        if (!cfg->statements_dir)
            return pbr_errf(err, errlen, "malloc: out of memory");
        snprintf(cfg->statements_dir, n, "%s/statements", cfg->data_dir);
    }
    pbr_date d;
    if (cfg->now && pbr_date_parse(cfg->now, strlen(cfg->now), &d) != 0)
        return pbr_errf(err, errlen, "now: \"%s\" is not a date YYYY-MM-DD", cfg->now);
    if (cfg->max_frame_bytes == 0)
        return pbr_errf(err, errlen, "max_frame_bytes must be positive");
    pbrd_log_level level;
    if (cfg->log_level != NULL && pbrd_log_level_parse(cfg->log_level, &level) != 0)
        return pbr_errf(err, errlen, "log level \"%s\" is not debug, info, warn or error", cfg->log_level);
    return 0;
}
