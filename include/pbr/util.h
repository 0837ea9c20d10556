/* util.h -- all of the small shared headers at once, for modules that use
 * several of them. Each helper has its own header, named for what it
 * holds; include those directly in new code:
 *   err.h      pbr_errf (error messages)
 *   mem.h      pbr_grow, pbr_hash_bytes
 *   files.h    pbr_read_file, pbr_write_file_atomic
 *   sha256.h   pbr_sha256_hex
 *   utf8.h     strict UTF-8 validation and repair
 *   keyfile.h  CURVE key files
 *   yamldoc.h  one YAML document with located errors, pbr_yaml_errf
 */
#ifndef PBR_UTIL_H
#define PBR_UTIL_H

#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/mem.h"
#include "pbr/sha256.h"

#endif
