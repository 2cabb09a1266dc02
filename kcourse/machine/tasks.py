"""Where the pinned kernel keeps what module code reads: the current task, files, per-CPU data.

Every offset comes from Debian's 6.1.0-56-amd64 vmlinux BTF (data/kernel/structs.json,
kcourse.kernel.structs): struct task_struct is 9792 bytes with pid at 2416 and comm[16] at
2976; struct file has f_op at 40 and private_data at 200. Module code reaches the task
through the per-cpu variable current_task (arch/x86/include/asm/current.h:
`mov %gs:current_task, %reg`), whose per-cpu offset (0x1fb80) the relocation puts in the
instruction; every per-cpu variable vmlinux exports is bound to its offset the same way.
"""

from __future__ import annotations

from kcourse.kernel import structs

TASK_STRUCT_SIZE = structs.sizeof("task_struct")
TASK_PID = structs.offsetof("task_struct", "pid")
TASK_TGID = structs.offsetof("task_struct", "tgid")
TASK_COMM = structs.offsetof("task_struct", "comm")
PERCPU_OFFSETS = structs.percpu_symbols()
CURRENT_TASK = PERCPU_OFFSETS["current_task"]
THIS_CPU_OFF = PERCPU_OFFSETS["this_cpu_off"]
PREEMPT_COUNT = PERCPU_OFFSETS["__preempt_count"]

FILE_SIZE = structs.sizeof("file")
FILE_INODE = structs.offsetof("file", "f_inode")
FILE_OP = structs.offsetof("file", "f_op")
FILE_MODE = structs.offsetof("file", "f_mode")
FILE_POS = structs.offsetof("file", "f_pos")
FILE_PRIVATE_DATA = structs.offsetof("file", "private_data")
INODE_SIZE = structs.sizeof("inode")
FMODE_READ, FMODE_WRITE = 0x1, 0x2  # include/linux/fs.h

FOPS_READ = structs.offsetof("file_operations", "read")
FOPS_WRITE = structs.offsetof("file_operations", "write")
FOPS_OPEN = structs.offsetof("file_operations", "open")
FOPS_RELEASE = structs.offsetof("file_operations", "release")
