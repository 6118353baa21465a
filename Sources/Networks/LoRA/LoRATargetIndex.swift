import TensorCore

/// The linear and convolution weights of one network that LoRA modules can change, found by module path
/// (`down_blocks.0.attentions.0.proj_in`) or by the underscored form kohya writes (`down_blocks_0_…_proj_in`).
///
/// Built from the network's own registered parameter keys, so the names are the ones `registerParameters(in:)`
/// spells and nothing is listed twice.
struct LoRATargetIndex {
  /// The network indexed.
  let component: LoRAComponent
  /// Module path → its `weight` entry, for 2-D (linear) and 4-D (convolution) weights.
  private let weights: [String: ParameterRegistry.Entry]
  /// Underscored module path → every module path written that way (more than one is ambiguous).
  private let underscored: [String: [String]]

  /// Indexes the weights of `network`.
  /// - Parameters:
  ///   - component: the network's component.
  ///   - network: the network.
  ///   - optionalPrefix: a leading path level that LoRA files may leave out (`text_model.`: transformers 5's
  ///     `CLIPTextModel` has no such level, files written with transformers 4 and kohya files name it).
  init(component: LoRAComponent, network: any Layer, optionalPrefix: String? = nil) {
    var weights: [String: ParameterRegistry.Entry] = [:]
    var underscored: [String: [String]] = [:]
    for entry in network.parameterEntries where entry.key.hasSuffix(".weight") && [2, 4].contains(entry.shape.count) {
      let path = String(entry.key.dropLast(".weight".count))
      var names = [path]
      if let optionalPrefix, path.hasPrefix(optionalPrefix) {
        names.append(String(path.dropFirst(optionalPrefix.count)))
      }
      for name in names {
        weights[name] = entry
        underscored[name.replacingOccurrences(of: ".", with: "_"), default: []].append(name)
      }
    }
    self.component = component
    self.weights = weights
    self.underscored = underscored
  }

  /// The weight changes `modules` (all of this index's component) make at `scale`, checked against the layers.
  /// - Parameters:
  ///   - modules: modules of one LoRA for this index's network.
  ///   - scale: the user scale.
  ///   - file: the LoRA's path, for errors.
  /// - Returns: each module's weight entry and its update (`scale · alpha / rank · up · down`).
  /// - Throws: ``LoRAError/unknownModules(file:component:modules:)``, `.ambiguousModules` or `.shapeMismatch`,
  ///   listing every offending module.
  func updates(
    for modules: [LoRAModule], scale: Float, file: String
  ) throws(LoRAError) -> [(entry: ParameterRegistry.Entry, update: LowRankUpdate)] {
    var updates: [(entry: ParameterRegistry.Entry, update: LowRankUpdate)] = []
    var (unknown, ambiguous, mismatched): ([String], [String], [String]) = ([], [], [])
    for module in modules {
      let path: String
      switch module.layer {
      case .dotted(let dotted): path = dotted
      case .underscored(let name):
        let candidates = underscored[name] ?? []
        guard candidates.count <= 1 else {
          ambiguous.append("\(module.keyPrefix) (\(candidates.joined(separator: " or ")))")
          continue
        }
        path = candidates.first ?? name
      }
      guard let entry = weights[path] else {
        unknown.append(module.keyPrefix)
        continue
      }
      guard let update = Self.update(module, scale: scale, weightShape: entry.shape) else {
        mismatched.append(
          "\(module.keyPrefix) (down \(module.down.shape), up \(module.up.shape) for weight \(entry.shape))")
        continue
      }
      updates.append((entry, update))
    }
    guard unknown.isEmpty else { throw .unknownModules(file: file, component: component, modules: unknown) }
    guard ambiguous.isEmpty else { throw .ambiguousModules(file: file, component: component, modules: ambiguous) }
    guard mismatched.isEmpty else { throw .shapeMismatch(file: file, component: component, modules: mismatched) }
    return updates
  }

  /// The module as an update of a weight of `weightShape` (`[O, I]` or `[O, I, k, k]`), or nil when its factors
  /// do not fit: up must have `O` rows, and down must take the weight's input channels over the same kernel
  /// (a 1×1 convolution and a linear layer accept each other's factors, as diffusers' conversion does).
  private static func update(_ module: LoRAModule, scale: Float, weightShape: [Int]) -> LowRankUpdate? {
    let (rank, columns) = (module.rank, weightShape.dropFirst().reduce(1, *))
    let downColumns = module.down.shape.dropFirst().reduce(1, *)
    guard module.up.shape[0] == weightShape[0], module.down.shape[1] == weightShape[1], downColumns == columns
    else { return nil }
    return LowRankUpdate(
      up: module.up.reshaped([weightShape[0], rank]), down: module.down.reshaped([rank, columns]),
      scale: scale * module.alphaScale)
  }
}
