"""Ray Data for corpora of any size (``pip install crn_denoise[ray]``).

- :class:`Denoise`: a callable class for ``Dataset.map_batches`` that loads the model once per
  actor and denoises each row's audio (an array and its sample rate, as
  ``ray.data.read_audio`` gives them, or a reader of your own).
- :func:`denoise_files`: files in, denoised files out, spread over the cluster, each written as
  ``crn-denoise FILES -o OUTPUT_DIR`` would write it.

A row that fails (a corrupt file, a bad array) gets its error in the ``error`` column and the
other rows go on; no output file is ever left half written.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional

import numpy as np

try:
    import ray
except ImportError as e:  # the extra is optional
    raise ImportError("crn_denoise.ray needs Ray Data: pip install 'crn_denoise[ray]'") from e

import crn_denoise
from crn_denoise import DEFAULTS, PathLike, _native

__all__ = ["Denoise", "denoise_files"]

# The errors a bad row raises; anything else is a bug and fails the job loudly.
_ROW_ERRORS = (TypeError, ValueError, RuntimeError, OSError)


def _settings(mix, atten_limit_db, gain_db, link) -> Dict[str, Any]:
    return dict(mix=mix, atten_limit_db=atten_limit_db, gain_db=gain_db, link=link)


class Denoise:
    """For ``ds.map_batches(Denoise, fn_constructor_kwargs={...},
    compute=ray.data.ActorPoolStrategy(size=N))``: N actors, one model each.

    Reads the audio from ``column`` (default ``"amplitude"``, as ``read_audio`` names it:
    ``(channels, samples)`` float32) and its rate from ``rate_column`` (``"sample_rate"``), or
    ``sample_rate`` for every row when given. Adds the column ``"denoised"`` (or ``"removed"``,
    or both for ``output="both"``), each row as long as its input, and ``"error"`` (``None``,
    or why the row failed; its audio is then empty). Settings as for :func:`crn_denoise.denoise`.
    """

    def __init__(
        self,
        *,
        column: str = "amplitude",
        rate_column: str = "sample_rate",
        sample_rate: Optional[int] = None,
        output: str = "denoised",
        mix: float = DEFAULTS["mix"],
        atten_limit_db: float = DEFAULTS["atten_limit_db"],
        gain_db: float = DEFAULTS["gain_db"],
        link: bool = DEFAULTS["link"],
        model: Optional[PathLike] = None,
    ):
        self.column, self.rate_column, self.sample_rate = column, rate_column, sample_rate
        self.output = crn_denoise._check_output(output)
        self.stems = ["denoised", "removed"] if output == "both" else [output]
        self.kwargs = dict(_settings(mix, atten_limit_db, gain_db, link), output=output, model=model)
        # The model loads here, once per actor, not in the first batch (and a bad model or
        # setting fails the actor at once rather than every row).
        crn_denoise.denoise(np.zeros(1, np.float32), 16_000, **self.kwargs)

    def _row(self, audio, rate):
        out = crn_denoise.denoise(np.asarray(audio), rate, **self.kwargs)
        return out if self.output == "both" else (out,)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        audio = batch[self.column]
        rates = [self.sample_rate] * len(audio) if self.sample_rate is not None else batch[self.rate_column]
        stems: List[List[np.ndarray]] = [[] for _ in self.stems]
        errors: List[Optional[str]] = []
        for a, rate in zip(audio, rates):
            try:
                outs, error = self._row(a, int(rate)), None
            except _ROW_ERRORS as e:
                # Empty, of the row's rank, so the column keeps one rank for Arrow.
                ndim = getattr(a, "ndim", 2) if getattr(a, "ndim", 2) in (1, 2) else 2
                outs, error = [np.zeros((0,) * ndim, np.float32)] * len(self.stems), f"{type(e).__name__}: {e}"
            for column, out in zip(stems, outs):
                column.append(out)
            errors.append(error)
        for name, column in zip(self.stems, stems):
            batch[name] = column
        batch["error"] = errors
        return batch


class _Files:
    """One actor of :func:`denoise_files`: a row holds an input path; the output is written by
    the CLI's pipeline, into a temporary file renamed into place."""

    def __init__(self, output_dir: str, settings: Dict[str, Any], output: str, format: Optional[str], force: bool,
                 model: Optional[str]):
        self.output_dir, self.model = output_dir, model
        self.output, self.format, self.force = output, format, force
        self.settings = _native.Settings(**settings)
        crn_denoise.denoise(np.zeros(1, np.float32), 16_000, **settings, model=model)  # loads the model

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        rows = [self._file(str(src)) for src in batch["input"]]
        outputs, seconds, errors = (list(column) for column in zip(*rows)) if rows else ([], [], [])
        return {"input": list(batch["input"]), "output": outputs, "seconds": seconds, "error": errors}

    def _file(self, src: str):
        """(output path, seconds, None), or (None, 0.0, why it failed)."""
        try:
            out, secs, _warnings = _native.denoise_file(
                src, None, self.output_dir, self.settings, self.output, self.format, self.force, self.model
            )
            return os.fspath(out), secs, None
        except _ROW_ERRORS as e:
            return None, 0.0, f"{type(e).__name__}: {e}"


def denoise_files(
    inputs: Iterable[PathLike],
    output_dir: PathLike,
    *,
    concurrency: Optional[int] = None,
    output: str = "denoised",
    format: Optional[str] = None,
    force: bool = False,
    mix: float = DEFAULTS["mix"],
    atten_limit_db: float = DEFAULTS["atten_limit_db"],
    gain_db: float = DEFAULTS["gain_db"],
    link: bool = DEFAULTS["link"],
    model: Optional[PathLike] = None,
) -> List[Dict[str, Any]]:
    """Denoises files (and the audio files in directories) into ``output_dir`` across the Ray
    cluster (``ray.init()`` first, or Ray starts a local one), as ``crn-denoise INPUTS -o
    OUTPUT_DIR`` would: the same names, formats and refusals, each file written in full or not
    at all. The inputs and ``output_dir`` must be paths every node sees (a shared filesystem).
    As in one CLI run, an input whose output name an earlier input's already has (``a/x.wav``
    and ``b/x.wav``), or whose output would be an input, fails in its row before any file is
    handed out, even with ``force``.

    :param concurrency: actors (one model each, one CPU each); default: the cluster's CPUs.
    :param format: ``"wav32"``, ``"wav16"``, ``"wav24"`` or ``"flac"`` (default: like the input).
    :param force: replace existing outputs (default: a row fails with ``FileExistsError``).
    :returns: one dict per input, in the order given: ``input``, ``output`` (``None`` if it
        failed), ``seconds`` of audio and ``error`` (``None``, or why it failed).
    """
    crn_denoise._check_output(output)
    output_dir = os.path.abspath(os.fspath(output_dir))
    files, failures = _native.plan_inputs([os.fspath(p) for p in inputs], output_dir, output, format)
    files, failures = [str(f) for f in files], [(str(p), e) for p, e in failures]
    model = None if model is None else os.path.abspath(os.fspath(model))
    args = (output_dir, _settings(mix, atten_limit_db, gain_db, link), output, format, force, model)
    rows: List[Dict[str, Any]] = []
    if files:
        if not ray.is_initialized():
            ray.init()
        if concurrency is None:
            concurrency = max(1, min(len(files), int(ray.cluster_resources().get("CPU", 1))))
        ds = ray.data.from_items([{"input": os.path.abspath(f)} for f in files])
        ds = ds.map_batches(_Files, fn_constructor_args=args, batch_size=1, num_cpus=1, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=concurrency))
        done = {r["input"]: r for r in ds.take_all()}
        for f in files:
            r = done[os.path.abspath(f)]
            rows.append({"input": f, "output": r["output"], "seconds": float(r["seconds"]), "error": r["error"]})
    rows += [{"input": p, "output": None, "seconds": 0.0, "error": e} for p, e in failures]
    return rows
