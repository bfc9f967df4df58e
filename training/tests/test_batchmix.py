"""The tensor mixer and the plugin-output loss on synthetic signals (no data set needed)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from crn_train import corpus, data, features
from crn_train.batchmix import Augment, BatchMixer
from crn_train.loss import LossWeights, plugin_loss
from crn_train.model import CRN, PRESETS

SR = data.SR
PLAIN = Augment(seconds=2.0, p_clip=0.0, p_reverb=0.0, p_babble=0.0, p_more_noises=(0.0, 0.0), p_speech_eq=0.0,
                p_noise_eq=0.0, p_mic_eq=0.0, p_band_limit=0.0, p_shorten=0.0, p_paper_snr=0.0)


def synthetic_corpus(n_speakers=6, seconds=3.0) -> corpus.Corpus:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    speech = [(0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * (0.6 + 0.4 * np.sin(3 * t))).astype(np.float32)
              for i in range(n_speakers)]
    noise = [rng.standard_normal(int(4.5 * SR)).astype(np.float32) * 0.1, rng.uniform(-0.2, 0.2, 3 * SR).astype(np.float32)]
    rir = np.exp(-np.arange(1600) / 300.0) * rng.standard_normal(1600)
    rir[0] = 3.0
    s, so, sl = corpus._flat(speech)
    n, no, nl = corpus._flat(noise)
    r = corpus._prep_rir(rir.astype(np.float32))[None]
    return corpus.Corpus(torch.from_numpy(s), torch.from_numpy(so), torch.from_numpy(sl),
                         torch.arange(n_speakers), torch.from_numpy(n), torch.from_numpy(no), torch.from_numpy(nl),
                         torch.from_numpy(r), {"speech": [], "noise": [], "rir": []})


def test_batches_have_the_asked_shape_and_stay_under_full_scale():
    m = BatchMixer(synthetic_corpus(), Augment(seconds=2.0, p_clip=0.0), seed=1)
    noisy, clean = m.batch(24)
    assert noisy.shape == clean.shape == (24, 2 * SR)
    assert torch.isfinite(noisy).all() and torch.isfinite(clean).all()
    assert noisy.abs().max() <= 0.99 + 1e-6


@pytest.mark.parametrize("snr", [-10.0, 0.0, 20.0])
def test_snr_is_measured_over_the_speech_not_the_pauses(snr):
    m = BatchMixer(synthetic_corpus(seconds=1.0), replace(PLAIN, snr_db=(snr, snr)), seed=2)
    noisy, clean = m.batch(8)
    noise = noisy - clean
    active = clean.abs() > 1e-5  # the FFT filters leave rounding noise, not zeros, around the words
    got = 10 * torch.log10((clean ** 2).sum(1) / active.sum(1) / (noise ** 2).mean(1))
    assert torch.allclose(got, torch.full_like(got, snr), atol=0.05)
    assert (~active).any(1).all()  # a 1 s utterance in a 2 s crop leaves noise alone around it


def test_levels_cover_the_range_and_clipping_is_mild_and_only_where_asked():
    m = BatchMixer(synthetic_corpus(), replace(PLAIN, p_clip=0.5), seed=3)
    noisy, clean = m.batch(64)
    clipped = (noisy.abs() >= 1.0).any(1)
    assert 0 < clipped.sum() < 64
    assert (clean.abs().amax(1)[clipped] < 10 ** (6.5 / 20) + 1e-3).all()  # at most ~6 dB over full scale
    assert (noisy.abs().amax(1)[~clipped] <= 0.99 + 1e-6).all()
    rms_db = 20 * torch.log10(noisy[~clipped].pow(2).mean(1).sqrt())
    assert rms_db.min() < -45 and rms_db.max() > -25


def band_energy(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    spec = torch.fft.rfft(x).abs() ** 2
    f = torch.fft.rfftfreq(x.shape[-1], 1 / SR)
    return spec[..., (f >= lo) & (f < hi)].sum(-1)


def test_band_limiting_removes_the_top_band_of_speech_and_target_alike():
    # White-noise "speech" so the top band is full before limiting.
    c = synthetic_corpus()
    c.speech = (torch.randn(c.speech.shape) * 3000).clamp(-32768, 32767).to(torch.int16)
    m = BatchMixer(c, replace(PLAIN, p_band_limit=1.0, p_telephone=0.0), seed=4)
    _, clean = m.batch(8)
    ratio = band_energy(clean, 4500, 8000) / band_energy(clean, 300, 3000)
    assert (ratio < 1e-3).all()


@pytest.mark.parametrize("channel", [0.0, 1.0])
def test_a_band_limited_channel_cuts_the_noise_too_a_band_limited_source_does_not(channel):
    # An 8 kHz recording (the channel) ends at 4 kHz for speech and noise; an 8 kHz voice in a full-band room
    # (the source) leaves the noise's top band in the mixture. Training needs both: real files are either.
    m = BatchMixer(synthetic_corpus(), replace(PLAIN, p_band_limit=1.0, p_telephone=0.0, p_channel_band=channel),
                   seed=5)
    noisy, clean = m.batch(8)
    noise_top = band_energy(noisy - clean, 4500, 8000) / band_energy(noisy - clean, 300, 3000)
    assert ((noise_top < 1e-3) if channel else (noise_top > 0.1)).all()


def test_babble_never_uses_the_target_speaker():
    c = synthetic_corpus(n_speakers=4)
    m = BatchMixer(c, replace(PLAIN, p_babble=1.0), seed=5)
    target = torch.tensor([0, 1, 2, 3] * 4)
    for _ in range(3):
        utt = torch.multinomial(m.speech_weights, 16 * 10, replacement=True, generator=m.gen)
        assert utt.numel() > 0
    b = m._babble(target, 4000)
    assert b.shape == (16, 4000) and torch.isfinite(b).all()
    # Speaker k's tone is at 150 + 40 k Hz: in babble for speaker k, that tone carries little energy.
    for i, k in enumerate(target.tolist()):
        f0 = 150 + 40 * k
        own = band_energy(b[i], f0 - 10, f0 + 10)
        others = max(band_energy(b[i], 150 + 40 * j - 10, 150 + 40 * j + 10) for j in range(4) if j != k)
        assert own < 0.05 * others


def test_same_seed_same_batch():
    c = synthetic_corpus()
    a = BatchMixer(c, Augment(seconds=1.0), seed=7).batch(4)
    b = BatchMixer(c, Augment(seconds=1.0), seed=7).batch(4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


class Oracle(torch.nn.Module):
    """Stands in for the net: returns a fixed magnitude estimate."""

    def __init__(self, est):
        super().__init__()
        self.est = est
        self.cfg = PRESETS["small"]

    def forward(self, mag):
        return self.est


def pair(seed=0):
    torch.manual_seed(seed)
    t = torch.arange(SR) / SR
    clean = (0.2 * torch.sin(2 * np.pi * 440 * t) * (t > 0.3))[None]
    noisy = clean + 0.02 * torch.randn(1, SR)
    return noisy, clean


def test_loss_scores_the_plugin_output_not_the_raw_estimate():
    noisy, clean = pair()
    mag = features.stft(noisy).abs()
    w = LossWeights(raw=0.0)
    at_noisy = plugin_loss(Oracle(mag), noisy, clean, w)
    above = plugin_loss(Oracle(mag * 5), noisy, clean, w)  # the gain clamps at 1: the plugin outputs the same
    assert torch.allclose(at_noisy, above)
    perfect = plugin_loss(Oracle(features.stft(clean).abs()), noisy, clean, w)
    assert perfect < 0.5 * at_noisy


def test_removing_speech_costs_more_than_leaving_noise():
    noisy, clean = pair(1)
    X, Y = features.stft(noisy), features.stft(clean)
    speech = Y.abs() > X.abs() * 0.5
    # The same 6 dB error in compressed terms, once by cutting speech bins, once by leaving noise bins.
    cut = torch.where(speech, Y.abs() * 0.5, Y.abs())
    left = torch.where(~speech, torch.minimum(X.abs(), Y.abs() + X.abs() * 0.5), Y.abs())
    w = LossWeights(mag=1.0, cplx=0.0, raw=0.0, over=2.0)
    flat = LossWeights(mag=1.0, cplx=0.0, raw=0.0, over=1.0)
    assert plugin_loss(Oracle(cut), noisy, clean, w) > 1.9 * plugin_loss(Oracle(cut), noisy, clean, flat)
    # (not exactly equal: a few noise bins hold less than the clean magnitude, where noisy < clean)
    assert torch.allclose(plugin_loss(Oracle(left), noisy, clean, w), plugin_loss(Oracle(left), noisy, clean, flat), rtol=0.01)


def test_loss_is_level_invariant_for_a_scale_equivariant_estimate():
    noisy, clean = pair(2)
    g = 10 ** (-50 / 20)
    ratio = features.stft(clean).abs() / features.stft(noisy).abs().clamp(min=1e-12)
    class Mask(Oracle):
        def forward(self, mag):
            return mag * ratio.clamp(0, 1) * 0.8
    m = Mask(None)
    assert torch.allclose(plugin_loss(m, noisy, clean), plugin_loss(m, noisy * g, clean * g), rtol=0.02)


def test_a_training_step_lowers_the_loss_of_the_tiny_net():
    torch.manual_seed(0)
    net = CRN(PRESETS["tiny"])
    m = BatchMixer(synthetic_corpus(), Augment(seconds=1.0), seed=8)
    x, y = m.batch(8)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = plugin_loss(net, x, y).item()
    for _ in range(30):
        opt.zero_grad()
        loss = plugin_loss(net, x, y)
        loss.backward()
        opt.step()
    assert plugin_loss(net, x, y).item() < 0.8 * first
