import HTTPTypes
import Hummingbird

/// Refuses a request with a body (413, and the connection closed, so that its bytes are not
/// read), as no path of the exporter takes one; adds the web configuration's headers to
/// every response.
struct RequestLimits<Context: RequestContext>: RouterMiddleware {
    let headers: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        if request.headers[.contentLength].map({ $0 != "0" }) ?? request.headers.contains(.transferEncoding) {
            response = Response(
                status: .contentTooLarge, headers: [.connection: "close", .contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: .init(string: "the exporter takes no request body\n")))
        } else {
            response = try await next(request, context)
        }
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }
}
