"""Repository-wide test set-up: exercise attempts made by tests (including notebooks run by
nbval, whose kernels inherit this environment) go to a throwaway file, not the learner's."""

import os
import tempfile

os.environ.setdefault(
    "KCOURSE_PROGRESS_FILE", os.path.join(tempfile.mkdtemp(prefix="kcourse-test-"), "progress.json")
)
