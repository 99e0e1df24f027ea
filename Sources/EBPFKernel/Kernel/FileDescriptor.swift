#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor that this value owns: it is closed exactly once, when the value
/// is consumed by ``close()`` or goes out of scope. The compiler forbids copies, so no two
/// owners can close the same number (or a number reused by someone else).
///
/// Its number never leaves this target: other targets pass the descriptor itself, or lend
/// it as a ``BorrowedDescriptor`` for the length of a call.
package struct FileDescriptor: ~Copyable {
    /// The descriptor's number, for the system calls of this target. Valid while `self` lives.
    let rawValue: Int32

    /// Takes ownership of `rawValue`, an open descriptor nobody else will close.
    init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        _ = Glibc.close(rawValue)
    }

    /// Closes the descriptor now.
    package consuming func close() {}

    /// Gives the number to an owner that will close it (a ``DescriptorGroup``), unclosed.
    consuming func release() -> Int32 {
        let number = rawValue
        discard self
        return number
    }

    /// Runs `body` with the descriptor lent as a ``BorrowedDescriptor``: what the map, attach
    /// and mapping calls take, whoever owns the descriptor.
    package func lend<Result: ~Copyable, Failure: Error>(
        _ body: (borrowing BorrowedDescriptor) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(BorrowedDescriptor(lending: rawValue))
    }

    /// Runs `body` with the number, for a public call that hands it to the library's user
    /// (``LoadedFunction``'s `withFileDescriptor`, as bcc's `fn.fd`). The library's own calls
    /// take the descriptor (`scripts/check-layers.sh` holds other targets to that).
    package func withNumberForUser<Result>(_ body: (Int32) throws -> Result) rethrows -> Result {
        try body(rawValue)
    }

    /// A path that opens the same file, whatever its own path names by now
    /// (`/proc/self/fd/N`): for calls that take a path, such as libbcc's uprobe attach.
    var procPath: String { "/proc/self/fd/\(rawValue)" }

    /// `open(2)` with `O_CLOEXEC`.
    package static func open(_ path: String, _ flags: Int32) throws(SystemCallFailure) -> FileDescriptor {
        FileDescriptor(adopting: try SystemCall.check("open") { Glibc.open(path, flags | O_CLOEXEC) })
    }

    /// A second descriptor for the same open file (`dup(2)`, close-on-exec), owned by the
    /// result: for keeping a file that someone else owns open as long as we need it.
    package static func duplicate(_ other: borrowing BorrowedDescriptor) throws(SystemCallFailure) -> FileDescriptor {
        FileDescriptor(adopting: try SystemCall.check("fcntl") { fcntl(other.rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// Whether the descriptor is open on a regular file (`fstat(2)`).
    package var isRegularFile: Bool {
        var status = stat()
        return fstat(rawValue, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// `read(2)` into `buffer`; 0 at end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallFailure) -> Int {
        try SystemCall.check("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// The file's size in bytes (`fstat(2)`'s `st_size`).
    package func size() throws(SystemCallFailure) -> UInt64 {
        var status = stat()
        try SystemCall.check("fstat") { fstat(rawValue, &status) }
        return UInt64(clamping: status.st_size)
    }

    /// `count` bytes from `offset` (`pread(2)`, repeated until all are read); fewer when the
    /// file ends first, none at or past its end. The file position is left as it was.
    package func read(at offset: UInt64, count: Int) throws(SystemCallFailure) -> [UInt8] {
        guard count > 0 else { return [] }
        // pread takes a signed offset: a range past Int64.max is refused, as the kernel would.
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        guard !overflow, end <= UInt64(Int64.max) else { throw SystemCallFailure(call: "pread", errno: EINVAL) }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let read = try bytes.withUnsafeMutableBufferPointer { (buffer) throws(SystemCallFailure) in
                try SystemCall.check("pread") {
                    Glibc.pread(rawValue, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                }
            }
            if read == 0 { break }
            done += read
        }
        bytes.removeSubrange(done...)
        return bytes
    }

    /// Waits up to `milliseconds` for the descriptor to become readable; false on time-out.
    package func waitReadable(milliseconds: Int32) throws(SystemCallFailure) -> Bool {
        var descriptor = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        return try SystemCall.check("poll") { Glibc.poll(&descriptor, 1, milliseconds) } > 0
    }

    /// Reads everything up to end of file (kernel pseudo-files report size 0; a file that
    /// reports its size, such as the kernel's 6 MB BTF, is read into one allocation).
    package func readToEnd() throws(SystemCallFailure) -> [UInt8] {
        var bytes: [UInt8] = []
        if let size = try? self.size(), size > 0 { bytes.reserveCapacity(Int(size)) }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try chunk.withUnsafeMutableBufferPointer { (buffer) throws(SystemCallFailure) in
                try read(into: UnsafeMutableRawBufferPointer(buffer))
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }
}

/// A shared memory mapping (`mmap(2)`) that this value owns and unmaps when it goes away.
package struct MemoryMapping: ~Copyable {
    package let base: UnsafeMutableRawPointer
    package let size: Int

    /// Maps `size` bytes of `fd` from `offset`.
    init(fd: borrowing FileDescriptor, size: Int, offset: Int = 0, writable: Bool) throws(SystemCallFailure) {
        try self.init(rawFD: fd.rawValue, size: size, offset: offset, writable: writable)
    }

    /// Maps `size` bytes of a descriptor owned elsewhere (a libbcc map's); the mapping keeps
    /// the file alive on its own, so it may outlive that descriptor.
    init(fd: borrowing BorrowedDescriptor, size: Int, offset: Int = 0, writable: Bool) throws(SystemCallFailure) {
        try self.init(rawFD: fd.rawValue, size: size, offset: offset, writable: writable)
    }

    private init(rawFD: Int32, size: Int, offset: Int, writable: Bool) throws(SystemCallFailure) {
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        Glibc.errno = 0
        guard let base = mmap(nil, size, protection, MAP_SHARED, rawFD, off_t(offset)), base != MAP_FAILED else {
            throw SystemCallFailure(call: "mmap", errno: Glibc.errno)
        }
        self.base = base
        self.size = size
    }

    deinit {
        munmap(base, size)
    }

    package static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
}
