"""A seccomp filter (classic BPF, built here with ``struct``) that refuses namespaces and mounts.

``bwrap --seccomp FD`` installs it in the sandboxed process just before ``execve`` (root and
non-root modes alike), so the candidate and everything it starts inherit it:

- ``unshare``, ``setns``, ``mount``, ``umount2``, ``pivot_root``, ``chroot`` and the new mount
  API (``open_tree``, ``move_mount``, ``fsopen``, ``fsconfig``, ``fsmount``, ``fspick``,
  ``mount_setattr``, ``open_tree_attr``) fail with ``EPERM``;
- ``clone`` fails with ``EPERM`` when its flags ask for any new namespace (``CLONE_NEWNS``,
  ``NEWCGROUP``, ``NEWUTS``, ``NEWIPC``, ``NEWUSER``, ``NEWPID``, ``NEWNET``); plain forks and
  threads pass;
- ``clone3`` fails with ``ENOSYS``: its flags live in memory, which seccomp cannot read, and
  ENOSYS makes glibc fall back to ``clone``, which is checked;
- a system call from another ABI (x32 numbers on x86_64, or any foreign audit arch such as
  i386 through ``int 0x80``) kills the process.

Supported machines: x86_64 and aarch64 (both little-endian, so the low 32 bits of ``args[0]``
sit at offset 16 of ``struct seccomp_data``).
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data offsets
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K, _JGE_K, _JSET_K = 0x15, 0x35, 0x45
_RET_K = 0x06
# seccomp return actions
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
X32_SYSCALL_BIT = 0x40000000


class _Arch:
    def __init__(self, audit: int, numbers: dict[str, int], x32: bool):
        self.audit, self.numbers, self.x32 = audit, numbers, x32


_DENIED: tuple[str, ...] = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "open_tree_attr",
)
# system call numbers: (x86_64, aarch64)
_NUMBERS: dict[str, tuple[int, int]] = {
    "clone": (56, 220),
    "clone3": (435, 435),
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "open_tree_attr": (467, 467),
}
ARCHES: dict[str, _Arch] = {
    "x86_64": _Arch(0xC000003E, {k: v[0] for k, v in _NUMBERS.items()}, x32=True),
    "aarch64": _Arch(0xC00000B7, {k: v[1] for k, v in _NUMBERS.items()}, x32=False),
}


class SeccompUnsupported(RuntimeError):
    """No filter is defined for this machine's architecture."""


def _assemble(program: list[tuple]) -> bytes:
    """Encode ``(op, jt_label, jf_label, k)`` / ``("label", name)`` items as sock_filter[]."""
    labels: dict[str, int] = {}
    position = 0
    for item in program:
        if item[0] == "label":
            labels[item[1]] = position
        else:
            position += 1
    out = b""
    position = 0
    for item in program:
        if item[0] == "label":
            continue
        code, jt, jf, k = item
        offsets = []
        for target in (jt, jf):
            if target is None:
                offsets.append(0)
                continue
            offset = labels[target] - position - 1
            if not 0 <= offset <= 255:
                raise ValueError(f"BPF jump to {target} out of range ({offset})")
            offsets.append(offset)
        out += struct.pack("=HBBI", code, offsets[0], offsets[1], k)
        position += 1
    return out


def filter_program(machine: str | None = None) -> bytes:
    """The compiled filter for ``machine`` (default: this one); raises ``SeccompUnsupported``."""
    machine = machine or platform.machine()
    arch = ARCHES.get(machine)
    if arch is None:
        raise SeccompUnsupported(
            f"no seccomp filter for machine {machine!r} (supported: {sorted(ARCHES)})"
        )
    n = arch.numbers
    program: list[tuple] = [
        (_LD_W_ABS, None, None, _ARCH),
        (_JEQ_K, "arch_ok", "kill", arch.audit),
        ("label", "arch_ok"),
        (_LD_W_ABS, None, None, _NR),
    ]
    if arch.x32:
        program.append((_JGE_K, "kill", None, X32_SYSCALL_BIT))
    for name in _DENIED:
        program.append((_JEQ_K, "eperm", None, n[name]))
    program += [
        (_JEQ_K, "enosys", None, n["clone3"]),
        (_JEQ_K, "clone", "allow", n["clone"]),
        ("label", "clone"),
        (_LD_W_ABS, None, None, _ARG0_LOW),
        (_JSET_K, "eperm", "allow", CLONE_NAMESPACE_FLAGS),
        ("label", "allow"),
        (_RET_K, None, None, RET_ALLOW),
        ("label", "eperm"),
        (_RET_K, None, None, RET_ERRNO | errno.EPERM),
        ("label", "enosys"),
        (_RET_K, None, None, RET_ERRNO | errno.ENOSYS),
        ("label", "kill"),
        (_RET_K, None, None, RET_KILL_PROCESS),
    ]
    return _assemble(program)
