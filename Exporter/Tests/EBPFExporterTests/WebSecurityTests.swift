import Foundation
import XCTest

@testable import EBPFExporter

/// The exporter locked down by a web configuration (exporter-toolkit's format): TLS with a
/// certificate the test makes, basic authentication against `htpasswd`'s bcrypt hashes, and
/// mutual TLS; each checked with curl, as an operator would.
final class WebSecurityTests: XCTestCase {
    static let configuration = """
        metrics:
          - name: web_getppid_total
            count: syscall:getppid
        """

    /// `curl` with `arguments`: its exit status and what it printed (`-w '%{http_code}'`).
    private func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = try Subprocess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + arguments)
        let status = process.wait()
        return (status, process.collectedOutput)
    }

    /// The right user and password get the metrics (200); a wrong password, an unknown user
    /// and no credentials get 401 with `WWW-Authenticate`; plain HTTP to the TLS port gets no
    /// HTTP answer at all, and the configured headers come with every response.
    func testOnlyTheRightPasswordOverTLSGetsTheMetrics() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let web = try credentials.webConfiguration(
            """
            http_server_config:
              headers:
                X-Content-Type-Options: nosniff
            """)
        let exporter = try ExporterProcess(configuration: Self.configuration, arguments: ["--web.config.file", web])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        let url = "https://\(exporter.address)/metrics"
        let tls = ["--cacert", credentials.path("ca.crt")]

        XCTAssertEqual(try curl(tls + ["-u", "\(credentials.user):\(credentials.password)", url]).output, "200")
        XCTAssertEqual(try curl(tls + ["-u", "\(credentials.user):wrong", url]).output, "401")
        XCTAssertEqual(try curl(tls + ["-u", "nobody:\(credentials.password)", url]).output, "401")
        XCTAssertEqual(try curl(tls + [url]).output, "401")
        let headers = try Subprocess("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null"] + tls + [url])
        XCTAssertEqual(headers.wait(), 0)
        XCTAssertTrue(headers.collectedOutput.contains("WWW-Authenticate: Basic realm=\"ebpf-exporter\""))
        XCTAssertTrue(headers.collectedOutput.contains("X-Content-Type-Options: nosniff"))
        // Plain HTTP: the TLS server reads no request, and closes (curl 52: empty reply).
        let plain = try curl([
            "-u", "\(credentials.user):\(credentials.password)", "http://\(exporter.address)/metrics",
        ])
        XCTAssertEqual(plain.status, 52, "curl's 'empty reply from server'")
        XCTAssertEqual(plain.output, "000", "no HTTP status")
        // A client that does not trust the certificate's authority refuses it (curl 60).
        XCTAssertEqual(try curl(["-u", "\(credentials.user):\(credentials.password)", url]).status, 60)
    }

    /// `RequireAndVerifyClientCert`: a client with a certificate the CA signed gets the
    /// metrics; one without any fails the handshake.
    func testMutualTLSAdmitsOnlyAClientWithACertificateItsAuthoritySigned() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let web = try credentials.webConfiguration(
            """
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.crt
            """)
        let exporter = try ExporterProcess(configuration: Self.configuration, arguments: ["--web.config.file", web])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        let url = "https://\(exporter.address)/metrics"
        let user = ["--cacert", credentials.path("ca.crt"), "-u", "\(credentials.user):\(credentials.password)"]

        let signed = ["--cert", credentials.path("client.crt"), "--key", credentials.path("client.key")]
        XCTAssertEqual(try curl(user + signed + [url]).output, "200")
        let unsigned = try curl(user + [url])
        XCTAssertEqual(unsigned.output, "000", "no HTTP answer without a client certificate")
        XCTAssertNotEqual(unsigned.status, 0)
        // The server's own certificate is not one the CA issued for clients, but it chains
        // to it: the check is the chain, as exporter-toolkit's.
        let server = ["--cert", credentials.path("server.crt"), "--key", credentials.path("server.key")]
        XCTAssertEqual(try curl(user + server + [url]).output, "200")
    }

    /// The executable refuses a bad web configuration before attaching anything, naming the
    /// file, line and column.
    func testABadWebConfigurationStopsItWithTheLineOfTheMistake() throws {
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let web = credentials.path("web.yml")
        try """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
        basic_auth_users:
          prometheus: secret
        """.write(toFile: web, atomically: true, encoding: .utf8)
        let configuration = FileManager.default.temporaryDirectory.appendingPathComponent(
            "web-\(UUID().uuidString).yaml")
        try Self.configuration.write(to: configuration, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: configuration) }
        let process = try Subprocess(
            try KernelTestGate.builtProduct("ebpf-exporter"),
            ["--config", configuration.path, "--listen", "127.0.0.1:0", "--web.config.file", web])
        XCTAssertNotEqual(process.wait(), 0)
        XCTAssertTrue(
            process.collectedOutput.contains(
                "\(web):5:15: user 'prometheus': not a bcrypt hash ($2y$10$ and 53 characters); write one with htpasswd -nBC 10 \"\" | tr -d ':\\n'"
            ), process.collectedOutput)
        XCTAssertFalse(process.collectedOutput.contains("exporting"), "nothing attached")
    }

    /// Each mistake of a web configuration, at its line and column.
    func testEachWebConfigurationMistakeIsNamedAtItsLine() throws {
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let file = credentials.path("web.yml")
        func error(_ yaml: String) -> String {
            do {
                _ = try WebConfiguration(yaml: yaml, file: file)
                return "no error"
            } catch {
                return error.description.replacingOccurrences(of: credentials.directory.path, with: "DIR")
            }
        }
        XCTAssertEqual(
            error("tls_server_config:\n  cert_file: server.crt\n  key_file: missing.key\n"),
            "DIR/web.yml:3:13: DIR/missing.key: cannot be read (no such file, or permission denied)")
        XCTAssertTrue(
            error("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n").hasPrefix(
                "DIR/web.yml:2:14: DIR/server.key: is not a PEM certificate ("), "a key where the certificate should be"
        )
        XCTAssertEqual(
            error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n"),
            "DIR/web.yml:4:19: client_ca_file without client_auth_type checks no client: add client_auth_type: RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"
        )
        XCTAssertEqual(
            error("tls_server_config:\n  cert_file: server.crt\n"),
            "DIR/web.yml:2:3: tls_server_config needs cert_file and key_file (PEM files)")
        XCTAssertEqual(
            error(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n"
            ),
            "DIR/web.yml:4:21: client_auth_type RequireAnyClientCert takes a client's certificate unverified, which proves nothing; use RequireAndVerifyClientCert with client_ca_file"
        )
        XCTAssertEqual(
            error(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n"
            ), "DIR/web.yml:4:21: client_auth_type RequireAndVerifyClientCert needs client_ca_file")
        XCTAssertEqual(
            error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS14\n"),
            "DIR/web.yml:4:16: min_version must be TLS10, TLS11, TLS12 or TLS13, not 'TLS14'")
        XCTAssertEqual(
            error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: []\n"),
            "DIR/web.yml:4:3: unknown key 'cipher_suites' in tls_server_config; expected cert_file, key_file, client_auth_type, client_ca_file, min_version or max_version"
        )
        XCTAssertEqual(
            error("http_server_config:\n  headers:\n    Server: x\n"),
            "DIR/web.yml:3:5: unknown key 'Server' in http_server_config.headers; expected Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection or Strict-Transport-Security"
        )
        XCTAssertEqual(
            error("basic_auth_users: [prometheus]\n"),
            "DIR/web.yml:1:19: basic_auth_users must map each user name to a bcrypt hash")
        XCTAssertEqual(
            error("listen: 1\n"),
            "DIR/web.yml:1:1: unknown key 'listen' in the web configuration; expected tls_server_config, http_server_config or basic_auth_users"
        )
        let read = try WebConfiguration(yaml: "basic_auth_users:\n  a: \(credentials.hash)\n", file: file)
        XCTAssertEqual(read.basicAuthUsers, ["a": credentials.hash])
        XCTAssertNil(read.tls)
        XCTAssertNil(try WebConfiguration(yaml: "", file: file).tls, "an empty file serves plain HTTP")
    }

    /// htpasswd's `$2y$` hash admits its password and no other.
    func testPasswordsVerifyAgainstHtpasswdHashes() async throws {
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let verifier = PasswordVerifier(users: [credentials.user: credentials.hash])
        let right = try await verifier.admits(user: credentials.user, password: credentials.password)
        XCTAssertTrue(right)
        let wrong = try await verifier.admits(user: credentials.user, password: credentials.password + "x")
        XCTAssertFalse(wrong)
        let unknown = try await verifier.admits(user: "nobody", password: credentials.password)
        XCTAssertFalse(unknown)
        XCTAssertEqual(
            BasicCredentials(authorization: "Basic " + Data("a:b:c".utf8).base64EncodedString())?.password,
            "b:c", "the password is everything after the first colon")
    }
}
