/* contract.c -- the contract loader of SPEC.md section 4.
 *
 * Owns pbr_contract_parse/load: YAML bytes (libyaml document API) to the
 * read-only pbr_contract model, through the section parsers of the
 * contract_*.c modules (see contract_internal.h). Every key is checked
 * against the keys its mapping may hold (and the measure it belongs to),
 * every default applied, every decimal parsed exactly from the scalar text
 * (pbr_decimal_parse), and the first error is reported as file:line:column
 * (1-based) naming the key. The contract keeps a copy of the file's bytes
 * and their SHA-256, its identity.
 *
 * Memory discipline: arrays are sized from the YAML node counts, allocated
 * zeroed, and every mpq_t of an element is initialised as soon as the element
 * exists, so pbr_contract_destroy can clear any partially built contract.
 * Anchors/aliases are rejected (a node referenced twice), which also rules out
 * cycles and exponential walks on hostile input.
 */
#include "pbr/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpbr/contract_internal.h"
#include "pbr/files.h"
#include "pbr/sha256.h"
#include "pbr/yamldoc.h"

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
    if (pbr_ct_check_keys(x, root, keys, "contract"))
        return -1;
    if (!(v = pbr_ct_require(x, root, "contract", "contract")))
        return -1;
    if (pbr_ct_need_scalar(x, v, "contract"))
        return -1;
    if (!valid_contract_id(v))
        return FAIL(x, v, "contract: %s is not a valid id ([a-z0-9-], 1 to 48 characters)", Q(v, q));
    if (pbr_ct_get_str(x, v, "contract", &c->id))
        return -1;
    if (!(v = pbr_ct_require(x, root, "title", "contract")) || pbr_ct_get_str(x, v, "title", &c->title))
        return -1;
    if (!(v = pbr_ct_require(x, root, "provider", "contract")) || pbr_ct_get_str(x, v, "provider", &c->provider))
        return -1;
    if ((v = pbr_ct_find(x, root, "commissioner", NULL)) && pbr_ct_get_str(x, v, "commissioner", &c->commissioner))
        return -1;
    if (!(v = pbr_ct_require(x, root, "start", "contract")) || pbr_ct_get_date(x, v, "start", &c->start))
        return -1;
    if (!(v = pbr_ct_require(x, root, "end", "contract")) || pbr_ct_get_date(x, v, "end", &c->end))
        return -1;
    if (c->end < c->start)
        return FAIL(x, v, "end: %s is before start", Q(v, q));
    if ((v = pbr_ct_find(x, root, "year_start", NULL)) && pbr_ct_get_int32(x, v, "year_start", 1, 12, &c->year_start))
        return -1;
    if ((v = pbr_ct_find(x, root, "settle_after_days", NULL)) &&
        pbr_ct_get_int32(x, v, "settle_after_days", 0, MAX_SETTLE_DAYS, &c->settle_after_days))
        return -1;
    if ((v = pbr_ct_find(x, root, "contract_cap", NULL))) {
        if (pbr_ct_get_money(x, v, "contract_cap", 1, c->contract_cap))
            return -1;
        c->has_contract_cap = 1;
    }
    if ((v = pbr_ct_find(x, root, "run_off", NULL)) && pbr_ct_get_int32(x, v, "run_off", 0, MAX_RUN_OFF, &c->run_off))
        return -1;
    if ((v = pbr_ct_find(x, root, "cohort", NULL)) && pbr_ct_parse_cohort(x, v))
        return -1;
    if ((v = pbr_ct_find(x, root, "fees", NULL)) && pbr_ct_parse_fees(x, v))
        return -1;
    if ((v = pbr_ct_find(x, root, "outcomes", NULL)) && pbr_ct_parse_outcomes(x, v))
        return -1;
    if (c->nfees + c->noutcomes == 0)
        return FAIL(x, root, "a contract needs at least one fee or outcome");
    return pbr_ct_resolve_links(x, root);
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
        return pbr_ct_fail(x, &d->start_mark, "out of memory");
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
        return pbr_ct_fail(x, &m, "%s", p.message);
    }
    if (!yaml_document_get_root_node(doc)) {
        yaml_mark_t zero = {0, 0, 0};
        yaml_document_delete(doc);
        return pbr_ct_fail(x, &zero, "the file holds no contract (empty YAML document)");
    }
    return 0;
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
    x.diag = diag;
    x.doc = &doc;
    if (!(x.c = pbr_ct_contract_new()))
        return pbr_ct_fail(&x, &zero, "out of memory");
    if (load_document(&x, bytes, len, &doc))
        goto fail_contract;
    if (reject_aliases(&x) || parse_top(&x, yaml_document_get_root_node(&doc)))
        goto fail_doc;
    if (!(x.c->bytes = malloc(len + 1))) {
        pbr_ct_fail(&x, &zero, "out of memory");
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
    pbr_contract_destroy(&x.c);
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
