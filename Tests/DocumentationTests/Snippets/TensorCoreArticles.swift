import Foundation
import TensorCore

// Twins of the `swift` blocks of Sources/TensorCore/TensorCore.docc (see SnippetTests). Compiled, not run.
enum TensorCoreArticleSnippets {
  static func tensorCore1() throws {
    // snippet: Sources/TensorCore/TensorCore.docc/TensorCore.md #1
    let x = Tensor(shape: [1, 4, 8, 8], repeating: 0.5)
    let weight = Tensor(shape: [8, 4, 3, 3], repeating: 0.01)
    let y = ComputeOptions.withThreadCount(2) {  // scoped to this work
      conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1)  // [1, 8, 8, 8]
    }
    let h = groupNorm(y, groupCount: 4, weight: nil, bias: nil, epsilon: 1e-5, fusedSiLU: true)

    var generator = TorchGenerator(seed: 42)
    let noise = generator.randn([1, 4, 64, 64])  // == torch.randn(..., generator=torch.Generator().manual_seed(42))

    let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: "weights.safetensors"))
    let tensor = try file.tensor(named: "conv_in.weight")  // F32, F16 or BF16 → Float
    _ = (h, noise, tensor)
  }

  static func threadsAndMemory1() {
    // snippet: Sources/TensorCore/TensorCore.docc/ThreadsAndMemory.md #1
    let product = ComputeOptions.withThreadCount(2) {  // e.g. the number of physical cores
      matmul(Tensor(shape: [256, 256], repeating: 1), Tensor(shape: [256, 256], repeating: 1))
    }
    _ = product
  }
}
