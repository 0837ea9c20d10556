/* keyfile.c -- owns reading CURVE key files: one Z85 key per file. */
#include <stdlib.h>
#include <string.h>

#include "pbr/keyfile.h"
#include "pbr/err.h"
#include "pbr/files.h"

/* The 85 characters of ZeroMQ's Z85 alphabet (RFC 32/Z85). */
static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int pbr_key_file_read(const char *path, char out[PBR_KEY_Z85_LEN + 1], char *err, size_t errlen)
{
    size_t len = 0;
    char *text = pbr_read_file(path, &len, err, errlen);
    if (text == NULL)
        return -1;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    int rc = 0;
    if (len != PBR_KEY_Z85_LEN) {
        rc = pbr_errf(err, errlen, "%s: not a Z85 key (expected %d characters and a newline, found %zu)", path,
                      PBR_KEY_Z85_LEN, len);
    } else {
        for (size_t i = 0; i < len && rc == 0; i++)
            if (text[i] == '\0' || strchr(z85_alphabet, text[i]) == NULL)
                rc =
                    pbr_errf(err, errlen, "%s: not a Z85 key (character %zu is outside the Z85 alphabet)", path, i + 1);
    }
    if (rc == 0) {
        memcpy(out, text, PBR_KEY_Z85_LEN);
        out[PBR_KEY_Z85_LEN] = '\0';
    }
    memset(text, 0, len); /* it may be a secret key */
    free(text);
    return rc;
}
