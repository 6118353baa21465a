import Foundation
import Hummingbird

/// A `text/event-stream` response (Server-Sent Events) of a job's snapshots: one `progress` event per change
/// while it waits or runs, then one event named after its final status (`succeeded`, `failed`, `cancelled`),
/// each with the snapshot's JSON as `data`.
package enum ServerSentEvents {
  /// The streaming response.
  package static func response(_ updates: AsyncStream<JobSnapshot>) -> Response {
    var headers: HTTPFields = [:]
    headers[.contentType] = "text/event-stream"
    headers[.cacheControl] = "no-cache"
    return Response(
      status: .ok, headers: headers,
      body: ResponseBody { writer in
        for await snapshot in updates {
          try await writer.write(ByteBuffer(string: event(snapshot)))
        }
        try await writer.finish(nil)
      })
  }

  /// One event's text.
  package static func event(_ snapshot: JobSnapshot) -> String {
    let name = snapshot.status.isFinal ? snapshot.status.rawValue : "progress"
    return "event: \(name)\ndata: \(snapshot.json.text)\n\n"
  }
}
