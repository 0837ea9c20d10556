/* config.h -- pbrd's configuration (SPEC.md section 7): defaults, the YAML
 * file (libyaml) and command-line overrides.
 *
 * Every string is owned by the pbrd_config (malloc'd); pbrd_config_clear
 * releases them. Unknown keys are errors reported as FILE:LINE:COL.
 */
#ifndef PBRD_CONFIG_H
#define PBRD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct pbrd_config {
    char *data_dir;           /* default $STATE_DIRECTORY (first entry) or /var/lib/pbrd */
    char *contracts_dir;      /* default /etc/pbrd/contracts */
    char *statements_dir;     /* default <data_dir>/statements (NULL until resolved) */
    char *ingest;             /* default tcp://127.0.0.1:7301 */
    char *api;                /* default tcp://127.0.0.1:7302 */
    char *publish;            /* default tcp://127.0.0.1:7303 */
    uint64_t max_frame_bytes; /* default 16777216 */
    char *now;                /* "YYYY-MM-DD" or NULL (use today's UTC date) */
    int auto_settle;          /* default 1 */
    char *server_secret_key;  /* auth.server_secret_key or NULL (no auth); ${CREDENTIALS_DIRECTORY} expanded */
    char *clients;            /* auth.clients or NULL; ${CREDENTIALS_DIRECTORY} expanded */
    int foreground;           /* --foreground */
    char *metrics;            /* "HOST:PORT" of the Prometheus endpoint, or NULL (off; the default) */
    char *log_level;          /* debug | info | warn | error (default info) */
} pbrd_config;

/* Fills cfg with the defaults. Returns 0, or -1 with err on allocation failure. */
int pbrd_config_defaults(pbrd_config *cfg, char *err, size_t errlen);

/* Reads the YAML file at path over the values in cfg. Returns 0, or -1 with
 * err as "PATH:LINE:COL: message" (unknown key, wrong type, YAML syntax). */
int pbrd_config_load(pbrd_config *cfg, const char *path, char *err, size_t errlen);

/* Replaces one string field (frees the old value). Returns 0 or -1. */
int pbrd_config_set(char **field, const char *value, char *err, size_t errlen);

/* Fills in values derived from others (statements_dir) and checks them
 * (now is a valid date, max_frame_bytes > 0). Returns 0 or -1 with err. */
int pbrd_config_finish(pbrd_config *cfg, char *err, size_t errlen);

/* Releases the strings of cfg and zeroes it. Safe on a zeroed config. */
void pbrd_config_clear(pbrd_config *cfg);

#endif
