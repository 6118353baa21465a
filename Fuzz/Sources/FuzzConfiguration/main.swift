import FuzzSupport

runFuzzer { data, size in data.map { fuzzConfiguration($0, size) } ?? 0 }
