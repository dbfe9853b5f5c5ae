#include "faiss_shim.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissAssert.h>
#include <faiss/impl/FaissException.h>
#include <omp.h>

#include <cstdio>
#include <exception>
#include <memory>

struct trawl_faiss_index {
    std::unique_ptr<faiss::Index> quantizer;  // the IVF kinds' coarse quantizer; owned here
    std::unique_ptr<faiss::Index> index;
    int64_t memory_bytes = 0;
};

namespace {

void write_error(char *error, size_t size, const char *message) {
    if (error && size > 0) std::snprintf(error, size, "%s", message);
}

/// Runs `body`, turning any exception into a message; returns whether it succeeded.
template <typename Body>
bool guarded(char *error, size_t size, Body body) {
    try {
        body();
        return true;
    } catch (const faiss::FaissException &e) {
        write_error(error, size, e.msg.c_str());
    } catch (const std::exception &e) {
        write_error(error, size, e.what());
    } catch (...) {
        write_error(error, size, "unknown C++ exception in faiss");
    }
    return false;
}

/// Holds OpenMP at one thread for its lifetime (restoring the previous count), so builds do
/// not depend on thread timing: faiss inserts HNSW rows in parallel, and on a loaded machine
/// k-means' many short parallel regions wait on descheduled threads at every barrier. Filling
/// an IVF index uses every thread: each row's cell and code are computed on their own, and
/// every list receives its rows in row order whatever the thread count.
struct OneThread {
    int previous = omp_get_max_threads();
    OneThread() { omp_set_num_threads(1); }
    ~OneThread() { omp_set_num_threads(previous); }
};

int64_t ivf_memory(const faiss::IndexIVF &ivf) {
    int64_t bytes = ivf.nlist * ivf.d * sizeof(float);
    for (size_t list = 0; list < ivf.nlist; list++) {
        bytes += ivf.invlists->list_size(list) * (ivf.code_size + sizeof(faiss::Index::idx_t));
    }
    return bytes;
}

}  // namespace

extern "C" {

trawl_faiss_index *trawl_faiss_ivf_flat(const float *bank, int64_t rows, int64_t dim, int64_t lists,
                                        int64_t probe, uint64_t seed, char *error, size_t error_size) {
    auto result = std::make_unique<trawl_faiss_index>();
    bool ok = guarded(error, error_size, [&] {
        result->quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
        auto ivf = std::make_unique<faiss::IndexIVFFlat>(result->quantizer.get(), dim, lists);
        ivf->cp.seed = int(seed & 0x7fffffff);
        ivf->nprobe = probe;
        {
            OneThread training;
            ivf->train(rows, bank);
        }
        ivf->add(rows, bank);  // per-row assignment and encoding, lists filled in row order
        result->memory_bytes = ivf_memory(*ivf);
        result->index = std::move(ivf);
    });
    return ok ? result.release() : nullptr;
}

trawl_faiss_index *trawl_faiss_hnsw(const float *bank, int64_t rows, int64_t dim, int64_t m,
                                    int64_t ef_search, uint64_t seed, char *error, size_t error_size) {
    auto result = std::make_unique<trawl_faiss_index>();
    bool ok = guarded(error, error_size, [&] {
        auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(dim, m);
        hnsw->hnsw.rng = faiss::RandomGenerator(int64_t(seed & 0x7fffffffffffffff));
        hnsw->hnsw.efSearch = ef_search;
        // faiss inserts the rows of one level in parallel, so the graph (and the neighbours a
        // search finds) would depend on thread timing.
        OneThread building;
        hnsw->add(rows, bank);
        result->memory_bytes = int64_t(rows) * dim * sizeof(float)
                               + hnsw->hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t)
                               + hnsw->hnsw.offsets.size() * sizeof(size_t);
        result->index = std::move(hnsw);
    });
    return ok ? result.release() : nullptr;
}

trawl_faiss_index *trawl_faiss_ivf_pq(const float *bank, int64_t rows, int64_t dim, int64_t lists,
                                      int64_t code_bytes, int64_t probe, uint64_t seed,
                                      char *error, size_t error_size) {
    auto result = std::make_unique<trawl_faiss_index>();
    bool ok = guarded(error, error_size, [&] {
        result->quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
        auto ivf = std::make_unique<faiss::IndexIVFPQ>(result->quantizer.get(), dim, lists, code_bytes, 8);
        ivf->cp.seed = int(seed & 0x7fffffff);
        ivf->pq.cp.seed = int((seed + 1) & 0x7fffffff);
        ivf->nprobe = probe;
        {
            OneThread training;
            ivf->train(rows, bank);
        }
        ivf->add(rows, bank);  // per-row assignment and encoding, lists filled in row order
        result->memory_bytes = ivf_memory(*ivf) + ivf->pq.centroids.size() * sizeof(float)
                               + ivf->precomputed_table.size() * sizeof(float);
        result->index = std::move(ivf);
    });
    return ok ? result.release() : nullptr;
}

int trawl_faiss_search(const trawl_faiss_index *index, const float *queries, int64_t count, int64_t k,
                       int64_t probe, float *distances, int64_t *labels, char *error, size_t error_size) {
    bool ok = guarded(error, error_size, [&] {
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "faiss labels are 64-bit");
        auto found = reinterpret_cast<faiss::Index::idx_t *>(labels);
        if (probe > 0) {
            FAISS_THROW_IF_NOT_MSG(dynamic_cast<const faiss::IndexIVF *>(index->index.get()), "probe needs an IVF index");
            faiss::SearchParametersIVF parameters;
            parameters.nprobe = size_t(probe);
            index->index->search(count, queries, k, distances, found, &parameters);
        } else {
            index->index->search(count, queries, k, distances, found);
        }
    });
    return ok ? 0 : -1;
}

int64_t trawl_faiss_memory_bytes(const trawl_faiss_index *index) { return index->memory_bytes; }

void trawl_faiss_free(trawl_faiss_index *index) { delete index; }

void trawl_faiss_set_threads(int threads) { omp_set_num_threads(threads); }

}  // extern "C"
