#if defined(__linux__)
#define _GNU_SOURCE   // sched_getaffinity, CPU_COUNT
#endif
#include <sched.h>

#include "helper_thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The protocol. The caller numbers its jobs 1, 2, …; for job g it stores the piece function,
// its context and `pieces` = (g, front 0, back count), then sets `posted` to g. Both threads
// take pieces by compare-and-swap on `pieces`: the caller the front one (front + 1), the
// helper the back one (back − 1), while front < back and, for the helper, the word still
// names the job it was woken for. The helper counts the pieces it has finished in
// `helperFinished`; the caller returns when its own and the helper's pieces add up to the count.
// A waiting thread spins for TRAWL_HELPER_SPIN_NS, then sleeps under `lock` with its `sleeping`
// flag set, reading the counter again after setting the flag; the other thread reads the flag
// after its own store (both sequentially consistent, so at least one of them sees the other's
// store) and signals under `lock`, so no wake-up is lost.
struct trawl_helper_thread {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;                       // the helper sleeps on it
    pthread_cond_t done;                       // the caller sleeps on it
    trawl_piece piece;                         // written before `pieces` and `posted`
    void *context;
    int stopping;                              // likewise
    uint64_t job;                              // the caller's: the last job's number
    _Alignas(64) atomic_uint_fast64_t pieces;  // job (32 bits) | front (16) | back (16)
    _Alignas(64) atomic_uint_fast64_t posted;  // the last job's number
    atomic_int helperSleeping;
    _Alignas(64) atomic_size_t helperFinished;
    atomic_int callerSleeping;
};

static uint64_t pack_pieces(uint32_t job, uint64_t front, uint64_t back) {
    return (uint64_t)job << 32 | front << 16 | back;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pause_briefly(void) {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

/// Whether `satisfied(h, argument)` holds: the waiting condition of ``wait_until``.
typedef int (*condition)(struct trawl_helper_thread *h, uint64_t argument);

/// Waits until `satisfied`: spins, then sleeps on `wakeUp` with `sleeping` set.
static void wait_until(struct trawl_helper_thread *h, condition satisfied, uint64_t argument,
                       atomic_int *sleeping, pthread_cond_t *wakeUp) {
    if (satisfied(h, argument)) return;
    uint64_t start = now_ns();
    for (unsigned spins = 1;; spins++) {
        if (satisfied(h, argument)) return;
        pause_briefly();
        if (spins % 64 == 0) {
            uint64_t waited = now_ns() - start;
            if (waited > TRAWL_HELPER_SPIN_NS) break;
            // Past the first few microseconds, let other threads (the other one, when the CPUs are
            // shared with other work) run between checks.
            if (waited > TRAWL_HELPER_SPIN_NS / 10) sched_yield();
        }
    }
    pthread_mutex_lock(&h->lock);
    atomic_store(sleeping, 1);
    while (!satisfied(h, argument)) pthread_cond_wait(wakeUp, &h->lock);
    atomic_store(sleeping, 0);
    pthread_mutex_unlock(&h->lock);
}

/// Wakes the thread sleeping on `wakeUp`, if `sleeping` says it does; after a sequentially consistent store.
static void wake_if_sleeping(struct trawl_helper_thread *h, atomic_int *sleeping, pthread_cond_t *wakeUp) {
    if (atomic_load(sleeping)) {
        pthread_mutex_lock(&h->lock);
        pthread_cond_signal(wakeUp);
        pthread_mutex_unlock(&h->lock);
    }
}

static int job_posted_after(struct trawl_helper_thread *h, uint64_t job) {
    return atomic_load(&h->posted) > job;
}

static int pieces_finished(struct trawl_helper_thread *h, uint64_t callerPiecesAndCount) {
    uint64_t callerPieces = callerPiecesAndCount >> 32, count = callerPiecesAndCount & 0xffffffffu;
    return callerPieces + atomic_load(&h->helperFinished) >= count;
}

static void *helper_main(void *argument) {
    struct trawl_helper_thread *h = argument;
    uint64_t seen = 0;
    for (;;) {
        wait_until(h, job_posted_after, seen, &h->helperSleeping, &h->wake);
        seen = atomic_load(&h->posted);
        if (h->stopping) return NULL;
        uint64_t word = atomic_load(&h->pieces);
        for (;;) {
            uint64_t job = word >> 32, front = word >> 16 & 0xffff, back = word & 0xffff;
            if (job != (uint32_t)seen || front >= back) break;
            if (!atomic_compare_exchange_weak(&h->pieces, &word, pack_pieces((uint32_t)job, front, back - 1))) continue;
            h->piece(h->context, back - 1);
            atomic_fetch_add(&h->helperFinished, 1);
            wake_if_sleeping(h, &h->callerSleeping, &h->done);
            word = atomic_load(&h->pieces);
        }
    }
}

trawl_helper_thread *trawl_helper_thread_start(void) {
    struct trawl_helper_thread *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    pthread_cond_init(&h->done, NULL);
    atomic_init(&h->pieces, 0);
    atomic_init(&h->posted, 0);
    atomic_init(&h->helperSleeping, 0);
    atomic_init(&h->helperFinished, 0);
    atomic_init(&h->callerSleeping, 0);
    if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
        pthread_cond_destroy(&h->done);
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void trawl_helper_thread_run(trawl_helper_thread *h, size_t count, trawl_piece piece, void *context) {
    if (count > TRAWL_HELPER_MAX_PIECES) abort();
    h->piece = piece;
    h->context = context;
    h->job++;
    atomic_store(&h->helperFinished, 0);
    atomic_store(&h->pieces, pack_pieces((uint32_t)h->job, 0, count));
    atomic_store(&h->posted, h->job);
    wake_if_sleeping(h, &h->helperSleeping, &h->wake);
    uint64_t taken = 0, word = atomic_load(&h->pieces);
    for (;;) {
        uint64_t front = word >> 16 & 0xffff, back = word & 0xffff;
        if (front >= back) break;
        if (!atomic_compare_exchange_weak(&h->pieces, &word, pack_pieces((uint32_t)h->job, front + 1, back))) continue;
        piece(context, front);
        taken++;
        word = atomic_load(&h->pieces);
    }
    wait_until(h, pieces_finished, taken << 32 | count, &h->callerSleeping, &h->done);
}

void trawl_helper_thread_stop(trawl_helper_thread *h) {
    h->stopping = 1;
    atomic_store(&h->posted, atomic_load(&h->posted) + 1);
    wake_if_sleeping(h, &h->helperSleeping, &h->wake);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->done);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

size_t trawl_available_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return (size_t)CPU_COUNT(&set);
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (size_t)online : 1;
}
