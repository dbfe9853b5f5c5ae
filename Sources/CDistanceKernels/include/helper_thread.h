#ifndef TRAWL_HELPER_THREAD_H
#define TRAWL_HELPER_THREAD_H

#include <stddef.h>

/// A second thread that shares many short jobs with the calling thread: started once, each job
/// handed to it through an atomic counter that it spins on for a short while
/// (TRAWL_HELPER_SPIN_NS, yielding the CPU between checks after the first tenth) before it
/// sleeps on a condition variable, so that a job costs a cache-line transfer rather than a
/// thread wake-up.
typedef struct trawl_helper_thread trawl_helper_thread;

/// One piece of a job: `piece(context, index)`.
typedef void (*trawl_piece)(void *context, size_t index);

/// How long either thread spins for the other before it sleeps, in nanoseconds.
#define TRAWL_HELPER_SPIN_NS 50000

/// The most pieces one job may have.
#define TRAWL_HELPER_MAX_PIECES 65535

/// Starts the helper; NULL if the thread cannot be created.
trawl_helper_thread *trawl_helper_thread_start(void);

/// Runs `piece(context, i)` once for every i in 0 ..< count (at most TRAWL_HELPER_MAX_PIECES):
/// the caller takes the pieces from the front, the helper from the back, each the next piece
/// neither has taken, so that a helper kept off the CPUs by other work leaves its pieces to the
/// caller rather than holding it up. Returns when every piece has returned; everything they
/// wrote is then visible to the caller. One caller at a time.
void trawl_helper_thread_run(trawl_helper_thread *helper, size_t count, trawl_piece piece, void *context);

/// Stops the helper, waits for its thread to end and frees it.
void trawl_helper_thread_stop(trawl_helper_thread *helper);

/// The CPUs this process may run on (its affinity mask where the system has one; otherwise the
/// online CPUs), at least 1.
size_t trawl_available_cpus(void);

#endif
