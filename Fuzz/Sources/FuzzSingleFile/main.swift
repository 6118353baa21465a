import FuzzSupport

runFuzzer { data, size in data.map { fuzzSingleFile($0, size) } ?? 0 }
