/* keyfile.h -- CURVE key files (SPEC section 7): one Z85-encoded key of 40
 * characters and a newline, as `pbrctl keygen` writes them. The one reader
 * shared by pbrd (server secret key) and pbrctl (server and client keys).
 */
#ifndef PBR_KEYFILE_H
#define PBR_KEYFILE_H

#include <stddef.h>

#define PBR_KEY_Z85_LEN 40

/* Reads the key file at path into out (40 Z85 characters and a NUL).
 * Trailing newline, carriage return or spaces are allowed. Returns 0, or -1
 * with err naming the file and what is wrong with it (unreadable, not 40
 * characters, a character outside the Z85 alphabet). */
int pbr_key_file_read(const char *path, char out[PBR_KEY_Z85_LEN + 1], char *err, size_t errlen);

#endif
