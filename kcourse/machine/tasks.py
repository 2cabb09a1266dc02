"""Where the pinned kernel keeps what module code reads about the current task.

Offsets are those of Debian's 6.1.0-56-amd64 build, read from its vmlinux BTF with pahole
(../shared/notes/emulation.md): struct task_struct is 9792 bytes with pid at 2416 and comm[16]
at 2976. Module code reaches the task through the per-cpu variable current_task
(arch/x86/include/asm/current.h: `mov %gs:current_task, %reg`), whose per-cpu offset the
relocation puts in the instruction.
"""

TASK_STRUCT_SIZE = 9792
TASK_PID = 2416
TASK_TGID = 2420
TASK_COMM = 2976
CURRENT_TASK = 0x21440  # per-cpu offset of current_task (a model value until BTF data lands)
PERCPU_OFFSETS = {"current_task": CURRENT_TASK, "cpu_number": 0x21448,
                  "this_cpu_off": 0x21450}

# struct file and struct inode: only what the simulator fills in for a module's fops
# (f_op, private_data, f_flags, f_mode); the sizes cover the whole structs.
FILE_SIZE = 256
FILE_INODE, FILE_OP, FILE_FLAGS, FILE_MODE = 32, 40, 64, 68
FILE_PRIVATE_DATA = 200
INODE_SIZE = 640
FMODE_READ, FMODE_WRITE = 0x1, 0x2
