// pyebpf's hello world, in Swift with no C: a closure on every clone().
//
//   swift run hello [seconds]
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let seconds = CommandLine.arguments.dropFirst().first.flatMap(UInt32.init) ?? 5
do {
    let b = try EBPFWrapper()
    try b.attachKprobe(event: b.syscallFunctionName("clone")) { event in
        print("\(event.processID) Hello, World!")
    }
    sleep(seconds)
    b.close()
} catch {
    print(error)
    exit(1)
}
