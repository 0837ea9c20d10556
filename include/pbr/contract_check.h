/* contract_check.h -- the pre-flight of a reload: checks a set of contract
 * files exactly as pbrd loads its contracts directory (each file parses and
 * validates; no two define the same contract id). Shared by `pbrctl check`
 * and `pbrd --check`. */
#ifndef PBR_CONTRACT_CHECK_H
#define PBR_CONTRACT_CHECK_H

#include <stddef.h>
#include <stdio.h>

/* Loads each of the n files in order: prints "PATH: ok: contract ID (…)"
 * to out for a good one, and "FILE:LINE:COL: message" to errout for a bad
 * one or for a file defining an id an earlier file already defines.
 * Returns the number of bad files (0: all good). */
size_t pbr_contracts_check(char *const *paths, size_t n, FILE *out, FILE *errout);

#endif
