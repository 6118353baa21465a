#ifndef BLD_COPENBLAS_SHIM_H
#define BLD_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
