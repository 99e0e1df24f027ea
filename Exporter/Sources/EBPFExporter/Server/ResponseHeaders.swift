import HTTPTypes
import Hummingbird

/// Adds the web configuration's headers (`http_server_config.headers`) to every response the
/// router gives, errors' among them.
struct ResponseHeaders<Context: RequestContext>: RouterMiddleware {
    let headers: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }
}
