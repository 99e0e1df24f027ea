import Foundation
import NIOSSL
import Yams

extension WebConfiguration.TLSServer {
    /// `tls_server_config`: exporter-toolkit's keys, each file loaded now so that a bad one
    /// is refused with its line.
    init(_ node: Node, _ reader: YAMLReader, relativeTo directory: String) throws(ConfigurationError) {
        let fields = try reader.mapping(
            node, "tls_server_config",
            allowed: ["cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"])
        func file(_ key: String) throws(ConfigurationError) -> String? {
            guard let path = try reader.string(fields[key], key) else { return nil }
            return path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).path
        }
        guard let certificateFile = try file("cert_file"), let keyFile = try file("key_file") else {
            throw reader.error(node, "tls_server_config needs cert_file and key_file (PEM files)")
        }
        var clientAuthentication = WebConfiguration.ClientAuthentication.none
        if let authNode = fields["client_auth_type"] {
            let name = try reader.string(authNode, "client_auth_type")
            guard let value = WebConfiguration.ClientAuthentication(rawValue: name) else {
                let unverified = ["RequestClientCert", "RequireAnyClientCert"].contains(name)
                throw reader.error(
                    authNode,
                    unverified
                        ? "client_auth_type \(name) takes a client's certificate unverified, which proves nothing; use RequireAndVerifyClientCert with client_ca_file"
                        : "client_auth_type must be \(YAMLReader.list(WebConfiguration.ClientAuthentication.allCases.map(\.rawValue))), not '\(name)'"
                )
            }
            clientAuthentication = value
        }
        let clientCAFile = try file("client_ca_file")
        if clientAuthentication != .none, clientCAFile == nil {
            throw reader.error(
                fields["client_auth_type"], "client_auth_type \(clientAuthentication.rawValue) needs client_ca_file")
        }
        if clientAuthentication == .none, clientCAFile != nil {
            // As exporter-toolkit: a CA for clients with no policy would look like mutual TLS
            // while admitting anyone.
            throw reader.error(
                fields["client_ca_file"],
                "client_ca_file without client_auth_type checks no client: add client_auth_type: RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"
            )
        }
        func version(_ key: String) throws(ConfigurationError) -> WebConfiguration.ProtocolVersion? {
            guard let versionNode = fields[key] else { return nil }
            let name = try reader.string(versionNode, key)
            guard let value = WebConfiguration.ProtocolVersion(rawValue: name) else {
                throw reader.error(
                    versionNode,
                    "\(key) must be \(YAMLReader.list(WebConfiguration.ProtocolVersion.allCases.map(\.rawValue))), not '\(name)'"
                )
            }
            return value
        }
        self.init(
            certificateFile: certificateFile, keyFile: keyFile, clientAuthentication: clientAuthentication,
            clientCAFile: clientCAFile, minimumVersion: try version("min_version") ?? .tls12,
            maximumVersion: try version("max_version"))
        do {
            _ = try serverConfiguration()
        } catch {
            throw reader.error(fields[error.key] ?? node, error.description)
        }
    }

    /// A file the TLS configuration names that cannot be used.
    struct UnusableFile: Error, CustomStringConvertible {
        var file: String
        /// The key that names it: `cert_file`, `key_file` or `client_ca_file`.
        var key: String
        var reason: String
        var description: String { "\(file): \(reason)" }
    }

    /// swift-nio-ssl's server configuration, the files read now.
    func serverConfiguration() throws(UnusableFile) -> TLSConfiguration {
        func load<T>(_ key: String, _ file: String, _ what: String, _ body: (String) throws -> T) throws(UnusableFile)
            -> T
        {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw UnusableFile(file: file, key: key, reason: "cannot be read (no such file, or permission denied)")
            }
            do {
                return try body(file)
            } catch {
                throw UnusableFile(file: file, key: key, reason: "is not \(what) (\(error))")
            }
        }
        let chain = try load("cert_file", certificateFile, "a PEM certificate") {
            try NIOSSLCertificate.fromPEMFile($0)
        }
        guard !chain.isEmpty else {
            throw UnusableFile(file: certificateFile, key: "cert_file", reason: "holds no PEM certificate")
        }
        let key = try load("key_file", keyFile, "a PEM private key") { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = minimumVersion.nio
        configuration.maximumTLSVersion = maximumVersion?.nio
        if let clientCAFile {
            let roots = try load("client_ca_file", clientCAFile, "PEM certificates") {
                try NIOSSLCertificate.fromPEMFile($0)
            }
            configuration.trustRoots = .certificates(roots)
            configuration.sendCANameList = true
        }
        switch clientAuthentication {
        case .none: configuration.certificateVerification = .none
        case .verifyIfGiven: configuration.certificateVerification = .optionalVerification
        case .requireAndVerify: configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }
}

extension WebConfiguration.ProtocolVersion {
    var nio: TLSVersion {
        switch self {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}
