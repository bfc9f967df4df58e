"""Moving the whole data set onto a lent GPU machine, a call at a time, and training there.

A device call carries at most 64 MiB (the repository is about 8 of it), but the machine keeps
what earlier calls wrote outside $OUT while it stays warm (30 s after each call). So:

    python -m crn_train.stage pack --data ../../shared/data      # here: shards + wheels + the plan
    python -m crn_train.stage plan                               # prints every device call to make

`pack` splits the training and validation files of the data folder (Ogg Opus as it is: 5x smaller
than PCM; the test part is not needed there) into tar shards of at most
`--max-mib`, and downloads the wheels the device image lacks (soundfile and its cffi, for Python
3.12). Each staging call unpacks one shard into `--into` and prints what is there, so a machine that
went cold in between is noticed at once (the next call reports missing shards and the plan is rerun
from the first). The last call carries the last shard too, and trains: `train.py` decodes the corpus
there on 16 cores, mixes on the GPU and stops by itself before the call's limit, with `latest.pt`
(weights, optimiser, EMA) and `latest.train.log` written to $OUT.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # training/
STAGE = HERE / "runs" / "stage"
REMOTE_DATA = "/root/crn-data"
WHEELS = ["soundfile==0.13.1", "cffi==2.0.0", "pycparser==2.23"]


def training_files(root: Path) -> list[Path]:
    """The manifest, the README and every file of the train and valid parts (the test part stays here)."""
    from . import data

    rows = data.read_manifest(root)
    split = data.load_split(rows)
    keep = set()
    for part in ("train", "valid"):
        f = data.files_for(rows, split, part)
        keep.update(f["speech"] + f["noise"] + f["rir"])
    return [root / "manifest.csv", root / "README.md"] + sorted(root / p for p in keep if (root / p).is_file())


def pack(data: Path, out: Path, max_mib: float, wheels: bool = True) -> list[dict]:
    files = training_files(data)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("shard-*.tar"):
        old.unlink()
    shards, cur, size = [], [], 0
    limit = int(max_mib * 2**20)
    for p in files:
        n = p.stat().st_size + 2048  # tar: headers (long names take an extra one) and padding to 512
        if cur and size + n > limit:
            shards.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += n
    if cur:
        shards.append(cur)
    index = []
    for i, group in enumerate(shards):
        path = out / f"shard-{i}.tar"
        with tarfile.open(path, "w") as tar:
            for p in group:
                tar.add(p, arcname=str(p.relative_to(data)))
        index.append({"shard": path.name, "files": len(group), "mib": round(path.stat().st_size / 2**20, 1)})
    wheel_dir = out / "wheels"
    wheel_dir.mkdir(exist_ok=True)
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp",
                        "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
                        "--platform", "manylinux2014_x86_64", "-d", str(wheel_dir), *WHEELS], check=True)
    (out / "index.json").write_text(json.dumps({"shards": index, "total_files": len(files)}, indent=1) + "\n")
    return index


def unpack(shard: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(shard) as tar:
        tar.extractall(into, filter="data")
    (into / ".staged").mkdir(exist_ok=True)
    (into / ".staged" / shard.name).touch()
    report(into)


def report(into: Path) -> None:
    staged = sorted(p.name for p in (into / ".staged").glob("*")) if (into / ".staged").exists() else []
    n = sum(1 for p in into.rglob("*") if p.is_file() and ".staged" not in p.parts)
    print(f"staged on this machine: {staged} ({n} files in {into})", flush=True)


def newest_checkpoint() -> str:
    """The checkpoint the GPU run continues: the kept one (`resume.newest`), by name under checkpoints/."""
    from .resume import CHECKPOINTS, newest
    return newest(CHECKPOINTS).name


def plan(stage: Path, minutes: float, batch: int) -> list[dict]:
    """The device calls, in order: each is the `run` tool's command and carry list."""
    index = json.loads((stage / "index.json").read_text())["shards"]
    rel = stage.relative_to(HERE.parent)  # commands start in the repository root
    unpack_cmd = "PYTHONUNBUFFERED=1 PYTHONPATH=training${PYTHONPATH:+:$PYTHONPATH} python3 -m crn_train.stage unpack"
    calls = []
    for s in index[:-1]:
        calls.append({"carry": [str(rel / s["shard"])],
                      "command": f"{unpack_cmd} {rel / s['shard']} --into {REMOTE_DATA}", "timeout_s": 120})
    last = index[-1]
    train = (f"python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site {rel / 'wheels'}/*.whl "
             f"&& export PYTHONPATH=/tmp/site && {unpack_cmd} {rel / last['shard']} --into {REMOTE_DATA} "
             f"&& nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv "
             f"&& cd training && PYTHONUNBUFFERED=1 python3 -m crn_train.train --data {REMOTE_DATA} "
             f"--init checkpoints/{newest_checkpoint()} --ckpt $OUT/latest.pt --minutes {minutes} --batch {batch} "
             f"--seconds 4 --lr 1e-3 "
             f"--warmup 300 --valid-items 512 --ckpt-minutes 2 --cache /root/crn-cache 2>&1 | tee $OUT/stdout.log")
    calls.append({"carry": [str(rel / last["shard"]), str(rel / "wheels")], "command": "set -o pipefail; " + train,
                  "timeout_s": 600})
    return calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", default=os.environ.get("CRN_DATA", str(HERE.parent.parent / "shared" / "data")))
    p.add_argument("--out", default=str(STAGE))
    p.add_argument("--max-mib", type=float, default=50.0, help="per shard; a call carries 64 MiB with the repo")
    u = sub.add_parser("unpack")
    u.add_argument("shard")
    u.add_argument("--into", default=REMOTE_DATA)
    r = sub.add_parser("report")
    r.add_argument("--into", default=REMOTE_DATA)
    pl = sub.add_parser("plan")
    pl.add_argument("--stage", default=str(STAGE))
    pl.add_argument("--minutes", type=float, default=8.3, help="training wall time in the last call (limit 10)")
    pl.add_argument("--batch", type=int, default=384)
    args = ap.parse_args(argv)
    if args.verb == "pack":
        for s in pack(Path(args.data), Path(args.out), args.max_mib):
            print(s)
        print(f"now: python -m crn_train.stage plan")
    elif args.verb == "unpack":
        unpack(Path(args.shard), Path(args.into))
    elif args.verb == "report":
        report(Path(args.into))
    else:
        for i, c in enumerate(plan(Path(args.stage), args.minutes, args.batch), 1):
            print(f"call {i}: run(timeout_s={c['timeout_s']}, carry={json.dumps(c['carry'])},\n"
                  f"        command={json.dumps(c['command'])})")


if __name__ == "__main__":
    main()
