internal import CTensorKernels

/// The element-wise activations of Stable Diffusion's networks.
public enum Activation: String, Sendable, Codable, CaseIterable {
  /// `x · σ(x)` (also called swish).
  case silu
  /// `x · Φ(x)` with the exact error function (PyTorch `gelu`, approximate="none").
  case gelu
  /// The tanh approximation of GELU (PyTorch `gelu(approximate="tanh")`, `gelu_pytorch_tanh`).
  case geluTanh
  /// `x · σ(1.702 x)` (CLIP's `quick_gelu`).
  case quickGELU

  var kernelKind: Int32 {
    switch self {
    case .silu: 0
    case .gelu: 1
    case .geluTanh: 2
    case .quickGELU: 3
    }
  }
}

/// Applies `activation` element-wise.
public func activated(_ x: Tensor, _ activation: Activation) -> Tensor {
  Tensor(shape: x.shape) { out in
    x.withUnsafeBufferPointer { input in
      parallelChunks(x.count, costPerItem: 8) { range in
        bld_activation_f32(
          input.baseAddress!, out.baseAddress!, range.lowerBound, range.upperBound, activation.kernelKind)
      }
    }
  }
}

/// SiLU, `x · σ(x)`.
public func silu(_ x: Tensor) -> Tensor { activated(x, .silu) }

/// GELU with the exact error function.
public func gelu(_ x: Tensor) -> Tensor { activated(x, .gelu) }

/// The GEGLU gate of diffusers' `GEGLU`: splits the last axis into halves `(h, g)` and returns `h · gelu(g)`.
/// `x`: `[..., 2W]` → `[..., W]`.
public func geglu(_ x: Tensor) -> Tensor {
  let doubled = x.shape.last ?? 0
  precondition(doubled % 2 == 0, "geglu needs an even last axis, got \(x.shape)")
  let width = doubled / 2
  let rows = x.count / max(1, doubled)
  return Tensor(shape: Array(x.shape.dropLast()) + [width]) { out in
    x.withUnsafeBufferPointer { input in
      parallelChunks(rows, costPerItem: width * 8) { range in
        bld_geglu_f32(input.baseAddress!, out.baseAddress!, width, range.lowerBound, range.upperBound)
      }
    }
  }
}

/// Numerically stable softmax over the last axis.
public func softmax(_ x: Tensor) -> Tensor {
  var result = x
  let width = x.shape.last ?? 1
  let rows = x.count / max(1, width)
  result.withUnsafeMutableBufferPointer { buffer in
    let base = buffer.baseAddress!
    parallelChunks(rows, costPerItem: width * 4) { range in
      bld_softmax_rows_f32(base, width, range.lowerBound, range.upperBound, 1, 0, 0)
    }
  }
  return result
}
