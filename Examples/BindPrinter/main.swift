// Every bind() on the machine: process name, pid, socket and address, with no C.
//
//   swift run bind-printer [seconds]
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()
Example.run {
    let b = try EBPFWrapper()
    try b.attachKprobe(event: b.syscallFunctionName("bind")) { event in
        // Names come from the traced processes: shown escaped, they cannot drive the terminal.
        print(
            event.processName.terminalSafe, event.processID, event.fd?.intValue ?? -1,
            event.umyaddr?.description.terminalSafe ?? "-")
    }
    sleep(UInt32(seconds))
    b.close()
}
