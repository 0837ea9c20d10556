/* fuzz_contract.c -- libFuzzer target: pbr_contract_parse + pbr_contract_destroy on YAML
 * bytes; a contract that loads (spanning at most 20 years) also settles its
 * first quarter over a small fixed event set, so the evaluator meets odd
 * contracts.
 * The work is in fuzz_entry.h, shared with tests/test_fuzz_regress.c.
 * An invariant failure aborts, so libFuzzer saves the input as a crash.
 */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns 0 always (libFuzzer's contract); aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (pbr_fuzz_contract(data, size, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_contract: invariant broken: %s\n", why);
        abort();
    }
    return 0;
}
