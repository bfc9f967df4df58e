#!/usr/bin/env python3
"""The Python package through Ray Data against the CLI on the same files in the same run; writes
the "Python package and Ray" section of BENCHMARKS.md (scripts/bench.py keeps it when it
rewrites the rest).

    bash scripts/test-python.sh                       # builds the wheel into target/py-venv
    target/py-venv/bin/python scripts/bench_python.py # --files 24 --seconds 60

A corpus of `--files` files of `--seconds` s each (espeak-ng speech in pink noise, 48 kHz
16-bit mono WAV, made here) is denoised twice each, alternately, by `crn-denoise --jobs 2 -o`
and by `crn_denoise.ray.denoise_files(concurrency=2)` on `ray.init(num_cpus=2)`; the best of
the two runs is kept for each. Throughput = seconds of audio / wall seconds (the Ray figure
includes starting its actors and loading a model in each, not `ray.init`). CPU time: the CLI
process's (rusage) and the Ray workers' (/proc, sampled), so the cost of each path can be
compared even when other work shares the cores. Memory: the CLI
process's peak resident set (both jobs in one process), and each Ray worker process's peak
resident set sampled every 0.1 s from /proc (the worker that runs `_Files`: Python, Ray's
runtime, the package and one model).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Python package and Ray"
CLI = ROOT / "target" / "release" / "crn-denoise"


def _bounds(text: str):
    """Where SECTION runs in `text` (to the next `## ` heading or the end), or None."""
    i = text.find("\n" + SECTION + "\n")
    if i < 0:
        return None
    j = text.find("\n## ", i + 1)
    return i + 1, (j + 1 if j >= 0 else len(text))


def section_of(text: str) -> str:
    """The SECTION of BENCHMARKS.md's `text`, "" if it has none."""
    b = _bounds(text)
    return text[b[0]:b[1]] if b else ""


def put_section(text: str, section: str) -> str:
    """`text` with its SECTION replaced by `section` (appended if it has none; unchanged if
    `section` is empty): how this script writes its part of BENCHMARKS.md, and how bench.py
    keeps it when it rewrites the rest."""
    if not section:
        return text
    section = section.rstrip("\n") + "\n"
    b = _bounds(text)
    if b is None:
        return text.rstrip("\n") + "\n\n" + section
    return text[: b[0]] + section + ("\n" if b[1] < len(text) else "") + text[b[1]:].lstrip("\n")


def corpus(folder: Path, files: int, seconds: int) -> float:
    sys.path.insert(0, str(ROOT / "tests" / "host"))
    import live  # espeak-ng speech in pink noise, as the tests make it
    import numpy as np

    rate = 48_000
    with tempfile.TemporaryDirectory() as scratch:  # espeak-ng's and sox's files, not inputs
        _, noisy = live.noisy_speech(rate, 1, Path(scratch))
    n = rate * seconds
    x = np.tile(noisy, (1, n // noisy.shape[1] + 1))[:, :n]
    for i in range(files):
        live.write(folder / f"take{i:03d}.wav", np.roll(x, 4801 * i, axis=1), rate, "PCM_16")
    return files * seconds


class Sampler:
    """Peak VmRSS (MiB) and CPU time (s, user + system) of every process whose command line
    contains `needle`, sampled every 0.1 s (the last sample of a process that ended is kept:
    a worker's CPU time is short by at most 0.1 s of its work)."""

    def __init__(self, needle: str):
        self.needle, self.rss, self.cpu, self.stop = needle.encode(), {}, {}, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self, pid: str):
        if self.needle not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self.tick
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                self.rss[pid] = max(self.rss.get(pid, 0.0), int(line.split()[1]) / 1024)

    def run(self):
        while not self.stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    self.sample(pid)
                except (OSError, ValueError, IndexError):
                    pass  # the process ended meanwhile
            self.stop.wait(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_cli(src: Path, out: Path, env):
    """(wall s, CPU s, peak resident MiB) of one CLI run: the rusage of that process alone."""
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    p = subprocess.Popen([str(CLI), "-q", "--jobs", "2", str(src), "-o", str(out)], env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"crn-denoise failed ({os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_ray(src: Path, out: Path):
    """(wall s, CPU s of the workers, [peak resident MiB of each worker])."""
    from crn_denoise.ray import denoise_files

    shutil.rmtree(out, ignore_errors=True)
    with Sampler("_Files") as workers:
        t = time.perf_counter()
        rows = denoise_files([src], out, concurrency=2)
        wall = time.perf_counter() - t
    assert all(r["error"] is None for r in rows), [r for r in rows if r["error"]]
    return wall, sum(workers.cpu.values()), sorted(workers.rss.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args()

    import crn_denoise
    import ray

    env = dict(os.environ, CRN_ORT_LIB=crn_denoise._runtime_library())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "corpus"
        src.mkdir()
        audio = corpus(src, a.files, a.seconds)
        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray_init = time.perf_counter() - t
        cli_runs, ray_runs, worker_rss = [], [], []
        for _ in range(a.runs):
            cli_runs.append(run_cli(src, tmp / "cli", env))
            wall, cpu, rss = run_ray(src, tmp / "ray")
            ray_runs.append((wall, cpu))
            worker_rss += rss
        same = all((tmp / "cli" / f.name).read_bytes() == (tmp / "ray" / f.name).read_bytes() for f in src.iterdir())
        ray.shutdown()

    cmd = f"target/py-venv/bin/python scripts/bench_python.py --files {a.files} --seconds {a.seconds} --runs {a.runs}"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # The run of the best wall time, each: its wall and CPU seconds.
    best_cli, cpu_cli = min(cli_runs)[:2]
    best_ray, cpu_ray = min(ray_runs)
    runs = lambda rs: ", ".join(f"{r[0]:.1f}" for r in rs)  # noqa: E731
    lines = [
        SECTION,
        "",
        f"Generated by `{cmd}` on {now} (after `bash scripts/test-python.sh`, which builds the wheel and "
        "installs it with `[ray]` into target/py-venv). Machine: "
        f"{os.cpu_count()} logical CPUs, {platform.machine()}, Python {platform.python_version()}.",
        "",
        f"The same {a.files} files ({a.seconds} s each, {audio / 60:.0f} min in all: espeak-ng speech in pink noise, "
        "48 kHz 16-bit mono WAV) denoised by the CLI with `--jobs 2` and by `crn_denoise.ray.denoise_files(..., "
        "concurrency=2)` on `ray.init(num_cpus=2)`, alternately, "
        f"{a.runs} runs each, best kept. Outputs of the two byte for byte equal: {'yes' if same else 'NO'}.",
        "",
        "| | wall (best run) | runs | throughput | audio s per CPU s (best run) | peak memory |",
        "|---|---:|---|---:|---:|---:|",
        f"| `crn-denoise --jobs 2 -o` | {best_cli:.1f} s | {runs(cli_runs)} s | {audio / best_cli:.0f}x real time | "
        f"{audio / cpu_cli:.0f} | {max(r[2] for r in cli_runs):.0f} MiB (one process, 2 jobs) |",
        f"| `denoise_files`, Ray, 2 actors | {best_ray:.1f} s | {runs(ray_runs)} s | {audio / best_ray:.0f}x real time | "
        f"{audio / cpu_ray:.0f} (workers only) | {max(worker_rss):.0f} MiB per worker (peak of {len(worker_rss)} "
        f"worker processes; median {sorted(worker_rss)[len(worker_rss) // 2]:.0f}) |",
        "",
        f"Wall clock, Ray through the package makes {best_cli / best_ray:.0%} of the CLI's throughput "
        f"(`ray.init` itself took {ray_init:.1f} s, not counted); per CPU second of the denoising processes, "
        f"{(audio / cpu_ray) / (audio / cpu_cli):.0%}. Both run the same engine on one thread per file. "
        "The cores were shared with other work while this ran (a training job at nice 19), and the two did not "
        f"get the same CPU from it: the CLI {cpu_cli / best_cli:.2f} cores on average in its best run, Ray's "
        f"workers {cpu_ray / best_ray:.2f}. So the wall-clock ratio says how each fared next to that work, and "
        "the CPU-time ratio is the cost of the path itself. "
        "Ray's driver, raylet and object store are not counted in its CPU time. "
        "A worker's memory is mostly Ray's Python runtime (pyarrow, the Ray Data executor) and one model; the "
        "engine streams each file, so neither side grows with a file's length.",
        "",
    ]
    old = a.out.read_text() if a.out.exists() else "# Benchmarks\n"
    a.out.write_text(put_section(old, "\n".join(lines)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
