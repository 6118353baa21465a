/// What a denoising UNet was trained to output, as diffusers' `prediction_type`.
public enum PredictionType: String, Sendable, Codable, CaseIterable {
  /// The model predicts the added noise ε (Stable Diffusion 1.x, 2.x base, inpainting models).
  case epsilon
  /// The model predicts v = √ᾱ·ε − √(1−ᾱ)·x₀ (Stable Diffusion 2.x 768).
  case vPrediction = "v_prediction"
}
