// libFuzzer's driver entry point (compiler-rt, `-sanitize=fuzzer`). SwiftPM gives every executable its own `main`
// (renamed and aliased at link time), so the harnesses call the driver from their `main.swift` instead of using
// libFuzzer's `main`.
#ifndef BLD_FUZZ_DRIVER_H
#define BLD_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
