"""The report's arena panel says how fragile the leader is (issue 33): the fewest votes whose
removal changes who is ranked first, by id, confirmed by refitting the reduced votes."""

from __future__ import annotations

import pandas as pd

from assay import rank
from assay.report._panels import arena_panel


def _close_race() -> pd.DataFrame:
    """a edges out b (12 to 10 head to head); both beat c and d by the same margins."""
    rows = [("a", "b", "model_a")] * 12 + [("a", "b", "model_b")] * 10
    for top in ("a", "b"):
        for other in ("c", "d"):
            rows += [(top, other, "model_a")] * 8 + [(top, other, "model_b")] * 4
    rows += [("c", "d", "model_a")] * 5 + [("c", "d", "model_b")] * 5
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    return df.assign(battle_id=[f"v{i}" for i in range(len(df))])


def test_the_arena_panel_names_the_votes_that_change_the_leader():
    battles = _close_race()
    panel = arena_panel(battles, bootstrap=0)
    result = panel.results["fragility"]
    assert result.before == ["a"] and result.after == ["b"]
    assert result.votes == len(result.vote_ids) == 3  # 12-10 head to head; at 10-10 a, b tie
    assert set(result.vote_ids) <= set(battles.loc[battles.winner == "model_a", "battle_id"])
    line = next(i["text"] for i in panel.items if i["kind"] == "text" and "leader" in i["text"])
    assert line.startswith(f"The leader (a) changes to b if these 3 of {len(battles):,} votes")
    assert all(v in line for v in result.vote_ids)
    kept = battles[~battles["battle_id"].isin(result.vote_ids)]
    refit = rank.fit_battles(kept, bootstrap=0).table
    assert refit.iloc[0]["model"] == "b"


def test_a_clear_leader_has_no_line_claiming_a_flip():
    battles = pd.DataFrame(
        [("a", "b", "model_a")] * 30 + [("b", "c", "model_a")] * 30 + [("a", "c", "model_a")] * 30,
        columns=["model_a", "model_b", "winner"],
    )
    panel = arena_panel(battles, bootstrap=0)
    result = panel.results["fragility"]
    texts = [i["text"] for i in panel.items if i["kind"] == "text"]
    if result.votes is None:
        assert any(t.startswith("No set of votes was found") for t in texts)
    else:
        assert result.votes >= 10
