import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers a request that announces a body (a `Content-Length` other than 0, or any
/// `Transfer-Encoding`) with 413 and closes the connection at once, before the body is read:
/// no path of the exporter takes one, and a body read and discarded would keep the
/// connection open as long as the client kept sending.
final class RequestBodyRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        if case .head(let request) = unwrapInboundIn(data), Self.hasBody(request) {
            refused = true
            var headers = HTTPFields()
            headers[.connection] = "close"
            headers[.contentLength] = "0"
            context.write(
                wrapOutboundOut(.head(HTTPResponse(status: .contentTooLarge, headerFields: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
    }

    static func hasBody(_ request: HTTPRequest) -> Bool {
        if let length = request.headerFields[.contentLength] { return length != "0" }
        return request.headerFields[.transferEncoding] != nil
    }
}
