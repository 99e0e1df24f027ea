import Foundation
import XCTest

/// The built `ebpf-exporter`, started on a configuration of the test's on a free loopback
/// port, with any further command-line arguments.
final class ExporterProcess: @unchecked Sendable {
    // @unchecked Sendable: the properties are set once in init.
    let port: Int
    let process: Subprocess
    private let configuration: URL

    init(configuration yaml: String, arguments: [String] = []) throws {
        configuration = FileManager.default.temporaryDirectory.appendingPathComponent(
            "exporter-\(UUID().uuidString).yaml")
        try yaml.write(to: configuration, atomically: true, encoding: .utf8)
        process = try Subprocess(
            try KernelTestGate.builtProduct("ebpf-exporter"),
            ["--config", configuration.path, "--listen", "127.0.0.1:0"] + arguments)
        let marker = "serving /metrics on port "
        // It compiles its programs with clang first: in a guest under qemu's emulation on a
        // loaded host that has taken over a minute. Only a hang takes 10 minutes.
        guard process.waitForOutput(marker, timeout: .seconds(600)),
            let line = process.collectedOutput.split(separator: "\n").first(where: { $0.contains(marker) }),
            let port = Int(line.components(separatedBy: marker)[1].trimmingCharacters(in: .whitespaces))
        else {
            let output = process.collectedOutput
            process.stop(SIGKILL)
            throw PrometheusError(message: "ebpf-exporter did not start: \(output)")
        }
        self.port = port
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Its descriptors now.
    var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? -1
    }

    /// The connections it holds now: its descriptors that are TCP sockets on its port, other
    /// than the listener. Connections still in the listen backlog are not its descriptors
    /// yet, and other descriptors (timers, maps, a scrape's files) do not count; nor does a
    /// socket already closed both ways whose descriptor is about to be (the kernel lists it
    /// no more).
    var openConnections: Int {
        var connectionInodes: Set<Substring> = []
        for table in ["tcp", "tcp6"] {
            // Read to the end: String(contentsOfFile:) stops after procfs's first page.
            let file = FileHandle(forReadingAtPath: "/proc/\(process.pid)/net/\(table)")
            let text = String(decoding: (try? file?.readToEnd()) ?? Data(), as: UTF8.self)
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let local = fields[1].split(separator: ":").last,
                    Int(local, radix: 16) == port, fields[3] != "0A"  // 0A: listening
                else { continue }
                connectionInodes.insert(fields[9])
            }
        }
        let directory = "/proc/\(process.pid)/fd"
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return descriptors.count { descriptor in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(descriptor)"),
                target.hasPrefix("socket:[")
            else { return false }
            return connectionInodes.contains(target.dropFirst("socket:[".count).dropLast())
        }
    }

    /// Its resident memory now, in kB.
    var residentKilobytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// SIGTERM; returns the exit status (0: it shut down gracefully).
    func stop() -> Int32 {
        defer { try? FileManager.default.removeItem(at: configuration) }
        return process.stop(SIGTERM)
    }
}
