/// Where a network's parameters are in the original LDM layout of a single-file checkpoint, as rewrites of key
/// prefixes: each block of the network (`down_blocks.0.resnets.1.`) has its LDM name (`input_blocks.2.0.`), and
/// some kinds of block also rename their leaves (a UNet resnet's `norm1` is `in_layers.0`).
///
/// The tables are built from the network's configuration by `LDMKeyTable+UNet.swift`,
/// `LDMKeyTable+Autoencoder.swift` and `LDMKeyTable+TextEncoder.swift`; loading asks the table for every
/// parameter the network registers, so a checkpoint that lacks one is an error naming the LDM key.
struct LDMKeyTable: Sendable {
  /// How the leaves under a block are named in the LDM layout.
  enum Leaves: Sendable, Equatable {
    /// As in the network.
    case same
    /// A UNet `ResnetBlock2D` (LDM `ResBlock`): `in_layers.0/2`, `emb_layers.1`, `out_layers.0/3`,
    /// `skip_connection`.
    case unetResnet
    /// A VAE `ResnetBlock2D`: `nin_shortcut` for the shortcut convolution.
    case autoencoderResnet
    /// The VAE's mid-block attention: `norm`, `q`, `k`, `v`, `proj_out`, whose weights LDM stores as 1×1
    /// convolutions.
    case autoencoderAttention
    /// An OpenCLIP residual block of `width` channels: `ln_1`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`,
    /// `attn.out_proj`, and the query, key and value projections as thirds of `attn.in_proj_weight` /
    /// `attn.in_proj_bias`.
    case openCLIPLayer(width: Int)
    /// One exact key whose LDM tensor is the transpose of the parameter (OpenCLIP's `text_projection`).
    case transposed
  }

  /// One rewrite: keys equal to `prefix`, or under it when it ends in `.`, live under `ldmPrefix`.
  struct Rule: Sendable {
    /// The network's key prefix (ending in `.`), or one exact key.
    var prefix: String
    /// The LDM key prefix (ending in `.` when `prefix` does), or the exact LDM key.
    var ldmPrefix: String
    /// How the leaves are renamed.
    var leaves: Leaves
  }

  /// The rules; the longest matching prefix wins.
  private(set) var rules: [Rule]

  /// A table of rules.
  init(_ rules: [Rule]) {
    self.rules = rules.sorted { $0.prefix.count > $1.prefix.count }
  }

  /// Where one parameter is in the LDM layout (without the component's prefix such as `model.diffusion_model.`).
  /// - Parameter key: the parameter's key as the network registers it.
  /// - Returns: the LDM key and how its tensor becomes the parameter, or `nil` if no rule covers the key.
  func ldmKey(for key: String) -> (key: String, view: TensorSource.View)? {
    guard
      let rule = rules.first(where: { key == $0.prefix || ($0.prefix.hasSuffix(".") && key.hasPrefix($0.prefix)) })
    else { return nil }
    let leaf = String(key.dropFirst(rule.prefix.count))
    switch rule.leaves {
    case .same: return (rule.ldmPrefix + leaf, .whole)
    case .transposed: return (rule.ldmPrefix + leaf, .transposed)
    case .unetResnet:
      return (
        rule.ldmPrefix
          + Self.renaming(
            leaf,
            [
              ("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
              ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection"),
            ]), .whole
      )
    case .autoencoderResnet:
      return (rule.ldmPrefix + Self.renaming(leaf, [("conv_shortcut", "nin_shortcut")]), .whole)
    case .autoencoderAttention:
      let renamed = Self.renaming(
        leaf, [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")])
      return (rule.ldmPrefix + renamed, renamed.hasSuffix(".weight") && renamed != "norm.weight" ? .reshaped : .whole)
    case .openCLIPLayer(let width):
      for (index, projection) in ["q_proj", "k_proj", "v_proj"].enumerated() {
        for kind in ["weight", "bias"] where leaf == "self_attn.\(projection).\(kind)" {
          return (rule.ldmPrefix + "attn.in_proj_\(kind)", .rows(index * width..<(index + 1) * width))
        }
      }
      return (
        rule.ldmPrefix
          + Self.renaming(
            leaf,
            [
              ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
              ("self_attn.out_proj", "attn.out_proj"),
            ]), .whole
      )
    }
  }

  /// `leaf` with its first matching name (a whole leading path component or components) replaced.
  private static func renaming(_ leaf: String, _ names: [(String, String)]) -> String {
    for (name, ldmName) in names where leaf == name || leaf.hasPrefix(name + ".") {
      return ldmName + leaf.dropFirst(name.count)
    }
    return leaf
  }
}
