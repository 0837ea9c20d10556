/* fuzz_event.c -- libFuzzer target: pbr_event_parse + pbr_event_canonical + pbr_event_clear on one
 * JSON line, and checks that the canonical form is a fixed point.
 * The work is in fuzz_entry.h, shared with tests/test_fuzz_regress.c.
 * An invariant failure aborts, so libFuzzer saves the input as a crash.
 */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns 0 always (libFuzzer's contract); aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (pbr_fuzz_event(data, size, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_event: invariant broken: %s\n", why);
        abort();
    }
    return 0;
}
