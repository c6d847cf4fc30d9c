"""One search worker on tiny synthetic data, for the multi-process tests: python search_worker.py URL STUDY TRIALS RUN."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

from conftest import synthetic_digits  # noqa: E402

from digitedge.config import Config  # noqa: E402
from digitedge.search.budget import Limits  # noqa: E402
from digitedge.search.objective import SearchData  # noqa: E402
from digitedge.search.space import TINY  # noqa: E402
from digitedge.search.study import run_search  # noqa: E402


def tiny_data() -> SearchData:
    x, y = synthetic_digits(320, seed=0)
    return SearchData(x[:256], y[:256], x[256:], y[256:])


def tiny_base() -> Config:
    base = Config()
    base.export.representative_samples = 32
    return base


if __name__ == "__main__":
    url, study, trials, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    run_search(run, tiny_base(), tiny_data(), Limits(), storage_url=url, study_name=study, space=TINY,
               n_trials=trials)
