// How fast a thread reads data another thread has just written, against data it wrote itself: tells whether
// this process's CPUs share an L3 (Decision 0035). Two threads pinned to the first two CPUs of this process's
// affinity each write a 4 MiB buffer, then each reads its own buffer and the other's; every quarter second it
// prints both read rates. On a 2-vCPU Zen 4 VM both are ≈ 75 GB/s (these AVX2 loads; 98 with AVX-512) while the
// vCPUs share a core complex, and the other thread's falls to ≈ 25–28 GB/s (DRAM speed) while the host keeps them on
// different ones.
//
//   cc -O2 -mavx2 -pthread Benchmarks/cross_thread_reads.c -o /tmp/cross_thread_reads && /tmp/cross_thread_reads [SECONDS]
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { FLOATS = (4 << 20) / 4 };

static float *buffers[2];
static atomic_int arrivals;
static atomic_int stop;
static double own_seconds[2], other_seconds[2];
static atomic_long rounds[2];
static int cpus[2];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float read_all(const float *p) {
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  for (size_t i = 0; i < FLOATS; i += 16) {
    a = _mm256_add_ps(a, _mm256_load_ps(p + i));
    b = _mm256_add_ps(b, _mm256_load_ps(p + i + 8));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(a, b));
  return lanes[0];
}

static void write_all(float *p, float value) {
  const __m256 v = _mm256_set1_ps(value);
  for (size_t i = 0; i < FLOATS; i += 8) _mm256_store_ps(p + i, v);
}

// Waits until both threads have arrived `count` times in all.
static int barrier(int count) {
  atomic_fetch_add(&arrivals, 1);
  while (atomic_load(&arrivals) < count)
    if (atomic_load(&stop)) return 0;
  return 1;
}

static void *run(void *argument) {
  const int me = (int)(long)argument;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[me], &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  volatile float sink = 0;
  for (int step = 1;; step += 2) {
    write_all(buffers[me], (float)step);
    double start = now();
    sink += read_all(buffers[me]);
    own_seconds[me] += now() - start;
    write_all(buffers[me], (float)step + 1);
    if (!barrier(2 * step)) break;
    start = now();
    sink += read_all(buffers[1 - me]);
    other_seconds[me] += now() - start;
    atomic_fetch_add(&rounds[me], 1);
    if (!barrier(2 * step + 2)) break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 10;
  cpu_set_t allowed;
  sched_getaffinity(0, sizeof allowed, &allowed);
  for (int cpu = 0, found = 0; cpu < CPU_SETSIZE && found < 2; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cpus[found++] = cpu;
  buffers[0] = aligned_alloc(64, FLOATS * 4);
  buffers[1] = aligned_alloc(64, FLOATS * 4);
  pthread_t threads[2];
  for (long i = 0; i < 2; ++i) pthread_create(&threads[i], NULL, run, (void *)i);
  const double begin = now();
  while (now() - begin < seconds) {
    const double own = own_seconds[0], other = other_seconds[0];
    const long count = atomic_load(&rounds[0]);
    nanosleep(&(struct timespec){0, 250000000}, NULL);
    const long done = atomic_load(&rounds[0]) - count;
    if (done > 0)
      printf("%6.2f s  own %5.1f GB/s  other thread's %5.1f GB/s\n", now() - begin,
             done * 4.0 * (1 << 20) / (own_seconds[0] - own) / 1e9,
             done * 4.0 * (1 << 20) / (other_seconds[0] - other) / 1e9);
    fflush(stdout);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; ++i) pthread_join(threads[i], NULL);
  return 0;
}
