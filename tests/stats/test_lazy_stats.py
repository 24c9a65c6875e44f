"""assay.stats imports a name's module when the name is first used: compare's path (and the
`assay compare` command) runs without importing scipy.stats; the scipy.special functions it
uses instead give scipy.stats' values exactly; every exported name resolves."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import stats

import assay.stats
from assay.stats import _scipy


def test_every_exported_name_resolves():
    assert set(assay.stats.__all__) == set(assay.stats._WHERE)
    for name in assay.stats.__all__:
        assert getattr(assay.stats, name) is not None
    assert set(assay.stats.__all__) <= set(dir(assay.stats))


def test_compare_does_not_import_scipy_stats():
    code = (
        "import sys, pandas as pd\n"
        "from assay.stats import compare, verdict\n"
        "rows = [(f'm{m}', 't', f'd{d}', 'acc', float((d * (m + 2)) % 3 == 0))\n"
        "        for m in range(3) for d in range(40)]\n"
        "scores = pd.DataFrame(rows, columns=['model', 'task', 'doc_id', 'metric', 'value'])\n"
        "result = compare(scores, overall=True)\n"
        "verdict(result)\n"
        "assert len(result.pairs) == 3, result.pairs\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_special_functions_equal_scipy_stats():
    q = np.array([0.0, 1e-300, 0.025, 0.5, 0.975, 0.995, 1 - 1e-16, 1.0])
    x = np.array([-40.0, -3.0, -0.0, 0.1, 1.959963984540054, 8.0, 40.0, np.nan])
    assert np.array_equal(_scipy.norm_ppf(q), stats.norm.ppf(q))
    assert np.array_equal(_scipy.norm_sf(x), stats.norm.sf(x), equal_nan=True)
    assert np.array_equal(_scipy.chi2_sf_1(x * x), stats.chi2.sf(x * x, 1), equal_nan=True)
    assert _scipy.norm_ppf(0.975) == stats.norm.ppf(0.975)
    assert _scipy.sps.norm is stats.norm
