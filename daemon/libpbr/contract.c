/* contract.c -- the contract loader of SPEC.md section 4.
 *
 * Owns pbr_contract_parse/load/free: YAML bytes (libyaml document API) to the
 * read-only pbr_contract model. Every key is checked against the keys its
 * mapping may hold (and the measure it belongs to), every default applied,
 * every decimal parsed exactly from the scalar text (pbr_decimal_parse), and
 * the first error is reported as file:line:column (1-based) naming the key.
 *
 * Memory discipline: arrays are sized from the YAML node counts, allocated
 * zeroed, and every mpq_t of an element is initialised as soon as the element
 * exists, so pbr_contract_free can clear any partially built contract.
 * Anchors/aliases are rejected (a node referenced twice), which also rules out
 * cycles and exponential walks on hostile input.
 */
#include "pbr/contract.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "pbr/num.h"
#include "pbr/files.h"
#include "pbr/mem.h"
#include "pbr/sha256.h"
#include "pbr/yamldoc.h"

/* Upper bounds that keep date arithmetic far from overflow. */
#define MAX_MONTHS 1200         /* follow_up, waiting */
#define MAX_SETTLE_DAYS 3660    /* settle_after_days */
#define MAX_RUN_OFF 400         /* run_off */
#define MAX_HISTORY 100         /* baseline history years */
#define MAX_COHORT_WINDOWS 1000 /* cohort windows: listed, or periods from start to end (250 years of quarters) */
#define MAX_LIST_ITEMS 1000     /* fees, outcomes, segments of one outcome (ids are checked pairwise) */
#define KEYS_LINEAR_MAX 16      /* mappings with more keys find duplicates through a hash table */
#define BOUND_LIMIT ((int64_t)1 << 62) /* where bounds are clamped to +-2^62 */
/* SPEC 4 (ruled 2026-12-02): every money amount within +-MONEY_LIMIT pounds,
 * every date within [DATE_MIN, DATE_MAX]. */
#define MONEY_LIMIT 1000000000000L
#define MONEY_LIMIT_TEXT "1,000,000,000,000.00"
#define DATE_MIN_TEXT "1900-01-01"
#define DATE_MAX_TEXT "2199-12-31"
#define GATE_PERCENT_MAX 100 /* a percent or points gate */

/* ---- loader context and diagnostics --------------------------------------- */

typedef struct lctx {
    const char *file;
    yaml_document_t *doc;
    pbr_diag *diag;
    int failed;
    pbr_contract *c;
    char **wkeys; /* period keys of the cohort windows (5.7), for rates */
    size_t nwkeys, wkeys_cap;
} lctx;

static int fail_mark(lctx *x, const yaml_mark_t *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error at mark m (0-based, reported 1-based). Returns -1. */
static int fail_mark(lctx *x, const yaml_mark_t *m, const char *fmt, ...)
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

#define FAIL(x, node, ...) fail_mark((x), &(node)->start_mark, __VA_ARGS__)

/* Writes a scalar's text as a double-quoted, printable-ASCII excerpt (other
 * bytes become '?', long text is cut with "...") into out. Returns out. */
static const char *quoted(const yaml_node_t *n, char *out, size_t size)
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

#define QBUF 72
#define Q(n, buf) quoted((n), (buf), sizeof(buf))

/* ---- node access ------------------------------------------------------------ */

static yaml_node_t *node_at(lctx *x, int idx)
{
    return yaml_document_get_node(x->doc, idx);
}

static int is_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE;
}
static int is_map(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE;
}
static int is_seq(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE;
}

static const char *stext(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}
static size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* 1 when n is a scalar whose text is exactly s. */
static int scalar_is(const yaml_node_t *n, const char *s)
{
    size_t l = strlen(s);
    return n && is_scalar(n) && slen(n) == l && memcmp(stext(n), s, l) == 0;
}

static size_t map_size(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static size_t seq_size(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Returns the i-th item node of a sequence, or NULL. */
static yaml_node_t *seq_item(lctx *x, const yaml_node_t *n, size_t i)
{
    return node_at(x, n->data.sequence.items.start[i]);
}

static int in_names(const char *const *names, const yaml_node_t *k)
{
    for (size_t i = 0; names[i]; i++)
        if (scalar_is(k, names[i]))
            return 1;
    return 0;
}

static int same_scalar(const yaml_node_t *a, const yaml_node_t *b)
{
    return is_scalar(a) && is_scalar(b) && slen(a) == slen(b) && memcmp(stext(a), stext(b), slen(a)) == 0;
}

static int oom(lctx *x, const yaml_node_t *n);

/* Checks that every key of map is a scalar, appears once, and (when allowed
 * is not NULL) is one of allowed. `in` names the mapping for messages.
 * Reports the first offending key in document order. Mappings of more than
 * KEYS_LINEAR_MAX keys (rates: one per cohort window) look for earlier
 * equal keys in a hash table instead of a linear scan, so the check stays
 * linear. Returns 0 or -1 (diag set). */
static int check_keys(lctx *x, const yaml_node_t *map, const char *const *allowed, const char *in)
{
    size_t n = map_size(map), mask = 0;
    yaml_node_t **seen = NULL; /* open addressing, capacity a power of two >= 2n */
    if (n > KEYS_LINEAR_MAX) {
        size_t cap = 64;
        while (cap < 2 * n)
            cap *= 2;
        if (!(seen = calloc(cap, sizeof *seen)))
            return oom(x, map);
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
static yaml_node_t *find(lctx *x, const yaml_node_t *map, const char *key, yaml_node_t **keynode)
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
static yaml_node_t *require(lctx *x, const yaml_node_t *map, const char *key, const char *in)
{
    yaml_node_t *v = find(x, map, key, NULL);
    if (!v)
        FAIL(x, map, "missing key \"%s\" in %s", key, in);
    return v;
}

static int need_map(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_map(n) ? 0 : FAIL(x, n, "%s: expected a mapping", key);
}

static int need_seq(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_seq(n) ? 0 : FAIL(x, n, "%s: expected a list", key);
}

static int need_scalar(lctx *x, const yaml_node_t *n, const char *key)
{
    return is_scalar(n) ? 0 : FAIL(x, n, "%s: expected a single value, not a %s", key, is_map(n) ? "mapping" : "list");
}

static int oom(lctx *x, const yaml_node_t *n)
{
    return FAIL(x, n, "out of memory");
}

/* ---- typed scalars ------------------------------------------------------------ */

/* Copies a non-empty string value into *out (caller frees). Returns 0 or -1. */
static int get_str(lctx *x, const yaml_node_t *n, const char *key, char **out)
{
    if (need_scalar(x, n, key))
        return -1;
    if (pbr_yaml_is_null(n) || slen(n) == 0)
        return FAIL(x, n, "%s: must not be empty", key);
    if (memchr(stext(n), '\0', slen(n)))
        return FAIL(x, n, "%s: contains a NUL byte", key);
    *out = strndup(stext(n), slen(n));
    return *out ? 0 : oom(x, n);
}

/* An identifier: 1..PBR_ID_MAX printable ASCII bytes without spaces (fee and
 * outcome ids, segment and window names: they become line keys). */
static int get_ident(lctx *x, const yaml_node_t *n, const char *key, char **out)
{
    char q[QBUF];
    if (need_scalar(x, n, key))
        return -1;
    const unsigned char *s = (const unsigned char *)stext(n);
    int ok = slen(n) >= 1 && slen(n) <= PBR_ID_MAX && !pbr_yaml_is_null(n);
    for (size_t i = 0; ok && i < slen(n); i++)
        ok = s[i] > 0x20 && s[i] < 0x7f;
    if (!ok)
        return FAIL(x, n, "%s: %s is not an identifier (1 to %d printable characters, no spaces)", key, Q(n, q),
                    PBR_ID_MAX);
    return get_str(x, n, key, out);
}

/* Parses an exact decimal into out (already initialised). places >= 0 limits
 * the decimal places (money: 2). Returns 0 or -1. */
static int get_decimal(lctx *x, const yaml_node_t *n, const char *key, int places, mpq_t out)
{
    char q[QBUF];
    if (need_scalar(x, n, key))
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
static int get_nonneg(lctx *x, const yaml_node_t *n, const char *key, int places, int strict, mpq_t out)
{
    char q[QBUF];
    if (get_decimal(x, n, key, places, out))
        return -1;
    int s = mpq_sgn(out);
    if (s < 0 || (strict && s == 0))
        return FAIL(x, n, "%s: %s must be %s", key, Q(n, q), strict ? "greater than 0" : "0 or more");
    return 0;
}

/* Money: at most 2 places, within +-MONEY_LIMIT; nonneg: reject negative
 * amounts. */
static int get_money(lctx *x, const yaml_node_t *n, const char *key, int nonneg, mpq_t out)
{
    char q[QBUF];
    if (nonneg ? get_nonneg(x, n, key, 2, 0, out) : get_decimal(x, n, key, 2, out))
        return -1;
    if (mpq_cmp_si(out, MONEY_LIMIT, 1) > 0 || mpq_cmp_si(out, -MONEY_LIMIT, 1) < 0)
        return FAIL(x, n, "%s: %s is beyond the money limit of +-" MONEY_LIMIT_TEXT, key, Q(n, q));
    return 0;
}

/* A plain integer ("-"? digits) in [min, max]. Returns 0 or -1. */
static int get_int(lctx *x, const yaml_node_t *n, const char *key, int64_t min, int64_t max, int64_t *out)
{
    char q[QBUF];
    if (need_scalar(x, n, key))
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

static int get_int32(lctx *x, const yaml_node_t *n, const char *key, int min, int max, int *out)
{
    int64_t v;
    if (get_int(x, n, key, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

static int get_date(lctx *x, const yaml_node_t *n, const char *key, pbr_date *out)
{
    char q[QBUF];
    if (need_scalar(x, n, key))
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

static int get_bool(lctx *x, const yaml_node_t *n, const char *key, int *out)
{
    char q[QBUF];
    if (need_scalar(x, n, key))
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
static int get_choice(lctx *x, const yaml_node_t *n, const char *key, const char *const *names, int *out)
{
    char q[QBUF], list[160] = "";
    if (need_scalar(x, n, key))
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

/* ---- shared vocabularies ---------------------------------------------------------- */

static const char *const MEASURES[] = {"binary", "frequency", "clean_period", "custody_nights", "disposals", NULL};
static const char *const DISPOSALS[] = {"custody", "sso", "community", "fine", "discharge", "caution", "other", NULL};
static const char *const GATE_METRICS[] = {"points", "percent", "avoided", "significant", NULL}; /* pbr_metric order */
static const char *const PER_METRICS[] = {"point", "percent", "avoided", NULL};                  /* pbr_metric order */

const char *pbr_measure_name(pbr_measure m)
{
    return (unsigned)m < PBR_M_DISPOSALS + 1u ? MEASURES[m] : "unknown";
}

static int disposal_index(const yaml_node_t *k)
{
    for (int i = 0; DISPOSALS[i]; i++)
        if (scalar_is(k, DISPOSALS[i]))
            return i;
    return -1;
}

/* ---- model init / free ------------------------------------------------------------- */

static void baseline_init(pbr_baseline *b)
{
    memset(b, 0, sizeof *b);
    mpq_init(b->rate);
    mpq_init(b->scale);
    mpq_set_ui(b->scale, 1, 1);
    mpq_init(b->ogrs_reference);
    mpq_init(b->nights);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_init(b->counts[k]);
}

static void baseline_clear(pbr_baseline *b)
{
    mpq_clear(b->rate);
    mpq_clear(b->scale);
    mpq_clear(b->ogrs_reference);
    mpq_clear(b->nights);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_clear(b->counts[k]);
    for (size_t i = 0; i < b->nrates; i++) {
        free(b->rate_keys[i]);
        mpq_clear(b->rate_values[i]);
    }
    free(b->rate_keys);
    free(b->rate_values);
}

static void pay_init(pbr_pay *p)
{
    memset(p, 0, sizeof *p);
    mpq_init(p->threshold);
    mpq_init(p->below);
    p->per = PBR_METRIC_AVOIDED;
    mpq_init(p->price);
    mpq_init(p->max_units);
    mpq_init(p->cap);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_init(p->prices[k]);
    mpq_init(p->share);
    mpq_set_ui(p->share, 100, 1);
}

static void pay_clear(pbr_pay *p)
{
    mpq_clear(p->threshold);
    mpq_clear(p->below);
    mpq_clear(p->price);
    mpq_clear(p->max_units);
    mpq_clear(p->cap);
    for (int k = 0; k < PBR_DISP_COUNT; k++)
        mpq_clear(p->prices[k]);
    mpq_clear(p->share);
    for (size_t i = 0; i < p->ntiers; i++) {
        mpq_clear(p->tiers[i].upto);
        mpq_clear(p->tiers[i].price);
    }
    free(p->tiers);
}

static void where_clear(pbr_where *w)
{
    for (size_t i = 0; i < w->nconds; i++) {
        pbr_cond *c = &w->conds[i];
        free(c->nums);
        for (size_t j = 0; j < c->nstrs; j++)
            free(c->strs[j]);
        free(c->strs);
    }
    free(w->conds);
    w->conds = NULL;
    w->nconds = 0;
}

static void segment_clear(pbr_segment *s)
{
    free(s->name);
    where_clear(&s->where);
    baseline_clear(&s->baseline);
    mpq_clear(s->price);
}

static void outcome_clear(pbr_outcome *o)
{
    free(o->id);
    where_clear(&o->exclude);
    where_clear(&o->where);
    baseline_clear(&o->baseline);
    pay_clear(&o->pay);
    for (size_t i = 0; i < o->nsegments; i++)
        segment_clear(&o->segments[i]);
    free(o->segments);
    mpq_clear(o->pooled_threshold);
}

void pbr_contract_free(pbr_contract *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->title);
    free(c->provider);
    free(c->commissioner);
    mpq_clear(c->contract_cap);
    for (size_t i = 0; i < c->cohort.nwindows; i++)
        free(c->cohort.windows[i].name);
    free(c->cohort.windows);
    where_clear(&c->cohort.where);
    for (size_t i = 0; i < c->nfees; i++) {
        free(c->fees[i].id);
        mpq_clear(c->fees[i].amount);
        mpq_clear(c->fees[i].volume_rate);
        where_clear(&c->fees[i].volume_where);
    }
    free(c->fees);
    for (size_t i = 0; i < c->noutcomes; i++)
        outcome_clear(&c->outcomes[i]);
    free(c->outcomes);
    free(c->bytes);
    free(c);
}

/* ---- where ---------------------------------------------------------------------------- */

typedef enum { FT_STR, FT_INT, FT_OGRS, FT_FLAGS, FT_BOOL, FT_GENDER, FT_DISPOSAL } field_type;

#define K_INDEX (1u << PBR_WHERE_INDEX)
#define K_RECEPTION (1u << PBR_WHERE_RECEPTION)
#define K_CONVICTION (1u << PBR_WHERE_CONVICTION)

static const struct field_def {
    const char *name;
    pbr_field field;
    field_type type;
    unsigned kinds;
} FIELDS[] = {
    {"establishment", PBR_F_ESTABLISHMENT, FT_STR, K_INDEX | K_RECEPTION},
    {"area", PBR_F_AREA, FT_STR, K_INDEX | K_RECEPTION | K_CONVICTION},
    {"provider", PBR_F_PROVIDER, FT_STR, K_INDEX},
    {"order", PBR_F_ORDER, FT_STR, K_INDEX},
    {"sentence_days", PBR_F_SENTENCE_DAYS, FT_INT, K_INDEX | K_RECEPTION},
    {"age", PBR_F_AGE, FT_INT, K_INDEX | K_RECEPTION},
    {"gender", PBR_F_GENDER, FT_GENDER, K_INDEX | K_RECEPTION},
    {"ogrs", PBR_F_OGRS, FT_OGRS, K_INDEX},
    {"prior_sanctions", PBR_F_PRIOR_SANCTIONS, FT_INT, K_INDEX},
    {"flags", PBR_F_FLAGS, FT_FLAGS, K_INDEX},
    {"remand", PBR_F_REMAND, FT_BOOL, K_RECEPTION},
    {"category", PBR_F_CATEGORY, FT_STR, K_CONVICTION},
    {"disposal", PBR_F_DISPOSAL, FT_DISPOSAL, K_CONVICTION},
};

static const char *where_kind_name(pbr_where_kind k)
{
    return k == PBR_WHERE_INDEX ? "index events" : k == PBR_WHERE_RECEPTION ? "receptions" : "convictions";
}

/* z -> int64, clamped to [-2^62, 2^62]. */
static int64_t z_clamped(const mpz_t z)
{
    if (mpz_sizeinbase(z, 2) > 62)
        return mpz_sgn(z) < 0 ? -BOUND_LIMIT : BOUND_LIMIT;
    uint64_t mag = 0;
    size_t count = 0;
    mpz_export(&mag, &count, -1, sizeof mag, 0, 0, z);
    return mpz_sgn(z) < 0 ? -(int64_t)mag : (int64_t)mag;
}

/* The scaled value of q (x10000 for ogrs) rounded: dir > 0 up, dir < 0 down,
 * dir == 0 exact (returns -1 when q is not a representable integer). */
static int scaled_int(const mpq_t q, int ogrs, int dir, int64_t *out)
{
    mpq_t s;
    mpz_t z;
    int rc = 0;
    mpq_init(s);
    mpz_init(z);
    mpq_set(s, q);
    if (ogrs) {
        mpz_mul_ui(mpq_numref(s), mpq_numref(s), 10000);
        mpq_canonicalize(s);
    }
    if (dir > 0)
        mpz_cdiv_q(z, mpq_numref(s), mpq_denref(s));
    else if (dir < 0)
        mpz_fdiv_q(z, mpq_numref(s), mpq_denref(s));
    else if (mpz_cmp_ui(mpq_denref(s), 1) != 0 || mpz_sizeinbase(mpq_numref(s), 2) > 62)
        rc = -1;
    else
        mpz_set(z, mpq_numref(s));
    if (rc == 0)
        *out = z_clamped(z);
    mpz_clear(z);
    mpq_clear(s);
    return rc;
}

/* Numeric {min, max} range into c. Returns 0 or -1. */
static int parse_range(lctx *x, const yaml_node_t *n, const char *fname, int ogrs, pbr_cond *c)
{
    static const char *const keys[] = {"min", "max", NULL};
    char in[64];
    snprintf(in, sizeof in, "%s range", fname);
    if (check_keys(x, n, keys, in))
        return -1;
    yaml_node_t *vmin = find(x, n, "min", NULL), *vmax = find(x, n, "max", NULL);
    if (!vmin && !vmax)
        return FAIL(x, n, "%s: a range needs min, max or both", fname);
    mpq_t lo, hi;
    int rc = -1;
    mpq_init(lo);
    mpq_init(hi);
    c->is_range = 1;
    if (vmin && get_decimal(x, vmin, "min", -1, lo))
        goto out;
    if (vmax && get_decimal(x, vmax, "max", -1, hi))
        goto out;
    if (vmin && vmax && mpq_cmp(lo, hi) > 0) {
        FAIL(x, n, "%s: min is greater than max", fname);
        goto out;
    }
    if (vmin)
        scaled_int(lo, ogrs, 1, &c->min);
    if (vmax)
        scaled_int(hi, ogrs, -1, &c->max);
    rc = 0;
out:
    mpq_clear(hi);
    mpq_clear(lo);
    return rc;
}

/* Collects the scalar items of v (a scalar is a list of one) into *items. */
static int value_items(lctx *x, const yaml_node_t *v, const char *fname, const yaml_node_t ***items, size_t *n)
{
    size_t cnt = is_seq(v) ? seq_size(v) : 1;
    if (cnt == 0)
        return FAIL(x, v, "%s: an empty list never matches", fname);
    const yaml_node_t **it = calloc(cnt, sizeof *it);
    if (!it)
        return oom(x, v);
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *e = is_seq(v) ? seq_item(x, v, i) : v;
        if (!e || need_scalar(x, e, fname) || (pbr_yaml_is_null(e) && FAIL(x, e, "%s: must not be empty", fname))) {
            free(it);
            return -1;
        }
        it[i] = e;
    }
    *items = it;
    *n = cnt;
    return 0;
}

/* A numeric scalar or list into c->nums (unrepresentable values dropped). */
static int parse_num_list(lctx *x, const yaml_node_t *v, const char *fname, int ogrs, pbr_cond *c)
{
    const yaml_node_t **items;
    size_t n;
    if (value_items(x, v, fname, &items, &n))
        return -1;
    int rc = 0;
    mpq_t q;
    mpq_init(q);
    c->nums = calloc(n, sizeof *c->nums);
    if (!c->nums)
        rc = oom(x, v);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t iv;
        if (get_decimal(x, items[i], fname, -1, q))
            rc = -1;
        else if (scaled_int(q, ogrs, 0, &iv) == 0)
            c->nums[c->nnums++] = iv;
    }
    mpq_clear(q);
    free(items);
    return rc;
}

/* A string scalar or list into c->strs, validated by type. */
static int parse_str_list(lctx *x, const yaml_node_t *v, const char *fname, field_type t, pbr_cond *c)
{
    const yaml_node_t **items;
    size_t n;
    char q[QBUF];
    if (value_items(x, v, fname, &items, &n))
        return -1;
    int rc = 0;
    c->strs = calloc(n, sizeof *c->strs);
    if (!c->strs)
        rc = oom(x, v);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const yaml_node_t *e = items[i];
        if (t == FT_GENDER && !scalar_is(e, "M") && !scalar_is(e, "F") && !scalar_is(e, "X"))
            rc = FAIL(x, e, "%s: %s is not one of M, F or X", fname, Q(e, q));
        else if (t == FT_DISPOSAL && disposal_index(e) < 0)
            rc = FAIL(x, e, "%s: %s is not a disposal (custody, sso, community, fine, discharge, caution or other)",
                      fname, Q(e, q));
        else if (get_str(x, e, fname, &c->strs[c->nstrs]) == 0)
            c->nstrs++;
        else
            rc = -1;
    }
    free(items);
    return rc;
}

/* One condition value: scalar, list (any of) or range (numeric fields). */
static int parse_cond(lctx *x, const yaml_node_t *v, const struct field_def *f, pbr_cond *c)
{
    int numeric = f->type == FT_INT || f->type == FT_OGRS;
    if (f->type == FT_BOOL)
        return get_bool(x, v, f->name, &c->boolean);
    if (is_map(v)) {
        if (!numeric)
            return FAIL(x, v, "%s: a range {min, max} applies only to numeric fields", f->name);
        return parse_range(x, v, f->name, f->type == FT_OGRS, c);
    }
    if (numeric)
        return parse_num_list(x, v, f->name, f->type == FT_OGRS, c);
    return parse_str_list(x, v, f->name, f->type, c);
}

/* Compiles a where mapping (key `key` for messages) of the given kind into w
 * (empty on entry). Returns 0 or -1; w is freed by its owner either way. */
static int parse_where(lctx *x, const yaml_node_t *n, const char *key, pbr_where_kind kind, pbr_where *w)
{
    char q[QBUF];
    if (need_map(x, n, key))
        return -1;
    size_t np = map_size(n);
    w->conds = calloc(np ? np : 1, sizeof *w->conds);
    if (!w->conds)
        return oom(x, n);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        if (!k || !v || !is_scalar(k))
            return FAIL(x, k ? k : n, "%s: keys must be plain strings", key);
        const struct field_def *f = NULL;
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            if (scalar_is(k, FIELDS[i].name))
                f = &FIELDS[i];
        if (!f)
            return FAIL(x, k, "unknown key %s in %s", Q(k, q), key);
        if (!(f->kinds & (1u << kind)))
            return FAIL(x, k, "%s: %s is not a field of %s", key, Q(k, q), where_kind_name(kind));
        for (yaml_node_pair_t *e = n->data.mapping.pairs.start; e < p; e++)
            if (same_scalar(node_at(x, e->key), k))
                return FAIL(x, k, "duplicate key %s in %s", Q(k, q), key);
        pbr_cond *c = &w->conds[w->nconds++];
        c->field = f->field;
        c->min = INT64_MIN;
        c->max = INT64_MAX;
        if (parse_cond(x, v, f, c))
            return -1;
    }
    return 0;
}

/* ---- cohort ------------------------------------------------------------------------------ */

/* Appends a window's period key (the array grows by doubling). */
static int add_wkey(lctx *x, const yaml_node_t *at, const char *key)
{
    if (pbr_grow((void **)&x->wkeys, &x->wkeys_cap, x->nwkeys + 1, sizeof *x->wkeys) != 0)
        return oom(x, at);
    if (!(x->wkeys[x->nwkeys] = strdup(key)))
        return oom(x, at);
    x->nwkeys++;
    return 0;
}

/* Fails at the cohort node when start..end holds more than
 * MAX_COHORT_WINDOWS periods (quarters or years from `first`). */
static int check_period_count(lctx *x, const yaml_node_t *at, pbr_date first, int months, const char *what)
{
    const pbr_contract *c = x->c;
    /* periods from first (<= start) through end: whole months between them / months, plus one */
    int y0, m0, d0, y1, m1, d1;
    pbr_date_to_ymd(first, &y0, &m0, &d0);
    pbr_date_to_ymd(c->end, &y1, &m1, &d1);
    int64_t span = ((int64_t)y1 - y0) * 12 + m1 - m0;
    if (span / months + 1 <= MAX_COHORT_WINDOWS)
        return 0;
    char s[PBR_DATE_STRLEN], e[PBR_DATE_STRLEN];
    pbr_date_format(c->start, s);
    pbr_date_format(c->end, e);
    return FAIL(x, at, "cohort: %s to %s makes %" PRId64 " %s cohorts; at most %d are supported", s, e,
                span / months + 1, what, MAX_COHORT_WINDOWS);
}

/* Computes the period keys of every cohort window (5.2, 5.7) into x->wkeys. */
static int compute_window_keys(lctx *x, const yaml_node_t *at)
{
    const pbr_contract *c = x->c;
    char buf[PBR_ID_MAX + 16];
    switch (c->cohort.period) {
    case PBR_PERIOD_QUARTER:
        if (check_period_count(x, at, pbr_quarter_of(c->start, c->year_start), 3, "quarterly"))
            return -1;
        for (pbr_date q = pbr_quarter_of(c->start, c->year_start); q <= c->end; q = pbr_add_months(q, 3)) {
            pbr_date_format(q, buf);
            if (add_wkey(x, at, buf))
                return -1;
        }
        return 0;
    case PBR_PERIOD_YEAR:
        if (check_period_count(x, at, pbr_year_of(c->start, c->year_start), 12, "yearly"))
            return -1;
        for (pbr_date y = pbr_year_of(c->start, c->year_start); y <= c->end; y = pbr_add_months(y, 12)) {
            pbr_year_label(y, c->year_start, buf, sizeof buf);
            if (add_wkey(x, at, buf))
                return -1;
        }
        return 0;
    case PBR_PERIOD_WHOLE: return add_wkey(x, at, "all");
    case PBR_PERIOD_WINDOWS:
        for (size_t i = 0; i < c->cohort.nwindows; i++)
            if (add_wkey(x, at, c->cohort.windows[i].name))
                return -1;
        return 0;
    }
    return 0;
}

static int parse_windows(lctx *x, const yaml_node_t *n, pbr_cohort *co)
{
    static const char *const keys[] = {"name", "from", "to", NULL};
    char q[QBUF];
    if (need_seq(x, n, "windows"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt == 0)
        return FAIL(x, n, "windows: an empty list has no cohorts");
    if (cnt > MAX_COHORT_WINDOWS)
        return FAIL(x, n, "windows: %zu windows; at most %d are supported", cnt, MAX_COHORT_WINDOWS);
    co->windows = calloc(cnt, sizeof *co->windows);
    if (!co->windows)
        return oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *w = seq_item(x, n, i), *vn, *vf, *vt;
        pbr_window *win = &co->windows[i];
        if (!w || need_map(x, w, "windows") || check_keys(x, w, keys, "window"))
            return -1;
        if (!(vn = require(x, w, "name", "window")) || !(vf = require(x, w, "from", "window")) ||
            !(vt = require(x, w, "to", "window")))
            return -1;
        if (get_ident(x, vn, "name", &win->name))
            return -1;
        co->nwindows++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(co->windows[j].name, win->name) == 0)
                return FAIL(x, vn, "name: duplicate window name %s", Q(vn, q));
        if (get_date(x, vf, "from", &win->from) || get_date(x, vt, "to", &win->to))
            return -1;
        if (win->from >= win->to)
            return FAIL(x, vt, "to: %s is not after from", Q(vt, q));
        /* half-open [from, to) against the contract's [start, end + 1) */
        if (win->to <= x->c->start || win->from > x->c->end) {
            char a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
            pbr_date_format(x->c->start, a);
            pbr_date_format(x->c->end, b);
            return FAIL(x, w, "window %s: no day of it is in the contract (%s to %s)", Q(vn, q), a, b);
        }
        for (size_t j = 0; j < i; j++) {
            const pbr_window *o = &co->windows[j];
            if (win->from < o->to && o->from < win->to)
                return FAIL(x, w, "window %s overlaps window \"%s\"", Q(vn, q), o->name);
        }
    }
    return 0;
}

static int parse_cohort(lctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"index", "period", "windows", "size", "members", "where", NULL};
    static const char *const indexes[] = {"release", "community_start", NULL};
    static const char *const periods[] = {"quarter", "year", "whole", NULL};
    static const char *const members[] = {"first", "every", NULL};
    pbr_cohort *co = &x->c->cohort;
    yaml_node_t *v, *k;
    int i;
    x->c->has_cohort = 1;
    co->period = PBR_PERIOD_YEAR;
    co->members_first = 1;
    if (need_map(x, n, "cohort") || check_keys(x, n, keys, "cohort"))
        return -1;
    if (!(v = require(x, n, "index", "cohort")) || get_choice(x, v, "index", indexes, &i))
        return -1;
    co->index = i == 0 ? PBR_EV_RELEASE : PBR_EV_COMMUNITY_START;
    if ((v = find(x, n, "period", NULL))) {
        if (get_choice(x, v, "period", periods, &i))
            return -1;
        co->period = (pbr_period)i;
    }
    if ((v = find(x, n, "windows", &k))) {
        if (find(x, n, "period", NULL))
            return FAIL(x, k, "windows: give either period or windows, not both");
        co->period = PBR_PERIOD_WINDOWS;
        if (parse_windows(x, v, co))
            return -1;
    }
    if ((v = find(x, n, "size", NULL)) && get_int(x, v, "size", 1, INT64_MAX, &co->size))
        return -1;
    if ((v = find(x, n, "members", NULL))) {
        if (get_choice(x, v, "members", members, &i))
            return -1;
        co->members_first = i == 0;
    }
    if ((v = find(x, n, "where", NULL)) && parse_where(x, v, "where", PBR_WHERE_INDEX, &co->where))
        return -1;
    return compute_window_keys(x, n);
}

/* ---- fees -------------------------------------------------------------------------------- */

/* volume: {index, where, band: [lo, hi], rate} of a quarterly fee (5.9.4). */
static int parse_volume(lctx *x, const yaml_node_t *n, pbr_fee *f)
{
    static const char *const keys[] = {"index", "where", "band", "rate", NULL};
    static const char *const indexes[] = {"release", "community_start", NULL};
    yaml_node_t *v, *lo, *hi;
    int i;
    if (need_map(x, n, "volume") || check_keys(x, n, keys, "volume"))
        return -1;
    if (!(v = require(x, n, "index", "volume")) || get_choice(x, v, "index", indexes, &i))
        return -1;
    f->volume_index = i == 0 ? PBR_EV_RELEASE : PBR_EV_COMMUNITY_START;
    if ((v = find(x, n, "where", NULL)) && parse_where(x, v, "where", PBR_WHERE_INDEX, &f->volume_where))
        return -1;
    if (!(v = require(x, n, "band", "volume")) || need_seq(x, v, "band"))
        return -1;
    if (seq_size(v) != 2)
        return FAIL(x, v, "band: give two whole numbers [lo, hi]");
    if (!(lo = seq_item(x, v, 0)) || !(hi = seq_item(x, v, 1)) || get_int(x, lo, "band", 0, INT32_MAX, &f->volume_lo) ||
        get_int(x, hi, "band", 0, INT32_MAX, &f->volume_hi))
        return -1;
    if (f->volume_lo > f->volume_hi)
        return FAIL(x, v, "band: lo %" PRId64 " is greater than hi %" PRId64, f->volume_lo, f->volume_hi);
    if (!(v = require(x, n, "rate", "volume")) || get_money(x, v, "rate", 1, f->volume_rate))
        return -1;
    f->has_volume = 1;
    return 0;
}

static int parse_fee(lctx *x, const yaml_node_t *n, pbr_fee *f)
{
    static const char *const keys[] = {"id", "per_quarter", "from", "to", "on", "amount", "volume", "advance_of", NULL};
    const pbr_contract *c = x->c;
    char q[QBUF], a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
    yaml_node_t *v, *k;
    if (need_map(x, n, "fees") || check_keys(x, n, keys, "fee"))
        return -1;
    if (!(v = require(x, n, "id", "fee")) || get_ident(x, v, "id", &f->id))
        return -1;
    for (size_t i = 0; i < c->nfees; i++)
        if (c->fees[i].id && &c->fees[i] != f && strcmp(c->fees[i].id, f->id) == 0)
            return FAIL(x, v, "id: duplicate fee id %s", Q(v, q));
    yaml_node_t *pq = find(x, n, "per_quarter", NULL), *on = find(x, n, "on", NULL);
    if (pq) {
        if ((v = find(x, n, "on", &k)) || (v = find(x, n, "amount", &k)))
            return FAIL(x, k, "fee: %s cannot be used with per_quarter", Q(k, q));
        if (get_money(x, pq, "per_quarter", 0, f->amount))
            return -1;
        f->from = c->start;
        f->to = c->end;
        pbr_date_format(c->start, a);
        pbr_date_format(c->end, b);
        if ((v = find(x, n, "from", NULL))) {
            if (get_date(x, v, "from", &f->from))
                return -1;
            if (f->from < c->start || f->from > c->end)
                return FAIL(x, v, "from: %s is outside the contract (%s to %s)", Q(v, q), a, b);
        }
        if ((v = find(x, n, "to", NULL))) {
            if (get_date(x, v, "to", &f->to))
                return -1;
            if (f->to < c->start || f->to > c->end)
                return FAIL(x, v, "to: %s is outside the contract (%s to %s)", Q(v, q), a, b);
            if (f->to < f->from)
                return FAIL(x, v, "to: %s is before from", Q(v, q));
        }
        if ((v = find(x, n, "volume", NULL)) && parse_volume(x, v, f))
            return -1;
        return 0;
    }
    if (!on)
        return FAIL(x, n, "fee: needs per_quarter, or on and amount");
    if ((v = find(x, n, "from", &k)) || (v = find(x, n, "to", &k)) || (v = find(x, n, "volume", &k)) ||
        (v = find(x, n, "advance_of", &k)))
        return FAIL(x, k, "fee: %s applies only to per_quarter fees", Q(k, q));
    f->dated = 1;
    f->from = f->to = PBR_DATE_NONE;
    if (get_date(x, on, "on", &f->on))
        return -1;
    if (!(v = require(x, n, "amount", "fee")) || get_money(x, v, "amount", 0, f->amount))
        return -1;
    return 0;
}

static int parse_fees(lctx *x, const yaml_node_t *n)
{
    pbr_contract *c = x->c;
    if (need_seq(x, n, "fees"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt > MAX_LIST_ITEMS)
        return FAIL(x, n, "fees: %zu fees; at most %d are supported", cnt, MAX_LIST_ITEMS);
    c->fees = calloc(cnt ? cnt : 1, sizeof *c->fees);
    if (!c->fees)
        return oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        mpq_init(c->fees[i].amount);
        mpq_init(c->fees[i].volume_rate);
        c->fees[i].file_order = i;
        c->nfees++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *f = seq_item(x, n, i);
        if (!f || parse_fee(x, f, &c->fees[i]))
            return -1;
    }
    return 0;
}

/* ---- baselines ---------------------------------------------------------------------------- */

/* 1 when a window period key is key (text of node k). */
static int is_window_key(const lctx *x, const yaml_node_t *k)
{
    for (size_t i = 0; i < x->nwkeys; i++)
        if (scalar_is(k, x->wkeys[i]))
            return 1;
    return 0;
}

/* A baseline rate >= 0; with proportion (a binary measure's) also <= 1. */
static int get_rate(lctx *x, const yaml_node_t *n, const char *key, int proportion, mpq_t out)
{
    char q[QBUF];
    if (get_nonneg(x, n, key, -1, 0, out))
        return -1;
    if (proportion && mpq_cmp_ui(out, 1, 1) > 0)
        return FAIL(x, n, "%s: %s is above 1 (a binary rate is a proportion: 0.45, not 45)", key, Q(n, q));
    return 0;
}

/* {rates: {KEY: x}}: keys are exactly the cohort windows' period keys;
 * with proportion every rate is in [0, 1]. */
static int parse_rates(lctx *x, const yaml_node_t *n, int proportion, pbr_baseline *b)
{
    char q[QBUF];
    if (need_map(x, n, "rates") || check_keys(x, n, NULL, "rates"))
        return -1;
    size_t np = map_size(n);
    b->rate_keys = calloc(np ? np : 1, sizeof *b->rate_keys);
    b->rate_values = calloc(np ? np : 1, sizeof *b->rate_values);
    if (!b->rate_keys || !b->rate_values)
        return oom(x, n);
    for (size_t i = 0; i < np; i++) {
        mpq_init(b->rate_values[i]);
        b->nrates++;
    }
    for (size_t i = 0; i < np; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        if (!k || !v)
            return FAIL(x, n, "rates: malformed mapping");
        if (!is_window_key(x, k))
            return FAIL(x, k, "rates: %s is not a cohort window of this contract", Q(k, q));
        if (get_str(x, k, "rates", &b->rate_keys[i]) || get_rate(x, v, "rates", proportion, b->rate_values[i]))
            return -1;
    }
    for (size_t w = 0; w < x->nwkeys; w++) {
        int found = 0;
        for (size_t i = 0; i < np && !found; i++)
            found = strcmp(b->rate_keys[i], x->wkeys[w]) == 0;
        if (!found)
            return FAIL(x, n, "rates: missing cohort \"%s\"", x->wkeys[w]);
    }
    return 0;
}

/* {counts: {custody: x, ...}}: disposal kinds to yearly counts. */
static int parse_counts(lctx *x, const yaml_node_t *n, const char *key, int money, int *has, mpq_t *vals)
{
    char q[QBUF];
    if (need_map(x, n, key) || check_keys(x, n, DISPOSALS, key))
        return -1;
    if (map_size(n) == 0)
        return FAIL(x, n, "%s: lists no disposal kinds", key);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
        int d = disposal_index(k);
        if (d < 0 || !v)
            return FAIL(x, k ? k : n, "%s: %s is not a disposal kind", key, Q(k, q));
        if (money ? get_money(x, v, key, 1, vals[d]) : get_nonneg(x, v, key, -1, 0, vals[d]))
            return -1;
        has[d] = 1;
    }
    return 0;
}

/* Which baseline forms a measure takes, as a bit set of pbr_baseline_kind. */
static unsigned baseline_forms(pbr_measure m)
{
    switch (m) {
    case PBR_M_BINARY: return 1u << PBR_BL_RATE | 1u << PBR_BL_RATES | 1u << PBR_BL_PREDICTED | 1u << PBR_BL_OGRS_REF;
    case PBR_M_FREQUENCY: return 1u << PBR_BL_RATE | 1u << PBR_BL_RATES;
    case PBR_M_CUSTODY_NIGHTS: return 1u << PBR_BL_HISTORY | 1u << PBR_BL_NIGHTS;
    case PBR_M_DISPOSALS: return 1u << PBR_BL_HISTORY | 1u << PBR_BL_COUNTS;
    case PBR_M_CLEAN_PERIOD: break;
    }
    return 0;
}

static int parse_baseline(lctx *x, const yaml_node_t *n, pbr_measure m, pbr_baseline *b)
{
    static const char *const keys[] = {"rate",    "rates",  "predicted", "scale", "ogrs_reference",
                                       "history", "nights", "counts",    NULL};
    yaml_node_t *kr = NULL, *krs = NULL, *kp = NULL, *ks = NULL, *ko = NULL, *kh = NULL, *kn = NULL, *kc = NULL;
    yaml_node_t *rate, *rates, *pred, *scale, *oref, *hist, *nights, *counts, *form;
    char q[QBUF];
    if (need_map(x, n, "baseline") || check_keys(x, n, keys, "baseline"))
        return -1;
    rate = find(x, n, "rate", &kr);
    rates = find(x, n, "rates", &krs);
    pred = find(x, n, "predicted", &kp);
    scale = find(x, n, "scale", &ks);
    oref = find(x, n, "ogrs_reference", &ko);
    hist = find(x, n, "history", &kh);
    nights = find(x, n, "nights", &kn);
    counts = find(x, n, "counts", &kc);
    if (oref && !rate)
        return FAIL(x, ko, "ogrs_reference: needs rate");
    if (scale && !pred)
        return FAIL(x, ks, "scale: applies only to predicted");
    int nforms = !!rate + !!rates + !!pred + !!hist + !!nights + !!counts;
    if (nforms == 0)
        return FAIL(x, n, "baseline: give one of rate, rates, predicted, history, nights or counts");
    if (nforms > 1)
        return FAIL(x, n, "baseline: give only one of rate, rates, predicted, history, nights or counts");
    if (rate) {
        b->kind = oref ? PBR_BL_OGRS_REF : PBR_BL_RATE;
        form = oref ? ko : kr;
    } else if (rates) {
        b->kind = PBR_BL_RATES;
        form = krs;
    } else if (pred) {
        b->kind = PBR_BL_PREDICTED;
        form = kp;
    } else if (hist) {
        b->kind = PBR_BL_HISTORY;
        form = kh;
    } else if (nights) {
        b->kind = PBR_BL_NIGHTS;
        form = kn;
    } else {
        b->kind = PBR_BL_COUNTS;
        form = kc;
    }
    if (!(baseline_forms(m) & (1u << b->kind))) {
        if (b->kind == PBR_BL_PREDICTED || b->kind == PBR_BL_OGRS_REF)
            return FAIL(x, form, "baseline: %s (an OGRS baseline) applies only to binary, not %s", Q(form, q),
                        pbr_measure_name(m));
        return FAIL(x, form, "baseline: %s does not apply to %s", Q(form, q), pbr_measure_name(m));
    }
    int proportion = m == PBR_M_BINARY; /* a binary rate is a share of the cohort: [0, 1] */
    switch (b->kind) {
    case PBR_BL_RATE: return get_rate(x, rate, "rate", proportion, b->rate);
    case PBR_BL_OGRS_REF:
        if (get_rate(x, rate, "rate", proportion, b->rate))
            return -1;
        return get_nonneg(x, oref, "ogrs_reference", -1, 1, b->ogrs_reference);
    case PBR_BL_RATES: return parse_rates(x, rates, proportion, b);
    case PBR_BL_PREDICTED:
        if (need_scalar(x, pred, "predicted"))
            return -1;
        if (!scalar_is(pred, "ogrs"))
            return FAIL(x, pred, "predicted: %s is not ogrs", Q(pred, q));
        return scale ? get_nonneg(x, scale, "scale", -1, 0, b->scale) : 0;
    case PBR_BL_HISTORY: return get_int32(x, hist, "history", 1, MAX_HISTORY, &b->history_years);
    case PBR_BL_NIGHTS: return get_nonneg(x, nights, "nights", -1, 0, b->nights);
    case PBR_BL_COUNTS: return parse_counts(x, counts, "counts", 0, b->has_count, b->counts);
    case PBR_BL_NONE: break;
    }
    return 0;
}

/* ---- pay ---------------------------------------------------------------------------------- */

/* {points|percent|avoided|significant: x}: exactly one metric key. A
 * significance z (5.9.3) must not be negative. */
static int parse_gate(lctx *x, const yaml_node_t *n, const char *key, pbr_metric *metric, mpq_t value,
                      yaml_node_t **metric_key)
{
    if (need_map(x, n, key) || check_keys(x, n, GATE_METRICS, key))
        return -1;
    if (map_size(n) != 1)
        return FAIL(x, n, "%s: give exactly one of points, percent, avoided or significant", key);
    yaml_node_pair_t *p = n->data.mapping.pairs.start;
    yaml_node_t *k = node_at(x, p->key), *v = node_at(x, p->value);
    if (!k || !v)
        return FAIL(x, n, "%s: malformed mapping", key);
    for (int i = 0; GATE_METRICS[i]; i++)
        if (scalar_is(k, GATE_METRICS[i]))
            *metric = (pbr_metric)i;
    *metric_key = k;
    if (*metric == PBR_METRIC_SIGNIFICANT)
        return get_nonneg(x, v, GATE_METRICS[*metric], -1, 0, value);
    if (get_decimal(x, v, GATE_METRICS[*metric], -1, value))
        return -1;
    if ((*metric == PBR_METRIC_POINTS || *metric == PBR_METRIC_PERCENT) && mpq_cmp_ui(value, GATE_PERCENT_MAX, 1) > 0) {
        char q[QBUF];
        return FAIL(x, v, "%s: %s is above 100", GATE_METRICS[*metric], Q(v, q));
    }
    return 0;
}

static int parse_tiers(lctx *x, const yaml_node_t *n, pbr_pay *p)
{
    static const char *const keys[] = {"upto", "price", NULL};
    char q[QBUF];
    if (need_seq(x, n, "tiers"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt == 0)
        return FAIL(x, n, "tiers: an empty list pays nothing (give price instead)");
    p->tiers = calloc(cnt, sizeof *p->tiers);
    if (!p->tiers)
        return oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        mpq_init(p->tiers[i].upto);
        mpq_init(p->tiers[i].price);
        p->ntiers++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *t = seq_item(x, n, i), *v;
        pbr_tier *tier = &p->tiers[i];
        if (!t || need_map(x, t, "tiers") || check_keys(x, t, keys, "tier"))
            return -1;
        if (!(v = require(x, t, "price", "tier")) || get_money(x, v, "price", 1, tier->price))
            return -1;
        if (!(v = find(x, t, "upto", NULL))) {
            if (i + 1 < cnt)
                return FAIL(x, t, "tiers: only the last tier may leave out upto");
            continue;
        }
        tier->has_upto = 1;
        if (get_nonneg(x, v, "upto", -1, 1, tier->upto))
            return -1;
        if (i > 0 && mpq_cmp(tier->upto, p->tiers[i - 1].upto) <= 0)
            return FAIL(x, v, "upto: %s does not rise above the previous tier's upto", Q(v, q));
    }
    return 0;
}

/* Which measures a key applies to, as a bit set of pbr_measure. */
#define M_BIN (1u << PBR_M_BINARY)
#define M_FRQ (1u << PBR_M_FREQUENCY)
#define M_CLN (1u << PBR_M_CLEAN_PERIOD)
#define M_CUS (1u << PBR_M_CUSTODY_NIGHTS)
#define M_DSP (1u << PBR_M_DISPOSALS)
#define M_ALL (M_BIN | M_FRQ | M_CLN | M_CUS | M_DSP)

typedef struct key_scope {
    const char *key;
    unsigned measures;
} key_scope;

/* Reports the first key of map that does not apply to measure m. */
static int check_scope(lctx *x, const yaml_node_t *map, const key_scope *scope, pbr_measure m, const char *in)
{
    char q[QBUF];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(x, p->key);
        for (size_t i = 0; scope[i].key; i++)
            if (scalar_is(k, scope[i].key) && !(scope[i].measures & (1u << m)))
                return FAIL(x, k, "%s: %s does not apply to %s", in, Q(k, q), pbr_measure_name(m));
    }
    return 0;
}

/* A significance gate (5.9.3, at its metric key k) needs V: binary, or
 * frequency per member. */
static int check_significant(lctx *x, const yaml_node_t *k, const pbr_outcome *o)
{
    if (o->measure != PBR_M_BINARY && o->measure != PBR_M_FREQUENCY)
        return FAIL(x, k, "significant: applies to binary and frequency, not %s", pbr_measure_name(o->measure));
    if (o->per_reoffender)
        return FAIL(x, k, "significant: needs per: member (the gate's variance is per member, not per reoffender)");
    return 0;
}

static int parse_pay(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"threshold", "below", "per",    "from_threshold", "price", "tiers",
                                       "max_units", "cap",   "weight", "prices",         "share", NULL};
    static const key_scope scope[] = {{"threshold", M_BIN | M_FRQ | M_CUS},
                                      {"below", M_BIN | M_FRQ | M_CUS},
                                      {"per", M_BIN | M_FRQ | M_CUS},
                                      {"from_threshold", M_BIN | M_FRQ | M_CUS},
                                      {"price", M_ALL & ~M_DSP},
                                      {"tiers", M_BIN | M_FRQ},
                                      {"max_units", M_BIN | M_FRQ},
                                      {"cap", M_ALL & ~M_DSP},
                                      {"weight", M_ALL & ~M_DSP},
                                      {"prices", M_DSP},
                                      {"share", M_DSP},
                                      {NULL, 0}};
    static const char *const weights[] = {"none", "ogrs", NULL};
    pbr_pay *p = &o->pay;
    pbr_measure m = o->measure;
    yaml_node_t *v, *k, *gate_key = NULL, *per_node = NULL;
    int i;
    char q[QBUF];
    if (need_map(x, n, "pay") || check_keys(x, n, keys, "pay") || check_scope(x, n, scope, m, "pay"))
        return -1;
    if ((v = find(x, n, "threshold", NULL))) {
        if (parse_gate(x, v, "threshold", &p->threshold_metric, p->threshold, &gate_key))
            return -1;
        p->has_threshold = 1;
        if (m == PBR_M_CUSTODY_NIGHTS && p->threshold_metric == PBR_METRIC_POINTS)
            return FAIL(x, gate_key, "threshold: custody_nights has no points metric (use avoided or percent)");
        if (p->threshold_metric == PBR_METRIC_SIGNIFICANT && check_significant(x, gate_key, o))
            return -1;
    }
    if ((v = find(x, n, "below", NULL)) && get_money(x, v, "below", 0, p->below))
        return -1;
    if ((per_node = find(x, n, "per", NULL))) {
        if (get_choice(x, per_node, "per", PER_METRICS, &i))
            return -1;
        p->per = (pbr_metric)i;
        if (m == PBR_M_CUSTODY_NIGHTS && p->per == PBR_METRIC_POINTS)
            return FAIL(x, per_node, "per: custody_nights pays per avoided or percent, not point");
    }
    if ((v = find(x, n, "from_threshold", &k))) {
        if (get_bool(x, v, "from_threshold", &p->from_threshold))
            return -1;
        if (p->from_threshold && !p->has_threshold)
            return FAIL(x, k, "from_threshold: there is no threshold");
        if (p->from_threshold && p->threshold_metric == PBR_METRIC_SIGNIFICANT)
            return FAIL(x, k, "from_threshold: a significance gate has no value to count units from");
        if (p->from_threshold && p->threshold_metric != p->per)
            return FAIL(x, k, "from_threshold: the gate is in %s but per is %s", GATE_METRICS[p->threshold_metric],
                        PER_METRICS[p->per]);
    }
    if ((v = find(x, n, "price", NULL))) {
        if (get_money(x, v, "price", 1, p->price))
            return -1;
        p->has_price = 1;
    }
    if ((v = find(x, n, "tiers", &k))) {
        if (p->has_price)
            return FAIL(x, k, "tiers: give either price or tiers, not both");
        if (parse_tiers(x, v, p))
            return -1;
    }
    if ((v = find(x, n, "max_units", NULL))) {
        if (get_nonneg(x, v, "max_units", -1, 0, p->max_units))
            return -1;
        p->has_max_units = 1;
    }
    if ((v = find(x, n, "cap", NULL))) {
        if (get_money(x, v, "cap", 1, p->cap))
            return -1;
        p->has_cap = 1;
    }
    if ((v = find(x, n, "weight", NULL))) {
        if (get_choice(x, v, "weight", weights, &i))
            return -1;
        p->weight_ogrs = i == 1;
        if (p->weight_ogrs && !(m == PBR_M_BINARY || m == PBR_M_FREQUENCY || m == PBR_M_CLEAN_PERIOD))
            return FAIL(x, v, "weight: ogrs applies only to binary, frequency and clean_period, not %s",
                        pbr_measure_name(m));
    }
    if (m == PBR_M_DISPOSALS) {
        if (!(v = require(x, n, "prices", "pay")))
            return -1;
        if (parse_counts(x, v, "prices", 1, p->has_kind_price, p->prices))
            return -1;
        p->has_prices = 1;
        if ((v = find(x, n, "share", NULL))) {
            if (get_nonneg(x, v, "share", -1, 1, p->share))
                return -1;
            if (mpq_cmp_ui(p->share, 100, 1) > 0)
                return FAIL(x, v, "share: %s is more than 100 percent", Q(v, q));
        }
    }
    return 0;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static pbr_where_kind where_kind_of(pbr_measure m)
{
    return m == PBR_M_CUSTODY_NIGHTS ? PBR_WHERE_RECEPTION
        : m == PBR_M_DISPOSALS       ? PBR_WHERE_CONVICTION
                                     : PBR_WHERE_INDEX;
}

static int parse_segment(lctx *x, const yaml_node_t *n, pbr_outcome *o, size_t idx)
{
    static const char *const keys[] = {"name", "where", "baseline", "price", NULL};
    pbr_segment *s = &o->segments[idx];
    yaml_node_t *v, *k;
    char q[QBUF];
    if (need_map(x, n, "segments") || check_keys(x, n, keys, "segment"))
        return -1;
    if (!(v = require(x, n, "name", "segment")) || get_ident(x, v, "name", &s->name))
        return -1;
    for (size_t j = 0; j < idx; j++)
        if (strcmp(o->segments[j].name, s->name) == 0)
            return FAIL(x, v, "name: duplicate segment name %s", Q(v, q));
    if ((v = find(x, n, "where", NULL))) {
        s->has_where = 1;
        if (parse_where(x, v, "where", where_kind_of(o->measure), &s->where))
            return -1;
    }
    if ((v = find(x, n, "baseline", &k))) {
        if (o->measure == PBR_M_CLEAN_PERIOD)
            return FAIL(x, k, "segment: \"baseline\" does not apply to clean_period");
        if (parse_baseline(x, v, o->measure, &s->baseline))
            return -1;
        s->has_baseline = 1;
    }
    if ((v = find(x, n, "price", &k))) {
        if (o->measure == PBR_M_DISPOSALS)
            return FAIL(x, k, "segment: \"price\" does not apply to disposals (pay.prices values them)");
        if (get_money(x, v, "price", 1, s->price))
            return -1;
        s->has_price = 1;
    }
    return 0;
}

static int parse_segments(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    if (need_seq(x, n, "segments"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt == 0)
        return FAIL(x, n, "segments: an empty list excludes every member");
    if (cnt > MAX_LIST_ITEMS)
        return FAIL(x, n, "segments: %zu segments; at most %d are supported", cnt, MAX_LIST_ITEMS);
    o->segments = calloc(cnt, sizeof *o->segments);
    if (!o->segments)
        return oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        baseline_init(&o->segments[i].baseline);
        mpq_init(o->segments[i].price);
        o->nsegments++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *s = seq_item(x, n, i);
        if (!s || parse_segment(x, s, o, i))
            return -1;
    }
    return 0;
}

/* pooled: {over: whole|year, threshold: {...}} (5.6; over: year is the
 * annual top-up of 5.9.2, quarterly cohorts only). */
static int parse_pooled(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"over", "threshold", NULL};
    static const char *const overs[] = {"whole", "year", NULL};
    yaml_node_t *v, *mk;
    int i;
    if (need_map(x, n, "pooled") || check_keys(x, n, keys, "pooled"))
        return -1;
    if ((v = find(x, n, "over", NULL))) {
        if (get_choice(x, v, "over", overs, &i))
            return -1;
        o->pooled_over_year = i == 1;
        if (o->pooled_over_year && x->c->cohort.period != PBR_PERIOD_QUARTER)
            return FAIL(x, v, "over: year tops up quarterly cohorts; the cohort has no period: quarter");
    }
    if (!(v = require(x, n, "threshold", "pooled")))
        return -1;
    if (parse_gate(x, v, "threshold", &o->pooled_metric, o->pooled_threshold, &mk))
        return -1;
    if (o->pooled_metric == PBR_METRIC_SIGNIFICANT && check_significant(x, mk, o))
        return -1;
    o->has_pooled = 1;
    return 0;
}

/* Checks that the component pays something per unit and that every line has a
 * baseline where the measure needs one (outcome map n, pay node pay). */
static int check_outcome_complete(lctx *x, const yaml_node_t *n, const yaml_node_t *pay, const pbr_outcome *o)
{
    int all_seg_priced = o->nsegments > 0, all_seg_baselined = o->nsegments > 0;
    for (size_t i = 0; i < o->nsegments; i++) {
        all_seg_priced &= o->segments[i].has_price;
        all_seg_baselined &= o->segments[i].has_baseline;
    }
    if (o->measure != PBR_M_DISPOSALS && !o->pay.has_price && o->pay.ntiers == 0 && !all_seg_priced)
        return FAIL(x, pay, "pay: missing price (give price%s, or a price on every segment)",
                    o->measure == PBR_M_BINARY || o->measure == PBR_M_FREQUENCY ? " or tiers" : "");
    if (o->measure == PBR_M_CLEAN_PERIOD || o->has_baseline || all_seg_baselined)
        return 0;
    if (o->nsegments == 0)
        return FAIL(x, n, "missing key \"baseline\" in outcome (%s needs one)", pbr_measure_name(o->measure));
    for (size_t i = 0; i < o->nsegments; i++) {
        if (!o->segments[i].has_baseline) {
            const yaml_node_t *segs = find(x, n, "segments", NULL);
            const yaml_node_t *s = segs ? seq_item(x, segs, i) : n;
            return FAIL(x, s ? s : n, "segment \"%s\": no baseline, and the component has none", o->segments[i].name);
        }
    }
    return 0;
}

static int parse_outcome(lctx *x, const yaml_node_t *n, pbr_outcome *o)
{
    static const char *const keys[] = {"id",    "measure",  "follow_up", "waiting",  "counts", "per",    "exclude",
                                       "where", "baseline", "pay",       "segments", "pooled", "hurdle", NULL};
    static const key_scope scope[] = {{"follow_up", M_BIN | M_FRQ | M_CLN},
                                      {"waiting", M_BIN | M_FRQ | M_CLN | M_DSP},
                                      {"counts", M_BIN | M_FRQ},
                                      {"per", M_FRQ},
                                      {"exclude", M_ALL & ~M_CUS},
                                      {"where", M_CUS | M_DSP},
                                      {"baseline", M_ALL & ~M_CLN},
                                      {"pooled", M_BIN | M_FRQ},
                                      {"hurdle", M_FRQ},
                                      {NULL, 0}};
    static const char *const counts[] = {"offences", "convictions", NULL};
    static const char *const pers[] = {"member", "reoffender", NULL};
    const pbr_contract *c = x->c;
    yaml_node_t *v, *idn, *pay;
    int i;
    char q[QBUF];
    if (need_map(x, n, "outcomes") || check_keys(x, n, keys, "outcome"))
        return -1;
    if (!(idn = require(x, n, "id", "outcome")) || get_ident(x, idn, "id", &o->id))
        return -1;
    for (size_t j = 0; j < c->noutcomes; j++)
        if (&c->outcomes[j] != o && c->outcomes[j].id && strcmp(c->outcomes[j].id, o->id) == 0)
            return FAIL(x, idn, "id: duplicate outcome id %s", Q(idn, q));
    /* Fee and outcome lines share the line key (component, period, segment),
     * so an outcome may not reuse a fee's id either. */
    for (size_t j = 0; j < c->nfees; j++)
        if (c->fees[j].id && strcmp(c->fees[j].id, o->id) == 0)
            return FAIL(x, idn, "id: %s is already the id of a fee (line keys would collide)", Q(idn, q));
    if (!(v = require(x, n, "measure", "outcome")) || get_choice(x, v, "measure", MEASURES, &i))
        return -1;
    o->measure = (pbr_measure)i;
    if ((o->measure == PBR_M_BINARY || o->measure == PBR_M_FREQUENCY || o->measure == PBR_M_CLEAN_PERIOD) &&
        !c->has_cohort)
        return FAIL(x, v, "measure: %s needs a cohort (there is no cohort section)", pbr_measure_name(o->measure));
    if (check_scope(x, n, scope, o->measure, "outcome"))
        return -1;
    if ((v = find(x, n, "follow_up", NULL)) && get_int32(x, v, "follow_up", 1, MAX_MONTHS, &o->follow_up))
        return -1;
    if ((v = find(x, n, "waiting", NULL)) && get_int32(x, v, "waiting", 0, MAX_MONTHS, &o->waiting))
        return -1;
    if ((v = find(x, n, "counts", NULL))) {
        if (get_choice(x, v, "counts", counts, &i))
            return -1;
        o->counts_convictions = i == 1;
    }
    if ((v = find(x, n, "per", NULL))) {
        if (get_choice(x, v, "per", pers, &i))
            return -1;
        o->per_reoffender = i == 1;
    }
    if ((v = find(x, n, "exclude", NULL)) && parse_where(x, v, "exclude", PBR_WHERE_CONVICTION, &o->exclude))
        return -1;
    if ((v = find(x, n, "where", NULL)) && parse_where(x, v, "where", where_kind_of(o->measure), &o->where))
        return -1;
    if ((v = find(x, n, "baseline", NULL))) {
        if (parse_baseline(x, v, o->measure, &o->baseline))
            return -1;
        o->has_baseline = 1;
    }
    if (!(pay = require(x, n, "pay", "outcome")) || parse_pay(x, pay, o))
        return -1;
    if ((v = find(x, n, "segments", NULL)) && parse_segments(x, v, o))
        return -1;
    if ((v = find(x, n, "pooled", NULL)) && parse_pooled(x, v, o))
        return -1;
    return check_outcome_complete(x, n, pay, o);
}

static int parse_outcomes(lctx *x, const yaml_node_t *n)
{
    pbr_contract *c = x->c;
    if (need_seq(x, n, "outcomes"))
        return -1;
    size_t cnt = seq_size(n);
    if (cnt > MAX_LIST_ITEMS)
        return FAIL(x, n, "outcomes: %zu outcomes; at most %d are supported", cnt, MAX_LIST_ITEMS);
    c->outcomes = calloc(cnt ? cnt : 1, sizeof *c->outcomes);
    if (!c->outcomes)
        return oom(x, n);
    for (size_t i = 0; i < cnt; i++) {
        pbr_outcome *o = &c->outcomes[i];
        o->follow_up = 12;
        o->waiting = 6;
        o->file_order = i;
        baseline_init(&o->baseline);
        pay_init(&o->pay);
        mpq_init(o->pooled_threshold);
        c->noutcomes++;
    }
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *o = seq_item(x, n, i);
        if (!o || parse_outcome(x, o, &c->outcomes[i]))
            return -1;
    }
    return 0;
}

/* ---- the contract ------------------------------------------------------------------------- */

static int valid_contract_id(const yaml_node_t *n)
{
    if (!is_scalar(n) || slen(n) < 1 || slen(n) > 48)
        return 0;
    for (size_t i = 0; i < slen(n); i++) {
        char ch = stext(n)[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return 1;
}

/* ---- links between components (5.9.1 hurdle, 5.9.5 advance_of) ---------------------- */

/* The index of the outcome whose id is the text of node v, or -1. */
static int64_t outcome_named(const lctx *x, const yaml_node_t *v)
{
    for (size_t j = 0; j < x->c->noutcomes; j++)
        if (scalar_is(v, x->c->outcomes[j].id))
            return (int64_t)j;
    return -1;
}

/* 1 when a has a segment named name. */
static int has_segment_named(const pbr_outcome *a, const char *name)
{
    for (size_t i = 0; i < a->nsegments; i++)
        if (strcmp(a->segments[i].name, name) == 0)
            return 1;
    return 0;
}

/* hurdle: ID on frequency outcome o: a binary outcome with the same segment
 * names. */
static int resolve_hurdle(lctx *x, const yaml_node_t *v, pbr_outcome *o)
{
    char q[QBUF];
    if (need_scalar(x, v, "hurdle"))
        return -1;
    int64_t j = outcome_named(x, v);
    if (j < 0)
        return FAIL(x, v, "hurdle: %s is not an outcome of this contract", Q(v, q));
    const pbr_outcome *h = &x->c->outcomes[j];
    if (h->measure != PBR_M_BINARY)
        return FAIL(x, v, "hurdle: %s is a %s outcome; a hurdle must be binary", Q(v, q), pbr_measure_name(h->measure));
    int same = h->nsegments == o->nsegments;
    for (size_t i = 0; same && i < o->nsegments; i++)
        same = has_segment_named(h, o->segments[i].name);
    if (!same)
        return FAIL(x, v, "hurdle: %s and \"%s\" have different segment names (a hurdle line is matched by segment)",
                    Q(v, q), o->id);
    o->has_hurdle = 1;
    o->hurdle = (size_t)j;
    return 0;
}

/* advance_of: ID on quarterly fee f: a binary or frequency outcome whose
 * cohort windows are quarters. */
static int resolve_advance(lctx *x, const yaml_node_t *v, pbr_fee *f)
{
    char q[QBUF];
    if (need_scalar(x, v, "advance_of"))
        return -1;
    int64_t j = outcome_named(x, v);
    if (j < 0)
        return FAIL(x, v, "advance_of: %s is not an outcome of this contract", Q(v, q));
    const pbr_outcome *o = &x->c->outcomes[j];
    if (o->measure != PBR_M_BINARY && o->measure != PBR_M_FREQUENCY)
        return FAIL(x, v, "advance_of: %s is a %s outcome; an advance is recovered from a binary or frequency one",
                    Q(v, q), pbr_measure_name(o->measure));
    if (x->c->cohort.period != PBR_PERIOD_QUARTER)
        return FAIL(x, v, "advance_of: %s needs quarterly cohorts (period: quarter) to recover each quarter's advance",
                    Q(v, q));
    f->has_advance = 1;
    f->advance_of = (size_t)j;
    return 0;
}

/* Resolves the references between components once all are parsed. */
static int resolve_links(lctx *x, const yaml_node_t *root)
{
    const pbr_contract *c = x->c;
    yaml_node_t *outs = find(x, root, "outcomes", NULL), *fees = find(x, root, "fees", NULL), *item, *v;
    for (size_t i = 0; outs && i < c->noutcomes; i++)
        if ((item = seq_item(x, outs, i)) && (v = find(x, item, "hurdle", NULL)) &&
            resolve_hurdle(x, v, &c->outcomes[i]))
            return -1;
    for (size_t i = 0; fees && i < c->nfees; i++)
        if ((item = seq_item(x, fees, i)) && (v = find(x, item, "advance_of", NULL)) &&
            resolve_advance(x, v, &c->fees[i]))
            return -1;
    return 0;
}

static int parse_top(lctx *x, const yaml_node_t *root)
{
    static const char *const keys[] = {
        "contract",          "title",        "provider", "commissioner", "start", "end",      "year_start",
        "settle_after_days", "contract_cap", "run_off",  "cohort",       "fees",  "outcomes", NULL};
    pbr_contract *c = x->c;
    yaml_node_t *v;
    char q[QBUF];
    if (!is_map(root))
        return FAIL(x, root, "a contract file must be a mapping of keys");
    if (check_keys(x, root, keys, "contract"))
        return -1;
    if (!(v = require(x, root, "contract", "contract")))
        return -1;
    if (need_scalar(x, v, "contract"))
        return -1;
    if (!valid_contract_id(v))
        return FAIL(x, v, "contract: %s is not a valid id ([a-z0-9-], 1 to 48 characters)", Q(v, q));
    if (get_str(x, v, "contract", &c->id))
        return -1;
    if (!(v = require(x, root, "title", "contract")) || get_str(x, v, "title", &c->title))
        return -1;
    if (!(v = require(x, root, "provider", "contract")) || get_str(x, v, "provider", &c->provider))
        return -1;
    if ((v = find(x, root, "commissioner", NULL)) && get_str(x, v, "commissioner", &c->commissioner))
        return -1;
    if (!(v = require(x, root, "start", "contract")) || get_date(x, v, "start", &c->start))
        return -1;
    if (!(v = require(x, root, "end", "contract")) || get_date(x, v, "end", &c->end))
        return -1;
    if (c->end < c->start)
        return FAIL(x, v, "end: %s is before start", Q(v, q));
    if ((v = find(x, root, "year_start", NULL)) && get_int32(x, v, "year_start", 1, 12, &c->year_start))
        return -1;
    if ((v = find(x, root, "settle_after_days", NULL)) &&
        get_int32(x, v, "settle_after_days", 0, MAX_SETTLE_DAYS, &c->settle_after_days))
        return -1;
    if ((v = find(x, root, "contract_cap", NULL))) {
        if (get_money(x, v, "contract_cap", 1, c->contract_cap))
            return -1;
        c->has_contract_cap = 1;
    }
    if ((v = find(x, root, "run_off", NULL)) && get_int32(x, v, "run_off", 0, MAX_RUN_OFF, &c->run_off))
        return -1;
    if ((v = find(x, root, "cohort", NULL)) && parse_cohort(x, v))
        return -1;
    if ((v = find(x, root, "fees", NULL)) && parse_fees(x, v))
        return -1;
    if ((v = find(x, root, "outcomes", NULL)) && parse_outcomes(x, v))
        return -1;
    if (c->nfees + c->noutcomes == 0)
        return FAIL(x, root, "a contract needs at least one fee or outcome");
    return resolve_links(x, root);
}

/* Counts one reference to node id; a second one is an alias. Returns 0 or -1. */
static int count_reference(lctx *x, unsigned char *refs, size_t nn, int id)
{
    if (id < 1 || (size_t)id > nn)
        return 0;
    if (refs[id]++)
        return FAIL(x, &x->doc->nodes.start[id - 1], "anchors and aliases are not supported");
    return 0;
}

/* Rejects anchors/aliases: with the document API an alias is a second
 * reference to a node (the root is never referenced). Returns 0 or -1. */
static int reject_aliases(lctx *x)
{
    yaml_document_t *d = x->doc;
    size_t nn = (size_t)(d->nodes.top - d->nodes.start);
    unsigned char *refs = calloc(nn + 1, 1);
    if (!refs)
        return fail_mark(x, &d->start_mark, "out of memory");
    refs[1] = 1; /* the root counts as referenced once */
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        const yaml_node_t *n = &d->nodes.start[i];
        if (n->type == YAML_SEQUENCE_NODE) {
            for (const yaml_node_item_t *it = n->data.sequence.items.start; rc == 0 && it < n->data.sequence.items.top;
                 it++)
                rc = count_reference(x, refs, nn, *it);
        } else if (n->type == YAML_MAPPING_NODE) {
            for (const yaml_node_pair_t *p = n->data.mapping.pairs.start; rc == 0 && p < n->data.mapping.pairs.top;
                 p++) {
                rc = count_reference(x, refs, nn, p->key);
                if (rc == 0)
                    rc = count_reference(x, refs, nn, p->value);
            }
        }
    }
    free(refs);
    return rc;
}

/* Parses bytes as one YAML document into doc. Returns 0 (doc to delete) or -1. */
static int load_document(lctx *x, const char *bytes, size_t len, yaml_document_t *doc)
{
    pbr_yaml_problem p;
    if (pbr_yaml_load_one(bytes, len, "contract file", doc, &p) != 0) {
        yaml_mark_t m = {0, p.line - 1, p.column - 1};
        return fail_mark(x, &m, "%s", p.message);
    }
    if (!yaml_document_get_root_node(doc)) {
        yaml_mark_t zero = {0, 0, 0};
        yaml_document_delete(doc);
        return fail_mark(x, &zero, "the file holds no contract (empty YAML document)");
    }
    return 0;
}

static pbr_contract *contract_new(void)
{
    pbr_contract *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    mpq_init(c->contract_cap);
    c->year_start = 4;
    c->settle_after_days = 30;
    c->run_off = 4;
    c->cohort.period = PBR_PERIOD_YEAR;
    c->cohort.members_first = 1;
    return c;
}

int pbr_contract_parse(const char *name, const char *bytes, size_t len, pbr_contract **out, pbr_diag *diag)
{
    lctx x;
    yaml_document_t doc;
    yaml_mark_t zero = {0, 0, 0};
    int rc = -1;
    *out = NULL;
    memset(diag, 0, sizeof *diag);
    snprintf(diag->file, sizeof diag->file, "%s", name ? name : "<contract>");
    memset(&x, 0, sizeof x);
    x.file = name;
    x.diag = diag;
    x.doc = &doc;
    if (!(x.c = contract_new()))
        return fail_mark(&x, &zero, "out of memory");
    if (load_document(&x, bytes, len, &doc))
        goto fail_contract;
    if (reject_aliases(&x) || parse_top(&x, yaml_document_get_root_node(&doc)))
        goto fail_doc;
    if (!(x.c->bytes = malloc(len + 1))) {
        fail_mark(&x, &zero, "out of memory");
        goto fail_doc;
    }
    memcpy(x.c->bytes, bytes, len);
    x.c->bytes[len] = '\0';
    x.c->nbytes = len;
    pbr_sha256_hex(bytes, len, x.c->sha256);
    *out = x.c;
    x.c = NULL;
    rc = 0;
fail_doc:
    yaml_document_delete(&doc);
fail_contract:
    pbr_contract_free(x.c);
    for (size_t i = 0; i < x.nwkeys; i++)
        free(x.wkeys[i]);
    free(x.wkeys);
    return rc;
}

int pbr_contract_load(const char *path, pbr_contract **out, pbr_diag *diag)
{
    char err[PBR_ERR_MAX];
    size_t len = 0;
    *out = NULL;
    char *bytes = pbr_read_file(path, &len, err, sizeof err);
    if (!bytes) {
        memset(diag, 0, sizeof *diag);
        snprintf(diag->file, sizeof diag->file, "%s", path);
        snprintf(diag->message, sizeof diag->message, "%s", err);
        return -1;
    }
    int rc = pbr_contract_parse(path, bytes, len, out, diag);
    free(bytes);
    return rc;
}

void pbr_diag_format(const pbr_diag *d, char *out, size_t n)
{
    if (n == 0)
        return;
    snprintf(out, n, "%s:%d:%d: %s", d->file, d->line, d->column, d->message);
}
