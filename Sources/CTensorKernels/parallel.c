#include "CTensorKernels.h"

// Per-thread depth of TensorCore parallel regions, so the Swift BLAS wrapper can refuse to run inside one.
static _Thread_local int parallel_depth;

void bld_parallel_region_enter(void) { ++parallel_depth; }
void bld_parallel_region_leave(void) { --parallel_depth; }
int bld_in_parallel_region(void) { return parallel_depth; }

// Per-thread count of products handed to OpenBLAS (the routing check of the tests: BLAS is only ever called
// on the thread that started the operation, never inside a parallel region).
static _Thread_local unsigned long blas_calls;

void bld_note_blas_call(void) { ++blas_calls; }
unsigned long bld_blas_calls_on_this_thread(void) { return blas_calls; }
