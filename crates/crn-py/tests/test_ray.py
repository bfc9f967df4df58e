"""crn_denoise.ray on a local Ray instance (`ray.init(num_cpus=2)`, the code a cluster runs):
outputs equal the CLI's, a corrupt file is reported in its row while the others are written,
and no file is left half written."""

import os

import numpy as np
import pytest

import crn_denoise
import live
from conftest import cli_ok

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
from crn_denoise.ray import Denoise, denoise_files  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(signals, tmp_path_factory):
    """A folder of five files (mono and stereo, three rates, WAV and FLAC) and a corrupt one."""
    d = tmp_path_factory.mktemp("corpus")
    for i, (rate, ch, name, subtype) in enumerate(
        [(16_000, 1, "a.wav", "FLOAT"), (48_000, 2, "b.wav", "PCM_16"), (22_050, 1, "c.flac", "PCM_16"),
         (48_000, 1, "d.wav", "PCM_24"), (16_000, 2, "e.flac", "PCM_24")]
    ):
        _, noisy = signals(rate, ch)
        live.write(d / name, np.roll(noisy, 1000 * i, axis=-1), rate, subtype)
    (d / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(100)) * 3)
    (d / "notes.txt").write_text("not audio, not an input")
    return d


def test_denoise_files_equal_the_cli(local_ray, corpus, tmp_path):
    rows = denoise_files([corpus], tmp_path / "ray", concurrency=2)
    by_name = {r["input"].rsplit("/", 1)[-1]: r for r in rows}
    assert sorted(by_name) == ["a.wav", "b.wav", "c.flac", "corrupt.wav", "d.wav", "e.flac"]
    bad = by_name.pop("corrupt.wav")
    assert bad["output"] is None and "corrupt.wav" in bad["error"]
    assert all(r["error"] is None for r in by_name.values()), rows
    for name, r in by_name.items():
        cli_ok(corpus / name, "-o", tmp_path / "cli")
        assert r["output"] == str(tmp_path / "ray" / name)
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    written = sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert written == sorted(by_name), "every good file written, nothing for the corrupt one, no temporary files"


def test_denoise_files_refuse_to_overwrite_then_force(local_ray, corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").write_bytes(b"precious")
    rows = denoise_files([corpus / "a.wav", corpus / "c.flac", tmp_path / "empty_dir"], out, output="both")
    errors = {r["input"].rsplit("/", 1)[-1]: r["error"] for r in rows}
    assert "FileExistsError" in errors["a.wav"] and (out / "a.wav").read_bytes() == b"precious"
    assert errors["c.flac"] is None and (out / "c.flac").exists() and (out / "c.removed.flac").exists()
    assert errors["empty_dir"] is not None
    rows = denoise_files([corpus / "a.wav"], out, force=True, output="both")
    assert rows[0]["error"] is None and (out / "a.wav").read_bytes() != b"precious"


def test_inputs_of_one_name_do_not_overwrite_each_other(local_ray, signals, tmp_path):
    """Workers plan their files apart, so clashing names are refused before any is handed out,
    as the CLI refuses them in one run: the first keeps the name, the second fails in its row
    and is not written, even with force (which would otherwise let the last writer win)."""
    _, noisy = signals(16_000, 1)
    for sub, shift in (("one", 0), ("two", 3000)):
        (tmp_path / sub).mkdir()
        live.write(tmp_path / sub / "take.wav", np.roll(noisy, shift, axis=-1), 16_000, "PCM_16")
    live.write(tmp_path / "two" / "take.flac", noisy, 16_000, "PCM_16")  # take.flac: another name, kept
    out = tmp_path / "out"
    rows = denoise_files([tmp_path / "one", tmp_path / "two"], out, force=True)
    by_input = {os.path.relpath(r["input"], tmp_path): r for r in rows}
    assert by_input["one/take.wav"]["error"] is None and by_input["two/take.flac"]["error"] is None, rows
    assert "also the output of" in by_input["two/take.wav"]["error"] and by_input["two/take.wav"]["output"] is None
    cli_ok(tmp_path / "one" / "take.wav", "-o", tmp_path / "cli")
    assert (out / "take.wav").read_bytes() == (tmp_path / "cli" / "take.wav").read_bytes(), "the first input's output"
    assert sorted(p.name for p in out.iterdir()) == ["take.flac", "take.wav"]


def test_map_batches_over_arrays(local_ray, signals):
    """Rows as read_audio gives them ((channels, samples) float32 and a rate), bad rows among
    them: each good row equals denoise(), each bad one says why, in order."""
    rows = []
    for i, (rate, ch) in enumerate([(16_000, 1), (48_000, 2), (22_050, 1), (16_000, 2)]):
        _, noisy = signals(rate, ch)
        rows.append({"id": i, "amplitude": noisy[:, : rate // 2 + 97 * i], "sample_rate": rate})
    rows.append({"id": 4, "amplitude": np.zeros((1, 1000), np.float32), "sample_rate": 4000})
    rows.append({"id": 5, "amplitude": np.zeros((1, 1000), np.float32), "sample_rate": 16_000})
    ds = ray.data.from_items(rows).map_batches(
        Denoise, fn_constructor_kwargs=dict(output="both", atten_limit_db=20.0), batch_size=2,
        compute=ray.data.ActorPoolStrategy(size=2),
    )
    out = sorted(ds.take_all(), key=lambda r: r["id"])
    assert [r["id"] for r in out] == list(range(6))
    for r, row in zip(out[:4], rows):
        want_d, want_r = crn_denoise.denoise(row["amplitude"], row["sample_rate"], output="both", atten_limit_db=20.0)
        assert r["error"] is None
        assert np.array_equal(r["denoised"], want_d) and np.array_equal(r["removed"], want_r)
    assert "4000 Hz is not supported" in out[4]["error"] and np.size(out[4]["denoised"]) == 0
    assert out[5]["error"] is None and np.array_equal(out[5]["denoised"], np.zeros((1, 1000), np.float32))


def test_read_audio_pipeline(local_ray, corpus, tmp_path):
    """ray.data.read_audio's rows straight into Denoise."""
    files = [str(corpus / n) for n in ("a.wav", "b.wav")]
    ds = ray.data.read_audio(files, include_paths=True).map_batches(
        Denoise, batch_size=1, compute=ray.data.ActorPoolStrategy(size=1)
    )
    out = {r["path"].rsplit("/", 1)[-1]: r for r in ds.take_all()}
    for name in ("a.wav", "b.wav"):
        x = out[name]["amplitude"]
        assert out[name]["error"] is None
        assert np.array_equal(out[name]["denoised"], crn_denoise.denoise(x, int(out[name]["sample_rate"])))
