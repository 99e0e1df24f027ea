import EBPF
import FuzzSupport

/// libFuzzer entry: an attach point's text, as a configuration file or a command line gives
/// it. Parsing must refuse it with `invalidArgument`, or give a point whose text parses back
/// to the same point and prints the same text again; with shorthands as without.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAttachPoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for shorthands in [false, true] {
        let point: AttachPoint
        do {
            point = try AttachPoint(parsing: text, shorthands: shorthands)
        } catch {
            precondition(error.code == .invalidArgument, "\(error.code) for \(text.debugDescription)")
            continue
        }
        let printed = point.description
        let reread: AttachPoint
        do {
            reread = try AttachPoint(parsing: printed)
        } catch {
            preconditionFailure("\(printed.debugDescription), printed from \(text.debugDescription), is refused: \(error)")
        }
        precondition(reread == point, "\(printed.debugDescription) reads back as another point than \(text.debugDescription)")
        precondition(reread.description == printed, "\(printed.debugDescription) prints differently once reread")
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_attach_point_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzAttachPoint)
}
