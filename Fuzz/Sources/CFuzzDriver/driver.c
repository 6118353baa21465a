// Intentionally empty: the module only declares libFuzzer's LLVMFuzzerRunDriver (include/CFuzzDriver.h).
#include "CFuzzDriver.h"
