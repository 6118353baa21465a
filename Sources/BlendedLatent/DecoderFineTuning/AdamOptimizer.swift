import Foundation
import Networks
import TensorCore

/// Adam with PyTorch's `torch.optim.Adam` semantics (no weight decay, no AMSGrad), over a layer tree's
/// parameters (its `ParameterRegistry` entries), updated in place.
///
/// Per parameter at step `t` (1-based): `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
/// `θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`, exactly the order of operations of PyTorch's
/// single-tensor implementation.
public struct AdamOptimizer: Sendable {
  /// The step size `lr`.
  public var learningRate: Float
  /// `β₁`, the first-moment decay.
  public var beta1: Float
  /// `β₂`, the second-moment decay.
  public var beta2: Float
  /// `ε`, added to the bias-corrected root second moment.
  public var epsilon: Float
  /// The number of updates applied so far.
  public private(set) var step = 0
  private var firstMoments: [String: [Float]] = [:]
  private var secondMoments: [String: [Float]] = [:]

  /// Creates an optimiser; the defaults are PyTorch's except the learning rate (the paper's 1e-4).
  public init(learningRate: Float = 1e-4, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
  }

  /// Allocates the moments of `parameters` and gives each of them storage of its own (the copy on write its first
  /// update would make), ahead of any step. A training loop calls it before its first iteration, so that
  /// iteration's activations are laid out after this state and every later iteration reuses their memory;
  /// allocated at the first update instead, the state takes the freed activations' place and the second iteration
  /// faults in fresh pages (≈ 0.6 s at 512 × 512 on Zen 4). Nothing changes numerically.
  mutating func reserveState(for parameters: [ParameterRegistry.Entry]) {
    for entry in parameters where firstMoments[entry.key] == nil {
      let count = entry.shape.reduce(1, *)
      firstMoments[entry.key] = [Float](repeating: 0, count: count)
      secondMoments[entry.key] = [Float](repeating: 0, count: count)
      entry.update { parameter in parameter.withUnsafeMutableBufferPointer { _ in } }
    }
  }

  /// Applies one update, in place, to every parameter of `parameters` that has a gradient in `gradients`; the
  /// moments are kept by the entries' keys.
  /// - Parameters:
  ///   - parameters: the trained layer tree's entries (`parameterEntries`).
  ///   - gradients: `∂L/∂θ` from the backward passes, each of its parameter's shape.
  public mutating func update(_ parameters: [ParameterRegistry.Entry], gradients: ParameterGradients) {
    step += 1
    let t = Double(step)
    let stepSize = Float(Double(learningRate) / (1 - pow(Double(beta1), t)))
    let correction2Root = Float((1 - pow(Double(beta2), t)).squareRoot())
    let (b1, b2, eps) = (beta1, beta2, epsilon)
    for entry in parameters {
      guard let gradient = gradients[entry], gradient.count > 0 else { continue }
      precondition(entry.shape == gradient.shape, "Adam: gradient \(gradient.shape) for \(entry.key) \(entry.shape)")
      // Taken out of the dictionaries (and put back below) so they are updated in place, not copied.
      var m = firstMoments.removeValue(forKey: entry.key) ?? [Float](repeating: 0, count: gradient.count)
      var v = secondMoments.removeValue(forKey: entry.key) ?? [Float](repeating: 0, count: gradient.count)
      entry.update { parameter in
        parameter.withUnsafeMutableBufferPointer { theta in
          gradient.withUnsafeBufferPointer { g in
            m.withUnsafeMutableBufferPointer { m in
              v.withUnsafeMutableBufferPointer { v in
                adamStep(
                  parameters: theta.baseAddress!, gradient: g.baseAddress!, firstMoment: m.baseAddress!,
                  secondMoment: v.baseAddress!, count: gradient.count, beta1: b1, beta2: b2, stepSize: stepSize,
                  correction2Root: correction2Root, epsilon: eps)
              }
            }
          }
        }
      }
      firstMoments[entry.key] = m
      secondMoments[entry.key] = v
    }
  }
}
