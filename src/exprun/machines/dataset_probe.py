"""What is at a dataset path: exists, size, files, the top of a folder, and the structure of known formats.

Standard library only, on purpose: the dataset check runs this same source in-process for a
path here, and on a GPU server or SLURM login node as `python3 - <path> '<options json>'`
with this text on stdin (one JSON object on stdout), where exprun is not installed. It never
executes the data: .npy/.npz headers are parsed as literals, a PyTorch archive is only listed
(never unpickled). Every read is bounded (bytes read, lines counted, folder entries walked), so a
100 GB folder or a billion-line CSV costs about the same as a small one, and the answer says
where it stopped counting.

The fingerprint a run's capsule records: the path, the size, the file count and, for a dataset of at most
256 MiB (`max_hash_bytes`), `content_sha256` — one SHA-256 over every file's relative path and content hash, in
name order (links followed, as the program reads them). A larger one is not read in full; `content_hash_note`
says so, and size plus file count stand for it.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import itertools
import json
import os
import struct
import sys
import zipfile

LIMITS = {
    "max_entries": 20,  # folder entries listed (depth 1, by name)
    "max_files": 100_000,  # folder entries walked for the file count and sizes
    "head_rows": 5,  # first rows shown for CSV/TSV/JSONL
    "max_rows": 1_000_000,  # lines counted before the row count becomes an estimate
    "max_count_bytes": 256 << 20,  # bytes read while counting lines
    "max_head_bytes": 1 << 20,  # bytes read for a table's header and first rows
    "max_json_bytes": 8 << 20,  # dataset_info.json, state.json, dataset_dict.json
    "max_header_bytes": 100 << 20,  # safetensors header (the format's own limit)
    "max_members": 200,  # NPZ arrays whose header is read; archive members listed
    "max_tensors": 50,  # safetensors tensors listed
    "max_cell_chars": 200,  # characters kept of each shown cell
    "max_hash_bytes": 256 << 20,  # a dataset up to this size gets a content hash (the run's capsule records it)
}
TABLE_FORMATS = {".csv": ("csv", ","), ".tsv": ("tsv", "\t")}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt")
NPY_MAGIC = b"\x93NUMPY"
DTYPE_KINDS = {
    "f": "float",
    "i": "int",
    "u": "uint",
    "c": "complex",
    "b": "bool",
    "U": "str",
    "S": "bytes",
    "O": "object",
    "M": "datetime64",
    "m": "timedelta64",
    "V": "void",
}
SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def probe(path: str, options: dict | None = None) -> dict:
    """The answer for one path; never raises (a reader's failure is the answer's `error`)."""
    limits = {**LIMITS, **(options or {})}
    path = os.path.abspath(os.path.expanduser(str(path)))
    if not os.path.exists(path):
        return {"path": path, "exists": False, "type": "missing", "structure": "not found"}
    try:
        if os.path.isdir(path):
            report = {"path": path, "exists": True, "type": "folder", **_folder(path, limits)}
            return {**report, **_fingerprint(path, report, limits)}
        if not os.path.isfile(path):
            return {
                "path": path,
                "exists": True,
                "type": "other",
                "structure": "not a regular file or folder",
                "error": "not a regular file or folder",
            }
        size = os.path.getsize(path)
        report = {"path": path, "exists": True, "type": "file", "size_bytes": size, "file_count": 1}
    except Exception as exc:  # noqa: BLE001 - an unreadable folder or file is an answer, not a crash
        return {"path": path, "exists": True, "type": "unreadable", "structure": "cannot be read", "error": _why(exc)}
    try:
        report.update(_describe_file(path, size, limits))
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported, never raised, so a bad file is an answer
        report.update(format=_suffix(path).lstrip(".") or "file", structure="cannot be read", error=_why(exc))
    return {**report, **_fingerprint(path, report, limits)}


# ------------------------------------------------------------------------------------------ fingerprint
def _fingerprint(path: str, report: dict, limits: dict) -> dict:
    """`content_sha256` of a dataset within the size cap, else `content_hash_note` saying why there is none."""
    size, cap = report.get("size_bytes"), limits["max_hash_bytes"]
    if report.get("file_count_capped"):
        return {"content_hash_note": "not hashed: too many files to count"}
    if not isinstance(size, int) or size > cap:
        return {"content_hash_note": f"not hashed: larger than the {human_size(cap)} cap (size and file count only)"}
    try:
        if os.path.isfile(path):
            return {"content_sha256": _file_sha256(path)}
        digest = hashlib.sha256()
        for rel, full in _files_below(path):
            digest.update(rel.encode() + b"\0" + _file_sha256(full).encode() + b"\n")
        return {"content_sha256": digest.hexdigest()}
    except OSError as exc:
        return {"content_hash_note": f"not hashed: {_why(exc)}"}


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_below(top: str) -> list:
    """(relative posix path, path) of every file under top, by name; a linked folder is walked once."""
    found, seen = [], set()
    for current, folders, files in os.walk(top, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders.sort()
        for name in files:
            full = os.path.join(current, name)
            if os.path.isfile(full):
                found.append((os.path.relpath(full, top).replace(os.sep, "/"), full))
    return sorted(found)


# ----------------------------------------------------------------------------------------- folders
def _folder(path: str, limits: dict) -> dict:
    scanned: list[os.DirEntry[str]]
    scanned, truncated = [], False
    with os.scandir(path) as it:
        for entry in it:
            if len(scanned) >= limits["max_files"]:
                truncated = True
                break
            scanned.append(entry)
    scanned.sort(key=lambda e: e.name)
    budget, seen = [limits["max_files"]], {os.path.realpath(path)}
    files = size = 0
    stopped = truncated
    listed = []
    for index, entry in enumerate(scanned):
        got = _entry_size(entry, budget, seen)
        if got is None:  # the walk budget ran out before this entry
            stopped = True
        else:
            files, size, stopped = files + got[0], size + got[1], stopped or got[2]
        if index < limits["max_entries"]:
            listed.append(_listed(entry, got))
    report = {
        "size_bytes": size,
        "file_count": files,
        "file_count_capped": stopped,
        "entry_count": len(scanned),
        "entries_capped": truncated or len(scanned) > limits["max_entries"],
        "entries": listed,
    }
    try:
        hf = _hf_dataset(path, limits)
    except Exception as exc:  # noqa: BLE001 - a broken dataset_dict.json is reported with the rest of the folder
        hf, report["error"] = None, f"Hugging Face dataset files cannot be read: {_why(exc)}"
    report.update(hf or {"format": "folder"})
    at_least = "≥" if stopped else ""
    counted = f"{at_least}{files:,} files, {at_least}{human_size(size)}"
    stop = f" (counting stopped after {limits['max_files']:,} entries)" if stopped else ""
    shown = (
        f"; top {len(listed)} of {'≥' if truncated else ''}{len(scanned):,} entries listed"
        if len(scanned) > len(listed)
        else ""
    )
    report["structure"] = (hf["structure"] + f"; {counted}{stop}") if hf else f"folder: {counted}{stop}{shown}"
    return report


def _entry_size(entry, budget: list, seen: set) -> tuple[int, int, bool] | None:
    """(files, bytes, stopped early) under one top entry, spending the shared budget of entries walked;
    None when none was left. Iterative (any depth), links followed once (a loop is walked once)."""
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    try:
        if not entry.is_dir():
            return 1, entry.stat().st_size, False
    except OSError:
        return 0, 0, False  # unreadable entries count as empty, never stop the answer
    files = size = 0
    stack = [entry.path]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                for child in it:
                    if budget[0] <= 0:
                        return files, size, True
                    budget[0] -= 1
                    try:
                        if child.is_dir():
                            stack.append(child.path)
                        else:
                            files, size = files + 1, size + child.stat().st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return files, size, False


def _listed(entry, got) -> dict:
    try:
        kind = "folder" if entry.is_dir() else "file"
    except OSError:
        kind = "unreadable"
    item = {"name": entry.name + ("/" if kind == "folder" else ""), "kind": kind}
    if got is None:
        item["size_bytes"] = None
    else:
        item["size_bytes"] = got[1]
        if kind == "folder":
            item["file_count"] = got[0]
        if got[2]:
            item["capped"] = True
    return item


def _hf_dataset(path: str, limits: dict) -> dict | None:
    """A Hugging Face `datasets` folder written by save_to_disk: a DatasetDict or one Dataset."""
    top = os.path.join(path, "dataset_dict.json")
    if os.path.isfile(top):
        names = _read_json(top, limits).get("splits") or []
        splits = {str(name): _hf_split(os.path.join(path, str(name)), limits) for name in names}
        kind = "DatasetDict"
    elif os.path.isfile(os.path.join(path, "state.json")) and os.path.isfile(os.path.join(path, "dataset_info.json")):
        split = _hf_split(path, limits)
        splits = {split.pop("split", None) or "(unnamed)": split}
        kind = "Dataset"
    else:
        return None
    parts = []
    for name, split in splits.items():
        rows = split.get("num_rows")
        parts.append(f"{name} ({f'{rows:,} rows' if isinstance(rows, int) else 'rows not recorded'})")
    features: dict = next((s["features"] for s in splits.values() if s.get("features")), {})
    shown = ", ".join(f"{k}: {v}" for k, v in itertools.islice(features.items(), 10))
    more = f", … {len(features) - 10} more" if len(features) > 10 else ""
    structure = f"Hugging Face {kind} (save_to_disk): splits {', '.join(parts) or '(none)'}"
    if features:
        structure += f"; features {shown}{more}"
    return {"format": "hf_dataset", "hf_kind": kind, "splits": splits, "features": features, "structure": structure}


def _hf_split(folder: str, limits: dict) -> dict:
    info_path, state_path = os.path.join(folder, "dataset_info.json"), os.path.join(folder, "state.json")
    if not os.path.isdir(folder):
        return {"missing": True}
    info = _read_json(info_path, limits) if os.path.isfile(info_path) else {}
    state = _read_json(state_path, limits) if os.path.isfile(state_path) else {}
    name = state.get("_split") or os.path.basename(folder)
    recorded = (info.get("splits") or {}).get(str(name)) if isinstance(info.get("splits"), dict) else None
    split = {
        "split": state.get("_split"),
        "features": {str(k): _feature(v) for k, v in (info.get("features") or {}).items()},
        "num_rows": recorded.get("num_examples") if isinstance(recorded, dict) else None,
        "files": [str(f.get("filename")) for f in (state.get("_data_files") or []) if isinstance(f, dict)],
    }
    if info.get("dataset_name") or info.get("builder_name"):
        split["dataset_name"] = info.get("dataset_name") or info.get("builder_name")
    return split


def _feature(spec) -> str:
    """A `datasets` feature as a short type: string, int64, ClassLabel(10 classes: …), Sequence(float32)."""
    if isinstance(spec, list):
        return f"[{_feature(spec[0])}]" if spec else "[]"
    if not isinstance(spec, dict):
        return str(spec)
    kind = spec.get("_type")
    if kind == "Value":
        return str(spec.get("dtype"))
    if kind == "ClassLabel":
        names = [str(n) for n in spec.get("names") or []]
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        return f"ClassLabel({len(names)} classes" + (f": {shown})" if names else ")")
    if kind in ("Sequence", "List", "LargeList"):
        return f"{kind}({_feature(spec.get('feature'))})"
    if kind and (spec.get("shape") or spec.get("dtype")):
        return f"{kind}({spec.get('shape')}, {spec.get('dtype')})"
    if kind:
        return str(kind)
    return "{" + ", ".join(f"{k}: {_feature(v)}" for k, v in spec.items()) + "}"


# ------------------------------------------------------------------------------------------- files
def _describe_file(path: str, size: int, limits: dict) -> dict:
    suffix = _suffix(path)
    if suffix in TABLE_FORMATS:
        return _table(path, size, *TABLE_FORMATS[suffix], limits)
    if suffix in JSONL_SUFFIXES:
        return _jsonl(path, size, limits)
    if suffix == ".npy":
        with open(path, "rb") as handle:
            header = _npy_header(handle)
        return {"format": "npy", **header, "structure": f"NPY array {header['dtype']} shape {tuple(header['shape'])}"}
    if suffix == ".npz":
        return _npz(path, limits)
    if suffix == ".safetensors":
        return _safetensors(path, size, limits)
    if suffix in TORCH_SUFFIXES:
        return _torch(path, limits)
    return {
        "format": suffix.lstrip(".") or "file",
        "structure": f"{suffix or 'file'} (contents checked by the sanity run)",
    }


def _table(path: str, size: int, name: str, delimiter: str, limits: dict) -> dict:
    text = _head_text(path, size, limits)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = list(itertools.islice(reader, limits["head_rows"] + 1))
    if not rows:
        return {
            "format": name,
            "columns": [],
            "rows": 0,
            "rows_exact": True,
            "head": [],
            "structure": f"{name.upper()}: empty",
        }
    columns, head = rows[0], [[_cell(c, limits) for c in row] for row in rows[1:]]
    counted = _count_lines(path, size, limits)
    report = {"format": name, "columns": columns, "head": head, **_rows(counted["lines"] - 1, counted, size)}
    report["structure"] = f"{name.upper()} {_rows_text(report, counted, limits)} × {len(columns)} columns"
    return report


def _jsonl(path: str, size: int, limits: dict) -> dict:
    text = _head_text(path, size, limits)
    head: list
    head, keys = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if len(head) >= limits["head_rows"]:
            break
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON ({exc})") from None
        head.append(_shown(row, limits))
        keys += [str(k) for k in row if str(k) not in keys] if isinstance(row, dict) else []
    counted = _count_lines(path, size, limits)
    report = {"format": "jsonl", "keys": keys, "head": head, **_rows(counted["lines"], counted, size)}
    report["structure"] = f"JSONL {_rows_text(report, counted, limits)}" + (
        f", keys {', '.join(keys[:20])}" if keys else ""
    )
    return report


def _head_text(path: str, size: int, limits: dict) -> str:
    """The first bytes as text, cut at the last whole line (never a whole huge file)."""
    with open(path, "rb") as handle:
        data = handle.read(limits["max_head_bytes"])
    if size > len(data):
        cut = data.rfind(b"\n")
        if cut < 0:
            raise ValueError(f"the first line is longer than {human_size(limits['max_head_bytes'])}")
        data = data[: cut + 1]
    return data.decode("utf-8", "replace").lstrip("\ufeff")


def _count_lines(path: str, size: int, limits: dict) -> dict:
    """Lines up to max_rows lines or max_count_bytes bytes; an unterminated last line counts."""
    lines = read = 0
    last = b"\n"
    capped = False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(min(1 << 20, limits["max_count_bytes"] - read))
            if not block:
                capped = read < size
                break
            found = block.count(b"\n")
            if lines + found >= limits["max_rows"]:
                cut = -1
                for _ in range(limits["max_rows"] - lines):
                    cut = block.index(b"\n", cut + 1)
                lines, read = limits["max_rows"], read + cut + 1
                capped = read < size
                break
            lines, read, last = lines + found, read + len(block), block[-1:]
    if not capped and read and last != b"\n":
        lines += 1
    return {"lines": lines, "bytes": read, "capped": capped}


def _rows(rows: int, counted: dict, size: int) -> dict:
    rows = max(rows, 0)
    if not counted["capped"]:
        return {"rows": rows, "rows_exact": True}
    estimate = int(rows * size / max(counted["bytes"], 1))
    return {"rows": estimate, "rows_exact": False, "rows_counted": rows}


def _rows_text(report: dict, counted: dict, limits: dict) -> str:
    if report["rows_exact"]:
        return f"{report['rows']:,} rows"
    return (
        f"~{report['rows']:,} rows (estimated from the first {counted['lines']:,} lines, "
        f"{human_size(counted['bytes'])}; counting stops at {limits['max_rows']:,} lines)"
    )


def _npy_header(handle) -> dict:
    """dtype and shape from an .npy header (format versions 1-3), parsed as a literal."""
    if handle.read(6) != NPY_MAGIC:
        raise ValueError("not an .npy array (no \\x93NUMPY magic)")
    major, minor = handle.read(2)
    if major == 1:
        (length,), encoding = struct.unpack("<H", handle.read(2)), "latin1"
    elif major in (2, 3):
        (length,), encoding = struct.unpack("<I", handle.read(4)), "latin1" if major == 2 else "utf8"
    else:
        raise ValueError(f"unknown .npy format version {major}.{minor}")
    if length > 1 << 20:
        raise ValueError(f".npy header of {length} bytes is too long")
    header = ast.literal_eval(handle.read(length).decode(encoding))
    if not isinstance(header, dict) or "descr" not in header or "shape" not in header:
        raise ValueError(".npy header lacks descr/shape")
    return {
        "dtype": _dtype(header["descr"]),
        "shape": [int(n) for n in header["shape"]],
        "fortran_order": bool(header.get("fortran_order")),
    }


def _dtype(descr) -> str:
    """'<f8' → float64, '|b1' → bool, '<U10' → str (10 chars); structured dtypes by field names."""
    if isinstance(descr, list):
        return "structured(" + ", ".join(str(field[0]) for field in descr) + ")"
    text = str(descr).lstrip("<>|=")
    kind, digits = text[:1], "".join(itertools.takewhile(str.isdigit, text[1:]))
    name = DTYPE_KINDS.get(kind)
    if name is None or not digits:
        return str(descr) if name is None else name + text[1:]
    if kind in "fiuc":
        return f"{name}{int(digits) * 8}"
    if kind == "U":
        return f"str ({digits} chars)"
    if kind == "S":
        return f"bytes ({digits})"
    return name if kind in "bO" else name + text[1:]


def _npz(path: str, limits: dict) -> dict:
    arrays, dtypes, others = {}, {}, []
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        for info in members[: limits["max_members"]]:
            if not info.filename.endswith(".npy"):
                others.append(info.filename)
                continue
            with archive.open(info) as handle:
                header = _npy_header(handle)
            key = info.filename[: -len(".npy")]
            arrays[key], dtypes[key] = header["shape"], header["dtype"]
    shown = ", ".join(f"{k} {dtypes[k]} {tuple(v)}" for k, v in itertools.islice(arrays.items(), 10))
    more = len(members) - min(len(members), 10)
    names = [m.filename[: -len(".npy")] for m in members if m.filename.endswith(".npy")]
    report = {
        "format": "npz",
        "arrays": arrays,
        "dtypes": dtypes,
        "array_count": len(members),
        "array_names": names,
        "structure": f"NPZ {len(members)} array(s): {shown}" + (f", … {more} more" if more > 0 else ""),
    }
    if others:
        report["other_members"] = others[:20]
    return report


def _safetensors(path: str, size: int, limits: dict) -> dict:
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than the 8-byte safetensors header length")
        (length,) = struct.unpack("<Q", raw)
        if length > min(size - 8, limits["max_header_bytes"]):
            raise ValueError(f"header length {length} does not fit the file ({size} bytes): not a safetensors file")
        header = json.loads(handle.read(length).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    names = sorted(header)
    tensors = {
        n: {"dtype": header[n].get("dtype"), "shape": header[n].get("shape")} for n in names[: limits["max_tensors"]]
    }
    params = sum(_product(header[n].get("shape") or []) for n in names)
    report = {
        "format": "safetensors",
        "tensor_count": len(names),
        "tensors": tensors,
        "parameters": params,
        "structure": f"safetensors {len(names)} tensor(s), {params:,} values: "
        + ", ".join(f"{n} {t['dtype']} {tuple(t['shape'] or ())}" for n, t in itertools.islice(tensors.items(), 5))
        + (f", … {len(names) - 5} more" if len(names) > 5 else ""),
    }
    if metadata:
        report["metadata"] = {
            str(k): str(v)[: limits["max_cell_chars"]] for k, v in itertools.islice(metadata.items(), 20)
        }
    return report


def _torch(path: str, limits: dict) -> dict:
    """A torch.save file is listed, never unpickled: loading it would run code from the file."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            start = handle.read(2)
        kind = "a legacy pickle stream" if start[:1] == b"\x80" else "not a zip archive"
        return {
            "format": "pytorch",
            "pytorch_archive": False,
            "structure": f"PyTorch file, {kind} (not opened: unpickling runs code; the sanity run loads it)",
        }
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    prefix = pickles[0][: -len("data.pkl")] if pickles else ""
    storages = [n for n in names if pickles and n.startswith(prefix + "data/") and not n.endswith("/")]
    report = {
        "format": "pytorch",
        "pytorch_archive": bool(pickles),
        "member_count": len(names),
        "members": names[: limits["max_entries"]],
        "storages": len(storages),
    }
    if pickles:
        report["structure"] = (
            f"PyTorch archive (torch.save zip): {len(storages)} storage(s), {len(names)} members "
            "(not unpickled; the sanity run loads it)"
        )
    else:
        report["structure"] = f"zip archive of {len(names)} members, no data.pkl: not a torch.save file"
    return report


# ----------------------------------------------------------------------------------------- helpers
def _read_json(path: str, limits: dict) -> dict:
    with open(path, "rb") as handle:
        data = handle.read(limits["max_json_bytes"] + 1)
    if len(data) > limits["max_json_bytes"]:
        raise ValueError(f"{os.path.basename(path)} is larger than {human_size(limits['max_json_bytes'])}")
    value = json.loads(data.decode("utf-8"))
    return value if isinstance(value, dict) else {}


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _cell(value: str, limits: dict) -> str:
    return value if len(value) <= limits["max_cell_chars"] else value[: limits["max_cell_chars"]] + "…"


def _shown(value, limits: dict):
    if isinstance(value, str):
        return _cell(value, limits)
    if isinstance(value, dict):
        return {str(k): _shown(v, limits) for k, v in itertools.islice(value.items(), 50)}
    if isinstance(value, list):
        return [_shown(v, limits) for v in value[:20]] + (["…"] if len(value) > 20 else [])
    return value


def _product(shape) -> int:
    total = 1
    for n in shape:
        total *= int(n)
    return total


def human_size(size: int) -> str:
    """12.3 MB (powers of 1000, as disks are sold)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def main(argv: list) -> int:
    """`python3 - <path> ['<options json>']`: print the answer as one JSON object."""
    if not argv or len(argv) > 2:
        print(json.dumps({"error": "usage: python3 dataset_probe.py <path> ['<options json>']"}))
        return 2
    try:
        options = json.loads(argv[1]) if len(argv) > 1 else {}
    except ValueError as exc:
        print(json.dumps({"error": f"options are not JSON: {exc}"}))
        return 2
    print(json.dumps(probe(argv[0], options)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
