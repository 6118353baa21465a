// The worker threads of TensorCore's parallel loops: one process-wide pool of pthreads that stay awake
// (spinning) for a short while after each parallel region, as OpenMP runtimes do, so the next region starts
// in microseconds. Measured here before it existed: DispatchQueue.concurrentPerform took about half a
// millisecond to bring a second worker in, so a 0.5 ms loop gained nothing from two threads and a 5 ms one
// only 1.6x — and a UNet call is hundreds of such loops.
//
// One region runs at a time: a caller that finds the pool busy (another thread of the process is inside a
// region) runs every worker index itself, in order, which is correct and keeps the cores from being
// oversubscribed.
#define _GNU_SOURCE
#include "CTensorKernels.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define BLD_PAUSE() _mm_pause()
#else
#define BLD_PAUSE() ((void)0)
#endif

/// How long an idle worker spins before it sleeps on the futex (nanoseconds).
#define BLD_SPIN_NS 2000000L
#define BLD_MAX_WORKERS 256

static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;  // held by the thread running a region
static _Atomic unsigned generation;                              // bumped to start a region (futex word)
static _Atomic size_t pending;                                   // worker threads yet to finish the region
static _Atomic int sleepers;                                     // workers blocked on the futex
static size_t started;                                           // worker threads created (index 1...)
static unsigned first_generation[BLD_MAX_WORKERS];               // the generation each thread was made in
static bld_task_fn task;
static void *task_context;
static size_t task_workers;

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void futex_wait(_Atomic unsigned *word, unsigned value) {
  syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic unsigned *word) {
  syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void *worker_main(void *argument) {
  const size_t index = (size_t)argument;
  // The generation before the region this thread was created for: that region is its first.
  unsigned seen = first_generation[index];
  for (;;) {
    // Wait for the next region: spin for a while, then sleep.
    unsigned current = atomic_load_explicit(&generation, memory_order_acquire);
    if (current == seen) {
      const long deadline = now_ns() + BLD_SPIN_NS;
      int spins = 0;
      while ((current = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
        BLD_PAUSE();
        if (++spins % 256 == 0 && now_ns() > deadline) {
          atomic_fetch_add_explicit(&sleepers, 1, memory_order_seq_cst);
          if (atomic_load_explicit(&generation, memory_order_seq_cst) == seen) futex_wait(&generation, seen);
          atomic_fetch_sub_explicit(&sleepers, 1, memory_order_seq_cst);
          spins = 0;
        }
      }
    }
    seen = current;
    // Every worker thread acknowledges every region, working or not, so none can still be reading this
    // region's parameters when the next one sets them.
    if (index < task_workers) task(task_context, index);
    atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel);
  }
  return NULL;
}

// Creates worker threads up to index count - 1 (called with region_lock held, so `started` only changes
// here). Returns the number of workers available (≥ 1).
static size_t ensure_workers(size_t count) {
  if (count > BLD_MAX_WORKERS) count = BLD_MAX_WORKERS;
  while (started + 1 < count) {
    first_generation[started + 1] = atomic_load_explicit(&generation, memory_order_relaxed);
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    const int failed = pthread_create(&thread, &attributes, worker_main, (void *)(started + 1));
    pthread_attr_destroy(&attributes);
    if (failed) break;
    ++started;
  }
  const size_t available = started + 1;
  return available < count ? available : count;
}

void bld_parallel_run(size_t workers, bld_task_fn fn, void *context) {
  if (workers <= 1 || pthread_mutex_trylock(&region_lock) != 0) {
    for (size_t index = 0; index < (workers ? workers : 1); ++index) fn(context, index);
    return;
  }
  const size_t count = ensure_workers(workers);
  task = fn;
  task_context = context;
  task_workers = count;
  atomic_store_explicit(&pending, started, memory_order_relaxed);
  atomic_fetch_add_explicit(&generation, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&sleepers, memory_order_seq_cst) > 0) futex_wake_all(&generation);
  fn(context, 0);
  // Indices the pool could not provide threads for run here.
  for (size_t index = count; index < workers; ++index) fn(context, index);
  while (atomic_load_explicit(&pending, memory_order_acquire) != 0) BLD_PAUSE();
  pthread_mutex_unlock(&region_lock);
}
