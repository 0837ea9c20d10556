/* contract_where.c -- the where conditions of a contract (SPEC 4): the table
 * of event fields a where may name and for which events, and their
 * compilation into pbr_where (scalars, lists and numeric ranges; decimal
 * bounds rounded inward, ogrs scaled to ten-thousandths).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpbr/contract_internal.h"
#include "pbr/yamldoc.h"

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
    if (pbr_ct_check_keys(x, n, keys, in))
        return -1;
    yaml_node_t *vmin = pbr_ct_find(x, n, "min", NULL), *vmax = pbr_ct_find(x, n, "max", NULL);
    if (!vmin && !vmax)
        return FAIL(x, n, "%s: a range needs min, max or both", fname);
    mpq_t lo, hi;
    int rc = -1;
    mpq_init(lo);
    mpq_init(hi);
    c->is_range = 1;
    if (vmin && pbr_ct_get_decimal(x, vmin, "min", -1, lo))
        goto out;
    if (vmax && pbr_ct_get_decimal(x, vmax, "max", -1, hi))
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
        return pbr_ct_oom(x, v);
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *e = is_seq(v) ? seq_item(x, v, i) : v;
        if (!e || pbr_ct_need_scalar(x, e, fname) ||
            (pbr_yaml_is_null(e) && FAIL(x, e, "%s: must not be empty", fname))) {
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
        rc = pbr_ct_oom(x, v);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t iv;
        if (pbr_ct_get_decimal(x, items[i], fname, -1, q))
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
        rc = pbr_ct_oom(x, v);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const yaml_node_t *e = items[i];
        if (t == FT_GENDER && !scalar_is(e, "M") && !scalar_is(e, "F") && !scalar_is(e, "X"))
            rc = FAIL(x, e, "%s: %s is not one of M, F or X", fname, Q(e, q));
        else if (t == FT_DISPOSAL && pbr_ct_disposal_index(e) < 0)
            rc = FAIL(x, e, "%s: %s is not a disposal (custody, sso, community, fine, discharge, caution or other)",
                      fname, Q(e, q));
        else if (pbr_ct_get_str(x, e, fname, &c->strs[c->nstrs]) == 0)
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
        return pbr_ct_get_bool(x, v, f->name, &c->boolean);
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
int pbr_ct_parse_where(lctx *x, const yaml_node_t *n, const char *key, pbr_where_kind kind, pbr_where *w)
{
    char q[QBUF];
    if (pbr_ct_need_map(x, n, key))
        return -1;
    size_t np = map_size(n);
    w->conds = calloc(np ? np : 1, sizeof *w->conds);
    if (!w->conds)
        return pbr_ct_oom(x, n);
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
