import FuzzSupport

runFuzzer { data, size in data.map { fuzzTokenizer($0, size) } ?? 0 }
