import BlendedLatent
import Foundation
import TensorCore

// Deterministic fake components, mirrored exactly by the fakes in Tests/Reference/blended_latent_reference.py.

/// encode: 8×8 average pool then a fixed 3→4 channel mix; decode: a fixed 4→3 mix, tanh, nearest ×8.
struct FakeAutoencoder: LatentAutoencoder {
  static let mixIn: [[Float]] = [[0.5, -0.3, 0.2], [0.1, 0.4, -0.2], [-0.3, 0.2, 0.6], [0.25, 0.25, 0.25]]
  static let biasIn: [Float] = [0.1, -0.1, 0.05, 0.0]
  static let mixOut: [[Float]] = [[1.0, 0.5, -0.5, 0.2], [0.3, -0.8, 0.4, 0.1], [-0.2, 0.3, 0.9, -0.4]]
  var scalingFactor: Float { 0.18215 }
  var latentChannels: Int { 4 }
  var downsamplingFactor: Int { 8 }

  func encodeMean(_ images: Tensor) throws -> Tensor {
    let (n, height, width) = (images.shape[0], images.shape[2] / 8, images.shape[3] / 8)
    let fullWidth = images.shape[3]
    var pooled = [Float](repeating: 0, count: n * 3 * height * width)
    for b in 0..<n {
      for k in 0..<3 {
        for i in 0..<height {
          for j in 0..<width {
            var sum: Float = 0
            for di in 0..<8 {
              for dj in 0..<8 {
                sum += images.scalars[((b * 3 + k) * images.shape[2] + i * 8 + di) * fullWidth + j * 8 + dj]
              }
            }
            pooled[((b * 3 + k) * height + i) * width + j] = sum / 64
          }
        }
      }
    }
    var out = [Float](repeating: 0, count: n * 4 * height * width)
    let plane = height * width
    for b in 0..<n {
      for c in 0..<4 {
        for p in 0..<plane {
          var value: Float = 0
          for k in 0..<3 { value = value + Self.mixIn[c][k] * pooled[(b * 3 + k) * plane + p] }
          out[(b * 4 + c) * plane + p] = value + Self.biasIn[c]
        }
      }
    }
    return Tensor(shape: [n, 4, height, width], scalars: out)
  }

  func decode(_ latents: Tensor) throws -> Tensor {
    let (n, height, width) = (latents.shape[0], latents.shape[2], latents.shape[3])
    let plane = height * width
    var small = [Float](repeating: 0, count: n * 3 * plane)
    for b in 0..<n {
      for k in 0..<3 {
        for p in 0..<plane {
          var value: Float = 0
          for c in 0..<4 { value = value + Self.mixOut[k][c] * latents.scalars[(b * 4 + c) * plane + p] }
          small[(b * 3 + k) * plane + p] = tanh(value)
        }
      }
    }
    return resizedNearest(Tensor(shape: [n, 3, height, width], scalars: small), height: height * 8, width: width * 8)
  }
}

/// eps = tanh(0.5 x) · (1 + 0.1 mean(cond_n)) + 0.001 t + 0.05 (c − 1.5).
struct FakeNoisePredictor: NoisePredictor {
  func predictNoise(
    latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
  ) throws -> Tensor {
    let n = latents.shape[0]
    let channels = latents.shape[1]
    let plane = latents.shape[2] * latents.shape[3]
    let rowLength = conditioning.count / conditioning.shape[0]
    let scales: [Float] = (0..<n).map { row in
      let values = conditioning.scalars[(row * rowLength)..<((row + 1) * rowLength)]
      let mean = Float(values.reduce(0.0) { $0 + Double($1) } / Double(rowLength))
      return 1 + 0.1 * mean
    }
    let offset = Float(0.001 * timestep)
    return Tensor(shape: latents.shape) { out in
      for b in 0..<n {
        for c in 0..<channels {
          let channelTerm = Float(0.05) * (Float(c) - 1.5)
          for p in 0..<plane {
            let index = (b * channels + c) * plane + p
            out[index] = tanh(0.5 * latents.scalars[index]) * scales[b] + offset + channelTerm
          }
        }
      }
    }
  }
}

/// emb[n, p, d] = sin(0.1 (p + 1) (d + 1) + 0.01 id_n), id = Σ unicode scalars mod 1000, D = 8; truncation
/// reported for prompts of more than 75 words.
struct FakeTextEncoder: TextEncoding {
  func encode(_ prompts: [String]) throws -> TextConditioning {
    var values: [Float] = []
    for prompt in prompts {
      let id = Double(prompt.unicodeScalars.reduce(0) { $0 + Int($1.value) } % 1000)
      for p in 0..<77 {
        for d in 0..<8 { values.append(Float(sin(0.1 * Double(p + 1) * Double(d + 1) + 0.01 * id))) }
      }
    }
    return TextConditioning(
      embeddings: Tensor(shape: [prompts.count, 77, 8], scalars: values),
      truncated: prompts.map { $0.split(separator: " ").count > 75 })
  }
}
