"""Speech denoising with the CRN Denoise engine: the plugin's and the CLI's audio path, for
arrays (:func:`denoise`), streams (:class:`Denoiser`) and files (:func:`denoise_file`); and
:mod:`crn_denoise.ray` for corpora on Ray Data (``pip install crn_denoise[ray]``).

Audio is ``float32`` or ``float64``, shaped ``(samples,)`` or ``(channels, samples)``, at 8 to
192 kHz. :func:`denoise` gives back as many samples as it is given, equal sample for sample to
``crn-denoise`` on the same file and settings. NaN and infinite samples are taken as silence,
as the plugin does. The processing releases the GIL, so threads run in parallel.

The shipped model is built in; ``model=`` takes another ONNX file of the same contract. ONNX
Runtime is the ``onnxruntime`` wheel's library (``$CRN_ORT_LIB`` overrides it).
"""

from __future__ import annotations

import importlib.util
import operator
import os
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from . import _native

__all__ = ["DEFAULTS", "Denoiser", "denoise", "denoise_file", "latency"]

#: The settings' defaults and ranges, from the engine (the plugin's and the CLI's too):
#: ``mix``, ``atten_limit_db``, ``gain_db``, ``link``, ``gain_range_db``, ``no_limit_db``
#: (a limit at or above it means none) and ``sample_rates`` (lowest and highest, in Hz).
DEFAULTS: dict = dict(_native.DEFAULTS)

#: Most channels an array may have: more are almost always an array shaped
#: ``(samples, channels)`` by mistake.
MAX_CHANNELS = 64

_OUTPUTS = ("denoised", "removed", "both")
PathLike = Union[str, "os.PathLike[str]"]


def _runtime_library() -> Optional[str]:
    """The shared library inside the installed ``onnxruntime`` package (not imported: only
    located), which the engine loads instead of a copy of its own."""
    spec = importlib.util.find_spec("onnxruntime")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for lib in sorted(Path(location, "capi").glob("libonnxruntime.so*")):
            return str(lib)
    return None


_lib = _runtime_library()
if _lib is not None:
    _native.use_runtime_library(_lib)
elif "CRN_ORT_LIB" not in os.environ:
    raise ImportError("crn_denoise needs ONNX Runtime's library: pip install onnxruntime==1.32.0 (or set $CRN_ORT_LIB)")


def latency(sample_rate: int) -> int:
    """The engine's delay in samples at ``sample_rate`` (30 ms): what a :class:`Denoiser`'s
    output lags its input by. :func:`denoise` and :func:`denoise_file` remove it."""
    return _native.latency(_rate(sample_rate))


def _rate(sample_rate) -> int:
    if isinstance(sample_rate, bool):
        raise TypeError("sample_rate must be an integer number of Hz, not a bool")
    try:
        rate = operator.index(sample_rate)
    except TypeError:
        if not (isinstance(sample_rate, float) and sample_rate.is_integer()):
            raise TypeError(f"sample_rate must be an integer number of Hz, not {sample_rate!r}") from None
        rate = int(sample_rate)
    if not 0 <= rate < 2**32:  # the engine checks the rest, in its unsigned type
        lo, hi = DEFAULTS["sample_rates"]
        raise ValueError(f"sample rate {rate} Hz is not supported (the denoiser runs at {lo} to {hi} Hz)")
    return rate


def _check_output(output: str) -> str:
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, not {output!r}")
    return output


def _model(model: Optional[PathLike]) -> Optional[str]:
    return None if model is None else os.fspath(model)


def _planar(audio, what: str = "audio") -> Tuple[bytes, int, int, np.dtype, int]:
    """``audio`` checked and as planar float32 bytes: (bytes, channels, samples, dtype, ndim)."""
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"{what} must be a numpy array of float32 or float64, not {type(audio).__name__}")
    if audio.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{what} must be float32 or float64, not {audio.dtype} "
            "(integer PCM: divide by its full scale, e.g. 32768 for int16, first)"
        )
    if audio.ndim not in (1, 2):
        raise ValueError(f"{what} must be shaped (samples,) or (channels, samples), not {audio.shape}")
    planar = audio.reshape(1, -1) if audio.ndim == 1 else audio
    channels = planar.shape[0]
    if channels == 0:
        raise ValueError(f"{what} has no channels (shape {audio.shape})")
    if channels > MAX_CHANNELS:
        raise ValueError(
            f"{what} has {channels} channels (shape {audio.shape}); at most {MAX_CHANNELS}: "
            "arrays are (channels, samples), transpose one shaped (samples, channels)"
        )
    data = np.ascontiguousarray(planar, dtype=np.float32).tobytes()
    return data, channels, planar.shape[1], audio.dtype, audio.ndim


def _array(data: Optional[bytes], channels: int, dtype: np.dtype, ndim: int) -> Optional[np.ndarray]:
    if data is None:
        return None
    out = np.frombuffer(data, dtype=np.float32).reshape(channels, -1).astype(dtype, copy=True)
    return out[0] if ndim == 1 else out


def _result(stems, output: str, channels: int, dtype, ndim: int):
    denoised, removed = (_array(s, channels, dtype, ndim) for s in stems)
    return {"denoised": denoised, "removed": removed, "both": (denoised, removed)}[output]


def denoise(
    audio: np.ndarray,
    sample_rate: int,
    *,
    mix: float = DEFAULTS["mix"],
    atten_limit_db: float = DEFAULTS["atten_limit_db"],
    gain_db: float = DEFAULTS["gain_db"],
    link: bool = DEFAULTS["link"],
    output: str = "denoised",
    model: Optional[PathLike] = None,
):
    """Denoises a whole signal.

    :param audio: ``float32`` or ``float64``, ``(samples,)`` or ``(channels, samples)``.
    :param sample_rate: in Hz, 8000 to 192000.
    :param mix: share of the denoised signal, 0 to 1 (0: the input).
    :param atten_limit_db: most any frequency is reduced, in dB (0 to 100; 100: no limit).
    :param gain_db: output gain in dB (-24 to 24), applied to whichever stem is returned.
    :param link: one gain for all channels, so a stereo image stays put.
    :param output: ``"denoised"``, ``"removed"`` (the noise taken away: input minus denoised)
        or ``"both"`` (a pair, in that order; they sum to the gained input).
    :param model: another ONNX model of the engine's contract (default: the built-in one).
    :returns: an array of the input's shape and dtype (a pair for ``"both"``), lined up with
        the input: the engine's latency is removed. Equal, sample for sample, to
        ``crn-denoise`` writing float WAV from the same samples.
    :raises TypeError: ``audio`` is not a float32/float64 array.
    :raises ValueError: a bad shape, sample rate or setting.
    :raises RuntimeError: the model or ONNX Runtime cannot be loaded.
    """
    data, channels, _, dtype, ndim = _planar(audio)
    settings = _native.Settings(mix, atten_limit_db, gain_db, link)
    stems = _native.render(data, channels, _rate(sample_rate), settings, _check_output(output), _model(model))
    return _result(stems, output, channels, dtype, ndim)


class Denoiser:
    """Denoises a stream a block at a time, as the plugin does: each :meth:`process` call
    returns as many samples as it is given, delayed by :attr:`latency` samples (the first
    ``latency`` samples of a stream come before the signal: the engine filling up);
    :meth:`flush` returns the last ``latency`` samples. So ``concatenate([process(b) for b in blocks] + [flush()])[..., latency:]``
    equals :func:`denoise` of the whole signal, for blocks of any sizes: to float rounding (about
    1e-7 of full scale), because the model takes each block's frames in one call and ORT sums
    in another order for another number of frames.

    Settings (:attr:`mix`, :attr:`atten_limit_db`, :attr:`gain_db`, :attr:`link`) may change
    between blocks: mix, limit and link glide over 20 ms, the gain changes at the block.
    Instances are independent; one instance is for one thread at a time.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int = 1,
        *,
        mix: float = DEFAULTS["mix"],
        atten_limit_db: float = DEFAULTS["atten_limit_db"],
        gain_db: float = DEFAULTS["gain_db"],
        link: bool = DEFAULTS["link"],
        output: str = "denoised",
        model: Optional[PathLike] = None,
    ):
        channels = operator.index(channels)
        if not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be 1 to {MAX_CHANNELS}, not {channels}")
        self._settings = dict(mix=mix, atten_limit_db=atten_limit_db, gain_db=gain_db, link=link)
        settings = _native.Settings(mix, atten_limit_db, gain_db, link)
        self._stream = _native.Stream(_rate(sample_rate), channels, settings, _check_output(output), _model(model))
        self.sample_rate = _rate(sample_rate)
        self.channels = channels
        self.output = output
        self._ndim = 1 if channels == 1 else 2
        self._dtype = np.dtype(np.float32)

    @property
    def latency(self) -> int:
        """Samples of delay from input to output (30 ms)."""
        return self._stream.latency

    def process(self, block: np.ndarray):
        """Denoises the next ``block`` (``(samples,)`` for one channel, or ``(channels,
        samples)``; any length): returns the output of as many samples, delayed by
        :attr:`latency`, of the block's dtype (a pair for ``output="both"``). Ctrl-C during a
        long block raises KeyboardInterrupt and leaves the stream reset, as if new."""
        data, channels, _, dtype, ndim = _planar(block, "block")
        if channels != self.channels:
            raise ValueError(f"block has {channels} channel(s), this Denoiser {self.channels}")
        self._ndim, self._dtype = ndim, dtype
        return _result(self._stream.process(data), self.output, channels, dtype, ndim)

    def flush(self):
        """The last :attr:`latency` samples of the stream (silence is fed in to get them), then
        a :meth:`reset`, ready for a new stream. Shaped and typed as the last block was."""
        return _result(self._stream.flush(), self.output, self.channels, self._dtype, self._ndim)

    def reset(self) -> None:
        """Forgets the stream so far, as if new (the settings are kept)."""
        self._stream.reset()

    def _set(self, name: str, value) -> None:
        new = dict(self._settings, **{name: value})
        self._stream.set(_native.Settings(new["mix"], new["atten_limit_db"], new["gain_db"], new["link"]))
        self._settings = new

    mix = property(lambda self: self._settings["mix"], lambda self, v: self._set("mix", v),
                   doc="Share of the denoised signal, 0 to 1.")
    atten_limit_db = property(lambda self: self._settings["atten_limit_db"],
                              lambda self, v: self._set("atten_limit_db", v),
                              doc="Most any frequency is reduced, in dB (100: no limit).")
    gain_db = property(lambda self: self._settings["gain_db"], lambda self, v: self._set("gain_db", v),
                       doc="Output gain in dB, -24 to 24.")
    link = property(lambda self: self._settings["link"], lambda self, v: self._set("link", v),
                    doc="One gain for all channels.")


def denoise_file(
    src: PathLike,
    dst: PathLike,
    *,
    mix: float = DEFAULTS["mix"],
    atten_limit_db: float = DEFAULTS["atten_limit_db"],
    gain_db: float = DEFAULTS["gain_db"],
    link: bool = DEFAULTS["link"],
    output: str = "denoised",
    format: Optional[str] = None,
    force: bool = False,
    model: Optional[PathLike] = None,
) -> Path:
    """Denoises the file ``src`` (WAV, FLAC, MP3, Ogg Vorbis...) into ``dst``, exactly as
    ``crn-denoise SRC DST`` does, streaming (any length in bounded memory).

    ``dst`` is a file, or an existing directory (the output then takes the input's name).
    ``format`` is ``"wav32"``, ``"wav16"``, ``"wav24"`` or ``"flac"`` (default: like the
    input; a ``dst`` ending in ``.flac`` means FLAC). ``output="both"`` also writes the removed
    noise as ``NAME.removed.EXT``; every output is written to a temporary file and renamed into
    place, all or none. Settings as for :func:`denoise`.

    :returns: the path written (the denoised stem's, or the removed stem's alone).
    :raises FileExistsError: an output exists and ``force`` is false (it is left untouched).
    :raises OSError: the input cannot be read or decoded, or the output cannot be written.
    :raises ValueError: a bad setting or format.
    """
    settings = _native.Settings(mix, atten_limit_db, gain_db, link)
    out, _seconds, warnings = _native.denoise_file(
        os.fspath(src), os.fspath(dst), None, settings, _check_output(output), format, force, _model(model)
    )
    for w in warnings:
        import warnings as _warnings

        _warnings.warn(w, stacklevel=2)
    return Path(out)
