import Foundation
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real Prometheus server (Debian's package) on loopback, scraping the given targets,
/// with its storage in a temporary directory removed by ``stop()``.
final class PrometheusServer: @unchecked Sendable {
    // @unchecked Sendable: the properties are set once in init.
    static let executable = "/usr/bin/prometheus"
    let port: Int
    private let directory: URL
    private let process: Subprocess

    /// Starts Prometheus scraping `target` (`host:port`) every `interval` as job `ebpf`, over
    /// HTTPS with basic authentication when `credentials` are given, and waits until it
    /// answers.
    init(scraping target: String, every interval: String, credentials: TestCredentials? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("prometheus.yml")
        try """
        global:
          scrape_interval: \(interval)
          scrape_timeout: \(interval)
        scrape_configs:
          - job_name: ebpf
        \(credentials.map(Self.secured) ?? "")
            static_configs:
              - targets: ['\(target)']
        """.write(to: configuration, atomically: true, encoding: .utf8)
        port = try Self.freePort()
        process = try Subprocess(
            Self.executable,
            [
                "--config.file=\(configuration.path)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ])
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: url("/-/ready")),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = process.collectedOutput
        stop()
        throw PrometheusError(message: "Prometheus did not become ready: \(output)")
    }

    /// The scrape configuration's lines for HTTPS, trusting the test's CA, and basic
    /// authentication.
    private static func secured(_ credentials: TestCredentials) -> String {
        """
            scheme: https
            tls_config:
              ca_file: \(credentials.path("ca.crt"))
            basic_auth:
              username: \(credentials.user)
              password: \(credentials.password)
        """
    }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    /// The value of an instant query that returns one sample; nil when it returns none.
    func query(_ expression: String) async throws -> Double? {
        var components = URLComponents(url: url("/api/v1/query"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "query", value: expression)]
        let (data, _) = try await URLSession.shared.data(from: components.url!)
        struct Answer: Decodable {
            struct Data: Decodable {
                struct Sample: Decodable { let value: [StringOrNumber] }
                let result: [Sample]
            }
            let status: String
            let data: Data?
            let error: String?
        }
        enum StringOrNumber: Decodable {
            case string(String)
            case number(Double)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) {
                    self = .number(number)
                } else {
                    self = .string(try container.decode(String.self))
                }
            }
        }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        guard answer.status == "success", let result = answer.data?.result else {
            throw PrometheusError(
                message: "query \(expression) failed: \(answer.error ?? String(decoding: data, as: UTF8.self))")
        }
        guard result.count <= 1 else {
            throw PrometheusError(message: "query \(expression) returned \(result.count) samples")
        }
        guard let sample = result.first, sample.value.count == 2, case .string(let text) = sample.value[1] else {
            return nil
        }
        return Double(text)
    }

    /// Queries until the answer is `expected`, for up to `timeout`; returns the last answer.
    /// The last value scraped for `selector` in the last ten minutes: unlike an instant
    /// query, which answers nothing once a scrape failed (Prometheus marks every series of
    /// the target stale until the next one succeeds, as on a loaded machine), a range
    /// selector skips the staleness markers.
    func latest(_ selector: String) async throws -> Double? {
        try await query("last_over_time(\(selector)[10m])")
    }

    func waitForValue(_ expression: String, _ expected: Double, timeout: Duration = .seconds(90)) async throws
        -> Double?
    {
        let deadline = ContinuousClock.now + timeout
        var last: Double?
        while ContinuousClock.now < deadline {
            last = try await query(expression)
            if last == expected { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port nothing listens on now: bound to port 0 and closed.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PrometheusError(message: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw PrometheusError(message: "bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct PrometheusError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
