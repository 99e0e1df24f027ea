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
/// A bcrypt check costs tens of milliseconds by design, so a password that matched is
/// remembered (one per user: bounded by the configuration), and a scraper pays the cost
/// once. Checks run one at a time on a thread of their own, at most ``queueLimit`` waiting:
/// a flood of wrong passwords takes one core at most, is refused once the queue is full,
/// and never delays a scraper whose password is remembered. An unknown user is checked
/// against a configured hash of the highest cost, so that the time taken does not tell
/// which users exist.
final class PasswordVerifier: Sendable {
    private let hashes: [String: String]
    private let decoy: String
    /// Per user, the password that matched its hash.
    private let matched = NIOLockedValueBox<[String: String]>([:])
    private let waiting = NIOLockedValueBox(0)
    private let thread: NIOThreadPool
    static let queueLimit = 16

    init(users: [String: String]) {
        // HummingbirdBcrypt reads the `$2a$` and `$2b$` prefixes; `$2y$` (what htpasswd and
        // PHP write) is the same algorithm as `$2b$`.
        hashes = users.mapValues { $0.hasPrefix("$2y$") ? "$2b$" + $0.dropFirst(4) : $0 }
        decoy = hashes.values.max { $0.dropFirst(4).prefix(2) < $1.dropFirst(4).prefix(2) } ?? ""
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit { thread.shutdownGracefully { _ in } }

    /// Whether `password` is `user`'s; false too when too many checks are waiting.
    func admits(user: String, password: String) async throws -> Bool {
        if matched.withLockedValue({ $0[user] }) == password { return true }
        let admitted = waiting.withLockedValue { waiting in
            guard waiting < Self.queueLimit else { return false }
            waiting += 1
            return true
        }
        guard admitted else { return false }
        defer { waiting.withLockedValue { $0 -= 1 } }
        let hash = hashes[user]
        let matches = try await thread.runIfActive { [decoy] in Bcrypt.verify(password, hash: hash ?? decoy) }
        guard hash != nil, matches else { return false }
        matched.withLockedValue { $0[user] = password }
        return true
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
