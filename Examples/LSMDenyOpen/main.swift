// An LSM policy: one program may not open one file. Every other program opens it, and the
// program opens everything else; the kernel answers its open with EPERM while this runs.
// Needs the BPF LSM active (`bpf` in /sys/kernel/security/lsm).
//
// Both are matched by name, as the kernel knows them at the hook on any filesystem: the
// process's name (its binary's, up to 15 characters) and the file's name in its directory.
//
//   swift run lsm-deny-open BINARY FILE [seconds]
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    #include <linux/dcache.h>
    #include <linux/fs.h>
    #include <uapi/asm-generic/errno-base.h>
    struct policy { char binary[16]; char file[64]; };
    BPF_ARRAY(policies, struct policy, 1);
    LSM_PROBE(file_open, struct file *file) {
        int zero = 0;
        struct policy *policy = policies.lookup(&zero);
        if (policy == NULL) return 0;
        char comm[16] = {};
        bpf_get_current_comm(&comm, sizeof(comm));
        #pragma unroll
        for (int i = 0; i < 16; i++) {
            if (comm[i] != policy->binary[i]) return 0;
            if (comm[i] == 0) break;
        }
        char name[64] = {};
        bpf_probe_read_kernel_str(&name, sizeof(name), file->f_path.dentry->d_name.name);
        #pragma unroll
        for (int i = 0; i < 64; i++) {
            if (name[i] != policy->file[i]) return 0;
            if (name[i] == 0) break;
        }
        return -EPERM;
    }
    """

/// `struct policy`: the names, NUL-padded.
struct Policy: BitwiseCopyable {
    var binary: (UInt64, UInt64) = (0, 0)
    var file: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    init(binary: String, file: String) {
        withUnsafeMutableBytes(of: &self.binary) { $0.copyBytes(from: binary.utf8.prefix(15)) }
        withUnsafeMutableBytes(of: &self.file) { $0.copyBytes(from: file.utf8.prefix(63)) }
    }
}

/// The last component of `path`.
func name(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

Example.catchInterrupts()
Example.run {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard arguments.count >= 2, !name(arguments[0]).isEmpty, !name(arguments[1]).isEmpty else {
        print("usage: lsm-deny-open BINARY FILE [seconds]")
        exit(2)
    }
    let seconds = arguments.dropFirst(2).first.flatMap(Int.init) ?? 5
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    let policies = try b.table("policies", key: UInt32.self, value: Policy.self)
    _ = try policies.updateValue(Policy(binary: name(arguments[0]), file: name(arguments[1])), forKey: 0)
    try b.attach(function: "lsm__file_open", to: .lsm("file_open"))
    print(
        "Denying \(name(arguments[0])) the opening of files named \(name(arguments[1])) for \(seconds) s (or until Ctrl-C)..."
    )
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
}
