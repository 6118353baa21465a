import FuzzSupport

runFuzzer { data, size in data.map { fuzzImage($0, size) } ?? 0 }
