#ifndef TRAWL_SHA256_BLOCKS_H
#define TRAWL_SHA256_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

/// The 64 round constants K of FIPS 180-4 §4.2.2, for both the SHA-extension path and the
/// portable Swift rounds.
const uint32_t *trawl_sha256_round_constants(void);

/// 1 when this processor has the SHA extensions (SHA-NI) that `trawl_sha256_blocks` uses, else 0.
int trawl_sha256_has_instructions(void);

/// Runs the SHA-256 compression function (FIPS 180-4) over `blocks` consecutive 64-byte
/// blocks at `data`, updating `state` (the eight working words H0…H7, native integers).
/// Uses the SHA extensions: call only when `trawl_sha256_has_instructions()` returned 1.
void trawl_sha256_blocks(uint32_t state[8], const unsigned char *data, size_t blocks);

#endif
