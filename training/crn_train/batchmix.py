"""Whole batches of (noisy, clean) training pairs, made with tensor operations on any device.

Everything a batch needs is cropped out of a `Corpus` held in the device's memory with index
arithmetic, and every filter is one multiplication in one FFT, so on a GPU the mixer costs a few
kernel launches per batch and never waits for the CPU. The same code makes CPU batches.

What a batch models, per item, in the order sound meets it:

    speech  --source EQ / source band limit-->  room (RIR)  -->  microphone EQ / channel band limit --+
    1-3 noises or babble of 3-10 talkers --noise EQ--------------->  microphone EQ / channel limit --+--> level, clipping

The speech is placed at a random offset inside the crop, so items hold noise-only stretches as real
takes do (the model must learn to be quiet between words). The target is the speech as the microphone
hears it (reverberant, coloured, band limited: what a gain <= 1 can reach), at the mixture's gain,
never clipped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .corpus import Corpus
from .data import SR


@dataclass(frozen=True)
class Augment:
    seconds: float = 4.0
    snr_db: tuple[float, float] = (-10.0, 30.0)
    paper_snrs: tuple[float, ...] = (-5.0, 0.0, 5.0)
    p_paper_snr: float = 0.25
    level_db: tuple[float, float] = (-60.0, 0.0)   # mixture RMS, dBFS; peaks held under full scale ...
    p_clip: float = 0.08                           # ... except here: the peak driven past full scale, clipped hard,
    clip_db: tuple[float, float] = (0.5, 6.0)      # ... by this much (mild: a hot take, not distortion)
    p_reverb: float = 0.3
    p_babble: float = 0.2
    babble_talkers: tuple[int, int] = (3, 10)
    p_more_noises: tuple[float, float] = (0.35, 0.12)  # a second, then a third noise at once
    more_noise_db: tuple[float, float] = (-12.0, 0.0)  # their level against the first
    p_speech_eq: float = 0.4
    p_noise_eq: float = 0.5
    p_mic_eq: float = 0.3
    eq_db: float = 6.0               # peak deviation of a random EQ curve
    eq_tilt_db: float = 3.0          # per octave, around 1 kHz
    p_band_limit: float = 0.25       # band-limited items, at the source (speech only) or on the channel ...
    p_channel_band: float = 0.6      # ... the whole signal, speech and noise (an 8 kHz recording, a phone line)
    p_telephone: float = 0.5         # of the band-limited: 300-3400 Hz; else a 4 kHz low-pass (8 kHz sources)
    p_shorten: float = 0.3            # speech cut shorter than the crop, leaving more noise alone ...
    min_speech_fraction: float = 0.4  # ... down to this fraction of it

    @property
    def samples(self) -> int:
        return int(round(self.seconds * SR))


class BatchMixer:
    def __init__(self, corpus: Corpus, aug: Augment = Augment(), seed: int = 0, device=None):
        self.device = torch.device(device) if device is not None else corpus.speech.device
        self.c = corpus.to(self.device)
        self.aug = aug
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(seed)
        n = aug.samples
        taps = self.c.rir.shape[1]
        self.nfft = 1 << (n + taps - 1).bit_length()
        self.rir_spec = torch.fft.rfft(self.c.rir, self.nfft)  # [R, bins]: filters are built once
        freqs = torch.arange(self.nfft // 2 + 1, device=self.device) * (SR / self.nfft)
        self.freqs = freqs
        # EQ curves are drawn at 10 log-spaced points, 50 Hz - 8 kHz, and interpolated in log frequency.
        self.eq_points = 10
        lf = torch.log2(freqs.clamp(min=50.0) / 50.0) / math.log2(8000.0 / 50.0) * (self.eq_points - 1)
        self.eq_lo = lf.floor().long().clamp(0, self.eq_points - 2)
        self.eq_w = (lf - self.eq_lo).clamp(0, 1)
        self.octaves_from_1k = torch.log2(freqs.clamp(min=50.0) / 1000.0)
        self.speech_weights = self.c.speech_len.double()

    # ------------------------------------------------------------------------------------ random draws

    def _u(self, *shape) -> torch.Tensor:
        return torch.rand(shape, generator=self.gen, device=self.device)

    def _uniform(self, lo_hi, *shape) -> torch.Tensor:
        lo, hi = lo_hi
        return lo + (hi - lo) * self._u(*shape)

    def _randint(self, high: torch.Tensor) -> torch.Tensor:
        """Uniform integers in [0, high) per element."""
        return (self._u(*high.shape) * high).long().clamp(max=(high - 1).clamp(min=0))

    def _bernoulli(self, p: float, b: int) -> torch.Tensor:
        return self._u(b) < p

    # ------------------------------------------------------------------------------------------ crops

    def _pick_utterances(self, b: int) -> torch.Tensor:
        return torch.multinomial(self.speech_weights, b, replacement=True, generator=self.gen)

    def _speech(self, utt: torch.Tensor, n: int):
        """Each utterance cropped to at most n samples (some shortened further) at a random offset in n."""
        length = self.c.speech_len[utt]
        seg = torch.minimum(length, torch.full_like(length, n))
        short = self._bernoulli(self.aug.p_shorten, len(utt))
        seg = torch.where(short, (seg * self._uniform((self.aug.min_speech_fraction, 1.0), len(utt))).long(), seg)
        seg = seg.clamp(min=1)
        start = self._randint(length - seg + 1)
        place = self._randint(n - seg + 1)
        idx = torch.arange(n, device=self.device)[None, :] - place[:, None]
        valid = (idx >= 0) & (idx < seg[:, None])
        src = self.c.speech_off[utt, None] + start[:, None] + idx.clamp(min=0).minimum(seg[:, None] - 1)
        return self.c.speech[src].float() / 32768.0 * valid, valid

    def _looped(self, flat, off, length, items: torch.Tensor, n: int) -> torch.Tensor:
        """n samples of each item from a random start, wrapping around its end (noise loops seamlessly enough)."""
        ln = length[items]
        start = self._randint(ln)
        idx = (start[..., None] + torch.arange(n, device=self.device)) % ln[..., None]
        return flat[off[items][..., None] + idx].float() / 32768.0

    def _noise(self, b: int, n: int, target_speaker: torch.Tensor) -> torch.Tensor:
        a = self.aug
        files = self._randint(torch.full((b, 3), len(self.c.noise_len), device=self.device))
        slots = _unit_rms(self._looped(self.c.noise, self.c.noise_off, self.c.noise_len, files, n))  # [b, 3, n]
        gain = torch.ones(b, 3, device=self.device)
        gain[:, 1] = (self._u(b) < a.p_more_noises[0]) * _db(self._uniform(a.more_noise_db, b))
        gain[:, 2] = (self._u(b) < a.p_more_noises[1]) * _db(self._uniform(a.more_noise_db, b))
        babble = self._bernoulli(a.p_babble, b)
        if babble.any():
            bi = babble.nonzero().squeeze(1)
            slots[bi, 0] = self._babble(target_speaker[bi], n)
        return (slots * gain[..., None]).sum(1)

    def _babble(self, target_speaker: torch.Tensor, n: int) -> torch.Tensor:
        lo, hi = self.aug.babble_talkers
        k = target_speaker.shape[0]
        talkers = lo + self._randint(torch.full((k,), hi - lo + 1, device=self.device))
        utt = torch.multinomial(self.speech_weights, k * hi, replacement=True, generator=self.gen).view(k, hi)
        use = (torch.arange(hi, device=self.device)[None, :] < talkers[:, None]) & \
              (self.c.speaker[utt] != target_speaker[:, None])
        voices = _unit_rms(self._looped(self.c.speech, self.c.speech_off, self.c.speech_len, utt, n))
        voices = voices * (use * _db(self._uniform((-6.0, 0.0), k, hi)))[..., None]
        return voices.sum(1)

    # ---------------------------------------------------------------------------------------- filters

    def _eq(self, mask: torch.Tensor) -> torch.Tensor:
        """Random smooth EQ curves (linear gain per FFT bin); flat where mask is False."""
        b = mask.shape[0]
        pts = self._uniform((-self.aug.eq_db, self.aug.eq_db), b, self.eq_points)
        db = torch.lerp(pts[:, self.eq_lo], pts[:, self.eq_lo + 1], self.eq_w[None, :])
        db = db + self._uniform((-self.aug.eq_tilt_db, self.aug.eq_tilt_db), b)[:, None] * self.octaves_from_1k
        return torch.where(mask[:, None], _db(db), torch.ones_like(db))

    def _band_limit(self, mask: torch.Tensor) -> torch.Tensor:
        """Telephone band or a 4 kHz low-pass where mask is True, with 100-200 Hz wide roll-offs."""
        f = self.freqs[None, :]
        tel = self._bernoulli(self.aug.p_telephone, mask.shape[0])[:, None]
        low = torch.sigmoid((f - 300.0) / 40.0)
        lp_tel = torch.sigmoid((3400.0 - f) / 60.0)
        lp_4k = torch.sigmoid((3850.0 - f) / 50.0)
        h = torch.where(tel, low * lp_tel, lp_4k)
        return torch.where(mask[:, None], h, torch.ones_like(h))

    def _filter(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(torch.fft.rfft(x, self.nfft) * h, self.nfft)[:, : x.shape[1]]

    # ------------------------------------------------------------------------------------------ batch

    @torch.no_grad()
    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """noisy, clean: float32 [b, samples]."""
        a, n = self.aug, self.aug.samples
        utt = self._pick_utterances(b)
        speech, valid = self._speech(utt, n)

        band = self._bernoulli(a.p_band_limit, b)
        at_source = self._bernoulli(1.0 - a.p_channel_band, b)
        mic = self._eq(self._bernoulli(a.p_mic_eq, b)) * self._band_limit(band & ~at_source)
        h_speech = self._eq(self._bernoulli(a.p_speech_eq, b)) * self._band_limit(band & at_source) * mic
        rir = self._randint(torch.full((b,), self.rir_spec.shape[0], device=self.device))
        room = torch.where(self._bernoulli(a.p_reverb, b)[:, None], self.rir_spec[rir],
                           torch.ones_like(self.rir_spec[rir]))
        clean = self._filter(speech, h_speech * room)

        noise = self._filter(self._noise(b, n, self.c.speaker[utt]), self._eq(self._bernoulli(a.p_noise_eq, b)) * mic)

        snr = torch.where(self._bernoulli(a.p_paper_snr, b),
                          torch.tensor(a.paper_snrs, device=self.device)[self._randint(
                              torch.full((b,), len(a.paper_snrs), device=self.device))],
                          self._uniform(a.snr_db, b))
        active = valid.sum(1).clamp(min=1)
        s_rms = torch.sqrt((clean ** 2 * valid).sum(1) / active + 1e-12)  # over the words, not the pauses
        n_rms = torch.sqrt((noise ** 2).mean(1) + 1e-12)
        noise = noise * (s_rms / (n_rms * _db(snr)))[:, None]
        noisy = clean + noise

        level = _db(self._uniform(a.level_db, b)) / torch.sqrt((noisy ** 2).mean(1) + 1e-12)
        peak = noisy.abs().amax(1).clamp(min=1e-9) * level
        clip = self._bernoulli(a.p_clip, b)
        g = torch.where(clip, _db(self._uniform(a.clip_db, b)) / peak, (0.99 / peak).clamp(max=1.0)) * level
        noisy, clean = noisy * g[:, None], clean * g[:, None]
        noisy = torch.where(clip[:, None], noisy.clamp(-1.0, 1.0), noisy)
        return noisy.float().contiguous(), clean.float().contiguous()


def _db(x: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, x / 20.0)


def _unit_rms(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + 1e-10)
