"""The dataset probe over real files: what a person reads in dataset.json, and where it stopped counting.

Each test writes a real file the way its tool writes it (numpy, torch.save, a safetensors header by
hand, a save_to_disk folder's JSON files) and asserts on what a user sees.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from exprun.machines import dataset_probe
from exprun.machines.dataset_probe import probe

PROBE_SOURCE = Path(dataset_probe.__file__).read_text(encoding="utf-8")


def test_a_missing_path_says_so():
    found = probe("/nonexistent/exprun/data.csv")
    assert found == {
        "path": "/nonexistent/exprun/data.csv",
        "exists": False,
        "type": "missing",
        "structure": "not found",
    }


def test_csv_header_first_five_rows_and_row_count(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("sepal,petal,target\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(12)))
    found = probe(str(path))
    assert found["format"] == "csv" and found["columns"] == ["sepal", "petal", "target"]
    assert found["head"] == [["0", "0", "0"], ["1", "2", "1"], ["2", "4", "2"], ["3", "6", "0"], ["4", "8", "1"]]
    assert found["rows"] == 12 and found["rows_exact"] is True
    assert found["structure"] == "CSV 12 rows × 3 columns"
    assert found["size_bytes"] == path.stat().st_size and found["file_count"] == 1


def test_csv_quoted_cells_and_a_last_line_without_newline(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('name,"note, with comma",target\n"a ""b""",x,1\nc,y,0')
    found = probe(str(path))
    assert found["columns"] == ["name", "note, with comma", "target"]
    assert found["head"] == [['a "b"', "x", "1"], ["c", "y", "0"]]
    assert found["rows"] == 2


def test_tsv_uses_tabs(tmp_path):
    path = tmp_path / "table.tsv"
    path.write_text("text\tlabel\nhello world\t1\nbye\t0\n")
    found = probe(str(path))
    assert found["format"] == "tsv" and found["columns"] == ["text", "label"]
    assert found["head"] == [["hello world", "1"], ["bye", "0"]] and found["structure"] == "TSV 2 rows × 2 columns"


def test_row_count_stops_at_the_cap_and_says_it_is_an_estimate(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,target\n" + "".join(f"{i % 10},{i % 2}\n" for i in range(5000)))
    found = probe(str(path), {"max_rows": 1000})
    assert found["rows_exact"] is False and found["rows_counted"] == 999
    assert 4500 <= found["rows"] <= 5500  # estimated from the bytes per line counted
    assert "~" in found["structure"] and "estimated from the first 1,000 lines" in found["structure"]
    assert "counting stops at 1,000 lines" in found["structure"]


def test_row_count_stops_at_the_byte_cap_too(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("a,target\n" + ("x" * 100 + ",1\n") * 200)
    found = probe(str(path), {"max_count_bytes": 2048})
    assert found["rows_exact"] is False and found["rows_counted"] < 200 and 150 < found["rows"] < 250


def test_a_first_line_longer_than_the_head_budget_is_an_error_not_a_full_read(tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text("a" * 5000 + "\n1\n")
    found = probe(str(path), {"max_head_bytes": 1024})
    assert found["exists"] is True and "first line is longer than 1.0 KB" in found["error"]


def test_jsonl_keys_first_rows_and_count(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [{"text": f"sentence {i}", "label": i % 2} for i in range(8)] + [{"text": "x", "label": 1, "extra": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = probe(str(path))
    assert found["format"] == "jsonl" and found["keys"] == ["text", "label"]
    assert found["head"][0] == {"text": "sentence 0", "label": 0} and len(found["head"]) == 5
    assert found["rows"] == 9 and found["structure"] == "JSONL 9 rows, keys text, label"


def test_a_broken_jsonl_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{not json\n')
    found = probe(str(path))
    assert found["exists"] is True and found["error"].startswith("ValueError: line 2 is not JSON")


def test_npy_header_without_numpy_loading_it(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((7, 3, 2), dtype=np.float32))
    np.save(tmp_path / "labels.npy", np.arange(7, dtype=np.int64))
    np.save(tmp_path / "names.npy", np.array(["ab", "cde"]))
    found = probe(str(tmp_path / "x.npy"))
    assert found["format"] == "npy" and found["dtype"] == "float32" and found["shape"] == [7, 3, 2]
    assert found["structure"] == "NPY array float32 shape (7, 3, 2)"
    assert probe(str(tmp_path / "labels.npy"))["dtype"] == "int64"
    assert probe(str(tmp_path / "names.npy"))["dtype"] == "str (3 chars)"


def test_npy_header_format_version_2(tmp_path):
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (4, 5)}).encode("latin1")
    header += b" " * (-(len(header) + 13) % 64) + b"\n"
    (tmp_path / "v2.npy").write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + b"\0" * 160)
    assert probe(str(tmp_path / "v2.npy"))["shape"] == [4, 5]


def test_a_file_posing_as_npy_is_reported(tmp_path):
    (tmp_path / "fake.npy").write_text("not an array")
    found = probe(str(tmp_path / "fake.npy"))
    assert "no \\x93NUMPY magic" in found["error"] and found["structure"] == "cannot be read"


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_names_shapes_dtypes(tmp_path, save):
    save(tmp_path / "d.npz", X=np.ones((50, 4)), y=np.arange(50, dtype=np.int32))
    found = probe(str(tmp_path / "d.npz"))
    assert found["format"] == "npz"
    assert found["arrays"] == {"X": [50, 4], "y": [50]} and found["dtypes"] == {"X": "float64", "y": "int32"}
    assert found["array_names"] == ["X", "y"]
    assert found["structure"] == "NPZ 2 array(s): X float64 (50, 4), y int32 (50,)"


def _safetensors(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    """The format by hand: an 8-byte little-endian header length, the JSON header, then the bytes."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = int(np.prod(shape)) * dataset_probe.SAFETENSORS_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def test_safetensors_tensor_names_dtypes_shapes(tmp_path):
    path = tmp_path / "model.safetensors"
    _safetensors(path, {"embed.weight": ("F32", [10, 4]), "head.bias": ("BF16", [3])}, {"format": "pt"})
    found = probe(str(path))
    assert found["format"] == "safetensors" and found["tensor_count"] == 2 and found["parameters"] == 43
    assert found["tensors"] == {
        "embed.weight": {"dtype": "F32", "shape": [10, 4]},
        "head.bias": {"dtype": "BF16", "shape": [3]},
    }
    assert found["metadata"] == {"format": "pt"}
    assert found["structure"] == "safetensors 2 tensor(s), 43 values: embed.weight F32 (10, 4), head.bias BF16 (3,)"


def test_a_safetensors_header_longer_than_the_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    assert "does not fit the file" in probe(str(path))["error"]


class _Planted:
    """Unpickling this runs a command: the probe must never do it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_zip_posing_as_pt_is_listed_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights/data.pkl", pickle.dumps(_Planted(marker)))
        archive.writestr("weights/data/0", b"\0" * 16)
        archive.writestr("weights/data/1", b"\0" * 16)
        archive.writestr("weights/version", b"3\n")
    found = probe(str(path))
    assert not marker.exists(), "the probe unpickled the file"
    assert found["format"] == "pytorch" and found["pytorch_archive"] is True and found["storages"] == 2
    assert found["members"] == ["weights/data.pkl", "weights/data/0", "weights/data/1", "weights/version"]
    assert found["structure"].startswith("PyTorch archive (torch.save zip): 2 storage(s), 4 members (not unpickled")


def test_a_real_torch_save_file(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"X": torch.zeros(5, 3), "y": torch.arange(5)}, tmp_path / "data.pt")
    found = probe(str(tmp_path / "data.pt"))
    assert found["pytorch_archive"] is True and found["storages"] == 2


def test_a_zip_without_data_pkl_is_not_called_pytorch(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.pth", "w") as archive:
        archive.writestr("readme.txt", "hi")
    found = probe(str(tmp_path / "other.pth"))
    assert found["pytorch_archive"] is False and "not a torch.save file" in found["structure"]


def test_a_legacy_pickle_pt_is_not_opened(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "old.pt").write_bytes(pickle.dumps(_Planted(marker), protocol=2))
    found = probe(str(tmp_path / "old.pt"))
    assert not marker.exists() and found["pytorch_archive"] is False and "legacy pickle" in found["structure"]


def _hf_split(folder: Path, name: str, rows: int | None) -> None:
    folder.mkdir(parents=True)
    features = {
        "text": {"dtype": "string", "_type": "Value"},
        "label": {"names": ["neg", "pos"], "_type": "ClassLabel"},
        "tokens": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"},
    }
    info = {"dataset_name": "imdb", "features": features}
    if rows is not None:
        info["splits"] = {name: {"name": name, "num_bytes": 1000, "num_examples": rows}}
    (folder / "dataset_info.json").write_text(json.dumps(info))
    (folder / "state.json").write_text(
        json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": name, "_fingerprint": "abc"})
    )
    (folder / "data-00000-of-00001.arrow").write_bytes(b"\0" * 256)


def test_a_hugging_face_dataset_dict_saved_to_disk(tmp_path):
    root = tmp_path / "imdb"
    _hf_split(root / "train", "train", 25000)
    _hf_split(root / "test", "test", None)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    found = probe(str(root))
    assert found["type"] == "folder" and found["format"] == "hf_dataset" and found["hf_kind"] == "DatasetDict"
    train, test = found["splits"]["train"], found["splits"]["test"]
    assert train["num_rows"] == 25000 and test["num_rows"] is None
    assert train["features"] == {
        "text": "string",
        "label": "ClassLabel(2 classes: neg, pos)",
        "tokens": "Sequence(int32)",
    }
    assert train["files"] == ["data-00000-of-00001.arrow"] and train["dataset_name"] == "imdb"
    assert found["structure"].startswith(
        "Hugging Face DatasetDict (save_to_disk): splits train (25,000 rows), "
        "test (rows not recorded); features text: string, label: ClassLabel"
    )
    assert found["file_count"] == 7 and [e["name"] for e in found["entries"]] == [
        "dataset_dict.json",
        "test/",
        "train/",
    ]


def test_a_single_hugging_face_dataset_saved_to_disk(tmp_path):
    _hf_split(tmp_path / "ds", "validation", 872)
    found = probe(str(tmp_path / "ds"))
    assert found["hf_kind"] == "Dataset" and list(found["splits"]) == ["validation"]
    assert found["splits"]["validation"]["num_rows"] == 872


def test_a_folder_lists_its_top_with_sizes(tmp_path):
    (tmp_path / "images" / "cats").mkdir(parents=True)
    (tmp_path / "images" / "cats" / "1.jpg").write_bytes(b"\0" * 300)
    (tmp_path / "images" / "2.jpg").write_bytes(b"\0" * 200)
    (tmp_path / "labels.csv").write_text("file,label\n")
    found = probe(str(tmp_path))
    assert found["format"] == "folder" and found["file_count"] == 3 and found["file_count_capped"] is False
    assert found["entries"] == [
        {"name": "images/", "kind": "folder", "size_bytes": 500, "file_count": 2},
        {"name": "labels.csv", "kind": "file", "size_bytes": 11},
    ]
    assert found["structure"] == "folder: 3 files, 511 B"


def test_a_big_folder_costs_the_same_it_lists_20_and_stops_counting_at_the_cap(tmp_path):
    for shard in range(30):
        folder = tmp_path / f"shard_{shard:02d}"
        folder.mkdir()
        for i in range(40):
            (folder / f"{i}.bin").write_bytes(b"\0" * 10)
    found = probe(str(tmp_path), {"max_files": 500})
    assert len(found["entries"]) == 20 and found["entries"][0]["name"] == "shard_00/"
    assert found["entry_count"] == 30 and found["entries_capped"] is True
    assert found["file_count_capped"] is True and found["file_count"] < 500  # 1,200 files there: counting stopped
    assert found["entries"][0] == {"name": "shard_00/", "kind": "folder", "size_bytes": 400, "file_count": 40}
    assert any(e.get("capped") or e["size_bytes"] is None for e in found["entries"])
    assert found["structure"].startswith("folder: ≥") and "(counting stopped after 500 entries)" in found["structure"]
    everything = probe(str(tmp_path))
    assert everything["file_count"] == 1200 and everything["file_count_capped"] is False


def test_a_link_loop_in_a_folder_is_walked_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    (tmp_path / "a" / "back").symlink_to(tmp_path, target_is_directory=True)
    found = probe(str(tmp_path))
    assert found["file_count"] == 1 and found["file_count_capped"] is False


def test_runs_as_a_script_from_stdin_with_the_system_python(tmp_path):
    """How it runs on a server: `python3 - <path> '<options>'`, the module's text on stdin, exprun not installed."""
    np.savez(tmp_path / "d d'.npz", X=np.ones((3, 2)), y=np.zeros(3))
    done = subprocess.run(
        ["python3", "-", str(tmp_path / "d d'.npz"), json.dumps({"max_entries": 5})],
        input=PROBE_SOURCE,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["exists"] is True and answer["arrays"] == {"X": [3, 2], "y": [3]}


def test_the_probe_imports_only_the_standard_library():
    import ast

    tree = ast.parse(PROBE_SOURCE)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
