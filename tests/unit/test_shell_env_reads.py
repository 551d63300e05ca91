"""The shell side of the environment check: a script's own variables (assignments, loop variables, `read`,
function arguments, defaults) are never asked of the environment; what it reads before anything could set it
is. Each row is a pattern real run.sh files use → the names deploy would require."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from exprun.core import config
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines import env_needs
from exprun.prepare.codegen import generate
from exprun.prepare.codegen.templates_run import render_run_sh

REPO = Path(__file__).resolve().parents[2]


def required(script: str) -> set[str]:
    return {r.name for r in env_needs.shell_reads(script) if r.required and not env_needs.provided(r.name)}


def optional(script: str) -> set[str]:
    found = env_needs.shell_reads(script)
    return {r.name for r in found if not r.required} - {r.name for r in found if r.required}


PATTERNS = [
    # the two false positives
    ("assignment then use, one line", 'TASK_DIR=logs/x; mkdir -p "$TASK_DIR"\n', set()),
    ("assignment then flag, one line", "OUT=results; python train.py --out $OUT\n", set()),
    ("strict mode", 'set -euo pipefail\nLR=0.1\npython train.py --lr "$LR"\n', set()),
    ("assignment default idiom", ': "${DATA_ROOT:=/data}"\nls "$DATA_ROOT"\n', set()),
    ("default expansion", 'python train.py --data "${DATA_ROOT:-/data}"\n', set()),
    ("default then plain read", 'echo "${WANDB_MODE:-online}"\npython x.py --mode $WANDB_MODE\n', {"WANDB_MODE"}),
    ("export assignment", "export CUDA_VISIBLE_DEVICES=0,1\nexport HF_HOME=/scratch/hf\nls $HF_HOME\n", set()),
    ("bare export reads the environment", 'export HF_TOKEN\npython dl.py --token "$HF_TOKEN"\n', {"HF_TOKEN"}),
    ("for loop variable", 'for seed in 0 1 2; do\n  python train.py --seed "$seed"\ndone\n', set()),
    ("for over args", 'for arg; do echo "$arg"; done\n', set()),
    ("c-style for", "for ((i=0; i<3; i++)); do echo $i; done\n", set()),
    ("c-style for bound from env", 'for ((i=0; i<N_RUNS; i++)); do echo "$i"; done\n', {"N_RUNS"}),
    ("while read", 'while read -r line; do\n  echo "$line"\ndone < jobs.txt\n', set()),
    (
        "IFS read of fields",
        'while IFS=, read -r name lr; do python t.py --lr "$lr" --name "$name"; done < g.csv\n',
        set(),
    ),
    ("read -a array", 'read -r -a GPU_LIST <<< "0 1"\necho "${GPU_LIST[0]} ${#GPU_LIST[@]}"\n', set()),
    ("mapfile", 'mapfile -t CONFIGS < <(ls configs)\nfor c in "${CONFIGS[@]}"; do echo $c; done\n', set()),
    ("function params and local", 'run() {\n  local seed=$1 name="$2"\n  echo "$seed $name $#"\n}\nrun 0 a\n', set()),
    ("function uses a later top-level variable", 'log() { echo "[$RUN_NAME] $*"; }\nRUN_NAME=exp1\nlog hi\n', set()),
    ("function keyword", 'function train_one {\n  typeset lr=$1\n  python t.py --lr "$lr"\n}\n', set()),
    (
        "script dir",
        'SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)\ncd "$SCRIPT_DIR"\n'
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"\n',
        set(),
    ),
    ("arrays", 'ARGS=(--lr 0.1 --bs "$BS_FROM_ENV")\nARGS+=(--x)\npython t.py "${ARGS[@]}"\n', {"BS_FROM_ENV"}),
    ("special parameters", 'echo "$@ $* $# $? $$ $! $0 $1 ${10} $_ $-"\n', set()),
    ("bash's own variables", 'echo "$RANDOM $HOME $PATH $USER $PWD $HOSTNAME $SECONDS $LINENO"\n', set()),
    (
        "unquoted heredoc expands",
        "cat > cfg.yaml <<EOF\nlr: $LR\nmodel: ${MODEL_NAME}\nEOF\nLR=1\n",
        {"LR", "MODEL_NAME"},
    ),
    ("quoted heredoc does not", "python - <<'PY'\nprint('$NOT_A_VAR')\nPY\n", set()),
    ("heredoc body after its command", "N=3\ncat <<EOF\n$N\nEOF\necho done\n", set()),
    (
        "case",
        'MODE=${1:-train}\ncase "$MODE" in\n  train) STEPS=100 ;;\n  eval|test) STEPS=0 ;;\nesac\necho $STEPS\n',
        set(),
    ),
    ("arithmetic", "i=0\ntotal=$((i + 1))\necho $(( total * 2 ))\n((i++))\n", set()),
    ("arithmetic on an env name", "echo $(( NUM_GPUS * 2 ))\n", {"NUM_GPUS"}),
    ("array length", 'SEEDS=(0 1 2)\necho "${#SEEDS[@]}" "${SEEDS[-1]}"\n', set()),
    (
        "assigned later in the loop",
        'for s in 1 2; do\n  [ -n "$prev" ] && echo "after $prev"\n  echo "$last"\n  prev=$s; last=$s\ndone\n',
        set(),
    ),
    ("read before its assignment", 'python train.py --model "$MODEL"\nMODEL=gpt2\n', {"MODEL"}),
    ("source of a file in the folder", 'source ./env.sh\npython t.py --lr "$LR"\n', set()),
    (
        "assigned in an if branch",
        'if [ "$(nproc)" -gt 8 ]; then\n  WORKERS=8\nelse\n  WORKERS=2\nfi\necho $WORKERS\n',
        set(),
    ),
    (
        "declare typeset readonly",
        "declare -i STEPS=10\ndeclare -A MAP\nreadonly OUT_DIR=out\necho $STEPS ${MAP[a]} $OUT_DIR\n",
        set(),
    ),
    ("command-prefix assignment", "WANDB_MODE=offline python train.py\necho $WANDB_MODE\n", {"WANDB_MODE"}),
    ("prefix assignment not expanded", "X=1 python train.py --x $X\n", {"X"}),
    ("comments", "# needs $OPENAI_API_KEY to be set\necho hi  # and $ANOTHER\n", set()),
    ("single quotes", "echo '$NOT_A_VAR'\nawk '{print $NF, $1}' f\n", set()),
    ("escaped dollar and ANSI-C quotes", "echo \\$LITERAL $'tab\\t$X'\n", set()),
    ("inside double quotes", 'echo "model: $MODEL_PATH"\n', {"MODEL_PATH"}),
    ("required with message", 'python t.py --key "${OPENAI_API_KEY:?set OPENAI_API_KEY}"\n', {"OPENAI_API_KEY"}),
    ("default the -z way", 'if [ -z "$DATA_DIR" ]; then\n  DATA_DIR=./data\nfi\nls "$DATA_DIR"\n', set()),
    (
        "a -z guard that exits",
        '[ -z "$HF_TOKEN" ] && { echo "set HF_TOKEN"; exit 1; }\nhuggingface-cli login\n',
        {"HF_TOKEN"},
    ),
    ("-n guard", 'if [ -n "$WANDB_API_KEY" ]; then\n  wandb login "$WANDB_API_KEY"\nfi\n', set()),
    ("-n and-list", '[[ -n "${SLACK_URL:-}" && -n "$RUN" ]] && curl "$SLACK_URL"\nRUN=1\n', set()),
    ("equality switch", 'if [ "$DEBUG" = 1 ]; then set -x; fi\n[[ $FAST == yes ]] && EPOCHS=1\n', set()),
    (
        "getopts",
        'while getopts "l:s:" opt; do\n  case $opt in\n    l) LR=$OPTARG ;;\n'
        "    s) SEED=$OPTARG ;;\n  esac\ndone\necho $LR $SEED\n",
        set(),
    ),
    ("printf -v and let", 'printf -v STAMP "%s" now\nlet "count = 0"\nlet n=5\necho $STAMP $count $n\n', set()),
    ("backquotes", "D=`date +%s`\necho `echo $D`\n", set()),
    ("subshell and pipes", '(cd sub && python t.py) | tee log.txt\nN=$(wc -l < f | tr -d " ")\necho $N\n', set()),
    ("nested substitution keeps a real need", 'echo "$(basename "$CKPT_PATH")"\n', {"CKPT_PATH"}),
    ("hydra-style argument is not an assignment", "python train.py seed=$SEED lr=0.1\n", {"SEED"}),
    ("redirections and fds", 'LOG=run.log\npython t.py > "$LOG" 2>&1\npython t.py &>> "$LOG"\n', set()),
    ("line continuation", 'OUT=out\npython train.py \\\n  --out "$OUT" \\\n  --data "$DATA"\n', {"DATA"}),
    ("parameter operations", 'F=model.pt\necho "${F%.pt}" "${F##*/}" "${F/model/m}" "${F^^}"\n', set()),
    ("indirect", 'NAME=LR\necho "${!NAME}"\n', set()),
    ("activation", "source ~/miniconda3/bin/activate torch\nconda activate exp\nsource .venv/bin/activate\n", set()),
    ("inline python reads", "python -c 'import os; print(os.environ[\"API_BASE\"])'\n", {"API_BASE"}),
    # `-v NAME` tests whether NAME is set, like `-n "$NAME"`
    ("-v and-list", '[[ -v HF_TOKEN ]] && huggingface-cli login --token "$HF_TOKEN"\n', set()),
    ("-v in an if", 'if [ -v WANDB_API_KEY ]; then\n  wandb login "$WANDB_API_KEY"\nfi\n', set()),
    ("test -v", 'test -v SLACK_URL && curl "${SLACK_URL}"\n', set()),
    ("-v of an array element", '[[ -v GPUS[0] ]] && echo "$GPUS"\n', set()),
    (
        "a -v check that exits",
        '[[ -v API_KEY ]] || { echo "set API_KEY"; exit 1; }\npython t.py --k "$API_KEY"\n',
        {"API_KEY"},
    ),
    # commands that change the environment in ways exprun cannot see: later reads may be theirs
    ("module load", "module load cuda/12.1\nexport PATH=$CUDA_HOME/bin:$PATH\n", set()),
    ("module add and restore", "module add gcc\necho $GCC_ROOT\nmodule --force restore dl\necho $CUDNN_ROOT\n", set()),
    ("ml", "ml cuda\necho $CUDA_HOME\n", set()),
    ("a read before module load", 'echo "$CUDA_HOME"\nmodule load cuda\necho "$CUDA_HOME"\n', {"CUDA_HOME"}),
    ("module list sets nothing", "module list\necho $CUDA_HOME\n", {"CUDA_HOME"}),
    (
        "conda hook and activate",
        'eval "$(conda shell.bash hook)"\nconda activate exp\necho "$CONDA_DEFAULT_ENV"\n',
        set(),
    ),
    ("conda activate", "conda activate exp\necho $CONDA_DEFAULT_ENV\n", set()),
    ("mamba activate", "mamba activate exp\necho $CONDA_DEFAULT_ENV\n", set()),
    ("source activate", "source activate exp\necho $CONDA_DEFAULT_ENV\n", set()),
    ("eval of a command substitution", "eval `ssh-agent -s`\nssh-add; echo $SSH_AGENT_PID\n", set()),
    ("eval of a plain string sets nothing seen", 'eval "echo hi"\necho "$HF_TOKEN"\n', {"HF_TOKEN"}),
    ("spack load", "spack load openmpi\necho $MPI_HOME\n", set()),
    ("spack env activate", "spack env activate exp\necho $SPACK_ENV\n", set()),
    ("spack find sets nothing", "spack find\necho $MPI_HOME\n", {"MPI_HOME"}),
    ("a venv's activate sets only VIRTUAL_ENV and PATH", 'source .venv/bin/activate\necho "$HF_TOKEN"\n', {"HF_TOKEN"}),
]


@pytest.mark.parametrize("script, needs", [p[1:] for p in PATTERNS], ids=[p[0] for p in PATTERNS])
def test_a_pattern_needs_exactly_what_it_reads_from_the_environment(script, needs):
    assert required(script) == needs


def test_there_are_at_least_30_patterns():
    assert len(PATTERNS) >= 30


def test_defaults_and_tests_stay_listed_as_optional():
    assert optional('python t.py --data "${DATA_ROOT:-/data}"\n') == {"DATA_ROOT"}
    assert optional('if [ -n "$WANDB_API_KEY" ]; then wandb login "$WANDB_API_KEY"; fi\n') == {"WANDB_API_KEY"}
    reads = env_needs.shell_reads('source ~/secrets.env\npython t.py --key "$API_KEY"\n')
    assert reads == [("API_KEY", 2, False, "may be set by ~/secrets.env, sourced at line 1")]


def test_a_v_test_is_listed_as_an_optional_read():
    assert env_needs.shell_reads("[[ -v DEBUG ]] && set -x\n") == [
        ("DEBUG", 1, False, "the script tests whether it is set")
    ]
    assert optional('if ! [ -v CKPT ]; then CKPT=none; fi\necho "$CKPT"\n') == {"CKPT"}


@pytest.mark.parametrize(
    "script, why",
    [
        ("module load cuda\necho $CUDA_HOME\n", "may be set by module load cuda, run at line 1"),
        (
            'X=1\neval "$(conda shell.bash hook)"\nconda activate x\necho $CONDA_DEFAULT_ENV\n',
            'may be set by eval "$(conda shell.bash hook)", run at line 2',
        ),
        ("spack env activate \\\n  exp\necho $SPACK_ENV\n", "may be set by spack env activate exp, run at line 1"),
        ("source activate exp\necho $CONDA_DEFAULT_ENV\n", "may be set by source activate exp, run at line 1"),
    ],
)
def test_an_environment_command_makes_later_reads_optional_and_says_which(script, why):
    (read,) = env_needs.shell_reads(script)
    assert not read.required and read.why == why


def test_a_sourced_folder_file_sets_its_names_and_other_sources_soften(tmp_path):
    (tmp_path / "env.sh").write_text("export LR=0.1\nBATCH=32\n")
    (tmp_path / "run.sh").write_text(
        'HERE="$(dirname "$0")"\nsource "$HERE/env.sh"\npython t.py --lr $LR --bs $BATCH --k "$KEY"\n'
    )
    needs = {n.name: n for n in env_needs.scan(tmp_path)}
    assert set(needs) == {"KEY"} and needs["KEY"].required


def _names(code: Path) -> set[str]:
    cfg = yaml.safe_load((code / "config.yaml").read_text()) if (code / "config.yaml").exists() else {}
    return {n.name for n in env_needs.scan(code, ExperimentConfig.from_mapping(cfg or {})) if n.required}


@pytest.mark.parametrize(
    "activate", ["", "source ~/miniconda3/bin/activate exp", "conda activate exp", "module load cuda"]
)
def test_the_built_in_run_sh_needs_nothing(activate, tmp_path):
    (tmp_path / "run.sh").write_text(render_run_sh("a-b", "/usr/bin/python3", activate))
    assert env_needs.scan(tmp_path) == []  # EXPRUN_* / OMP_NUM_THREADS / CUDA_VISIBLE_DEVICES: exprun's own


@pytest.mark.parametrize(
    "slug",
    sorted(p.stem for p in (REPO / "examples/wiki/wiki/experiments").glob("*.md")),
)
def test_every_example_folder_needs_nothing(slug, example_wiki):
    generate.generate(slug, config.parse({}), example_wiki)
    assert _names(Paths(slug, example_wiki).code_dir) == set()


def _readme_scripts() -> list[tuple[str, str]]:
    """The shell blocks of README.md and docs/, and scripts/*.sh: what a person copies into a run.sh."""
    out = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for k, block in enumerate(re.findall(r"```(?:bash|sh)\n(.*?)```", doc.read_text(), re.S)):
            out.append((f"{doc.name}#{k}", block))
    return out


@pytest.mark.parametrize("name, script", _readme_scripts(), ids=[n for n, _ in _readme_scripts()])
def test_the_readme_and_docs_shell_blocks_need_nothing(name, script):
    assert required(script) == set()


@pytest.mark.parametrize("path", sorted((REPO / "scripts").glob("*.sh")), ids=lambda p: p.name)
def test_the_repository_scripts_need_nothing(path):
    """Each reads only its own variables and defaulted settings (EXPRUN_DEMO_DIR, EXPRUN_SLURM_DIR, ...)."""
    assert required(path.read_text()) == set()


def test_a_half_written_script_never_stops_the_scan():
    """Unclosed quotes, arrays, heredocs and substitutions (a run.sh mid-edit): an answer, never an error or a hang."""
    script = render_run_sh("a-b", "/usr/bin/python3", "") + 'X=(a; b\ncase $1 in\n;;\ncat <<EOF\n$(( "${'
    for end in range(0, len(script), 11):
        env_needs.shell_reads(script[:end])
