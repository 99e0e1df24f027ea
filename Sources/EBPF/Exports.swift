// The public values of the kernel boundary (EBPFKernel, otherwise package access only):
// `import EBPF` is all a user writes.
@_exported import struct EBPFKernel.EBPFError
@_exported import enum EBPFKernel.KernelClock
@_exported import struct EBPFKernel.ProgramType
@_exported import struct EBPFKernel.TableType
@_exported import struct EBPFKernel.USDTArgument
@_exported import struct EBPFKernel.USDTProbe
// Programs and the bytes they exchange (EBPFProgram): the compile cache, records, field
// values, BTF.
@_exported import EBPFProgram
