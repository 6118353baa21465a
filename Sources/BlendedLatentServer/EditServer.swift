import BlendedLatent
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `bld serve`: the HTTP server over one loaded model — the native API (`/v1/edits`), AUTOMATIC1111's
/// (`/sdapi/v1/…`), OpenAI's image edits (`/v1/images/edits`) and the mask-painting page (`/`).
///
/// See `Documentation/Server.md` for the routes and `Documentation/Decisions/0018-edit-server.md` for the
/// design. The server reads and writes no files for requests: images arrive in the body and results stay in
/// memory until fetched or dropped.
package struct EditServer: Sendable {
  /// Where to listen and what to allow.
  package struct Options: Sendable {
    /// The address to bind (default loopback); anything else needs ``apiKey``.
    package var host = "127.0.0.1"
    /// The port (0 picks a free one, reported through `onListening`).
    package var port = 7860
    /// The key clients send as `Authorization: Bearer KEY`, or `nil` for none (loopback only).
    package var apiKey: String?
    /// The one origin allowed to call the API from a browser page (CORS), or `nil` for none.
    package var corsOrigin: String?
    /// The request limits and the queue bound.
    package var limits = ServerLimits()

    /// The defaults.
    package init() {}
  }

  /// Why the server cannot start with the options given.
  package enum OptionsError: Error, CustomStringConvertible {
    /// A host that is not a loopback address without an API key.
    case openHostWithoutKey(String)
    /// An API key that is empty or has characters a header cannot carry.
    case unusableKey

    /// One line.
    package var description: String {
      switch self {
      case .openHostWithoutKey(let host):
        "--host \(host) is not a loopback address: pass --api-key KEY so that clients must authenticate"
      case .unusableKey: "--api-key must be non-empty printable ASCII without spaces"
      }
    }
  }

  /// The loaded model as the routes describe it.
  package var model: ServedModel
  /// The job queue (owns the ``EditingService``).
  package var queue: JobQueue
  /// Where to listen and what to allow.
  package var options: Options
  /// Picks seeds for requests without one (default uniform in 0 … 2³² − 1).
  package var randomSeed: @Sendable () -> UInt64 = { UInt64.random(in: 0...UInt64(UInt32.max)) }

  /// Creates a server over a loaded editor.
  /// - Throws: ``OptionsError`` for a non-loopback host without a key or an unusable key.
  package init(editor: BlendedLatentEditor, model: ServedModel, options: Options) throws(OptionsError) {
    if let key = options.apiKey {
      guard !key.isEmpty,
        key.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue.map { $0 >= 33 && $0 < 127 } == true })
      else { throw .unusableKey }
    } else if !Self.isLoopback(options.host) {
      throw .openHostWithoutKey(options.host)
    }
    self.model = model
    self.options = options
    self.queue = JobQueue(service: EditingService(editor: editor), capacity: options.limits.queueCapacity)
  }

  /// Whether a host name or address is loopback-only.
  package static func isLoopback(_ host: String) -> Bool {
    host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
  }

  /// The router with every route and middleware.
  package func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: APIErrorMiddleware())
    if let origin = options.corsOrigin {
      router.add(
        middleware: CORSMiddleware(
          allowOrigin: .custom(origin), allowHeaders: [.contentType, .authorization],
          allowMethods: [.get, .post, .delete, .options]))
    }
    if let key = options.apiKey { router.add(middleware: BearerAuthenticationMiddleware(key: key)) }
    addPageRoutes(to: router)
    addNativeRoutes(to: router)
    addAUTOMATIC1111Routes(to: router)
    addOpenAIRoutes(to: router)
    return router
  }

  /// Serves until SIGTERM or SIGINT, then cancels the running and waiting jobs and stops.
  /// - Parameter onListening: Called with the bound port once the server accepts connections.
  package func run(onListening: @escaping @Sendable (Int) -> Void) async throws {
    var logger = Logger(label: "bld-serve")
    logger.logLevel = .warning
    let application = Application(
      router: router(),
      configuration: ApplicationConfiguration(
        address: .hostname(options.host, port: options.port), serverName: "bld"),
      onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
      logger: logger)
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: [application, queue], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
  }
}
