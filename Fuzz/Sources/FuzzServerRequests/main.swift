import FuzzSupport

runFuzzer { data, size in data.map { fuzzServerRequests($0, size) } ?? 0 }
