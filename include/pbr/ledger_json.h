/* ledger_json.h -- the stored form of a settlement ledger (pbr_ledger of
 * settle.h) as JSON. Kept outside the evaluator: settle.c never sees JSON;
 * the daemon stores this text beside every statement it issues.
 */
#ifndef PBR_LEDGER_JSON_H
#define PBR_LEDGER_JSON_H

#include <stddef.h>

#include "pbr/settle.h"

/* Returns malloc'd compact JSON (caller frees), or NULL when out of memory. */
char *pbr_ledger_to_json(const pbr_ledger *l);
/* Returns a new ledger (free with pbr_ledger_destroy), or NULL with err set
 * when the text is not a ledger record. */
pbr_ledger *pbr_ledger_from_json(const char *json, size_t len, char *err, size_t errlen);

#endif
