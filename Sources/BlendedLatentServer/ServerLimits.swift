/// What one request may ask for; beyond these the server answers 413 (body, pixels) or 422 (steps, batch)
/// before any work starts.
package struct ServerLimits: Sendable, Equatable {
  /// The largest request body in bytes (default 64 MiB: a 16-megapixel PNG in base64 with its mask).
  package var maximumBodyBytes = 64 << 20
  /// The most pixels an input image or mask may have (default 16,777,216: 4096 × 4096).
  package var maximumPixelCount = 4096 * 4096
  /// The most denoising steps (`steps`) a request may ask for (default 150).
  package var maximumStepCount = 150
  /// The most results one request may ask for (native `batch`; AUTOMATIC1111 `batch_size × n_iter`; OpenAI `n`;
  /// default 8).
  package var maximumBatchSize = 8
  /// The most edits waiting behind the running one (default 16); a full queue answers 429 with `Retry-After`.
  package var queueCapacity = 16

  /// The defaults.
  package init() {}
}
