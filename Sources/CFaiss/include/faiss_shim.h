// A plain C surface over the faiss C++ library (Debian's libfaiss-dev ships no C API):
// opaque index handles, built and searched with every C++ exception caught into a message.
// Squared Euclidean (L2) distances throughout; rows are float32, row-major. k-means training
// and HNSW insertion run on one OpenMP thread; filling IVF lists and searching use every
// OpenMP thread. Indexes and results are the same whatever the thread count.
#ifndef TRAWL_FAISS_SHIM_H
#define TRAWL_FAISS_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An index built over a bank of rows; free with `trawl_faiss_free`.
typedef struct trawl_faiss_index trawl_faiss_index;

/// Inverted file over `lists` k-means cells (seeded by `seed`), raw rows in the cells; a
/// search scans the `probe` nearest cells. `bank` is `[rows, dim]`. Returns NULL and
/// writes a message into `error` (`error_size` bytes, NUL-terminated) on failure.
trawl_faiss_index *trawl_faiss_ivf_flat(const float *bank, int64_t rows, int64_t dim, int64_t lists,
                                        int64_t probe, uint64_t seed, char *error, size_t error_size);

/// HNSW graph with `m` links per node, `ef_search` candidates per search, levels drawn
/// from `seed`; rows are inserted in order.
trawl_faiss_index *trawl_faiss_hnsw(const float *bank, int64_t rows, int64_t dim, int64_t m,
                                    int64_t ef_search, uint64_t seed, char *error, size_t error_size);

/// Inverted file with product-quantised residuals: `code_bytes` sub-quantizers of 8 bits
/// (`code_bytes` divides `dim`), `lists` cells, `probe` scanned per search.
trawl_faiss_index *trawl_faiss_ivf_pq(const float *bank, int64_t rows, int64_t dim, int64_t lists,
                                      int64_t code_bytes, int64_t probe, uint64_t seed,
                                      char *error, size_t error_size);

/// The `k` nearest rows of each of the `count` queries (`[count, dim]`): `distances` and
/// `labels` are `[count, k]`, nearest first; a label of -1 is a missing neighbour (fewer
/// than `k` rows in the cells searched). `probe` > 0 scans that many cells instead of the
/// index's own (IVF kinds only; the index is not changed), 0 keeps the index's. Returns 0,
/// or -1 with a message in `error`.
int trawl_faiss_search(const trawl_faiss_index *index, const float *queries, int64_t count, int64_t k,
                       int64_t probe, float *distances, int64_t *labels, char *error, size_t error_size);

/// Bytes the index holds (codes, lists, graph), excluding allocator overhead.
int64_t trawl_faiss_memory_bytes(const trawl_faiss_index *index);

void trawl_faiss_free(trawl_faiss_index *index);

/// Sets the OpenMP thread count faiss uses from now on (tests check results do not depend on it).
void trawl_faiss_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
