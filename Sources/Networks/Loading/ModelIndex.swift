import Foundation
import TensorCore

/// A diffusers `model_index.json`: the pipeline class and, per component folder, its library and class.
public struct ModelIndex: Codable, Sendable, Equatable {
  /// One component entry, e.g. `"unet": ["diffusers", "UNet2DConditionModel"]`.
  public struct Component: Codable, Sendable, Equatable {
    /// The library (`diffusers`, `transformers`), or nil for an absent component (`[null, null]`).
    public var library: String?
    /// The class name, or nil for an absent component.
    public var className: String?

    /// Decodes the two-element array.
    public init(from decoder: any Decoder) throws {
      var container = try decoder.unkeyedContainer()
      library = try container.decodeIfPresent(String.self)
      className = try container.decodeIfPresent(String.self)
    }

    /// Encodes the two-element array.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.unkeyedContainer()
      try container.encode(library)
      try container.encode(className)
    }
  }

  /// `_class_name`, e.g. `StableDiffusionPipeline`.
  public var className: String?
  /// Component folder name → library and class.
  public var components: [String: Component]
  /// `force_zeros_for_empty_prompt` (SDXL pipelines; diffusers' default true): an empty negative prompt is
  /// encoded as zeros.
  public var forceZerosForEmptyPrompt: Bool?

  /// Whether the folder is an SDXL pipeline (it has a second text encoder).
  public var isStableDiffusionXL: Bool { components["text_encoder_2"]?.className != nil }

  private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// Decodes `_class_name` and every two-element array entry; other entries (flags) are ignored.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    className = try container.decodeIfPresent(
      String.self, forKey: AnyKey(stringValue: "_class_name"))
    var components: [String: Component] = [:]
    for key in container.allKeys where !key.stringValue.hasPrefix("_") {
      if let component = try? container.decode(Component.self, forKey: key) {
        components[key.stringValue] = component
      }
    }
    self.components = components
    forceZerosForEmptyPrompt = try? container.decodeIfPresent(
      Bool.self, forKey: AnyKey(stringValue: "force_zeros_for_empty_prompt"))
  }

  /// Encodes `_class_name` and the components.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: AnyKey.self)
    try container.encodeIfPresent(className, forKey: AnyKey(stringValue: "_class_name"))
    for (name, component) in components {
      try container.encode(component, forKey: AnyKey(stringValue: name))
    }
    try container.encodeIfPresent(
      forceZerosForEmptyPrompt, forKey: AnyKey(stringValue: "force_zeros_for_empty_prompt"))
  }

  /// Reads `url`.
  /// - Throws: `ConfigurationError.unreadable` if it is missing or not a JSON object.
  public static func decode(contentsOf url: URL) throws -> ModelIndex {
    let data: Data
    do { data = try RegularFile.read(url) } catch {
      throw ConfigurationError.unreadable(file: url.path, reason: error.reason)
    }
    do {
      return try JSONDecoder().decode(ModelIndex.self, from: data)
    } catch let error as DecodingError {
      throw ConfigurationFile.configurationError(error, file: url.path)
    } catch {
      throw ConfigurationError.unreadable(file: url.path, reason: "not a JSON object of components")
    }
  }

  /// Checks that the Stable Diffusion (1.x, 2.x or XL) components this package loads have the expected classes.
  /// - Throws: `ConfigurationError.missingField` for an absent component, `.unsupported` for another class.
  public func validateStableDiffusion(file: String) throws {
    var expected: [(String, Set<String>)] = [
      ("text_encoder", ["CLIPTextModel"]), ("tokenizer", ["CLIPTokenizer", "CLIPTokenizerFast"]),
      ("unet", ["UNet2DConditionModel"]), ("vae", ["AutoencoderKL"]),
    ]
    if isStableDiffusionXL {
      expected += [
        ("text_encoder_2", ["CLIPTextModelWithProjection"]), ("tokenizer_2", ["CLIPTokenizer", "CLIPTokenizerFast"]),
      ]
    }
    for (name, classes) in expected {
      guard let className = components[name]?.className else {
        throw ConfigurationError.missingField(file: file, field: name)
      }
      guard classes.contains(className) else {
        throw ConfigurationError.unsupported(file: file, field: name, value: className)
      }
    }
  }
}
