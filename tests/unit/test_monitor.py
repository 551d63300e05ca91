"""What a run's log tail, exit status and liveness say: progress lines and anomalies; and the bounded log tail."""

from __future__ import annotations

import pytest

from exprun.logs import logtail, monitor

RUNNING, EXITED, LOST = "running", "exited", "lost"


def progress(step: int, loss: str = "0.5312", total: int = 3000, epoch: int = 1) -> str:
    """A progress line exactly as the generated train.py prints it."""
    return f"step={step}/{total} epoch={epoch} loss={loss} lr=0.001"


TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/w/experiments/code/x/train.py", line 240, in <module>',
    "    sys.exit(main())",
    "             ^^^^^^",
    '  File "/w/experiments/code/x/model.py", line 12, in forward',
    '    raise ValueError("bad shape")',
    "ValueError: bad shape",
]


def kinds(anomalies) -> list[str]:
    return [a.kind for a in anomalies]


# ------------------------------------------------------------------ loss anomalies

LOSS_CASES = [
    # id, lines, expected kinds
    ("loss=nan", [progress(10, "0.9"), progress(20, "nan")], ["nan_loss"]),
    ("loss: nan", ["epoch 1 | loss: nan"], ["nan_loss"]),
    ("Loss = NaN", ["Loss = NaN at step 3"], ["nan_loss"]),
    ("NaN detected", [progress(10), "NaN detected in gradients of layer fc1"], ["nan_loss"]),
    ("loss=-nan", ["loss=-nan"], ["nan_loss"]),
    ("loss=inf", [progress(10, "0.9"), progress(20, "inf")], ["inf_loss"]),
    ("loss: -inf", ["loss: -inf"], ["inf_loss"]),
    ("loss=Infinity", ["loss=Infinity"], ["inf_loss"]),
    ("nan-wins-over-inf", ["loss=inf", "loss=nan"], ["nan_loss"]),
    (
        "exploding",
        [progress(10, "1.0"), progress(20, "0.5"), progress(30, "0.3"), progress(40, "5.0")],
        ["exploding_loss"],
    ),
    ("spike-below-factor", [progress(10, "1.0"), progress(20, "0.5"), progress(30, "0.3"), progress(40, "2.9")], []),
    ("too-few-losses", [progress(10, "0.01"), progress(20, "5.0")], []),
    ("steadily-decreasing", [progress(i * 10, f"{1 / i:.4f}") for i in range(1, 30)], []),
    ("healthy-metric-named-nan-like", ["eval epoch=1 accuracy=0.91 f1_macro=0.90 finance=1.0"], []),
]


@pytest.mark.parametrize("lines,expected", [c[1:] for c in LOSS_CASES], ids=[c[0] for c in LOSS_CASES])
def test_loss_anomalies(lines, expected):
    found = monitor.classify(lines, RUNNING, None, idle_seconds=5)
    assert kinds(found) == expected


def test_nan_anomaly_names_the_offending_line_and_is_fixable():
    (anomaly,) = monitor.classify([progress(10, "0.9"), progress(20, "nan")], RUNNING, None)
    assert anomaly.detail == progress(20, "nan")
    assert anomaly.fixable
    assert "learning rate" in anomaly.suggestion
    assert anomaly.as_dict() == {
        "kind": "nan_loss",
        "detail": progress(20, "nan"),
        "fixable": True,
        "suggestion": anomaly.suggestion,
    }


def test_exploding_loss_reports_the_factor_over_the_best_so_far():
    lines = [progress(10, "1.0"), progress(20, "0.5"), progress(30, "0.3"), progress(40, "5.0")]
    (anomaly,) = monitor.classify(lines, RUNNING, None)
    assert "5" in anomaly.detail and "0.3" in anomaly.detail and "10×" in anomaly.detail
    assert anomaly.fixable


@pytest.mark.parametrize("factor,expected", [(2.0, ["exploding_loss"]), (10.0, []), (20.0, [])])
def test_explode_factor_is_configurable(factor, expected):
    lines = [progress(10, "1.0"), progress(20, "0.5"), progress(30, "2.0")]  # 4× the best so far
    assert kinds(monitor.classify(lines, RUNNING, None, explode_factor=factor)) == expected


@pytest.mark.parametrize(
    "line,kind",
    [("epoch=3 train_loss=nan", "nan_loss"), ("val_loss: nan", "nan_loss"), ("epoch=3 train_loss=inf", "inf_loss")],
)
def test_prefixed_loss_names_are_detected(line, kind):
    assert kinds(monitor.classify([line], RUNNING, None)) == [kind]


# ------------------------------------------------------------------ out of memory

OOM_LINES = [
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.",
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB",
    "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
    "cuda out of memory",
]


@pytest.mark.parametrize("line", OOM_LINES)
def test_oom_is_detected(line):
    found = monitor.classify([progress(10), line], RUNNING, None)
    assert kinds(found) == ["oom"]
    assert found[0].detail == line.strip()
    assert found[0].fixable and "batch_size" in found[0].suggestion


NOT_OOM_LINES = [
    "loading room-level annotations",
    "augment: zoom=1.2 rotate=15",
    "built bloom filter over 1e6 keys",
    "Zoom meeting at 14:00, pausing notes",
    "dataset broom-closet-v2 ready",
    "groom.py: done",
    "mushroom classification, epoch=1",
]


@pytest.mark.parametrize("line", NOT_OOM_LINES)
def test_words_containing_oom_are_not_oom(line):
    assert kinds(monitor.classify([progress(10), line, progress(20)], RUNNING, None)) == []


# ------------------------------------------------------------------ crashes and exits

CRASH_CASES = [
    # id, lines, state, exit code, expected kinds, phrase in the last anomaly's detail
    (
        "traceback-exited",
        [progress(10)] + TRACEBACK + ["seed 0 failed with exit status 1"],
        EXITED,
        1,
        ["traceback"],
        "ValueError: bad shape",
    ),
    (
        "traceback-while-running-then-silent",
        [progress(10)] + TRACEBACK,
        RUNNING,
        None,
        ["traceback"],
        "ValueError: bad shape",
    ),
    ("traceback-lost", [progress(10)] + TRACEBACK, LOST, None, ["traceback", "lost"], "session ended"),
    (
        "oom-traceback-exited",
        [
            progress(10),
            "Traceback (most recent call last):",
            '  File "train.py", line 3, in <module>',
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ],
        EXITED,
        1,
        ["oom", "traceback"],
        "torch.OutOfMemoryError: CUDA out of memory",
    ),
    ("killed-137", [progress(10)], EXITED, 137, ["killed"], "SIGKILL"),
    ("segfault-139", [progress(10)], EXITED, 139, ["killed"], "SIGSEGV"),
    ("sigterm-143", [progress(10)], EXITED, 143, ["killed"], "SIGTERM"),
    (
        "command-not-found-127",
        ["run.sh: line 9: python3: command not found"],
        EXITED,
        127,
        ["command_not_found"],
        "127",
    ),
    (
        "nonzero-without-traceback",
        [progress(10), "seed 0 failed with exit status 2"],
        EXITED,
        2,
        ["nonzero_exit"],
        "exit status 2",
    ),
    ("killed-line-exited", [progress(10), "Killed"], EXITED, 1, ["killed"], "SIGKILL"),
    ("clean-exit", [progress(3000), "done seed=2 accuracy=0.9700"], EXITED, 0, [], None),
    ("clean-exit-after-survived-traceback", TRACEBACK + [progress(10)], EXITED, 0, [], None),
    ("running-healthy", [progress(10), progress(20)], RUNNING, None, [], None),
    ("lost", [progress(10)], LOST, None, ["lost"], "session ended"),
]


@pytest.mark.parametrize(
    "lines,state,code,expected,phrase", [c[1:] for c in CRASH_CASES], ids=[c[0] for c in CRASH_CASES]
)
def test_crash_classification(lines, state, code, expected, phrase):
    found = monitor.classify(lines, state, code, idle_seconds=5)
    assert kinds(found) == expected
    if phrase:
        assert phrase in found[-1].detail


def test_traceback_reports_the_exception_line_not_the_header():
    (anomaly,) = monitor.classify([progress(10)] + TRACEBACK, EXITED, 1)
    assert anomaly.kind == "traceback"
    assert anomaly.detail == "ValueError: bad shape"
    assert not anomaly.fixable


def test_chained_traceback_reports_the_last_exception():
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1',
        "KeyError: 'lr'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
    ] + TRACEBACK
    (anomaly,) = monitor.classify(lines, EXITED, 1)
    assert anomaly.detail == "ValueError: bad shape"


def test_dotted_exception_names_are_reported():
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    ]
    (anomaly,) = monitor.classify(lines, EXITED, 1)
    assert anomaly.detail.startswith("json.decoder.JSONDecodeError: Expecting value")


def test_cut_traceback_says_so():
    (anomaly,) = monitor.classify(
        ["Traceback (most recent call last):", '  File "a.py", line 1, in <module>'], EXITED, 1
    )
    assert anomaly.kind == "traceback" and "log cut" in anomaly.detail


@pytest.mark.parametrize("state,code", [(RUNNING, None), (EXITED, 0)])
def test_traceback_followed_by_progress_is_not_a_crash(state, code):
    lines = [progress(10)] + TRACEBACK + [progress(20), progress(30)]
    assert kinds(monitor.classify(lines, state, code)) == []


def test_traceback_the_run_survived_still_counts_once_it_exits_badly():
    lines = [progress(10)] + TRACEBACK + [progress(20)]
    found = monitor.classify(lines, EXITED, 1)
    assert kinds(found) == ["traceback"] and found[0].detail == "ValueError: bad shape"


def test_exit_255_is_not_a_signal():
    found = monitor.classify([progress(10)], EXITED, 255)
    assert kinds(found) == ["nonzero_exit"]


# ------------------------------------------------------------------ liveness

LIVENESS = [
    # id, state, exit code, idle seconds, stall limit, expected kinds
    ("stalled", RUNNING, None, 3600, 1800, ["stalled"]),
    ("just-under-limit", RUNNING, None, 1799, 1800, []),
    ("custom-limit", RUNNING, None, 700, 600, ["stalled"]),
    ("idle-unknown", RUNNING, None, None, 1800, []),
    ("exited-long-ago", EXITED, 0, 86400, 1800, []),
    ("lost", LOST, None, 86400, 1800, ["lost"]),
]


@pytest.mark.parametrize("state,code,idle,limit,expected", [c[1:] for c in LIVENESS], ids=[c[0] for c in LIVENESS])
def test_liveness(state, code, idle, limit, expected):
    assert kinds(monitor.classify([progress(10)], state, code, idle_seconds=idle, stall_limit_s=limit)) == expected


def test_stall_detail_says_how_long():
    (anomaly,) = monitor.classify([progress(10)], RUNNING, None, idle_seconds=45 * 60, stall_limit_s=30 * 60)
    assert anomaly.detail == "no log output for 45 min (limit 30 min)"
    assert not anomaly.fixable


# ------------------------------------------------------------------ progress

# The first line run.sh prints (templates_run.RUN_SH), then train.py's lines.
RUN_SH_HEADER = (
    "exprun run digits-mlp-vs-logreg: host=h start=2026-11-21T10:00:00Z CUDA_VISIBLE_DEVICES=<unset> seeds=0 1 2"
)
TRAIN_LOG = [
    "=== seed 0 ===",
    "step=10/3000 epoch=1 loss=2.1000 lr=0.001",
    "step=120/3000 epoch=1 loss=0.5312 lr=0.001",
    "eval epoch=1 accuracy=0.91 f1_macro=0.90",
]


def test_parse_progress_reads_the_latest_step_epoch_loss_and_metrics():
    p = monitor.parse_progress(TRAIN_LOG)
    assert (p.step, p.total, p.epoch, p.loss) == (120, 3000, 1, 0.5312)
    assert p.metrics == {"accuracy": 0.91, "f1_macro": 0.90}  # lr, step, epoch, loss are not metrics
    assert p.losses == [2.1, 0.5312]
    assert p.fraction == pytest.approx(120 / 3000)
    assert p.describe() == "step 120 / 3000, epoch 1"


def test_parse_progress_keeps_the_latest_value_of_each_metric():
    p = monitor.parse_progress(TRAIN_LOG + ["step=240/3000 epoch=2 loss=0.3 lr=0.001", "eval epoch=2 accuracy=0.95"])
    assert (p.step, p.epoch, p.loss) == (240, 2, 0.3)
    assert p.metrics == {"accuracy": 0.95, "f1_macro": 0.90}


@pytest.mark.parametrize(
    "line,step,total,epoch,loss",
    [
        ("step=120/3000 epoch=1 loss=0.5312 lr=0.001", 120, 3000, 1, 0.5312),
        ("step: 7 epoch: 2 loss: 1.5e-3", 7, None, 2, 0.0015),
        ("step 42/100 loss=0.25", 42, 100, None, 0.25),
        ("epoch=4", None, None, 4, None),
    ],
)
def test_parse_progress_line_formats(line, step, total, epoch, loss):
    p = monitor.parse_progress([line])
    assert (p.step, p.total, p.epoch) == (step, total, epoch)
    assert p.loss == (pytest.approx(loss) if loss is not None else None)


def test_parse_progress_without_progress_lines():
    p = monitor.parse_progress(["=== seed 0 ===", "no checkpoint at checkpoints/x/seed_0.pt; starting from scratch"])
    assert p.step is None and p.fraction is None and p.metrics == {}
    assert p.describe() == "no progress line yet"


def test_run_sh_header_is_not_a_metric():
    p = monitor.parse_progress([RUN_SH_HEADER, "=== seed 0 ===", "step=10/230 epoch=1 loss=2.1 lr=0.001"])
    assert p.metrics == {}


@pytest.mark.parametrize(
    "lines",
    [
        ["=== seed 0 ===", "baseline accuracy=0.9611 f1_macro=0.9600", "step=10/230 epoch=1 loss=2.1 lr=0.001"],
        TRAIN_LOG[:2]
        + [
            "eval epoch=20 accuracy=0.97 f1_macro=0.96",
            "done seed=0 accuracy=0.97 f1_macro=0.96",
            "=== seed 1 ===",
            "baseline accuracy=0.9611 f1_macro=0.9600",
            "step=10/230 epoch=1 loss=2.1 lr=0.001",
        ],
    ],
    ids=["first-seed", "second-seed"],
)
def test_baseline_scores_are_not_the_latest_metric(lines):
    assert monitor.parse_progress(lines).metrics.get("accuracy") in (None, 0.97)


# ------------------------------------------------------------------ bounded log tail

KIB = 1024


@pytest.fixture
def big_log(tmp_path):
    """A 5 MiB log of numbered lines of differing lengths; returns (path, content)."""
    lines, size, i = [], 0, 0
    while size < 5 * KIB * KIB:
        line = f"step={i}/999999 epoch=1 loss={1 / (i + 1):.6f} lr=0.001 " + "x" * (i % 37) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    content = "".join(lines)
    path = tmp_path / "exp.log"
    path.write_text(content, encoding="utf-8")
    return path, content


def test_tail_text_returns_only_the_last_64_kib_in_whole_lines(big_log):
    path, content = big_log
    assert path.stat().st_size >= 5 * KIB * KIB
    text = logtail.tail_text(path)
    assert 0 < len(text.encode()) <= 64 * KIB
    assert len(text.encode()) > 63 * KIB  # at most one partial line was dropped
    assert content.endswith(text)
    before = content[: len(content) - len(text)]
    assert before.endswith("\n")  # the first (partial) line was dropped: text starts on a line boundary
    assert text.splitlines()[-1] == content.splitlines()[-1]


def test_tail_text_drops_a_partial_first_line(tmp_path):
    path = tmp_path / "exp.log"
    path.write_text("aaaaaaaaaa\nbbbbbbbbbb\ncccccccccc\n", encoding="utf-8")
    assert logtail.tail_text(path, max_bytes=15) == "cccccccccc\n"  # the tail began inside "bbb..."
    assert logtail.tail_text(path, max_bytes=22) == "cccccccccc\n"  # began exactly at "bbb...": cannot tell, dropped
    assert logtail.tail_text(path, max_bytes=1000) == "aaaaaaaaaa\nbbbbbbbbbb\ncccccccccc\n"


def test_tail_text_respects_the_start_offset(big_log):
    path, content = big_log
    raw = content.encode()
    # a relaunch started near the end: only its output, whole, first line kept (it begins at the offset)
    start = raw.rfind(b"\n", 0, len(raw) - 10 * KIB) + 1
    text = logtail.tail_text(path, start=start)
    assert text.encode() == raw[start:]
    # a start far before the last 64 KiB does not widen the read
    assert logtail.tail_text(path, start=1000) == logtail.tail_text(path)


def test_tail_text_start_in_a_small_file(tmp_path):
    path = tmp_path / "exp.log"
    path.write_text("first attempt\nloss=nan\nrelaunch\nstep=1/10 loss=0.9\n", encoding="utf-8")
    start = len("first attempt\nloss=nan\n")
    assert logtail.tail_text(path, start=start) == "relaunch\nstep=1/10 loss=0.9\n"
    assert logtail.tail_text(path, start=path.stat().st_size) == ""


def test_tail_text_missing_file_is_empty(tmp_path):
    assert logtail.tail_text(tmp_path / "nope.log") == ""


def test_tail_text_turns_carriage_returns_into_lines(tmp_path):
    path = tmp_path / "exp.log"
    path.write_bytes(b"epoch 1\r 10%\r 50%\r100%\nstep=5/5 loss=0.1\n")
    assert logtail.tail_text(path).splitlines()[-3:] == [" 50%", "100%", "step=5/5 loss=0.1"]


def test_tail_ends_where_the_log_ends(big_log):
    path, content = big_log
    assert logtail.tail_text(path).splitlines()[-30:] == content.splitlines()[-30:]


def test_next_seed_starting_high_is_not_exploding():
    """Seen on an H200: seed 3's first loss (2.3) against seed 2's best (0.01) was taken for an explosion."""
    lines = [
        "=== seed 1 ===",
        "step=340/345 epoch=15 loss=0.0150 lr=0.001",
        "step=345/345 epoch=15 loss=0.0126 lr=0.001",
        "=== seed 2 ===",
        "step=1/345 epoch=1 loss=2.3021 lr=0.001",
        "step=10/345 epoch=1 loss=2.2100 lr=0.001",
        "step=20/345 epoch=1 loss=1.9000 lr=0.001",
    ]
    assert monitor.classify(lines, "running", None) == []
    lines_without_header = [line for line in lines if not line.startswith("===")]
    assert monitor.classify(lines_without_header, "running", None) == []


def test_explosion_within_one_seed_is_still_caught():
    lines = [
        "=== seed 1 ===",
        "step=1/9 epoch=1 loss=1.0 lr=0.1",
        "step=2/9 epoch=1 loss=0.5 lr=0.1",
        "step=3/9 epoch=1 loss=0.4 lr=0.1",
        "step=4/9 epoch=1 loss=80.0 lr=0.1",
    ]
    assert [a.kind for a in monitor.classify(lines, "running", None)] == ["exploding_loss"]
