import EBPFKernel

/// Where a BPF program runs: one kernel or user-space event, described the same way for
/// closure probes, aggregations, your own C (``EBPFWrapper/attach(function:to:)``),
/// `ebpf-trace` and the exporter's configuration.
///
/// Build one in Swift (`.syscall("openat")`, `.kprobe("tcp_connect")`,
/// `.uprobe("readline", in: "/usr/bin/bash")`) or from its text, bpftrace's probe syntax:
///
/// ```swift
/// let point = try AttachPoint(parsing: "tracepoint:syscalls:sys_enter_openat")
/// print(point)  // tracepoint:syscalls:sys_enter_openat
/// ```
///
/// A value only: nothing is checked against the kernel until it is attached.
public struct AttachPoint: Sendable, Hashable {
    /// What kind of event a point is, named as in its text form (`kprobe`, `rawtracepoint`).
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A kernel tracepoint by `category:name`.
        public static let tracepoint = Kind(rawValue: "tracepoint")
        /// A syscall's entry by name: its `syscalls:sys_enter_<name>` tracepoint.
        public static let syscall = Kind(rawValue: "syscall")
        /// A syscall's return by name: its `syscalls:sys_exit_<name>` tracepoint.
        public static let syscallExit = Kind(rawValue: "syscall_exit")
        /// A raw tracepoint (kernel 4.17): the tracepoint's raw arguments, no format.
        public static let rawTracepoint = Kind(rawValue: "rawtracepoint")
        /// A kernel function's entry, or an instruction at an offset into it.
        public static let kprobe = Kind(rawValue: "kprobe")
        /// A kernel function's return.
        public static let kretprobe = Kind(rawValue: "kretprobe")
        /// A kernel function's entry through a BPF trampoline (kernel 5.5, BTF).
        public static let fentry = Kind(rawValue: "fentry")
        /// A kernel function's return through a BPF trampoline, with its arguments.
        public static let fexit = Kind(rawValue: "fexit")
        /// A function of an executable or library, at entry or an offset into it.
        public static let uprobe = Kind(rawValue: "uprobe")
        /// A function of an executable or library, at its return.
        public static let uretprobe = Kind(rawValue: "uretprobe")
        /// A USDT probe: a uprobe at each of its sites, its semaphore raised while attached.
        public static let usdt = Kind(rawValue: "usdt")
        /// A hardware or software perf event, sampled by period or frequency.
        public static let perfEvent = Kind(rawValue: "perf_event")
        /// A hardware breakpoint on memory: reads, writes or executions of an address.
        public static let watchpoint = Kind(rawValue: "watchpoint")
        /// An LSM hook (kernel 5.7 with the BPF LSM active): the program's return can deny.
        public static let lsm = Kind(rawValue: "lsm")
        /// XDP on a network interface: its received packets, before the stack sees them.
        public static let xdp = Kind(rawValue: "xdp")
        /// A tc classifier on a network interface's ingress or egress.
        public static let trafficControl = Kind(rawValue: "tc")
        /// A cgroup program: the cgroup's packets, socket creations, connects or binds.
        public static let cgroupProgram = Kind(rawValue: "cgroup")
    }

    /// The one description of each kind: every property and dispatch switches over it.
    enum Location: Sendable, Hashable {
        case tracepoint(String)
        case syscall(String, exit: Bool)
        case rawTracepoint(String)
        case kprobe(String, offset: UInt64)
        case kretprobe(String, maxActive: Int)
        case kernelFunction(String, exit: Bool)
        case userFunction(function: String, binary: String, offset: UInt64, isReturn: Bool, pid: Int32?)
        case usdt(probe: String, binary: String?, pid: Int32?)
        case perfEvent(PerfEvent, sampling: PerfEventSampling, pid: Int32?, cpu: Int32?)
        case watchpoint(Watchpoint, pid: Int32?)
        case lsm(String)
        case xdp(interface: String, mode: XDPMode)
        case trafficControl(interface: String, direction: TrafficDirection)
        case cgroupProgram(cgroup: String, hook: CgroupHook, mode: CgroupAttachMode)
    }

    let location: Location

    init(_ location: Location) { self.location = location }

    /// A kernel tracepoint, `"category:name"` (`"sched:sched_process_exec"`); the kernel's
    /// list is in `<tracefs>/available_events`.
    public static func tracepoint(_ tp: String) -> AttachPoint { AttachPoint(.tracepoint(tp)) }

    /// A syscall's entry by its plain name (`"bind"`): its `syscalls:sys_enter_<name>`
    /// tracepoint, which carries the syscall's named arguments.
    public static func syscall(_ name: String) -> AttachPoint { AttachPoint(.syscall(name, exit: false)) }

    /// A syscall's return by its plain name (`"read"`): its `syscalls:sys_exit_<name>`
    /// tracepoint, whose `ret` field is the return value (a negative errno on failure).
    public static func syscallExit(_ name: String) -> AttachPoint { AttachPoint(.syscall(name, exit: true)) }

    /// The tracepoint a syscall's entry (or with `exit`, its return) is:
    /// `syscalls:sys_enter_<name>`, `syscalls:sys_exit_<name>`.
    static func syscallTracepoint(_ name: String, exit: Bool) -> AttachPoint {
        .tracepoint("syscalls:" + (exit ? "sys_exit_" : "sys_enter_") + name)
    }

    /// A raw tracepoint by name without its category (`"sys_enter"`, `"sched_switch"`).
    /// Needs kernel 4.17.
    public static func rawTracepoint(_ name: String) -> AttachPoint { AttachPoint(.rawTracepoint(name)) }

    /// The entry of a kernel function, or the instruction `offset` bytes into it. A
    /// syscall's entry function (`__x64_sys_bind`) carries the syscall's named arguments and,
    /// on a kernel without kprobes, falls back to the syscall's entry tracepoint. Needs a
    /// kernel built with `CONFIG_KPROBES`.
    public static func kprobe(_ function: String, offset: UInt64 = 0) -> AttachPoint {
        AttachPoint(.kprobe(function, offset: offset))
    }

    /// The return of a kernel function. `maxActive`: how many calls may be in flight at
    /// once and still be caught, up to 4096 (0: the kernel's default, the larger of 10 and
    /// twice the possible CPUs).
    public static func kretprobe(_ function: String, maxActive: Int = 0) -> AttachPoint {
        AttachPoint(.kretprobe(function, maxActive: maxActive))
    }

    /// The entry of a kernel function through fentry: a BPF trampoline, cheaper than a
    /// kprobe. Needs kernel 5.5 with BTF, and a kernel that allows tracing programs.
    public static func fentry(_ function: String) -> AttachPoint { AttachPoint(.kernelFunction(function, exit: false)) }

    /// The return of a kernel function through fexit: its arguments as at entry and its
    /// return value. Needs what ``fentry(_:)`` needs.
    public static func fexit(_ function: String) -> AttachPoint { AttachPoint(.kernelFunction(function, exit: true)) }

    /// The entry of a function of an executable or library (a path, or a library name such
    /// as `"c"`), or the instruction `offset` bytes into it. With a `pid`, only that
    /// process's calls.
    ///
    /// `function` is written as people write it, and probes every function it names, all or
    /// none:
    /// - a Swift function by its name, with or without its module, enclosing types and
    ///   argument labels (`"MyService.Server.handle(request:)"`, `"Server.handle"`: without
    ///   labels, every overload), `"static Server.make()"` for a static one;
    /// - a C++ function by its demangled name, as `c++filt` prints it, with or without
    ///   enclosing scopes, template arguments and parameters (`"ns::Counter::add(long, long)
    ///   const"`, `"Counter::add"`: every overload, `"ns::twice"`: every instantiation);
    /// - a symbol as the file spells it: a C function (`"malloc"`), a mangled Swift or C++ name;
    /// - a shell pattern of either (`"Server.handle*"`), or a POSIX extended regular
    ///   expression between slashes (`"/^Server\\.(get|put)/"`), as bcc's `sym_re`: at most
    ///   512 functions.
    ///
    /// Functions are found in the binary's own symbol tables (`.symtab`, `.dynsym`); an
    /// offset needs a name that selects one function. ``UserFunction/all(in:matching:)``
    /// lists them.
    public static func uprobe(_ function: String, in binary: String, offset: UInt64 = 0, pid: Int32? = nil)
        -> AttachPoint
    {
        AttachPoint(.userFunction(function: function, binary: binary, offset: offset, isReturn: false, pid: pid))
    }

    /// The return of a function of an executable or library, named as ``uprobe(_:in:offset:pid:)``
    /// names it. With a `pid`, only that process's returns. A closure probe's `ret` is the
    /// return register, whole (a C `int` is its low 32 bits).
    public static func uretprobe(_ function: String, in binary: String, pid: Int32? = nil) -> AttachPoint {
        AttachPoint(.userFunction(function: function, binary: binary, offset: 0, isReturn: true, pid: pid))
    }

    /// A USDT probe (`provider:name`, or a name alone) of an executable or library, or of
    /// the binaries process `pid` maps; with a `pid`, only that process's events.
    public static func usdt(_ probe: String, in binary: String? = nil, pid: Int32? = nil) -> AttachPoint {
        AttachPoint(.usdt(probe: probe, binary: binary, pid: pid))
    }

    /// A hardware or software perf event, sampled every `period` events or at a frequency:
    /// on every CPU, or on `cpu`, or following process `pid`.
    public static func perfEvent(
        _ event: PerfEvent, sampling: PerfEventSampling, pid: Int32? = nil, cpu: Int32? = nil
    ) -> AttachPoint {
        AttachPoint(.perfEvent(event, sampling: sampling, pid: pid, cpu: cpu))
    }

    /// A hardware breakpoint: each read, write or execution of `watchpoint`'s bytes, by
    /// process `pid` or by any (bpftrace's `watchpoint:`). The CPU has four debug registers.
    public static func watchpoint(_ watchpoint: Watchpoint, pid: Int32? = nil) -> AttachPoint {
        AttachPoint(.watchpoint(watchpoint, pid: pid))
    }

    /// An LSM hook by name (`"file_open"`, `"socket_connect"`: the kernel's `bpf_lsm_<hook>`
    /// functions), for a function written with bcc's `LSM_PROBE(hook, …)`. Needs kernel
    /// 5.7 with the BPF LSM active (`bpf` in `/sys/kernel/security/lsm`, from the `lsm=`
    /// boot parameter) and a kernel that allows tracing programs.
    public static func lsm(_ hook: String) -> AttachPoint { AttachPoint(.lsm(hook)) }

    /// XDP on network interface `interface` (of the calling thread's network namespace),
    /// through a BPF link: the program's verdict (`XDP_PASS`, `XDP_DROP`) decides each
    /// received packet's fate. Detached with the handle, the wrapper, or at the latest
    /// when the process exits. Needs kernel 5.9 (XDP links).
    public static func xdp(_ interface: String, mode: XDPMode = .automatic) -> AttachPoint {
        AttachPoint(.xdp(interface: interface, mode: mode))
    }

    /// A tc classifier on the ingress or egress of network interface `interface`, run in
    /// direct-action mode: its return is the verdict (`TC_ACT_OK`, `TC_ACT_SHOT`).
    public static func trafficControl(_ interface: String, _ direction: TrafficDirection) -> AttachPoint {
        AttachPoint(.trafficControl(interface: interface, direction: direction))
    }

    /// A cgroup program on `hook` of the cgroup at `cgroup` (a directory of the cgroup2
    /// mount, or a path from the hierarchy's root as ``Cgroup/init(path:)`` takes it),
    /// covering every process in it and its descendants: through a BPF link beside the
    /// cgroup's other programs (kernel 5.7), or with `mode`'s attach flags, as bcc's
    /// `attach_func(fn, cgroup_fd, attach_type, flags)`.
    public static func cgroup(_ cgroup: String, _ hook: CgroupHook, mode: CgroupAttachMode = .link) -> AttachPoint {
        AttachPoint(.cgroupProgram(cgroup: cgroup, hook: hook, mode: mode))
    }

    /// The kind of event.
    public var kind: Kind {
        switch location {
        case .tracepoint: return .tracepoint
        case .syscall(_, let exit): return exit ? .syscallExit : .syscall
        case .rawTracepoint: return .rawTracepoint
        case .kprobe: return .kprobe
        case .kretprobe: return .kretprobe
        case .kernelFunction(_, let exit): return exit ? .fexit : .fentry
        case .userFunction(_, _, _, let isReturn, _): return isReturn ? .uretprobe : .uprobe
        case .usdt: return .usdt
        case .perfEvent: return .perfEvent
        case .watchpoint: return .watchpoint
        case .lsm: return .lsm
        case .xdp: return .xdp
        case .trafficControl: return .trafficControl
        case .cgroupProgram: return .cgroupProgram
        }
    }

    /// The type a program must be loaded as to run here.
    public var programType: ProgramType {
        switch location {
        case .tracepoint, .syscall: return .tracepoint
        case .rawTracepoint: return .rawTracepoint
        case .kprobe, .kretprobe, .userFunction, .usdt: return .kprobe
        case .kernelFunction: return .tracing
        case .perfEvent, .watchpoint: return .perfEvent
        case .lsm: return .lsm
        case .xdp: return .xdp
        case .trafficControl: return .schedCLS
        case .cgroupProgram(_, let hook, _): return hook.programType
        }
    }

    /// The process the point is limited to, for the kinds that take one.
    public var processID: Int32? {
        switch location {
        case .userFunction(_, _, _, _, let pid), .usdt(_, _, let pid), .perfEvent(_, _, let pid, _),
            .watchpoint(_, let pid):
            return pid
        case .tracepoint, .syscall, .rawTracepoint, .kprobe, .kretprobe, .kernelFunction, .lsm, .xdp,
            .trafficControl, .cgroupProgram:
            return nil
        }
    }

    /// The same point limited to process `pid`, for the kinds that take one (uprobes,
    /// uretprobes, USDT probes, perf events, watchpoints); other kinds are the same everywhere, and come
    /// back unchanged (a ``ProbeFilter`` limits their events).
    public func inProcess(_ pid: Int32) -> AttachPoint {
        switch location {
        case .userFunction(let function, let binary, let offset, let isReturn, _):
            return AttachPoint(
                .userFunction(function: function, binary: binary, offset: offset, isReturn: isReturn, pid: pid))
        case .usdt(let probe, let binary, _): return AttachPoint(.usdt(probe: probe, binary: binary, pid: pid))
        case .perfEvent(let event, let sampling, _, let cpu):
            return AttachPoint(.perfEvent(event, sampling: sampling, pid: pid, cpu: cpu))
        case .watchpoint(let watchpoint, _): return AttachPoint(.watchpoint(watchpoint, pid: pid))
        case .tracepoint, .syscall, .rawTracepoint, .kprobe, .kretprobe, .kernelFunction, .lsm, .xdp, .trafficControl,
            .cgroupProgram:
            return self
        }
    }

    /// Where a call that enters at this point returns: a syscall's exit, a kprobe's
    /// kretprobe, a uprobe's uretprobe, fentry's fexit; nil for a point with no return, or
    /// one at an offset into a function. What ``AggregationMeasure/latency`` pairs.
    public var returnPoint: AttachPoint? {
        switch location {
        case .syscall(let name, exit: false): return .syscallExit(name)
        case .kprobe(let function, offset: 0): return .kretprobe(function)
        case .kernelFunction(let function, exit: false): return .fexit(function)
        case .userFunction(let function, let binary, 0, isReturn: false, let pid):
            return .uretprobe(function, in: binary, pid: pid)
        case .syscall, .kprobe, .kernelFunction, .userFunction, .tracepoint, .rawTracepoint, .kretprobe, .usdt,
            .perfEvent, .watchpoint, .lsm, .xdp, .trafficControl, .cgroupProgram:
            return nil
        }
    }

    /// Checks every name the point holds before it reaches C text, a tracefs path or a
    /// system call, and the numbers it holds: what ``EBPFWrapper/attach(function:to:)`` and
    /// the closure probes check first.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` naming what is wrong.
    public func validate() throws(EBPFError) {
        switch location {
        case .tracepoint(let tp):
            let (category, name) = try Tracefs.splitTracepoint(tp)
            try NameValidation.tracepointComponent(category, what: "tracepoint category")
            try NameValidation.tracepointComponent(name, what: "tracepoint name")
        case .syscall(let name, _):
            try NameValidation.identifier(name, what: "syscall name")
        case .rawTracepoint(let name):
            try NameValidation.tracepointComponent(name, what: "raw tracepoint name")
        case .kprobe(let function, _), .kernelFunction(let function, _):
            try NameValidation.symbol(function, what: "kernel function name")
        case .kretprobe(let function, let maxActive):
            try NameValidation.symbol(function, what: "kernel function name")
            // The kernel's KRETPROBE_MAXACTIVE_MAX.
            guard (0...4096).contains(maxActive) else {
                throw EBPFError(
                    .invalidArgument, "maxactive is \(maxActive); pass 0 for the kernel's default, or up to 4096")
            }
        case .userFunction(let function, let binary, _, _, let pid):
            try Self.validate(binary: binary)
            try NameValidation.userFunction(function)
            try Self.validate(pid)
        case .usdt(let probe, let binary, let pid):
            if let binary { try Self.validate(binary: binary) }
            let parts = probe.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw EBPFError(
                    .invalidArgument, "USDT probe \(NameValidation.quoted(probe)) is not provider:name or name")
            }
            for part in parts { try NameValidation.identifier(String(part), what: "USDT provider or probe name") }
            if parts.count == 1, binary?.contains(":") == true {
                throw EBPFError(
                    .invalidArgument,
                    "name USDT probe \(probe)'s provider (provider:name): in its binary's path \(binary ?? "") a colon would read as one"
                )
            }
            guard binary != nil || pid != nil else {
                throw EBPFError(
                    .invalidArgument, "USDT probe \(probe) needs a binary, a pid, or both, to be found in")
            }
            try Self.validate(pid)
        case .perfEvent(_, let sampling, let pid, let cpu):
            switch sampling {
            case .period(0), .frequency(0):
                throw EBPFError(.invalidArgument, "the sampling period or frequency must be greater than zero")
            case .period, .frequency: break
            }
            try Self.validate(pid)
            if let cpu, cpu < 0 {
                throw EBPFError(.invalidArgument, "cpu \(cpu) is not a CPU number; pass nil for every CPU")
            }
        case .watchpoint(let watchpoint, let pid):
            try watchpoint.validate()
            try Self.validate(pid)
        case .lsm(let hook):
            try NameValidation.identifier(hook, what: "LSM hook name")
        case .xdp(let interface, _), .trafficControl(let interface, _):
            try NameValidation.interfaceName(interface)
        case .cgroupProgram(let cgroup, _, _):
            try NameValidation.cgroupPath(cgroup)
        }
    }

    /// A uprobe's or USDT probe's binary: a path the kernel can read (``NameValidation``),
    /// which the text form can hold.
    private static func validate(binary: String) throws(EBPFError) {
        try NameValidation.binaryPath(binary)
        guard binary != "*", !binary.contains("?") else {
            throw EBPFError(
                .invalidArgument,
                "the binary path \(NameValidation.quoted(binary)) is '*' or holds '?', which an attach point's text uses (every binary of a process; the options); link or copy the binary to another path"
            )
        }
    }

    private static func validate(_ pid: Int32?) throws(EBPFError) {
        if let pid, pid <= 0 {
            throw EBPFError(.invalidArgument, "pid \(pid) is not a process id; pass nil for every process")
        }
    }
}
