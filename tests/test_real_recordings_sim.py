"""The simulator against data/real's recordings from Debian's kernel, where it can run them.

data/real holds runs the lessons show from the real kernel (kcourse.lab.recorded). With each
module's own code running on the emulated CPU, some of them the simulator now reproduces line
for line (normalised as tests/scenarios/README.md says): whoami's current->comm in init,
read() and exit; initoops's oops in init leaving the module Loading. The others differ and
stay recordings in the lessons: stackhog and bigframe panic the guest, whose console the lab
shows from the panic on (the simulator keeps its ring buffer, where bigframe's double fault
is "traps: PANIC: double fault" as on the real one); oops, logs and kallsyms need the guest's
syslog, journal and full /proc/kallsyms.
"""

import pytest

from kcourse.lab.compare import normalise
from kcourse.paths import data_dir
from kcourse.shell import Shell

REAL = data_dir() / "real"
EXPERIMENTS = data_dir() / "experiments"


@pytest.mark.parametrize("name", ["whoami", "initoops"])
def test_the_simulator_prints_what_the_real_kernel_printed(name):
    from kcourse.backend import format_transcript

    shell = Shell(workdir=str(EXPERIMENTS))
    results = shell.run_script((REAL / f"{name}.sh").read_text())
    got = normalise(format_transcript(results))
    expected = "".join(line for line in (REAL / f"{name}.expected").read_text()
                       .splitlines(keepends=True) if not line.startswith("#|"))
    assert got == expected
