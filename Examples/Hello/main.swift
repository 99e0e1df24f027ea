// pyebpf's hello world, in Swift with no C: a closure on every clone().
//
//   swift run hello [seconds]
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()
Example.run {
    let b = try EBPFWrapper()
    try b.attachKprobe(event: b.syscallFunctionName("clone")) { event in
        print("\(event.processID) Hello, World!")
    }
    sleep(UInt32(seconds))
    b.close()
}
