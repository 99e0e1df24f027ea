import Foundation

/// Who may read `/metrics`, and over what: TLS and basic authentication, from a file in the
/// format of Prometheus's exporter-toolkit (`--web.config.file`), so that one file serves
/// this exporter and Prometheus's own.
///
/// ```yaml
/// tls_server_config:
///   cert_file: server.crt          # relative to this file
///   key_file: server.key
/// basic_auth_users:
///   prometheus: $2y$10$…           # htpasswd -nBC 10 "" | tr -d ':\n'
/// ```
public struct WebConfiguration: Sendable {
    /// How the server proves itself and, optionally, checks its clients: from
    /// `tls_server_config`. Nil serves plain HTTP.
    public var tls: TLSServer?
    /// Users and their bcrypt hashes (`$2a$`, `$2b$` or `$2y$`), from `basic_auth_users`.
    /// Empty admits everyone.
    public var basicAuthUsers: [String: String]
    /// Headers added to every response, from `http_server_config.headers`.
    public var headers: [String: String]

    public init(tls: TLSServer? = nil, basicAuthUsers: [String: String] = [:], headers: [String: String] = [:]) {
        self.tls = tls
        self.basicAuthUsers = basicAuthUsers
        self.headers = headers
    }

    /// The server's certificate and key, which TLS versions it speaks and whether clients
    /// must show a certificate signed by `clientCAFile`.
    public struct TLSServer: Sendable {
        public var certificateFile: String
        public var keyFile: String
        public var clientAuthentication: ClientAuthentication
        /// The certificate authorities a client's certificate must chain to.
        public var clientCAFile: String?
        public var minimumVersion: ProtocolVersion
        public var maximumVersion: ProtocolVersion?

        public init(
            certificateFile: String, keyFile: String, clientAuthentication: ClientAuthentication = .none,
            clientCAFile: String? = nil, minimumVersion: ProtocolVersion = .tls12,
            maximumVersion: ProtocolVersion? = nil
        ) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.clientAuthentication = clientAuthentication
            self.clientCAFile = clientCAFile
            self.minimumVersion = minimumVersion
            self.maximumVersion = maximumVersion
        }
    }

    /// exporter-toolkit's `client_auth_type`s that verify what a client shows. (Its
    /// `RequestClientCert` and `RequireAnyClientCert` take any certificate unverified, which
    /// proves nothing; they are refused.)
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        /// `NoClientCert`: no certificate is asked for.
        case none = "NoClientCert"
        /// `VerifyClientCertIfGiven`: a certificate is optional, but must verify if shown.
        case verifyIfGiven = "VerifyClientCertIfGiven"
        /// `RequireAndVerifyClientCert`: mutual TLS.
        case requireAndVerify = "RequireAndVerifyClientCert"
    }

    /// A TLS version as exporter-toolkit's `min_version` and `max_version` name it.
    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case tls10 = "TLS10"
        case tls11 = "TLS11"
        case tls12 = "TLS12"
        case tls13 = "TLS13"
    }
}

extension WebConfiguration {
    /// Reads the web configuration file at `path`; certificate and key files are read
    /// relative to its directory, and loaded now, so that a bad one is refused at start.
    ///
    /// - Throws: ``ConfigurationError`` naming the line of what is wrong.
    public init(contentsOf path: String) throws(ConfigurationError) {
        try self.init(yaml: try ExporterConfiguration.configurationText(path), file: path)
    }

    /// Reads a web configuration from YAML text; `file` names it in errors, and relative
    /// certificate paths are read from its directory. An empty text serves plain HTTP to
    /// everyone, as exporter-toolkit's does.
    ///
    /// - Throws: ``ConfigurationError`` naming the line and column of what is wrong.
    public init(yaml: String, file: String = "web configuration") throws(ConfigurationError) {
        self.init()
        guard let root = try YAMLReader.compose(yaml, file: file) else { return }
        let reader = YAMLReader(file: file)
        let top = try reader.mapping(
            root, "the web configuration", allowed: ["tls_server_config", "http_server_config", "basic_auth_users"])
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        if let node = top["tls_server_config"] {
            tls = try TLSServer(node, reader, relativeTo: directory)
        }
        if let node = top["http_server_config"] {
            let fields = try reader.mapping(node, "http_server_config", allowed: ["headers"])
            if let headersNode = fields["headers"] {
                for (name, value) in try reader.mapping(
                    headersNode, "http_server_config.headers", allowed: Self.settableHeaders)
                {
                    headers[name] = try reader.string(value, name) as String
                }
            }
        }
        if let node = top["basic_auth_users"] {
            guard let mapping = node.mapping else {
                throw reader.error(node, "basic_auth_users must map each user name to a bcrypt hash")
            }
            for (userNode, hashNode) in mapping {
                let user: String = try reader.string(userNode, "a user name")
                let hash: String = try reader.string(hashNode, "user '\(user)'s hash")
                guard PasswordVerifier.isBcryptHash(hash) else {
                    throw reader.error(
                        hashNode,
                        "user '\(user)': not a bcrypt hash ($2y$10$ and 53 characters); write one with htpasswd -nBC 10 \"\" | tr -d ':\\n'"
                    )
                }
                basicAuthUsers[user] = hash
            }
        }
    }

    /// The security headers exporter-toolkit lets a configuration set.
    static let settableHeaders = [
        "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection",
        "Strict-Transport-Security",
    ]
}
