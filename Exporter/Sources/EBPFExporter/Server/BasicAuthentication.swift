import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import NIOPosix

/// Admits a request whose `Authorization: Basic` names a user of the web configuration and
/// the password its bcrypt hash was made from; answers anything else with 401 and
/// `WWW-Authenticate`, as exporter-toolkit does.
struct BasicAuthentication<Context: RequestContext>: RouterMiddleware {
    let verifier: PasswordVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let credentials = BasicCredentials(authorization: request.headers[.authorization]),
            try await verifier.admits(user: credentials.user, password: credentials.password)
        {
            return try await next(request, context)
        }
        return Response(
            status: .unauthorized,
            headers: [.wwwAuthenticate: "Basic realm=\"ebpf-exporter\"", .contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: .init(string: "Unauthorized\n")))
    }
}

/// The user and password of an `Authorization: Basic <base64(user:password)>` header.
struct BasicCredentials {
    var user: String
    var password: String

    init?(authorization header: String?) {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic ",
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        user = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
    }
}

/// Checks passwords against the configuration's bcrypt hashes.
///
/// A bcrypt check costs tens of milliseconds by design, so answers are remembered (a bounded
/// number of them), and checks run one at a time on a thread of their own: a flood of wrong
/// passwords takes one core at most and never the threads that serve scrapes. An unknown
/// user is checked against a decoy hash, so that the time taken does not tell which users
/// exist.
final class PasswordVerifier: Sendable {
    private let hashes: [String: String]
    private let answers = NIOLockedValueBox<[String: Bool]>([:])
    private let thread: NIOThreadPool
    static let rememberedAnswers = 1024
    private static let decoy = "$2b$10$GQ5Nfyh5Kc1rIHlq.LOQEOn9xvt5mA.Z2wbTK46rR.eGGRgAz8XrC"

    init(users: [String: String]) {
        // HummingbirdBcrypt reads the `$2a$` and `$2b$` prefixes; `$2y$` (what htpasswd and
        // PHP write) is the same algorithm as `$2b$`.
        hashes = users.mapValues { $0.hasPrefix("$2y$") ? "$2b$" + $0.dropFirst(4) : $0 }
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit { thread.shutdownGracefully { _ in } }

    func admits(user: String, password: String) async throws -> Bool {
        let key = user + "\u{0}" + password
        if let answer = answers.withLockedValue({ $0[key] }) { return answer }
        let hash = hashes[user]
        let matches = try await thread.runIfActive { Bcrypt.verify(password, hash: hash ?? Self.decoy) }
        let answer = hash != nil && matches
        answers.withLockedValue { answers in
            if answers.count >= Self.rememberedAnswers { answers.removeAll() }
            answers[key] = answer
        }
        return answer
    }

    /// Whether `text` looks like a bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost
    /// and 53 characters of salt and hash.
    static func isBcryptHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]), bytes[3] == UInt8(ascii: "$"),
            bytes[6] == UInt8(ascii: "$"),
            let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost)
        else { return false }
        return true
    }
}
