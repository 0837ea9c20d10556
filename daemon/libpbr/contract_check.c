/* contract_check.c -- owns the contract files pre-flight (contract_check.h). */
#include "pbr/contract_check.h"

#include <stdlib.h>
#include <string.h>

#include "pbr/contract.h"
#include "pbr/files.h"

size_t pbr_contracts_check(char *const *paths, size_t n, FILE *out, FILE *errout)
{
    char **ids = calloc(n ? n : 1, sizeof *ids); /* ids[i]: the id paths[i] defines, or NULL */
    if (ids == NULL) {
        fprintf(errout, "checking contracts: out of memory\n");
        return n ? n : 1;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        pbr_contract *c;
        pbr_diag d;
        if (pbr_contract_load(paths[i], &c, &d) != 0) {
            char msg[PBR_ERR_MAX + 300];
            pbr_diag_format(&d, msg, sizeof msg);
            fprintf(errout, "%s\n", msg);
            bad++;
            continue;
        }
        size_t dup = 0;
        while (dup < i && (ids[dup] == NULL || strcmp(ids[dup], c->id) != 0))
            dup++;
        if (dup < i) {
            fprintf(errout, "%s:1:1: contract \"%s\" is already defined in %s\n", paths[i], c->id, paths[dup]);
            bad++;
        } else {
            ids[i] = strdup(c->id);
            fprintf(out, "%s: ok: contract %s (%zu fees, %zu outcomes), sha256 %s\n", paths[i], c->id, c->nfees,
                    c->noutcomes, c->sha256);
        }
        pbr_contract_destroy(&c);
    }
    pbr_free_list(ids, n);
    return bad;
}
