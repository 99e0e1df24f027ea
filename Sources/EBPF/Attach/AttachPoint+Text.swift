import EBPFKernel

/// The text form of an attach point: bpftrace's probe syntax, parsed and printed here only.
///
/// | kind | text |
/// |---|---|
/// | tracepoint | `tracepoint:sched:sched_process_exec` (`t:`) |
/// | syscall entry, return | `syscall:openat`, `syscall_exit:read` |
/// | raw tracepoint | `rawtracepoint:sched_switch` (`rt:`) |
/// | kprobe, kretprobe | `kprobe:tcp_connect`, `kprobe:tcp_connect+16`, `kretprobe:vfs_read`, `kretprobe:vfs_read?maxactive=64` (`k:`, `kr:`) |
/// | fentry, fexit | `fentry:vfs_read`, `fexit:vfs_read` (`f:`, `fr:`, `kfunc:`, `kretfunc:`) |
/// | uprobe, uretprobe | `uprobe:/usr/bin/bash:readline`, `uprobe:c:malloc+4`, `uretprobe:/srv/app:Server.handle(request:)`, `uprobe:/srv/app:Server.*` (`u:`, `ur:`) |
/// | USDT | `usdt:/usr/bin/python3:python:function__entry`, `usdt:*:python:gc__start?pid=42` (`U:`) |
/// | perf event | `software:cpu-clock:1000000` (a period), `software:cpu-clock:99hz` (a frequency), `hardware:cycles:100000`, `perf:4:26:1000`, `profile:hz:99` |
/// | watchpoint | `watchpoint:0x7ffd2a10:8:w`, `watchpoint:0x401000:8:x?pid=42` (modes `r`, `w`, `x`, `rw`) |
/// | LSM hook | `lsm:file_open` |
/// | XDP | `xdp:eth0`, `xdp:eth0?mode=generic` (modes `auto`, `generic`, `driver`, `offload`) |
/// | tc | `tc:eth0:ingress`, `tc:eth0:egress` |
/// | cgroup program | `cgroup:connect4:/system.slice/nginx.service`, `cgroup:ingress:/x?mode=multi` (modes `link`, `multi`, `override`, `exclusive`; hooks `ingress`, `egress`, `sock_create`, `bind4`, `bind6`, `connect4`, `connect6`, `sendmsg4`, `sendmsg6`) |
///
/// `?pid=N` limits a uprobe, USDT probe, perf event or watchpoint to one process, `?cpu=N` a perf event to
/// one CPU; options are separated by commas, and begin at the first `?` followed by
/// `name=`. A uprobe's function is what follows the last lone `:` before its parameter list
/// (`uprobe:/srv/app:Server.handle(request:)`, `uprobe:stdc++:std::uncaught_exceptions`,
/// bpftrace's `uprobe:stdc++:cpp:"std::uncaught_exceptions"` too), or a regular expression
/// after `:/` (`uprobe:/srv/app:/^Server\./`); a USDT probe's `PROVIDER:NAME` is the last two
/// parts.
/// So a binary's path may hold colons (not `?` or `*`).
///
/// With `shorthands`, two more forms are read, as `ebpf-trace` has always read them: a
/// plain name is a syscall's entry (`openat`), and `category:name` whose category is not a
/// kind is a tracepoint (`sched:sched_switch`; the `xdp` and `cgroup` categories are kinds,
/// so their tracepoints are written `tracepoint:xdp:xdp_exception`).
extension AttachPoint: CustomStringConvertible {
    /// Reads an attach point from its text form.
    ///
    /// - Parameters:
    ///   - text: The attach point's text (`kprobe:tcp_connect`).
    ///   - shorthands: Also read a plain name as a syscall and `category:name` as a
    ///     tracepoint.
    /// - Throws: ``EBPFError/Code/invalidArgument`` saying what the text lacks, with an example.
    public init(parsing text: String, shorthands: Bool = false) throws(EBPFError) {
        var body = Substring(text)
        var options: [String: Substring] = [:]
        if let question = Self.optionsStart(in: body) {
            for option in body[body.index(after: question)...].split(separator: ",", omittingEmptySubsequences: false) {
                let pair = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2, !pair[0].isEmpty, options.updateValue(pair[1], forKey: String(pair[0])) == nil
                else {
                    throw Self.malformed(text, "its option '\(option)' is not name=value, or is given twice")
                }
            }
            body = body[..<question]
        }
        let colon = body.firstIndex(of: ":")
        let prefix = String(body[..<(colon ?? body.endIndex)])
        guard let colon, let kind = Self.prefixes[prefix] else {
            guard shorthands else {
                throw Self.malformed(
                    text,
                    "\(colon == nil ? "it names no kind" : "'\(prefix)' is not a kind of attach point"); write KIND:…, the kinds being \(Self.kindNames)"
                )
            }
            self = colon == nil ? .syscall(String(body)) : .tracepoint(String(body))
            try finish(text, options: options, allowed: [])
            return
        }
        let rest = body[body.index(after: colon)...]
        let pid = try Self.number(options["pid"], "pid", in: text, as: Int32.self)
        switch kind {
        case .tracepoint: self = .tracepoint(String(rest))
        case .syscall: self = .syscall(String(rest))
        case .syscallExit: self = .syscallExit(String(rest))
        case .rawTracepoint: self = .rawTracepoint(String(rest))
        case .kprobe:
            let (function, offset) = try Self.offset(rest, in: text)
            self = .kprobe(function, offset: offset)
        case .kretprobe:
            if rest.contains("+") { throw Self.malformed(text, "a kretprobe takes no offset: it runs at the return") }
            self = .kretprobe(
                String(rest), maxActive: try Self.number(options["maxactive"], "maxactive", in: text, as: Int.self) ?? 0
            )
        case .fentry: self = .fentry(String(rest))
        case .fexit: self = .fexit(String(rest))
        case .uprobe, .uretprobe:
            guard let (binary, function) = Self.splitUserFunction(rest) else {
                throw Self.malformed(
                    text,
                    "a \(kind) is \(kind):BINARY:FUNCTION, e.g. \(kind):/usr/bin/bash:readline or \(kind):/srv/app:Server.handle(request:)"
                )
            }
            if kind == .uretprobe {
                if Self.hasOffset(function) {
                    throw Self.malformed(text, "a uretprobe takes no offset: it runs at the return")
                }
                self = .uretprobe(String(function), in: String(binary), pid: pid)
            } else if Self.hasOffset(function) {
                let (name, offset) = try Self.offset(function, in: text)
                self = .uprobe(name, in: String(binary), offset: offset, pid: pid)
            } else {
                self = .uprobe(String(function), in: String(binary), pid: pid)
            }
        case .usdt:
            // PROVIDER:NAME are the last two parts (NAME alone when there are only two), so a
            // path may hold colons; `*` is every binary the process maps.
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
                throw Self.malformed(
                    text, "a USDT probe is usdt:BINARY:PROVIDER:NAME, e.g. usdt:/usr/bin/python3:python:gc__start")
            }
            let probeParts = parts.count == 2 ? 1 : 2
            let binary = parts.dropLast(probeParts).joined(separator: ":")
            self = .usdt(parts.suffix(probeParts).joined(separator: ":"), in: binary == "*" ? nil : binary, pid: pid)
        case .watchpoint: self = try Self.watchpoint(rest, in: text, pid: pid)
        case .lsm: self = .lsm(String(rest))
        case .xdp:
            let modeText = options["mode"] ?? "auto"
            guard let mode = XDPMode(rawValue: String(modeText)) else {
                throw Self.malformed(
                    text,
                    "its mode '\(modeText)' is not one of \(XDPMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = .xdp(String(rest), mode: mode)
        case .trafficControl:
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let direction = TrafficDirection(rawValue: String(parts[1])) else {
                throw Self.malformed(
                    text, "a tc point is tc:INTERFACE:ingress or tc:INTERFACE:egress, e.g. tc:eth0:egress")
            }
            self = .trafficControl(String(parts[0]), direction)
        case .cgroupProgram:
            guard let colon = rest.firstIndex(of: ":"), let hook = CgroupHook(rawValue: String(rest[..<colon])) else {
                throw Self.malformed(
                    text,
                    "a cgroup program's point is cgroup:HOOK:PATH, e.g. cgroup:connect4:/system.slice/nginx.service, the hooks being \(CgroupHook.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let modeText = options["mode"] ?? "link"
            guard let mode = CgroupAttachMode(rawValue: String(modeText)) else {
                throw Self.malformed(
                    text,
                    "its mode '\(modeText)' is not one of \(CgroupAttachMode.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            self = .cgroup(String(rest[rest.index(after: colon)...]), hook, mode: mode)
        default:
            let cpu = try Self.number(options["cpu"], "cpu", in: text, as: Int32.self)
            self = try Self.perfEvent(prefix: prefix, rest, in: text, pid: pid, cpu: cpu)
        }
        try finish(text, options: options, allowed: Self.options[kind] ?? [])
    }

    /// The text form, as ``init(parsing:shorthands:)`` reads it.
    public var description: String { text(withOptions: true) }

    /// The shortest text that reads back (with shorthands) as the same event, without the `?` options: the
    /// event's name, as ``ProbeEvent/eventName`` gives it (`syscalls:sys_enter_bind`,
    /// `kprobe:tcp_connect`).
    var eventName: String { text(withOptions: false) }

    /// The text form; without the options, with a tracepoint in its shorthand.
    private func text(withOptions: Bool) -> String {
        var options: [String] = []
        if let pid = processID { options.append("pid=\(pid)") }
        let name: String
        switch location {
        case .tracepoint(let tp):
            let isShorthand =
                !withOptions && tp.firstIndex(of: ":").map { Self.prefixes[String(tp[..<$0])] == nil } == true
            name = isShorthand ? tp : "tracepoint:\(tp)"
        case .syscall(let syscall, let exit): name = "\(exit ? Kind.syscallExit : Kind.syscall):\(syscall)"
        case .rawTracepoint(let tp): name = "rawtracepoint:\(tp)"
        case .kprobe(let function, let offset): name = "kprobe:\(function)" + Self.offsetText(offset)
        case .kretprobe(let function, let maxActive):
            name = "kretprobe:\(function)"
            if maxActive != 0 { options.append("maxactive=\(maxActive)") }
        case .kernelFunction(let function, let exit): name = "\(exit ? Kind.fexit : Kind.fentry):\(function)"
        case .userFunction(let function, let binary, let offset, let isReturn, _):
            // A name that itself ends like an offset (`f+4`) keeps an explicit `+0`, so that
            // it reads back as the name.
            let offsetText =
                offset == 0 && !isReturn && Self.hasOffset(Substring(function)) ? "+0" : Self.offsetText(offset)
            name = "\(isReturn ? Kind.uretprobe : Kind.uprobe):\(Self.userFunctionText(binary, function))" + offsetText
        case .usdt(let probe, let binary, _): name = "usdt:\(binary ?? "*"):\(probe)"
        case .perfEvent(let event, let sampling, _, let cpu):
            switch sampling {
            case .period(let period): name = "\(event):\(period)"
            case .frequency(let frequency): name = "\(event):\(frequency)hz"
            }
            if let cpu { options.append("cpu=\(cpu)") }
        case .watchpoint(let watchpoint, _): name = "watchpoint:\(watchpoint)"
        case .lsm(let hook): name = "lsm:\(hook)"
        case .xdp(let interface, let mode):
            name = "xdp:\(interface)"
            if mode != .automatic { options.append("mode=\(mode.rawValue)") }
        case .trafficControl(let interface, let direction): name = "tc:\(interface):\(direction.rawValue)"
        case .cgroupProgram(let cgroup, let hook, let mode):
            name = "cgroup:\(hook.rawValue):\(cgroup)"
            if mode != .link { options.append("mode=\(mode.rawValue)") }
        }
        return withOptions && !options.isEmpty ? name + "?" + options.joined(separator: ",") : name
    }

    /// Each prefix of the text form and the kind it names; bpftrace's short forms too.
    private static let prefixes: [String: Kind] = [
        "tracepoint": .tracepoint, "t": .tracepoint, "syscall": .syscall, "syscall_exit": .syscallExit,
        "rawtracepoint": .rawTracepoint, "rt": .rawTracepoint, "raw_tracepoint": .rawTracepoint,
        "kprobe": .kprobe, "k": .kprobe, "kretprobe": .kretprobe, "kr": .kretprobe,
        "fentry": .fentry, "f": .fentry, "kfunc": .fentry, "fexit": .fexit, "fr": .fexit, "kretfunc": .fexit,
        "uprobe": .uprobe, "u": .uprobe, "uretprobe": .uretprobe, "ur": .uretprobe, "usdt": .usdt, "U": .usdt,
        "software": .perfEvent, "s": .perfEvent, "hardware": .perfEvent, "h": .perfEvent, "perf": .perfEvent,
        "profile": .perfEvent, "watchpoint": .watchpoint, "w": .watchpoint, "lsm": .lsm, "xdp": .xdp,
        "tc": .trafficControl, "cgroup": .cgroupProgram,
    ]

    /// The prefixes as an error message lists them.
    private static let kindNames =
        "tracepoint, syscall, syscall_exit, rawtracepoint, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt, software, hardware, perf, profile, watchpoint, lsm, xdp, tc and cgroup"

    /// The `?` options each kind takes.
    private static let options: [Kind: Set<String>] = [
        .kretprobe: ["maxactive"], .uprobe: ["pid"], .uretprobe: ["pid"], .usdt: ["pid"], .perfEvent: ["pid", "cpu"],
        .watchpoint: ["pid"], .xdp: ["mode"], .cgroupProgram: ["mode"],
    ]

    /// Refuses options the kind does not take, then checks the names the point holds.
    private func finish(_ text: String, options: [String: Substring], allowed: Set<String>) throws(EBPFError) {
        if let unknown = options.keys.sorted().first(where: { !allowed.contains($0) }) {
            let takes = allowed.isEmpty ? "takes no options" : "takes " + allowed.sorted().joined(separator: ", ")
            throw Self.malformed(text, "a \(kind) \(takes), not '\(unknown)'")
        }
        try validate()
    }

    /// `software:NAME:COUNT`, `hardware:NAME:COUNT`, `perf:TYPE:CONFIG:COUNT` (a period, or
    /// a frequency with `hz`), and `profile:hz:N`, bpftrace's CPU-clock sampling.
    private static func perfEvent(
        prefix: String, _ rest: Substring, in text: String, pid: Int32?, cpu: Int32?
    ) throws(EBPFError) -> AttachPoint {
        let example = "e.g. software:cpu-clock:1000000 (every millisecond of CPU time) or software:cpu-clock:99hz"
        guard let colon = rest.lastIndex(of: ":") else {
            throw malformed(text, "a perf event is KIND:NAME:PERIOD or KIND:NAME:FREQUENCYhz, \(example)")
        }
        var count = rest[rest.index(after: colon)...]
        let name = prefix + ":" + rest[..<colon]
        var isFrequency = name == "profile:hz"
        if count.hasSuffix("hz") {
            count = count.dropLast(2)
            isFrequency = true
        }
        let event = name == "profile:hz" ? PerfEvent.software(.cpuClock) : PerfEvent(named: expand(name))
        guard let event, let value = UInt64(count) else {
            throw malformed(
                text,
                "'\(name)' is not a perf event or '\(count)' not a count; \(example); the names are \(PerfEvent.names.map(\.name).joined(separator: ", "))"
            )
        }
        return .perfEvent(event, sampling: isFrequency ? .frequency(value) : .period(value), pid: pid, cpu: cpu)
    }

    /// bpftrace's `ADDRESS:LENGTH:MODE` (`0x10000000:8:rw`).
    private static func watchpoint(_ rest: Substring, in text: String, pid: Int32?) throws(EBPFError) -> AttachPoint {
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        let address =
            parts.first.flatMap { $0.hasPrefix("0x") ? UInt64($0.dropFirst(2), radix: 16) : UInt64($0) }
        guard parts.count == 3, let address, let length = UInt32(parts[1]),
            let access = Watchpoint.access(letters: parts[2])
        else {
            throw malformed(text, "a watchpoint is watchpoint:ADDRESS:LENGTH:MODE, e.g. watchpoint:0x7ffd2a10:8:w")
        }
        return .watchpoint(Watchpoint(address: address, length: length, access: access), pid: pid)
    }

    /// `s:` and `h:` as `software:` and `hardware:`.
    private static func expand(_ name: String) -> String {
        if name.hasPrefix("s:") { return "software:" + name.dropFirst(2) }
        if name.hasPrefix("h:") { return "hardware:" + name.dropFirst(2) }
        return name
    }

    /// `function+offset` (decimal or `0x` hex) as the function and the offset.
    private static func offset(_ text: Substring, in whole: String) throws(EBPFError) -> (String, UInt64) {
        guard let plus = text.lastIndex(of: "+") else { return (String(text), 0) }
        let digits = text[text.index(after: plus)...]
        let value = digits.hasPrefix("0x") ? UInt64(digits.dropFirst(2), radix: 16) : UInt64(digits)
        guard let value else {
            throw malformed(whole, "'\(digits)' is not an offset; write function+16 or function+0x10")
        }
        return (String(text[..<plus]), value)
    }

    /// Where the options begin: at the first `?` followed by `name=`, so that a shell
    /// pattern's `?` (`uprobe:/srv/app:handle?`) stays in the function.
    private static func optionsStart(in body: Substring) -> Substring.Index? {
        var search = body[...]
        while let question = search.firstIndex(of: "?") {
            let after = body[body.index(after: question)...]
            let name = after.prefix { ($0.isASCII && $0.isLetter) || $0 == "_" }
            if !name.isEmpty, after.dropFirst(name.count).first == "=" { return question }
            search = after
        }
        return nil
    }

    /// A uprobe's `BINARY:FUNCTION`, split where the function begins: at a regular
    /// expression's `:/` when the text ends with `/`, else after the last lone `:` outside
    /// brackets before a parameter list (a Swift name's labels hold colons:
    /// `Server.handle(request:)`; a C++ name's scopes `::`: `ns::Counter::add`). So a
    /// binary's path may hold colons, and a regular expression may not hold `:/`. bpftrace's
    /// `BINARY:cpp:"ns::f"` is read as `BINARY:ns::f`.
    package static func splitUserFunction(_ rest: Substring) -> (binary: Substring, function: Substring)? {
        var split: Substring.Index?
        if rest.hasSuffix("/") {
            var index = rest.endIndex
            while index > rest.startIndex {
                index = rest.index(before: index)
                if rest[index] == ":", rest.index(after: index) < rest.endIndex, rest[rest.index(after: index)] == "/",
                    rest.index(after: index) < rest.index(before: rest.endIndex)
                {
                    split = index
                    break
                }
            }
        }
        if split == nil {
            // The last lone `:` outside brackets: a C++ scope's `::` and an ABI tag's
            // `[abi:cxx11]` are the function's.
            let head = rest[..<(rest.firstIndex(of: "(") ?? rest.endIndex)]
            var depth = 0
            var previous: Character?
            var index = head.startIndex
            while index < head.endIndex {
                let character = head[index]
                let next = head.index(after: index)
                switch character {
                case "<", "[": depth += 1
                case ">", "]": depth -= 1
                case "/": depth = 0  // Brackets of a path's earlier parts are not the function's.
                case ":" where depth == 0 && previous != ":" && (next == head.endIndex || head[next] != ":"):
                    split = index
                default: break
                }
                previous = character
                index = next
            }
        }
        guard let colon = split, colon != rest.startIndex, rest.index(after: colon) != rest.endIndex else {
            return nil
        }
        var binary = rest[..<colon]
        var function = rest[rest.index(after: colon)...]
        // bpftrace's spelling of a C++ name, `BINARY:cpp:"ns::f"`: the language and the
        // quotes say nothing more here.
        // (Not when the binary would be left ending in `:`, which would run into the `:` after
        // it as a C++ scope's `::`.)
        if binary.hasSuffix(":cpp"), binary.count > 4, !binary.dropLast(4).hasSuffix(":") {
            binary = binary.dropLast(4)
            if function.count > 2, function.first == "\"", function.last == "\"" {
                function = function.dropFirst().dropLast()
            }
        }
        return (binary, function)
    }

    /// `BINARY:FUNCTION` as ``splitUserFunction(_:)`` reads it back: a binary whose name ends
    /// in `:cpp` gets bpftrace's `:cpp` marker after it, which reading takes off. (A function
    /// name never holds the quotes reading would also take off: they are refused.)
    private static func userFunctionText(_ binary: String, _ function: String) -> String {
        binary.hasSuffix(":cpp") ? "\(binary):cpp:\(function)" : "\(binary):\(function)"
    }

    /// Whether a function ends in `+N` or `+0xN`, a number an offset reads: an offset, not
    /// part of a name (`operator+`, a pattern's `f+0x`).
    private static func hasOffset(_ function: Substring) -> Bool {
        guard let plus = function.lastIndex(of: "+"), plus != function.startIndex else { return false }
        let digits = function[function.index(after: plus)...]
        if digits.hasPrefix("0x") {
            let hex = digits.dropFirst(2)
            return !hex.isEmpty && hex.allSatisfy { $0.isASCII && $0.isHexDigit }
        }
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func offsetText(_ offset: UInt64) -> String { offset == 0 ? "" : "+\(offset)" }

    private static func number<Value: FixedWidthInteger>(
        _ text: Substring?, _ name: String, in whole: String, as: Value.Type
    ) throws(EBPFError) -> Value? {
        guard let text else { return nil }
        guard let value = Value(text) else { throw malformed(whole, "its \(name) '\(text)' is not a number") }
        return value
    }

    private static func malformed(_ text: String, _ reason: String) -> EBPFError {
        EBPFError(.invalidArgument, "\(NameValidation.quoted(text)) is not an attach point: \(reason)")
    }
}
