"""Words explained where they stand (issue 31): every term of art on the page sits in an
element whose ``title`` explains it in one sentence, the page links to a glossary that lists
them all, and every panel says what to conclude from it."""

from __future__ import annotations

import re

import pytest

from assay.report import render_report
from assay.report._glossary import GLOSSARY, anchor, explain
from assay.report._panel import PANELS, TAKEAWAYS

#: The terms issue 31 names, as they show on the page.
ISSUE_TERMS = ["ECE", "CE₂", "Holm", "Bradley–Terry", "DIA", "MDE", "power", "flips", "ICC"]


@pytest.fixture(scope="module")
def job_data(default_job_store_path):
    from assay.report import build_report

    return build_report(default_job_store_path, scaling_bootstrap=0, bootstrap=10, max_docs=5)


@pytest.fixture(scope="module")
def html(report_data):
    """The rich store: leaderboard groups, pairs, flips, arena."""
    return render_report(report_data, max_docs=50)


@pytest.fixture(scope="module")
def job_html(job_data):
    """The default job: calibration, reliability over variants, position bias."""
    return render_report(job_data)


def _visible(html: str) -> str:
    """The page's text outside explained terms, scripts, styles, plots (SVG text carries no
    title: the glossary covers it) and the glossary itself."""
    html = re.sub(r"<(script|style|svg)[^>]*>.*?</\1>", "", html, flags=re.S)  # plots: text
    html = re.sub(r'<section class="glossary".*?</section>', "", html, flags=re.S)
    html = re.sub(r"<abbr [^>]*>.*?</abbr>", "", html, flags=re.S)
    html = re.sub(r"<head>.*?</head>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize(
    ("page", "terms"),
    [
        ("html", ("Holm", "Bradley–Terry", "flips", "NFR", "NFI", "PFR")),
        (
            "job_html",
            ("ECE", "CE₂", "MCE", "Brier", "AURC", "Dynamic Intelligence Assessment", "Holm"),
        ),
    ],
)
def test_every_term_shown_carries_its_explanation(page, terms, request):
    html = request.getfixturevalue(page)
    abbrs = re.findall(r'<abbr class="term" title="([^"]+)">([^<]+)</abbr>', html)
    shown = {term.lower() for _, term in abbrs}
    for term in terms:  # each sits in an <abbr> whose title explains it in one sentence
        assert any(t.startswith(term.lower()) for t in shown), term
    assert all(len(title) >= 15 and title.endswith(".") for title, _ in abbrs)
    rest = _visible(html)
    for term in ("ECE", "CE₂", "MCE", "Holm", "Bradley–Terry", "NFR", "NFI", "PFR", "ICC", "MDE"):
        assert not re.search(rf"\b{term}", rest), term  # nowhere unexplained


def test_page_links_to_a_glossary_of_every_term(html):
    assert '<a href="#glossary">Terms explained</a>' in html
    section = re.search(r'<section class="glossary" id="glossary">(.*?)</section>', html, re.S)
    assert section is not None
    for term in ISSUE_TERMS:
        assert term in GLOSSARY
        assert f'<dt id="{anchor(term)}">{term}</dt>' in section.group(1)
        assert len(GLOSSARY[term][0]) >= 15


def test_every_panel_says_what_to_conclude(html, report_data):
    assert set(TAKEAWAYS) == set(PANELS)
    for key, sentence in TAKEAWAYS.items():
        assert sentence.endswith(".") and sentence.count(". ") == 0, key  # one sentence
    for panel in report_data.shown_panels:
        assert panel.takeaway == TAKEAWAYS[panel.key]
        block = html.split(f'<section class="panel" id="{panel.key}">', 1)[1].split("</section>")[0]
        assert "<strong>What to conclude:</strong>" in block, panel.key


def test_explain_escapes_and_never_reads_user_text_as_markup():
    out = str(explain('<b>ECE</b> of "x" `assay flips`'))
    assert out.startswith('&lt;b&gt;<abbr class="term" title="Expected calibration error')
    assert "<code>assay <abbr" in out and "<b>" not in out
    assert str(explain("power law")) == "power law"  # the scaling law is not statistical power


def test_arena_page_explains_bradley_terry(plain_store_path):
    from fastapi.testclient import TestClient

    from assay.serve import create_app

    page = TestClient(create_app(plain_store_path), base_url="http://127.0.0.1").get("/arena")
    title = GLOSSARY["Bradley–Terry"][0]
    assert f'<abbr class="term" title="{title}">Bradley–Terry</abbr> ratings' in page.text
