"""A run's numbers do not depend on how it is cut: --limit 20 equals the first 20 documents of
--limit 40, and batch size 4 equals batch size 16, record for record (exact floats), on the
bundled model. (Each packed group's padded width is a multiple of 16 rows, so a CPU GEMM rounds
its rows the same way whatever batch it shares; see ``assay.models._hf_pack.ROW_ALIGN``.)"""

from __future__ import annotations

import pandas as pd
import pytest
from stored_records import stored_records

from assay.runner import evaluate
from assay.tasks import load_task

pytestmark = pytest.mark.real_model


def test_limit_and_batch_size_do_not_change_stored_records(backend, tmp_path):
    task = load_task("arith_mc")
    try:
        backend.batch_size = "auto"
        evaluate(backend, task, store=tmp_path / "n20", limit=20, progress=False)
        evaluate(backend, task, store=tmp_path / "n40", limit=40, progress=False)
        evaluate(backend, task, store=tmp_path / "b4", limit=20, batch_size=4, progress=False)
        evaluate(backend, task, store=tmp_path / "b16", limit=20, batch_size=16, progress=False)
    finally:
        backend.batch_size = "auto"
    n20, n40 = stored_records(tmp_path / "n20"), stored_records(tmp_path / "n40")
    assert len(n20) == 20 and len(n40) == 40
    first = n40[n40["doc_id"].isin(n20["doc_id"])].reset_index(drop=True)
    assert len(first) == 20
    pd.testing.assert_frame_equal(n20, first, check_exact=True)
    pd.testing.assert_frame_equal(
        stored_records(tmp_path / "b4"), stored_records(tmp_path / "b16"), check_exact=True
    )
    pd.testing.assert_frame_equal(stored_records(tmp_path / "b4"), n20, check_exact=True)
