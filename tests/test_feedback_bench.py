"""``tactful bench completion --filter compare``: the cascade measured through the real server."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.lsp import tactful

BODY = "    result = compute_total(values, weights, strict=True)\n    return result\n"


def write_corpus(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "a.py").write_text(
        "import os\n\n\n"
        + "".join(f"def total_{n}(values, weights):\n{BODY}\n\n" for n in range(4)),
        encoding="utf-8",
    )
    (root / "b.py").write_text(
        "import os\n\n\ndef join(a, b):\n    return os.path.join(a, b)\n", encoding="utf-8"
    )


def test_compare_reports_each_run_and_the_filters_effect(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    done = tactful(
        "bench", "completion", str(corpus), "--format", "json", "--filter", "compare", timeout=400
    )
    assert done.returncode == 0, done.stderr
    local = json.loads(done.stdout)["engines"]["local"]
    assert set(local) == {
        "off",
        "prior",
        "online",
        "effect_prior",
        "effect_online",
        "effect_prior_first_100_lines",
        "effect_online_first_100_lines",
    }
    off, prior = local["off"], local["prior"]
    # The unfiltered run showed everything and the server scored all of it.
    assert off["filter"]["hidden"] == 0 and off["filter"]["requests_skipped"] == 0
    assert off["filter"]["shown"] == off["shown"] > 0
    assert off["filter"]["auc_prior"] is None or 0.0 <= off["filter"]["auc_prior"] <= 1.0
    # The filtered runs recorded what they held back, and what a decision cost.
    assert prior["filter"]["hidden"] + prior["filter"]["requests_skipped"] > 0
    assert prior["filter"]["shown"] == prior["shown"]
    assert prior["filter"]["decision_us"]["filter_p50"] > 0
    effect = local["effect_prior"]
    for key in (
        "would_be_rejected_hidden_share",
        "would_be_accepted_lost_share",
        "saved_keystrokes_lost_share",
        "acceptance_lift",
        "engine_calls_skipped_share",
    ):
        assert key in effect
    assert effect["acceptance_rate_unfiltered"] == off["acceptance_rate"]
    # The corpus's files are shorter than 100 lines: the first lines' effect is the whole one,
    # except for the gate's skips, which the store does not place in a file's lines.
    head_effect = local["effect_prior_first_100_lines"]
    assert head_effect["engine_calls_skipped_share"] is None
    assert {k: v for k, v in head_effect.items() if k != "engine_calls_skipped_share"} == {
        k: v for k, v in effect.items() if k != "engine_calls_skipped_share"
    }
