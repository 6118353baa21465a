// OpenBLAS's own 2048³ sgemm timed from C: the reference that bld-bench's `sgemm-2048` is compared with.
//
// Build and run (from the package root):
//   cc -O2 -o /tmp/sgemm_reference Benchmarks/sgemm_reference.c $(pkg-config --cflags --libs openblas)
//   /tmp/sgemm_reference [THREADS] [REPEAT]
// Prints one JSON line: {"case":"sgemm-2048-c","median_s":…,"gflops":…,"threads":…,"openblas_core":…}
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 0;
  const int repeat = argc > 2 ? atoi(argv[2]) : 5;
  if (threads > 0) openblas_set_num_threads(threads);
  const int n = 2048;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; ++i) {
    a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);  // warm-up
  double *times = malloc(sizeof(double) * (repeat > 0 ? repeat : 1));
  for (int r = 0; r < repeat; ++r) {
    const double start = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    times[r] = now() - start;
  }
  qsort(times, repeat, sizeof(double), compare);
  const double median = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
  printf("{\"case\":\"sgemm-2048-c\",\"median_s\":%.6f,\"gflops\":%.2f,\"threads\":%d,\"openblas_core\":\"%s\","
         "\"openblas_config\":\"%s\",\"checksum\":%.3f}\n",
         median, 2.0 * n * n * n / median / 1e9, openblas_get_num_threads(), openblas_get_corename(),
         openblas_get_config(), (double)c[12345]);
  free(a); free(b); free(c); free(times);
  return 0;
}
