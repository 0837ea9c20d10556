/* fuzz_statement.c -- libFuzzer target: pbr_statement_render in every format on arbitrary bytes.
 * The work is in fuzz_entry.h, shared with tests/test_fuzz_regress.c.
 * An invariant failure aborts, so libFuzzer saves the input as a crash.
 */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns 0 always (libFuzzer's contract); aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (pbr_fuzz_statement(data, size, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_statement: invariant broken: %s\n", why);
        abort();
    }
    return 0;
}
