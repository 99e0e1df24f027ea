// Every bind() on the machine: process name, pid, socket and address, with no C.
//
//   swift run bind-printer [seconds]
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let seconds = CommandLine.arguments.dropFirst().first.flatMap(UInt32.init) ?? 5
do {
    let b = try EBPFWrapper()
    try b.attachKprobe(event: b.syscallFunctionName("bind")) { event in
        print(event.processName, event.processID, event.fd?.intValue ?? -1, event.umyaddr?.description ?? "-")
    }
    sleep(seconds)
    b.close()
} catch {
    print(error)
    exit(1)
}
