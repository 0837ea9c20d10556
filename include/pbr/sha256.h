/* sha256.h -- SHA-256 (FIPS 180-4): contract versions, statement files,
 * backup manifests. */
#ifndef PBR_SHA256_H
#define PBR_SHA256_H

#include <stddef.h>

/* SHA-256 of data as 64 lowercase hex digits and a NUL in out[65]. */
void pbr_sha256_hex(const void *data, size_t len, char out[65]);

#endif
