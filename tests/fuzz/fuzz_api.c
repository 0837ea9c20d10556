/* fuzz_api.c -- libFuzzer target: the API request parser
 * (pbrd_api_request_parse, daemon/pbrd/api_request.c) on the bytes of a
 * request frame, and the role check (pbrd_role_allows) of every role on
 * each request that parses.
 * The work is in fuzz_entry.h, shared with tests/test_fuzz_regress.c.
 * An invariant failure aborts, so libFuzzer saves the input as a crash.
 */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns 0 always (libFuzzer's contract); aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (pbr_fuzz_api(data, size, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_api: invariant broken: %s\n", why);
        abort();
    }
    return 0;
}
