/// Functions the symbol tests look for in this test binary by their Swift names: labels and
/// an overload, an initializer, a static method, a generic, a throwing and an async one, an
/// accessor, a private method and an extension of another module's type. `@inline(never)`,
/// public and called by ``exerciseSymbolFixtures()``, so every build keeps them.
public struct SymbolFixtureServer {
    @inline(never) public init(port: Int) {
        self.port = port
    }

    public let port: Int

    @inline(never) public func handle(request: Int) -> Int {
        request &+ port &+ secret(salt: 1)
    }

    @inline(never) public func handle(_ request: Int, urgently: Bool) -> Int {
        urgently ? request : port
    }

    @inline(never) public static func make() -> SymbolFixtureServer {
        SymbolFixtureServer(port: 7)
    }

    @inline(never) public func echo<Value: Equatable>(_ value: Value) -> Value {
        value
    }

    @inline(never) public func validate(_ value: Int) throws -> Int {
        guard value >= 0 else { throw SymbolFixtureError() }
        return value
    }

    @inline(never) public func fetch() async -> Int {
        await Task.yield()
        return port
    }

    public var doubled: Int {
        @inline(never) get { port &* 2 }
    }

    @inline(never) private func secret(salt: Int) -> Int {
        salt
    }
}

public struct SymbolFixtureError: Error {}

extension Array where Element == Int {
    @inline(never) public func symbolFixtureTotal() -> Int {
        reduce(0, &+)
    }
}

/// Calls every fixture, so none is dropped as unused.
@inline(never) public func exerciseSymbolFixtures() async throws -> Int {
    let server = SymbolFixtureServer.make()
    let results = [
        server.handle(request: 1), server.handle(2, urgently: true), server.echo(3), try server.validate(4),
        await server.fetch(), server.doubled,
    ]
    return results.symbolFixtureTotal()
}
