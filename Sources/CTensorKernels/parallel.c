#include "CTensorKernels.h"

// Per-thread depth of TensorCore parallel regions, so the Swift BLAS wrapper can refuse to run inside one.
static _Thread_local int parallel_depth;

void bld_parallel_region_enter(void) { ++parallel_depth; }
void bld_parallel_region_leave(void) { --parallel_depth; }
int bld_in_parallel_region(void) { return parallel_depth; }
