import Foundation
import XCTest

/// What a locked-down exporter and its scraper share, made fresh by the test in a temporary
/// directory: a certificate authority, a server certificate for 127.0.0.1 it signed, a
/// client certificate it signed, and a user whose bcrypt hash `htpasswd` wrote, as
/// Prometheus's documentation has it.
final class TestCredentials: @unchecked Sendable {
    // @unchecked Sendable: the properties are set once in init.
    let directory: URL
    let user = "prometheus"
    let password = "pw-\(UUID().uuidString)"
    let hash: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("exporter-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // -n: print, -b: password on the command line, -B: bcrypt, -C 10: its cost.
        let line = try Self.run("/usr/bin/htpasswd", ["-nbBC", "10", user, password])
        hash = String(line.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(user.count + 1))
        XCTAssertTrue(hash.hasPrefix("$2y$10$"), "htpasswd writes $2y$ hashes: \(hash)")
        let ca = directory.appendingPathComponent("ca").path
        try Self.run(
            "/usr/bin/openssl",
            Self.newKey(ca + ".key") + ["-x509", "-days", "2", "-subj", "/CN=ebpf test CA", "-out", ca + ".crt"])
        try sign("server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1")
        try sign("client", subject: "/CN=prometheus", extensions: "extendedKeyUsage=clientAuth")
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A web configuration file in the directory, its certificate paths relative to it.
    func webConfiguration(_ extra: String = "") throws -> String {
        let text = """
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
            \(extra)
            basic_auth_users:
              \(user): \(hash)
            """
        try text.write(toFile: path("web.yml"), atomically: true, encoding: .utf8)
        return path("web.yml")
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func sign(_ name: String, subject: String, extensions: String) throws {
        try Self.run(
            "/usr/bin/openssl", Self.newKey(path("\(name).key")) + ["-subj", subject, "-out", path("\(name).csr")])
        // A file, not /dev/stdin: the guests' minimal /dev has no /dev/stdin.
        try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try Self.run(
            "/usr/bin/openssl",
            [
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).crt"),
            ])
    }

    /// `openssl req -new` with a new P-256 key written to the path `key`.
    private static func newKey(_ key: String) -> [String] {
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw PrometheusError(message: "\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}
