import FuzzSupport

runFuzzer { data, size in data.map { fuzzSafetensors($0, size) } ?? 0 }
