/* contract_yaml.c -- the YAML side of the contract loader: records the first
 * error at a node's mark (reported file:line:column, 1-based), finds and
 * checks the keys of a mapping, and reads typed scalars (strings,
 * identifiers, exact decimals, money, whole numbers, dates, booleans,
 * choices) with messages that name the key.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpbr/contract_internal.h"
#include "pbr/mem.h"
#include "pbr/num.h"
#include "pbr/yamldoc.h"

/* Records the first error at mark m (0-based, reported 1-based). Returns -1. */
int pbr_ct_fail(lctx *x, const yaml_mark_t *m, const char *fmt, ...)
{
    if (x->failed)
        return -1;
    x->failed = 1;
    x->diag->line = m->line >= INT_MAX ? INT_MAX : (int)m->line + 1;
    x->diag->column = m->column >= INT_MAX ? INT_MAX : (int)m->column + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->diag->message, sizeof x->diag->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Writes a scalar's text as a double-quoted, printable-ASCII excerpt (other
 * bytes become '?', long text is cut with "...") into out. Returns out. */
const char *pbr_ct_quoted(const yaml_node_t *n, char *out, size_t size)
{
    size_t o = 0;
    if (size < 8) {
        if (size)
            out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    if (n && n->type == YAML_SCALAR_NODE) {
        const unsigned char *s = n->data.scalar.value;
        size_t len = n->data.scalar.length;
        for (size_t i = 0; i < len; i++) {
            if (o + 5 >= size) {
                memcpy(out + o, "...", 3);
                o += 3;
                break;
            }
            out[o++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? (char)s[i] : '?';
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static int in_names(const char *const *names, const yaml_node_t *k)
{
    for (size_t i = 0; names[i]; i++)
        if (scalar_is(k, names[i]))
            return 1;
    return 0;
}

/* Checks that every key of map is a scalar, appears once, and (when allowed
 * is not NULL) is one of allowed. `in` names the mapping for messages.
 * Reports the first offending key in document order. Mappings of more than
 * KEYS_LINEAR_MAX keys (rates: one per cohort window) look for earlier
 * equal keys in a hash table instead of a linear scan, so the check stays
 * linear. Returns 0 or -1 (diag set). */
int pbr_ct_check_keys(lctx *x, const yaml_node_t *map, const char *const *allowed, const char *in)
{
    size_t n = map_size(map), mask = 0;
    yaml_node_t **seen = NULL; /* open addressing, capacity a power of two >= 2n */
    if (n > KEYS_LINEAR_MAX) {
        size_t cap = 64;
        while (cap < 2 * n)
            cap *= 2;
        if (!(seen = calloc(cap, sizeof *seen)))
            return pbr_ct_oom(x, map);
        mask = cap - 1;
    }
    int rc = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top && rc == 0; p++) {
        yaml_node_t *k = node_at(x, p->key);
        char q[QBUF];
        if (!k || !is_scalar(k)) {
            rc = FAIL(x, k ? k : map, "%s: keys must be plain strings", in);
        } else if (allowed && !in_names(allowed, k)) {
            rc = FAIL(x, k, "unknown key %s in %s", Q(k, q), in);
        } else if (seen == NULL) {
            for (yaml_node_pair_t *e = map->data.mapping.pairs.start; e < p; e++)
                if (same_scalar(node_at(x, e->key), k)) {
                    rc = FAIL(x, k, "duplicate key %s in %s", Q(k, q), in);
                    break;
                }
        } else {
            size_t h = (size_t)pbr_hash_bytes(stext(k), slen(k)) & mask;
            while (seen[h] != NULL && !same_scalar(seen[h], k))
                h = (h + 1) & mask;
            if (seen[h] != NULL)
                rc = FAIL(x, k, "duplicate key %s in %s", Q(k, q), in);
            else
                seen[h] = k;
        }
    }
    free(seen);
    return rc;
}

/* Returns the value node for key in map (NULL when absent); *keynode gets the
 * key node when keynode is not NULL. */
yaml_node_t *pbr_ct_find(lctx *x, const yaml_node_t *map, const char *key, yaml_node_t **keynode)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key);
        if (scalar_is(k, key)) {
            if (keynode)
                *keynode = k;
            return node_at(x, p->value);
        }
    }
    return NULL;
}

/* Value of a required key, or NULL after reporting it missing at the map. */
yaml_node_t *pbr_ct_require(lctx *x, const yaml_node_t *map, const char *key, const char *in)
{
    yaml_node_t *v = pbr_ct_find(x, map, key, NULL);
    if (!v)
        FAIL(x, map, "missing key \"%s\" in %s", key, in);
    return v;
}

int pbr_ct_need_map(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_map(n) ? 0 : FAIL(x, n, "%s: expected a mapping", key);
}

int pbr_ct_need_seq(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_seq(n) ? 0 : FAIL(x, n, "%s: expected a list", key);
}

int pbr_ct_need_scalar(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_scalar(n) ? 0 : FAIL(x, n, "%s: expected a single value, not a %s", key, is_map(n) ? "mapping" : "list");
}

int pbr_ct_oom(lctx *x, const yaml_node_t *n)
{
    return FAIL(x, n, "out of memory");
}

/* Checks that n is a list of at most max items (key names the list and its
 * items in messages: "fees: 1001 fees; at most 1000 are supported") and
 * allocates *items zeroed, one element of size bytes per item and at least
 * one, so that even an empty list has an array for its owner to free. *cnt
 * gets the number of items. Returns 0 or -1 (*items NULL unless allocated). */
int pbr_ct_list_alloc(lctx *x, const yaml_node_t *n, const char *key, size_t max, size_t size, void **items,
                      size_t *cnt)
{
    *items = NULL;
    if (pbr_ct_need_seq(x, n, key))
        return -1;
    *cnt = seq_size(n);
    if (*cnt > max)
        return FAIL(x, n, "%s: %zu %s; at most %zu are supported", key, *cnt, key, max);
    if (!(*items = calloc(*cnt ? *cnt : 1, size)))
        return pbr_ct_oom(x, n);
    return 0;
}

/* ---- typed scalars ------------------------------------------------------------ */

/* Copies a non-empty string value into *out (caller frees). Returns 0 or -1. */
int pbr_ct_get_str(lctx *x, const yaml_node_t *n, const char *key, char **out)
{
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    if (pbr_yaml_is_null(n) || slen(n) == 0)
        return FAIL(x, n, "%s: must not be empty", key);
    if (memchr(stext(n), '\0', slen(n)))
        return FAIL(x, n, "%s: contains a NUL byte", key);
    *out = strndup(stext(n), slen(n));
    return *out ? 0 : pbr_ct_oom(x, n);
}

/* An identifier: 1..PBR_ID_MAX printable ASCII bytes without spaces (fee and
 * outcome ids, segment and window names: they become line keys). */
int pbr_ct_get_ident(lctx *x, const yaml_node_t *n, const char *key, char **out)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    const unsigned char *s = (const unsigned char *)stext(n);
    int ok = slen(n) >= 1 && slen(n) <= PBR_ID_MAX && !pbr_yaml_is_null(n);
    for (size_t i = 0; ok && i < slen(n); i++)
        ok = s[i] > 0x20 && s[i] < 0x7f;
    if (!ok)
        return FAIL(x, n, "%s: %s is not an identifier (1 to %d printable characters, no spaces)", key, Q(n, q),
                    PBR_ID_MAX);
    return pbr_ct_get_str(x, n, key, out);
}

/* Parses an exact decimal into out (already initialised). places >= 0 limits
 * the decimal places (money: 2). Returns 0 or -1. */
int pbr_ct_get_decimal(lctx *x, const yaml_node_t *n, const char *key, int places, mpq_t out)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    if (slen(n) == 0 || pbr_decimal_parse(stext(n), slen(n), -1, out) != 0)
        return FAIL(x, n, "%s: %s is not a decimal number", key, Q(n, q));
    if (places >= 0) {
        const char *dot = memchr(stext(n), '.', slen(n));
        size_t have = dot ? slen(n) - (size_t)(dot - stext(n)) - 1 : 0;
        if (have > (size_t)places) {
            if (places == 2)
                return FAIL(x, n, "%s: %s is not an amount of money (at most 2 decimal places)", key, Q(n, q));
            return FAIL(x, n, "%s: %s has more than %d decimal places", key, Q(n, q), places);
        }
    }
    return 0;
}

/* A decimal that must be >= 0 (strict: > 0). */
int pbr_ct_get_nonneg(lctx *x, const yaml_node_t *n, const char *key, int places, int strict, mpq_t out)
{
    char q[QBUF];
    if (pbr_ct_get_decimal(x, n, key, places, out))
        return -1;
    int s = mpq_sgn(out);
    if (s < 0 || (strict && s == 0))
        return FAIL(x, n, "%s: %s must be %s", key, Q(n, q), strict ? "greater than 0" : "0 or more");
    return 0;
}

/* Money: at most 2 places, within +-MONEY_LIMIT; nonneg: reject negative
 * amounts. */
int pbr_ct_get_money(lctx *x, const yaml_node_t *n, const char *key, int nonneg, mpq_t out)
{
    char q[QBUF];
    if (nonneg ? pbr_ct_get_nonneg(x, n, key, 2, 0, out) : pbr_ct_get_decimal(x, n, key, 2, out))
        return -1;
    if (mpq_cmp_si(out, MONEY_LIMIT, 1) > 0 || mpq_cmp_si(out, -MONEY_LIMIT, 1) < 0)
        return FAIL(x, n, "%s: %s is beyond the money limit of +-" MONEY_LIMIT_TEXT, key, Q(n, q));
    return 0;
}

/* A plain integer ("-"? digits) in [min, max]. Returns 0 or -1. */
int pbr_ct_get_int(lctx *x, const yaml_node_t *n, const char *key, int64_t min, int64_t max, int64_t *out)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    const char *s = stext(n);
    size_t len = slen(n), i = 0;
    int neg = 0, big = 0;
    uint64_t v = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == len)
        return FAIL(x, n, "%s: %s is not a whole number", key, Q(n, q));
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FAIL(x, n, "%s: %s is not a whole number", key, Q(n, q));
        if (v > ((uint64_t)1 << 62))
            big = 1;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > ((uint64_t)1 << 62))
        big = 1;
    int64_t r = neg ? -(int64_t)v : (int64_t)v;
    if (big)
        return FAIL(x, n, "%s: %s is too large", key, Q(n, q));
    if (r < min || r > max) {
        if (max == INT64_MAX)
            return FAIL(x, n, "%s: %s must be at least %lld", key, Q(n, q), (long long)min);
        return FAIL(x, n, "%s: %s is out of range %lld..%lld", key, Q(n, q), (long long)min, (long long)max);
    }
    *out = r;
    return 0;
}

int pbr_ct_get_int32(lctx *x, const yaml_node_t *n, const char *key, int min, int max, int *out)
{
    int64_t v;
    if (pbr_ct_get_int(x, n, key, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int pbr_ct_get_date(lctx *x, const yaml_node_t *n, const char *key, pbr_date *out)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    int rc = pbr_date_parse(stext(n), slen(n), out);
    if (rc == -2)
        return FAIL(x, n, "%s: %s is not a real date", key, Q(n, q));
    if (rc != 0)
        return FAIL(x, n, "%s: %s is not a date (YYYY-MM-DD)", key, Q(n, q));
    if (*out < pbr_date_from_ymd(1900, 1, 1) || *out > pbr_date_from_ymd(2199, 12, 31))
        return FAIL(x, n, "%s: %s is outside the supported dates " DATE_MIN_TEXT " to " DATE_MAX_TEXT, key, Q(n, q));
    return 0;
}

int pbr_ct_get_bool(lctx *x, const yaml_node_t *n, const char *key, int *out)
{
    char q[QBUF];
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    if (scalar_is(n, "true") || scalar_is(n, "True") || scalar_is(n, "TRUE"))
        *out = 1;
    else if (scalar_is(n, "false") || scalar_is(n, "False") || scalar_is(n, "FALSE"))
        *out = 0;
    else
        return FAIL(x, n, "%s: %s is not true or false", key, Q(n, q));
    return 0;
}

/* One of names (NULL-terminated); *out gets its index. */
int pbr_ct_get_choice(lctx *x, const yaml_node_t *n, const char *key, const char *const *names, int *out)
{
    char q[QBUF], list[160] = "";
    if (pbr_ct_need_scalar(x, n, key))
        return -1;
    for (int i = 0; names[i]; i++) {
        if (scalar_is(n, names[i])) {
            *out = i;
            return 0;
        }
    }
    for (int i = 0; names[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
    }
    return FAIL(x, n, "%s: %s is not one of %s", key, Q(n, q), list);
}
