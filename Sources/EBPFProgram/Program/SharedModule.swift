import EBPFKernel

/// A program compiled once for several probes, freed when the last of them lets go.
///
/// Each probe takes a hold when it is made and gives it back when it detaches; whoever
/// compiled it holds it while attaching, so a failure halfway frees it with the probes
/// already made.
package final class SharedModule: Sendable {
    package let module: BPFModule
    private let holders = Lock(1)

    /// The compiler's hold is the first.
    package init(_ module: BPFModule) {
        self.module = module
    }

    /// Takes one more hold.
    package func hold() {
        holders.withLock { $0 += 1 }
    }

    /// Gives a hold back; the last one frees the program. Call once per hold.
    package func release() {
        let last = holders.withLock { holders -> Bool in
            holders -= 1
            return holders == 0
        }
        if last { module.close() }
    }
}
