// An LSM policy: one binary may not open one file. Every other program opens it, and the
// binary opens everything else; the kernel answers the binary's open with EPERM while this
// runs. Needs the BPF LSM active (`bpf` in /sys/kernel/security/lsm). Files are matched by
// inode and device as stat(2) reports them: on overlayfs and btrfs subvolumes, whose st_dev
// is not the kernel's superblock device, nothing matches.
//
//   swift run lsm-deny-open BINARY FILE [seconds]
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    #include <linux/fs.h>
    #include <linux/mm_types.h>
    #include <linux/sched.h>
    #include <uapi/asm-generic/errno-base.h>
    LSM_PROBE(file_open, struct file *file) {
        if (file->f_inode->i_ino != FILE_INODE || file->f_inode->i_sb->s_dev != FILE_DEVICE) return 0;
        // The task is no BTF pointer before bpf_get_current_task_btf (5.11): read through it.
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        struct mm_struct *mm = NULL;
        struct file *exe = NULL;
        struct inode *inode = NULL;
        unsigned long binary = 0;
        bpf_probe_read_kernel(&mm, sizeof(mm), &task->mm);
        if (mm) bpf_probe_read_kernel(&exe, sizeof(exe), &mm->exe_file);
        if (exe) bpf_probe_read_kernel(&inode, sizeof(inode), &exe->f_inode);
        if (inode) bpf_probe_read_kernel(&binary, sizeof(binary), &inode->i_ino);
        return binary == BINARY_INODE ? -EPERM : 0;
    }
    """

/// The inode and device of `path` (the kernel's device number, as `i_sb->s_dev` holds it).
func identity(_ path: String) -> (inode: UInt64, device: UInt64)? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    let device = UInt64(status.st_dev)
    // glibc's dev_t packs major and minor differently from the kernel's (major << 20 | minor).
    let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~0xFFF)
    let minor = (device & 0xFF) | ((device >> 12) & ~0xFF)
    return (UInt64(status.st_ino), (major << 20) | minor)
}

Example.catchInterrupts()
Example.run {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard arguments.count >= 2, let binary = identity(arguments[0]), let file = identity(arguments[1]) else {
        print("usage: lsm-deny-open BINARY FILE [seconds] (both must exist)")
        exit(2)
    }
    let seconds = arguments.dropFirst(2).first.flatMap(Int.init) ?? 5
    let b = try EBPFWrapper(
        text: program,
        cflags: ["-DBINARY_INODE=\(binary.inode)", "-DFILE_INODE=\(file.inode)", "-DFILE_DEVICE=\(file.device)"])
    defer { b.close() }
    try b.attach(function: "lsm__file_open", to: .lsm("file_open"))
    print("Denying \(arguments[0]) the opening of \(arguments[1]) for \(seconds) s (or until Ctrl-C)...")
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
}
