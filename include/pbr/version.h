/* version.h -- owns the version string every program prints for --version.
 * The one source of the version is the first entry of debian/changelog; the
 * Makefile reads it and compiles it in with -DPBR_VERSION="...". A build
 * that bypasses the Makefile says "unknown" rather than a stale number. */
#ifndef PBR_VERSION_H
#define PBR_VERSION_H

#ifndef PBR_VERSION
#define PBR_VERSION "unknown"
#endif

#endif
