"""Criteria read from the prose of every real page in the corpus: each sentence that states a criterion, and
what it became (or why it was not read). The expectations were written by hand from reading each page's
hypothesis and the sections exprun reads (Procedure; Analysis while the page is not completed).

A row: (where, how the sentence starts, what it became — each item's start, what was not read — each
item's start). A page absent from a sentence list states no criterion in the parts exprun reads."""

from __future__ import annotations

from exprun.prepare.codegen import criteria
from exprun.prepare.codegen.spec import build_spec
from exprun.wiki.pages import load_page

NAMES_NO_METRIC = "names no metric exprun knows"
NO_NUMBER = "states a criterion with no number or metric exprun can judge"
HYP, PROC, ANALYSIS = "hypothesis", "## Procedure", "## Analysis"


def default(metric: str, lower: bool = False) -> dict:
    """The criterion when the page states none exprun can read: the page's own metric beats the baseline."""
    return {"metric": metric, "vs": "baseline", "min_delta": 0.0, **({"direction": "lower"} if lower else {})}


PROSE = "page prose; confirm at the gate"

# The AutoSci pages of skyllwt and of its fork bryanwills read the same in every part exprun reads.
AUTOSCI = {
    "ablation-boltz2-ptm-vs-md-relaxed-route": (
        [
            (
                HYP,
                "On a matched subset of held-out phospho-PROTAC tuples",
                ["threshold pearson_r ≥ 0.7", "threshold mae ≤ 0.1"],
                [],
            ),
            (
                HYP,
                "If the two routes diverge (r < 0.5",
                [],
                ["“< 0.5” " + NAMES_NO_METRIC, "“> 0.20” " + NAMES_NO_METRIC],
            ),
        ],
        [
            {"metric": "pearson_r", "threshold": 0.7, "direction": "higher", "source": PROSE},
            {"metric": "mae", "threshold": 0.1, "direction": "lower", "source": PROSE},
        ],
        [0, 1, 2, 3, 4],
    ),
    "ablation-deepternary-vs-protac-stan-scorer": (
        [
            (
                HYP,
                "Replacing DeepTernary with PROTAC-STAN (Adv. Sci. 2025)",
                ["Δ ≥ 0.05 on roc_auc"],
                ["“within 0.05” is a tolerance"],
            )
        ],
        [{"metric": "roc_auc", "vs": "baseline", "min_delta": 0.05, "source": PROSE}],
        [0, 1, 2, 3, 4],
    ),
    "ablation-uncalibrated-vs-calibrated-deltapternary": (
        [
            (
                HYP,
                "On the same held-out phospho-PROTAC ranking set",
                ["Δ ≤ −0.03 on roc_auc (a reduction)", ">= 5 seeds: the seed count"],
                [],
            ),
            (HYP, "If the AUC drop is < 0.01", [], ["“< 0.01” bounds a difference from above"]),
        ],
        [{"metric": "roc_auc", "vs": "baseline", "min_delta": 0.03, "direction": "lower", "source": PROSE}],
        [0, 1, 2, 3, 4],
    ),
    "calibrated-deltapternary-phospho-protac-ranking": (
        [
            (
                HYP,
                "On a held-out phospho-PROTAC ranking task",
                ["Δ ≥ 0.05 on roc_auc", ">= 5 seeds: the seed count"],
                [],
            )
        ],
        [{"metric": "roc_auc", "vs": "baseline", "min_delta": 0.05, "source": PROSE}],
        [0, 1, 2, 3, 4],
    ),
    "deepternary-baseline-ternarydb-crbn-vhl-reproduction": (
        [(HYP, "DeepTernary (Nat. Commun. 2025) reproduces", ["threshold mad ≤ 0.05 (5 % read as the fraction"], [])],
        [{"metric": "mad", "threshold": 0.05, "direction": "lower", "source": PROSE}],
        [0],  # "single deterministic run (seed=0)"
    ),
    "phase0-noise-floor-calibration-deepternary-ptm-perturbations": (
        [
            (
                HYP,
                "Under N=200 random size-matched",
                [],
                ["“> 1.5 ×” is a ratio", "“at least 30%” " + NAMES_NO_METRIC],
            ),
            (PROC, "Score the probe set of true PTM-PROTAC POIs", [], ["“> 1.5 ×” is a ratio"]),
        ],
        [default("per_poi_noise_floor_mean_and_95_interval")],
        [0, 1, 2],
    ),
    "robustness-cross-ptm-type-ubiq-methyl": (
        [
            (HYP, "On held-out tracks of (a) mono-ubiquitylation-degron", ["Δ ≥ 0.03 on roc_auc"], []),
            (HYP, "A drop below 0.03 indicates", [], ["“below 0.03” bounds a difference from above"]),
        ],
        [{"metric": "roc_auc", "vs": "baseline", "min_delta": 0.03, "source": PROSE}],
        [0, 1, 2],
    ),
    "robustness-mutant-isoform-track-y220c-r175h": (
        [
            (
                HYP,
                "On a held-out mutant-isoform PROTAC track",
                [],
                ["“by >= 0.05” is a difference from another value in either direction"],
            )
        ],
        [default("roc_auc")],
        [0, 1, 2],
    ),
}

CONVERGENCE_CHECK = "**Convergence check**:"
TRACK_CV = "**Track CV max** at every 50 ps"
PHYSNET_BASELINE = [
    (HYP, "Well-tempered MetaD-PIMD with BIASFACTOR=50", [], ["“within 300” is a tolerance"]),
    (PROC, "**Track CV max** at 50 ps intervals", [], ["“>100” " + NAMES_NO_METRIC]),
    (PROC, "**Record first TS crossing time**", [], ["“> 0.0” " + NAMES_NO_METRIC]),
    (PROC, "**Convergence check**: barrier is converged", [], ["“< 0.2” " + NAMES_NO_METRIC]),
]

PAGES: dict[str, tuple[list[tuple[str, str, list[str], list[str]]], list[dict], list[int]]] = {
    "Lehong-Wang__DeformY-Wiki__sim-stage-0-harness.md": (
        [
            (HYP, "The env interface + smooth-basis decoder", [], ["“≥10³” is a count"]),
            (PROC, "**Task box** per plan §6.6", [], ["“≥ 0.3” " + NAMES_NO_METRIC]),
        ],
        [default("rollouts_per_second")],
        [0, 1, 2],
    ),
    "Lehong-Wang__DeformY-Wiki__sim-stage-a-atlas-and-data-factory.md": (
        [
            (
                HYP,
                "A structured-seeded sweep of 10⁶–10⁷",
                [],
                ["“≤3” " + NAMES_NO_METRIC, "“≤10” " + NAMES_NO_METRIC, "“≥70%” " + NAMES_NO_METRIC],
            )
        ],
        [default("oracle_position_error", lower=True)],
        [0, 1, 2],
    ),
    "Lehong-Wang__DeformY-Wiki__sim-stage-b-amortization-shootout.md": (
        [
            (
                HYP,
                "Trained on the balanced relabeled pool",
                ["threshold success_rate ≥ 0.85 (85 % read as 0.85"],
                ["“≥65%” " + NAMES_NO_METRIC],
            ),
            (PROC, "The reference implementations of this exact idea", [], ["“≥ 4–5…” is a range"]),
            (PROC, "**Necessary-condition check retained:**", [], ["“≥ 4–5…” is a range"]),
            (
                ANALYSIS,
                "Targets: sim-verified ≥ 85% at 5 cm",
                ["threshold success_rate ≥ 0.85 (read before)"],
                ["“≥ 65%” " + NAMES_NO_METRIC],
            ),
        ],
        [{"metric": "success_rate", "threshold": 0.85, "direction": "higher", "source": PROSE}],
        [0, 1, 2],
    ),
    "Lehong-Wang__DeformY-Wiki__sim-stage-c-robustness-and-verifier-mismatch.md": (
        [(HYP, "Margin-aware selection (expected cost", ["success_rate better than the baseline (Δ > 0)"], [])],
        [{**default("success_rate"), "source": PROSE}],
        [0, 1, 2],
    ),
    "Lehong-Wang__DeformY-Wiki__sim-stage-d-gated-extensions.md": ([], [default("success_rate")], [0, 1, 2]),
    **{
        f"{owner}__AutoSci__{slug}.md": expected
        for owner in ("bryanwills", "skyllwt")
        for slug, expected in AUTOSCI.items()
    },
    "zonezone12__OmegaWiki__mlff-pimd-fad-barrier-comparison.md": (
        [],
        [default("proton_transfer_energy_barrier")],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__opes-pimd-centroid-vs-bead-averaged.md": (
        [
            (HYP, "OPES bias applied to the centroid collective variable", [], ["“within 0.2” is a tolerance"]),
            (ANALYSIS, "- **Success criterion**: |barrier_centroid", [], ["“< 0.2” " + NAMES_NO_METRIC]),
            (ANALYSIS, "- **Accuracy vs. reference**: both within 0.3", [], ["“within 0.3” is a tolerance"]),
        ],
        [default("fes_barrier_height")],
        [0, 1, 2],
    ),
    # completed: its Analysis reports the findings and is not read
    "zonezone12__OmegaWiki__opes-pimd-fad-physnet-validation.md": (
        [
            (HYP, "OPES_METAD with PACE=100, sigma_fixed=0.10 Å, and BARRIER=81.6", [], ["“≥ 2/3” is a count"]),
            (PROC, TRACK_CV, [], ["“> 0.0” " + NAMES_NO_METRIC]),
            (PROC, CONVERGENCE_CHECK + " same criterion as baseline", [], ["“< 0.2” " + NAMES_NO_METRIC]),
        ],
        [default("first_ts_crossing_time", lower=True)],
        [42, 123, 7],
    ),
    "zonezone12__OmegaWiki__opes-pimd-fad-physnet-validation@d0c36a1.md": (
        [
            (HYP, "OPES_METAD with PACE=100, sigma_fixed=0.10 Å, and BARRIER = 3.5", [], [NO_NUMBER]),
            (PROC, TRACK_CV, [], ["“> 0.0” " + NAMES_NO_METRIC]),
            (PROC, CONVERGENCE_CHECK + " same criterion as baseline", [], ["“< 0.2” " + NAMES_NO_METRIC]),
            (ANALYSIS, "**Success criterion for claim**:", [], [NO_NUMBER]),
            (ANALYSIS, "- OPES first TS crossing < WT-MetaD first TS crossing", [], ["“≥ 2/3” is a count"]),
            (ANALYSIS, "- OPES convergence time < WT-MetaD", [], ["“≥ 2/3” is a count"]),
            (ANALYSIS, "- OPES first TS crossing > WT-MetaD in", [], ["“≥ 2/3” is a count"]),
            (
                ANALYSIS,
                "- If OPES speed (M steps/day) > 0.9 ×",
                [],
                ["“> 0.9 ×” is a ratio", "“< 10%” " + NAMES_NO_METRIC],
            ),
            (ANALYSIS, "- If OPES speed < 0.85 ×", [], ["“< 0.85 ×” is a ratio", "“> 15%” " + NAMES_NO_METRIC]),
        ],
        [default("first_ts_crossing_time", lower=True)],
        [42, 123, 7],
    ),
    "zonezone12__OmegaWiki__opes-pimd-fad-proton-transfer-convergence.md": (
        [
            (HYP, "OPES_METAD applied to the CVdimer collective variable", [], ["“within 0.1” is a tolerance"]),
            (PROC, "Track running FES barrier height", [], ["“< 0.1” " + NAMES_NO_METRIC]),
        ],
        # its metrics name a convergence time "within 0.1 kcal/mol accuracy": a time, not accuracy
        [default("convergence_time", lower=True)],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__opes-pimd-temperature-robustness-water-melting.md": (
        [
            (HYP, "OPES-PIMD correctly reproduces the temperature dependence", [], [NO_NUMBER]),
            (ANALYSIS, "- **Primary criterion**: |Tm(OPES) - 285K| < 5K", [], ["“< 5” " + NAMES_NO_METRIC]),
            (ANALYSIS, "- **Robustness criterion**", [], [NO_NUMBER]),
            # its metric DeltaF is named, but "< 50 ns" bounds the time to reach it
            (ANALYSIS, "- **Convergence criterion**", [], ["“< 50 ns” is a time, not deltaf"]),
            (ANALYSIS, "- If Tm is off by > 5K", [], ["“> 5” " + NAMES_NO_METRIC]),
        ],
        [default("deltaf")],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__opes-pimd-water-ice-phase-transition.md": (
        [
            (HYP, "OPES-PIMD correctly predicts the quantum-corrected", [], [NO_NUMBER]),
            (PROC, "Track convergence: first t_conv", [], ["“within 2” is a tolerance"]),
            (PROC, "Estimate melting point from DeltaF", [], ["“> 0” " + NAMES_NO_METRIC]),
            (ANALYSIS, "- **Primary criterion**: t_conv(OPES) < 75 ns", [], ["“< 75” " + NAMES_NO_METRIC]),
            (ANALYSIS, "- **Accuracy criterion**", [], ["“> 0” " + NAMES_NO_METRIC]),
        ],
        [default("free_energy_difference_deltaf")],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__opes-vs-wt-metad-hyperparameter-sensitivity.md": (
        [
            (HYP, "The coefficient of variation (CV = std/mean)", [], ["“at least 2x” is a ratio"]),
            (PROC, "Count convergence failures", [], ["“within 150” is a tolerance"]),
            (ANALYSIS, "- **Success criterion**: CV(OPES) < CV(WT-MetaD) / 2", [], ["“at least 2x” is a ratio"]),
            (ANALYSIS, "- **Secondary**: fewer convergence failures", [], [NO_NUMBER]),
        ],
        [default("fes_barrier_height")],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__wt-metad-pimd-fad-baseline-reproduction.md": (
        [],
        [default("proton_transfer_energy_barrier")],
        [0, 1, 2],
    ),
    "zonezone12__OmegaWiki__wt-metad-pimd-fad-physnet-baseline.md": (
        PHYSNET_BASELINE,
        [default("proton_transfer_energy_barrier")],
        [42, 123, 7],
    ),
    "zonezone12__OmegaWiki__wt-metad-pimd-fad-physnet-baseline@d0c36a1.md": (
        PHYSNET_BASELINE
        + [
            (
                ANALYSIS,
                "Success criterion: **≥ 2 of 3 seeds cross TS",
                [],
                ["“≥ 2 of 3” is a count", "“within 300” is a tolerance", "“< 0.5” " + NAMES_NO_METRIC],
            ),
            (ANALYSIS, "- If CV frontier is stuck (advance rate < 0.001", [], ["“< 0.001” " + NAMES_NO_METRIC]),
        ],
        [default("proton_transfer_energy_barrier")],
        [42, 123, 7],
    ),
    "zonezone12__OmegaWiki__wt-metad-pimd-fad-physnet-production-600k.md": (
        [],
        [default("wall_clock_hours")],
        [0, 1, 2],
    ),
}


def test_the_table_names_only_corpus_pages(corpus_pages):
    assert sorted(PAGES) == sorted(p.name for p in corpus_pages)


def _matches(found: list[str], expected: list[str]) -> bool:
    return len(found) == len(expected) and all(f.startswith(e) for f, e in zip(found, expected, strict=True))


def test_every_criterion_sentence_of_a_corpus_page_and_its_reading(corpus_page):
    assert corpus_page.name in PAGES, f"{corpus_page.name}: read the page and add its criterion sentences to PAGES"
    rows, expected_criteria, seeds = PAGES[corpus_page.name]
    spec = build_spec(load_page(corpus_page))
    found = [r.as_dict() for r in spec.criteria_read]
    described = "\n".join(criteria.describe(found))
    assert len(found) == len(rows), described
    for reading, (where, start, became, unread) in zip(found, rows, strict=True):
        assert reading["where"] == where and reading["sentence"].startswith(start), described
        assert _matches(reading["became"], became), described
        assert _matches(reading["unread"], unread), described
    assert spec.config["success_criteria"] == expected_criteria
    assert spec.config["seeds"] == seeds
