"""The fixed evaluation set: rows of a dataset that every model is scored on and none trains on.

  python -m rayswarm_tuning.evalset make --data builtin:diabetes --name diabetes --version 1 \
      --rows 88 --seed 20261201 --out rayswarm_tuning/evalsets
  python -m rayswarm_tuning.evalset check <manifest.json>

An evaluation set is two files in `evalsets/`: `<name>-v<version>.csv` (header = the features in
the dataset's order, then the target; values written so they read back exactly) and
`<name>-v<version>.json`, its manifest: name, version, dataset (the name a model card's
`dataset.name` must carry), target, features, rows, file and the CSV's sha256 (the set's
checksum). The production gate scores the live model and the candidate on these rows
(gate.py); the tuning job removes them from the data before its split, search and export
(tune.py, export.py), so no model has seen them.

Standard library + numpy only: the gate imports this on production hosts.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evalsets")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class EvalSetError(ValueError):
    """The evaluation set is missing, corrupt or does not fit the data/model; one line why."""


@dataclass(frozen=True)
class EvalSet:
    name: str
    version: int
    dataset: str  # the dataset name a model card must carry (card.dataset.name)
    target: str
    features: list[str]
    X: np.ndarray  # float32 [rows, features]
    y: np.ndarray  # float64 [rows]
    sha256: str  # of the CSV file
    path: str  # the manifest

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def summary(self) -> dict:
        """What a model card records about the set it held out."""
        return {"name": self.name, "version": self.version, "dataset": self.dataset,
                "rows": self.rows, "sha256": self.sha256}


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(manifest_path: str, expected_sha256: str | None = None) -> EvalSet:
    """Read and verify an evaluation set (manifest + CSV); EvalSetError names the problem."""
    try:
        with open(manifest_path, encoding="utf-8") as fh:
            man = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalSetError(f"evaluation set manifest {manifest_path} is unreadable: {exc}") from None
    try:
        name, version, dataset = str(man["name"]), int(man["version"]), str(man["dataset"])
        target, features, file, sha = str(man["target"]), list(man["features"]), str(man["file"]), str(man["sha256"])
        rows = int(man["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalSetError(f"evaluation set manifest {manifest_path} lacks a field: {exc}") from None
    if os.path.basename(file) != file:
        raise EvalSetError(f"evaluation set manifest {manifest_path}: 'file' must be a name beside it")
    data_path = os.path.join(os.path.dirname(os.path.abspath(manifest_path)), file)
    try:
        with open(data_path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise EvalSetError(f"evaluation set data {data_path} is unreadable: {exc}") from None
    digest = _sha256_bytes(raw)
    if digest != sha:
        raise EvalSetError(f"evaluation set {name} v{version}: {file} has sha256 {digest[:12]}..., "
                           f"its manifest says {sha[:12]}... (corrupt or edited)")
    if expected_sha256 and digest != expected_sha256:
        raise EvalSetError(f"evaluation set {name} v{version} has sha256 {digest[:12]}... but this "
                           f"machine was set up with {expected_sha256[:12]}...")
    reader = csv.reader(io.StringIO(raw.decode("utf-8")))
    header = next(reader, [])
    if header != features + [target]:
        raise EvalSetError(f"evaluation set {name} v{version}: the CSV header does not match the "
                           "manifest's features + target")
    values = [[float(v) for v in row] for row in reader if row]
    if len(values) != rows or rows == 0:
        raise EvalSetError(f"evaluation set {name} v{version}: {len(values)} rows, manifest says {rows}")
    arr = np.asarray(values, dtype=np.float64)
    return EvalSet(name=name, version=version, dataset=dataset, target=target, features=features,
                   X=arr[:, :-1].astype(np.float32), y=arr[:, -1], sha256=digest,
                   path=os.path.abspath(manifest_path))


def find_for(dataset_name: str, folder: str = HERE) -> str | None:
    """The newest shipped evaluation set manifest for a dataset name, or None."""
    best = None
    if not os.path.isdir(folder):
        return None
    for entry in sorted(os.listdir(folder)):
        if not entry.endswith(".json"):
            continue
        path = os.path.join(folder, entry)
        try:
            with open(path, encoding="utf-8") as fh:
                man = json.load(fh)
        except (OSError, json.JSONDecodeError):
            continue
        if man.get("dataset") == dataset_name and (best is None or man["version"] > best[0]):
            best = (int(man["version"]), path)
    return best[1] if best else None


def _row_keys(X: np.ndarray, y: np.ndarray) -> list[bytes]:
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    y64 = np.ascontiguousarray(y, dtype=np.float64)
    return [X32[i].tobytes() + y64[i:i + 1].tobytes() for i in range(X32.shape[0])]


def held_out_mask(es: EvalSet, feature_names: list[str], target: str, X: np.ndarray,
                  y: np.ndarray, dataset_name: str) -> np.ndarray:
    """Boolean mask of the data rows that belong to the evaluation set (to drop before training).

    The set must be for this dataset (name, target, feature names and order) and every one of
    its rows must be found in the data, else EvalSetError: a set that does not match would give
    scores that compare nothing.
    """
    if es.dataset != dataset_name:
        raise EvalSetError(f"evaluation set {es.label} is for dataset {es.dataset}, not {dataset_name}")
    if es.features != list(feature_names) or es.target != target:
        raise EvalSetError(f"evaluation set {es.label} has features {es.features} -> {es.target}; "
                           f"the data has {list(feature_names)} -> {target}")
    want = set(_row_keys(es.X, es.y))
    keys = _row_keys(X, y)
    mask = np.fromiter((k in want for k in keys), dtype=bool, count=len(keys))
    found = set(k for k, m in zip(keys, mask) if m)
    if len(found) != len(want):
        raise EvalSetError(f"evaluation set {es.label}: {len(want) - len(found)} of its {len(want)} "
                           f"rows are not in {dataset_name} (another version of the data?)")
    return mask


def make(ds, name: str, version: int, rows: int, seed: int, out_dir: str) -> str:
    """Write `<name>-v<version>.csv/.json` with `rows` rows of `ds` chosen by `seed`."""
    if not NAME_RE.match(name):
        raise EvalSetError(f"evaluation set name {name!r} must match {NAME_RE.pattern}")
    if not 0 < rows < ds.rows // 2:
        raise EvalSetError(f"--rows must be between 1 and half the data ({ds.rows // 2})")
    idx = np.sort(np.random.default_rng(seed).permutation(ds.rows)[:rows])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(ds.feature_names) + [ds.target])
    for i in idx:
        w.writerow([repr(float(v)) for v in ds.X[i]] + [repr(float(ds.y[i]))])
    data = buf.getvalue().encode()
    base = f"{name}-v{version}"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, base + ".csv"), "wb") as fh:
        fh.write(data)
    manifest = {"name": name, "version": version, "dataset": ds.name, "target": ds.target,
                "features": list(ds.feature_names), "rows": int(rows), "file": base + ".csv",
                "sha256": _sha256_bytes(data), "selection": {"seed": seed, "of": ds.rows},
                "fingerprint": ds.fingerprint}
    path = os.path.join(out_dir, base + ".json")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=2) + "\n")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rayswarm_tuning.evalset")
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write an evaluation set from a dataset")
    m.add_argument("--data", default="builtin:diabetes")
    m.add_argument("--target", default="target")
    m.add_argument("--name", required=True)
    m.add_argument("--version", type=int, required=True)
    m.add_argument("--rows", type=int, required=True)
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--out", default=HERE)
    c = sub.add_parser("check", help="verify a manifest and its CSV")
    c.add_argument("manifest")
    args = p.parse_args(argv)
    try:
        if args.cmd == "make":
            from .data import load_dataset

            path = make(load_dataset(args.data, args.target), args.name, args.version, args.rows,
                        args.seed, args.out)
            es = load(path)
        else:
            es = load(args.manifest)
    except EvalSetError as exc:
        print(f"evalset: error: {exc}", file=sys.stderr)
        return 1
    print(f"evalset: {es.label} for {es.dataset}: {es.rows} rows, sha256 {es.sha256} ({es.path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
