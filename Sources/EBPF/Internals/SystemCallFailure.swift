/// A system call that failed: its name and the errno it left. Internal layers throw it; the
/// public API turns it into an ``EBPFError`` that says what was being done.
struct SystemCallFailure: Error {
    var call: String
    var errno: Int32
}
