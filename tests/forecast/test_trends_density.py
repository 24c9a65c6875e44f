"""Inverse / U-shaped scaling tests, accuracy on the line, capacity density."""

import numpy as np
import pandas as pd
import pytest

from assay.forecast import accuracy_on_the_line, capacity_density, detect_inverse_scaling


def test_inverse_scaling_detected_and_standard_not():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e7, 1e11, 12)
    worse = 0.8 - 0.03 * np.log(x / 1e7) + rng.normal(0, 0.01, 12)
    res = detect_inverse_scaling(x, worse)
    assert res.shape == "inverse" and res.pvalue < 1e-3
    assert res.slope == pytest.approx(-0.03, abs=0.005)
    better = 0.3 + 0.03 * np.log(x / 1e7) + rng.normal(0, 0.01, 12)
    assert detect_inverse_scaling(x, better).shape == "standard"
    # flat scores: inverse / U / inverted-U alarms at most alpha=5% of the time (Bonferroni)
    shapes = [detect_inverse_scaling(x, 0.5 + rng.normal(0, 0.01, 12)).shape for _ in range(400)]
    false_alarm = np.mean(np.isin(shapes, ["inverse", "U-shaped", "inverted-U"]))
    assert 0.005 < false_alarm < 0.07
    # a loss that grows with scale is inverse scaling too
    assert detect_inverse_scaling(x, 2 - worse, higher_is_better=False).shape == "inverse"


def test_u_shape_detected_with_vertex():
    rng = np.random.default_rng(1)
    x = np.geomspace(1e7, 1e11, 15)
    lx = np.log(x / 1e9)
    y = 0.5 + 0.02 * lx**2 + rng.normal(0, 0.005, 15)
    res = detect_inverse_scaling(x, y)
    assert res.shape == "U-shaped" and res.curvature_pvalue < 1e-3
    assert res.vertex == pytest.approx(1e9, rel=0.3)


def test_accuracy_on_the_line():
    from scipy.stats import norm

    rng = np.random.default_rng(2)
    ida = np.linspace(0.3, 0.9, 20)
    ood = norm.cdf(0.8 * norm.ppf(ida) - 0.4 + rng.normal(0, 0.02, 20))
    line = accuracy_on_the_line(ida, ood)
    assert line.slope == pytest.approx(0.8, abs=0.05)
    assert line.intercept == pytest.approx(-0.4, abs=0.05)
    assert line.curvature_pvalue > 0.01
    bent = norm.cdf(0.8 * norm.ppf(ida) + 1.5 * norm.ppf(ida) ** 2 - 0.4)
    assert accuracy_on_the_line(ida, bent).curvature_pvalue < 1e-6


def test_capacity_density_doubling_time(tmp_path):
    rng = np.random.default_rng(3)
    law = lambda ln: 0.25 + 0.75 / (1 + np.exp(-1.2 * (ln - np.log(3e9))))  # noqa: E731
    ref_n = np.geomspace(1e8, 1e11, 8)
    rows = [
        {
            "model": f"ref{i}",
            "family": "ref",
            "params": n,
            "score": law(np.log(n)),
            "date": "2023-01-01",
        }
        for i, n in enumerate(ref_n)
    ]
    # later models: density doubles every 4 months -> ln density = ln2 * months / 4
    months = np.arange(0, 24, 2)
    n = np.geomspace(5e8, 5e9, len(months))
    dens = np.exp(np.log(2) * months / 4 + rng.normal(0, 0.05, len(months)))
    for m, size, d in zip(months, n, dens, strict=True):
        rows.append(
            {
                "model": f"x{m}",
                "family": "new",
                "params": size,
                "score": law(np.log(size * d)),
                "date": (pd.Timestamp("2023-01-01") + pd.DateOffset(months=int(m))).isoformat(),
            }
        )
    df = pd.DataFrame(rows)
    res = capacity_density(
        df[df["family"] == "new"].pipe(lambda d: pd.concat([df[df.family == "ref"], d])),
        "ref",
        floor=0.25,
    )
    new = res.table[res.table["family"] == "new"]
    assert new["density"].to_numpy() == pytest.approx(dens, rel=1e-3)
    assert res.doubling_months == pytest.approx(4.0, rel=0.1)
    assert res.doubling_ci[0] < 4.0 < res.doubling_ci[1]
    # the trend line reproduces the fitted slope: x2 density per doubling time
    t0 = res.origin
    ratio = (
        res.trend([t0 + pd.Timedelta(days=365.25 * res.doubling_months / 12)])[0]
        / res.trend([t0])[0]
    )
    assert ratio == pytest.approx(2.0)
    from assay.forecast import plot_forecast

    assert plot_forecast(res, path=tmp_path / "d.png").stat().st_size > 1000
