// How many CPUs this process may use: its affinity mask (taskset, cpusets, container CPU pinning) and its
// CPU bandwidth quota (cgroup v2 cpu.max along the process's cgroup path, or cgroup v1 cpu.cfs_quota_us), the
// smaller of the two. A quota of 1.5 CPUs counts as 2: the threads then share it, which beats idling half a CPU.
#define _GNU_SOURCE
#include "CTensorKernels.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int affinity_cpus(void) {
#ifdef __linux__
  for (int size = 1024; size <= 1 << 20; size *= 2) {
    cpu_set_t *set = CPU_ALLOC(size);
    if (!set) return 0;
    const size_t bytes = CPU_ALLOC_SIZE(size);
    CPU_ZERO_S(bytes, set);
    if (sched_getaffinity(0, bytes, set) == 0) {
      const int count = CPU_COUNT_S(bytes, set);
      CPU_FREE(set);
      return count;
    }
    CPU_FREE(set);
  }
#endif
  return 0;
}

// ceil(quota / period) from "QUOTA PERIOD" (v2 cpu.max; "max" means none) or 0 when unlimited/unreadable.
static int quota_from_cpu_max(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char quota[32] = {0};
  long period = 0;
  const int fields = fscanf(f, "%31s %ld", quota, &period);
  fclose(f);
  if (fields != 2 || strcmp(quota, "max") == 0 || period <= 0) return 0;
  const long q = atol(quota);
  return q > 0 ? (int)((q + period - 1) / period) : 0;
}

static int read_long(const char *path, long *value) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  const int ok = fscanf(f, "%ld", value) == 1;
  fclose(f);
  return ok;
}

// The tightest cgroup v2 cpu.max from the process's cgroup up to the hierarchy root; 0 when none applies.
static int cgroup_v2_quota(void) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f) return 0;
  char line[4096], path[PATH_MAX] = {0};
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "0::", 3) == 0) {
      snprintf(path, sizeof path, "%s", line + 3);
      path[strcspn(path, "\n")] = 0;
      break;
    }
  }
  fclose(f);
  int best = 0;
  for (;;) {
    char file[PATH_MAX + 64];
    snprintf(file, sizeof file, "/sys/fs/cgroup%s/cpu.max", strcmp(path, "/") == 0 ? "" : path);
    const int quota = quota_from_cpu_max(file);
    if (quota > 0 && (best == 0 || quota < best)) best = quota;
    char *slash = strrchr(path, '/');
    if (!slash || slash == path) {
      if (strcmp(path, "/") == 0 || path[0] == 0) break;
      strcpy(path, "/");
      continue;
    }
    *slash = 0;
  }
  return best;
}

// cgroup v1 CFS quota as mounted in the process's view (containers see their own cgroup at the mount root).
static int cgroup_v1_quota(void) {
  static const char *const roots[] = {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"};
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; ++i) {
    char path[128];
    long quota = 0, period = 0;
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", roots[i]);
    if (!read_long(path, &quota)) continue;
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", roots[i]);
    if (!read_long(path, &period) || quota <= 0 || period <= 0) return 0;
    return (int)((quota + period - 1) / period);
  }
  return 0;
}

int bld_process_cpu_limit(int *affinity, int *quota) {
  const int a = affinity_cpus();
  int q = cgroup_v2_quota();
  if (q == 0) q = cgroup_v1_quota();
  if (affinity) *affinity = a;
  if (quota) *quota = q;
  int result = a > 0 ? a : 1;
  if (q > 0 && q < result) result = q;
  return result;
}
