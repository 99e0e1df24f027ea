/// A descriptor lent for the length of one call by whoever owns it: a ``FileDescriptor``,
/// or libbcc, which owns a compiled module's table descriptors.
///
/// Only this target makes one, and only as a `borrowing` argument of a closure, which can
/// neither keep nor copy it: a descriptor cannot be used past its owner's life, and other
/// targets never see its number.
package struct BorrowedDescriptor: ~Copyable {
    /// The number, for the system calls of this target.
    let rawValue: Int32

    /// Lends `rawValue`; the caller keeps it open while the value lives.
    init(lending rawValue: Int32) {
        self.rawValue = rawValue
    }
}
