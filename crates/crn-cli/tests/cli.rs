//! The `crn-denoise` command-line tool, run as a process.

#[path = "../../crn-engine/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use crn_cli::audio_io::{self, SourceKind};
use crn_engine::engine::{Engine, Mode, Settings};
use crn_engine::meter::Meters;
use crn_engine::render;

const BIN: &str = env!("CARGO_BIN_EXE_crn-denoise");

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(BIN);
    for a in args {
        c.arg(a);
    }
    c.output().expect("crn-denoise runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_wav(path: &Path, channels: &[Vec<f32>], rate: u32, bits: u16) {
    let float = bits == 32;
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            if float {
                w.write_sample(ch[i]).unwrap();
            } else {
                let s = (ch[i] * (1 << (bits - 1)) as f32).round().clamp(-32768.0, 32767.0) as i32;
                w.write_sample(s).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

/// Planar f32 channels and spec of a WAV, read with hound (independent of the tool's decoder).
fn read_wav(path: &Path) -> (Vec<Vec<f32>>, hound::WavSpec) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let inter: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.unwrap() as f32 / scale).collect()
        }
    };
    let mut ch = vec![Vec::new(); n];
    for (i, x) in inter.into_iter().enumerate() {
        ch[i % n].push(x);
    }
    (ch, spec)
}

/// Files in `dir`, sorted by name.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Speech plus pink noise at 5 dB SNR; per channel the clean reference and the noisy mix.
fn noisy_speech(rate: u32, channels: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let clean = common::speech(common::SENTENCES, rate);
    let mut cleans = Vec::new();
    let mut noisy = Vec::new();
    for ch in 0..channels {
        let c: Vec<f32> = clean.iter().map(|x| x * 0.5 * (1.0 - 0.2 * ch as f32)).collect();
        let n = common::pink_noise(c.len(), 11 + ch as u64, 1.0);
        let n = common::at_snr(&c, &n, 5.0);
        noisy.push(common::mix(&c, &n));
        cleans.push(c);
    }
    (cleans, noisy)
}

fn check_denoises(rate: u32, nch: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (clean, noisy) = noisy_speech(rate, nch);
    let input = dir.path().join("noisy.wav");
    let output = dir.path().join("clean.wav");
    write_wav(&input, &noisy, rate, 32);
    let o = run(&[&input, &output]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, spec) = read_wav(&output);
    assert_eq!(spec.sample_rate, rate);
    assert_eq!(spec.channels as usize, nch);
    assert_eq!((spec.bits_per_sample, spec.sample_format), (32, hound::SampleFormat::Float));
    for ch in 0..nch {
        assert_eq!(out[ch].len(), noisy[ch].len(), "length preserved");
        let before = common::si_snr(&noisy[ch], &clean[ch]);
        let after = common::si_snr(&out[ch], &clean[ch]);
        eprintln!("{rate} Hz ch {ch}: SI-SNR {before:.1} -> {after:.1} dB");
        assert!(after > before + 2.0, "{rate} Hz ch {ch}: SI-SNR {before:.1} -> {after:.1} dB");
    }
}

#[test]
fn denoises_16k_mono_and_44k1_stereo() {
    check_denoises(16_000, 1);
    check_denoises(44_100, 2);
}

#[test]
fn any_channel_count() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = noisy_speech(16_000, 3);
    let input = dir.path().join("three.wav");
    let output = dir.path().join("out.wav");
    write_wav(&input, &noisy, 16_000, 32);
    let o = run(&[&input, &output]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, spec) = read_wav(&output);
    assert_eq!(spec.channels, 3);
    assert!(out.iter().all(|c| c.len() == noisy[0].len()));
}

/// "The CLI equals the plugin's offline bounce": same engine, same settings, same samples at the
/// CLI's block size, and the same to float rounding at any other (the model takes each block's
/// frames in one call: `crn_engine::inline`).
#[test]
fn cli_equals_in_process_render() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 48_000;
    let (_, noisy) = noisy_speech(rate, 2);
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    write_wav(&input, &noisy, rate, 32);
    for (args, settings) in [
        (vec![], Settings::default()),
        (
            vec!["--mix", "80", "--atten-limit", "20", "--gain", "-3", "--no-link"],
            Settings { mix: 0.8, attenuation_limit_db: 20.0, output_gain_db: -3.0, stereo_link: false, bypass: false, ..Settings::default() },
        ),
    ] {
        let mut c = Command::new(BIN);
        c.args(&args).arg("--force").arg(&input).arg(&output);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let (cli, _) = read_wav(&output);

        for block in [crn_cli::cli::BLOCK, 333] {
            let mut expect = noisy.clone();
            let mut engine = Engine::new(rate as f32, 2, Some(common::model()), Mode::Offline, Arc::new(Meters::default()));
            engine.set(settings);
            engine.reset();
            render::render(&mut engine, &mut expect, block);
            for ch in 0..2 {
                assert_eq!(cli[ch].len(), expect[ch].len());
                if block == crn_cli::cli::BLOCK {
                    let same = cli[ch].iter().zip(&expect[ch]).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "args {args:?}: channel {ch} differs from the in-process render");
                } else {
                    let worst = cli[ch].iter().zip(&expect[ch]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                    assert!(worst < 1e-6, "args {args:?}: channel {ch} differs from a render in {block}-sample blocks by {worst}");
                }
            }
        }
    }
}

#[test]
fn format_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 22_050;
    let (_, noisy) = noisy_speech(rate, 2);
    let input = dir.path().join("in16.wav");
    write_wav(&input, &noisy, rate, 16);
    let len = noisy[0].len();

    // 16-bit WAV stays 16-bit WAV by default.
    let out16 = dir.path().join("out16.wav");
    let o = run(&[&input, &out16]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (w16, spec) = read_wav(&out16);
    assert_eq!((spec.bits_per_sample, spec.sample_format, spec.channels, spec.sample_rate), (16, hound::SampleFormat::Int, 2, rate));
    assert_eq!(w16[0].len(), len);

    // FLAC out (asked for, and implied by the .flac name) decodes back to the same samples.
    for (args, name) in [(vec!["--format", "flac"], "a.flac"), (vec![], "b.flac")] {
        let out = dir.path().join(name);
        let o = Command::new(BIN).args(&args).arg(&input).arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let a = audio_io::decode(&out).unwrap();
        assert_eq!(a.kind, SourceKind::Flac(16));
        assert_eq!((a.sample_rate, a.channels.len(), a.frames()), (rate, 2, len));
        assert_eq!(a.channels, w16, "16-bit FLAC holds the same samples as the 16-bit WAV");
    }

    // Float in, 24-bit FLAC and 24-bit WAV out.
    let fin = dir.path().join("float.wav");
    write_wav(&fin, &noisy, rate, 32);
    let f32_out = dir.path().join("float_out.wav");
    assert!(run(&[&fin, &f32_out]).status.success());
    let (reference, _) = read_wav(&f32_out);
    let flac = dir.path().join("float_out.flac");
    assert!(run(&[&"--format", &"flac", &fin, &flac]).status.success());
    let a = audio_io::decode(&flac).unwrap();
    assert_eq!(a.kind, SourceKind::Flac(24));
    assert_eq!(a.frames(), len);
    let w24 = dir.path().join("w24.wav");
    assert!(run(&[&"--format", &"wav24", &fin, &w24]).status.success());
    let (b, spec) = read_wav(&w24);
    assert_eq!(spec.bits_per_sample, 24);
    for ch in 0..2 {
        for i in 0..len {
            let r = reference[ch][i];
            assert!((a.channels[ch][i] - r).abs() <= 1.0 / (1 << 23) as f32, "FLAC 24 at {i}");
            assert!((b[ch][i] - r).abs() <= 1.0 / (1 << 23) as f32, "WAV 24 at {i}");
        }
    }

    // FLAC in -> FLAC out in batch mode.
    let outdir = dir.path().join("batch");
    let o = run(&[&dir.path().join("a.flac"), &"-o", &outdir]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = audio_io::decode(&outdir.join("a.flac")).unwrap();
    assert_eq!((a.kind, a.frames()), (SourceKind::Flac(16), len));
}

#[test]
fn bad_inputs_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = noisy_speech(16_000, 1);
    let good = dir.path().join("good.wav");
    write_wav(&good, &noisy, 16_000, 16);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let header_only = dir.path().join("header.wav");
    std::fs::write(&header_only, &bytes[..30]).unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("text.mp3");
    std::fs::write(&text, "this is not an mp3 file, just some words\n".repeat(50)).unwrap();
    let silent = dir.path().join("zero_length.wav");
    write_wav(&silent, &[vec![]], 16_000, 16);
    let missing = dir.path().join("missing.wav");
    let bad = [&truncated, &header_only, &empty, &text, &silent, &missing];

    let outdir = dir.path().join("out");
    let mut c = Command::new(BIN);
    c.args(bad).arg(&good).arg("-o").arg(&outdir);
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for b in bad {
        let line = err.lines().find(|l| l.starts_with("crn-denoise: ") && l.contains(&*b.to_string_lossy()));
        assert!(line.is_some(), "no error line for {}: {err}", b.display());
        eprintln!("{}", line.unwrap());
    }
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("no audio"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(listing(&outdir), ["good.wav"], "the good file is written, nothing else");
    assert_eq!(read_wav(&outdir.join("good.wav")).0[0].len(), noisy[0].len());
}

#[test]
fn never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = noisy_speech(16_000, 1);
    let input = dir.path().join("take.wav");
    write_wav(&input, &noisy, 16_000, 16);
    let before = std::fs::read(&input).unwrap();

    // Same path, a different spelling of it, and an output directory that holds the input.
    let other_spelling = dir.path().join(".").join("take.wav");
    for o in [
        run(&[&input, &input]),
        run(&[&input, &other_spelling]),
        run(&[&input, &"-o", &dir.path()]),
    ] {
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("take.wav") && err.contains("refusing to overwrite"), "{err}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "input unchanged");
    assert_eq!(listing(dir.path()), ["take.wav"], "no temporary files left");
}

/// `crn-denoise a.wav b.wav` with `b.wav` present (what `crn-denoise takes/*.wav` does on a
/// folder of two takes when -o is forgotten) leaves `b.wav` byte for byte, exits non-zero and
/// says why and what was probably meant; -f/--force replaces it. The same for -o DIR outputs and
/// the removed-noise stem of --output both (where neither stem is written).
#[test]
fn never_replaces_an_existing_output_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = noisy_speech(16_000, 1);
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    write_wav(&a, &noisy, 16_000, 16);
    write_wav(&b, &[common::noise(16_000, 7, 0.1)], 16_000, 16);
    let take_b = std::fs::read(&b).unwrap();

    let o = run(&[&a, &b]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(std::fs::read(&b).unwrap(), take_b, "b.wav replaced");
    assert!(err.contains("b.wav") && err.contains("already exists"), "{err}");
    assert!(err.contains("--force") && err.contains("-o DIR"), "says what was meant: {err}");
    assert_eq!(listing(dir.path()), ["a.wav", "b.wav"], "no temporary file left");

    // -o DIR: an output already in the folder is kept too.
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a.wav"), b"earlier result").unwrap();
    let o = run(&[&a, &"-o", &out]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("a.wav")).unwrap(), b"earlier result");

    // --output both where only the removed stem exists: neither stem is written.
    std::fs::write(out.join("both.removed.wav"), b"earlier stem").unwrap();
    let o = run(&[&"--output", &"both", &a, &out.join("both.wav")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("both.removed.wav"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("both.removed.wav")).unwrap(), b"earlier stem");
    assert_eq!(listing(&out), ["a.wav", "both.removed.wav"]);

    // Asked for, it is replaced.
    let o = run(&[&"-f", &a, &b]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&b).unwrap(), take_b);
    assert_eq!(read_wav(&b).0[0].len(), noisy[0].len());
    let o = run(&[&"--force", &a, &"-o", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_wav(&out.join("a.wav")).0[0].len(), noisy[0].len());
}

/// The final rename does not race: a file that appears under the output's name while the output
/// is being written is not replaced (unless asked), and the temporary file goes away.
#[test]
fn a_file_appearing_meanwhile_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let x = vec![common::noise(4_000, 3, 0.1)];
    let pending = audio_io::PendingFile::create(&path).unwrap();
    let mut w = pending.writer(1, 16_000, audio_io::Encoding::WavFloat32).unwrap();
    let piece: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    w.write(&piece).unwrap();
    std::fs::write(&path, b"appeared meanwhile").unwrap();
    let r = pending.finish(w, false);
    assert!(matches!(r, Err(audio_io::FinishError::Exists(_))), "{r:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"appeared meanwhile");
    assert_eq!(listing(dir.path()), ["out.wav"], "temporary file removed");

    let pending = audio_io::PendingFile::create(&path).unwrap();
    let mut w = pending.writer(1, 16_000, audio_io::Encoding::WavFloat32).unwrap();
    w.write(&piece).unwrap();
    pending.finish(w, true).unwrap();
    assert_eq!(read_wav(&path).0, x);
}

#[test]
fn model_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_wav(&input, &[common::noise(16_000, 1, 0.1)], 16_000, 32);
    let output = dir.path().join("out.wav");
    let o = run(&[&"--model", &"/nonexistent.onnx", &input, &output]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("model") && err.contains("/nonexistent.onnx"), "{err}");
    // Not an ONNX file at all.
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let o = run(&[&"--model", &junk, &input, &output]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("model"), "{}", stderr(&o));
    assert!(!output.exists());
    // Usage errors.
    assert_eq!(run(&[&"--mix", &"150", &input, &output]).status.code(), Some(2));
    assert_eq!(run(&[&input]).status.code(), Some(2));
    let help = run(&[&"--help"]);
    assert!(help.status.success());
    let h = String::from_utf8_lossy(&help.stdout);
    for opt in ["--mix", "--atten-limit", "--gain", "--no-link", "--model", "--format", "--quiet", "--jobs", "-o"] {
        assert!(h.contains(opt), "help lacks {opt}");
    }
}

#[test]
fn directory_input_writes_all_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("takes");
    std::fs::create_dir(&src).unwrap();
    let mut names = Vec::new();
    for (i, rate) in [16_000u32, 44_100, 8_000, 48_000].into_iter().enumerate() {
        let x = common::noise(rate as usize / 2 + i * 777, i as u64, 0.1);
        let name = format!("take{i}.wav");
        write_wav(&src.join(&name), &[x.clone(), x], rate, if i % 2 == 0 { 16 } else { 32 });
        names.push(name);
    }
    std::fs::write(src.join("notes.txt"), "not audio").unwrap();
    std::fs::create_dir(src.join("sub")).unwrap();
    // One more file given directly, into an output directory that does not exist yet.
    let extra = dir.path().join("extra.wav");
    write_wav(&extra, &[common::noise(20_000, 9, 0.1)], 16_000, 32);
    names.push("extra.wav".into());
    names.sort();
    let outdir = dir.path().join("new").join("out");
    let o = run(&[&src, &extra, &"-o", &outdir, &"-j", &"2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&outdir), names, "every output, and no temporary file");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), names.len(), "one line per output: {stdout}");
    for name in &names {
        let input = if name == "extra.wav" { extra.clone() } else { src.join(name) };
        let (a, sa) = read_wav(&input);
        let (b, sb) = read_wav(&outdir.join(name));
        assert_eq!((sa.channels, sa.sample_rate, sa.bits_per_sample), (sb.channels, sb.sample_rate, sb.bits_per_sample));
        assert_eq!(a[0].len(), b[0].len());
    }
    // --quiet prints nothing on success.
    let o = run(&[&src, &"-o", &outdir, &"--quiet", &"--force"]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
}

#[test]
fn no_temporary_files_left() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.wav");
    write_wav(&input, &[common::noise(30_000, 3, 0.1)], 16_000, 32);
    let broken = dir.path().join("b.wav");
    std::fs::write(&broken, &std::fs::read(&input).unwrap()[..2000]).unwrap();
    let outdir = dir.path().join("out");
    for format in ["wav32", "wav16", "wav24", "flac"] {
        let o = run(&[&input, &broken, &"-o", &outdir, &"--format", &format, &"--force"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
    let names = listing(&outdir);
    assert_eq!(names, ["a.flac", "a.wav"], "outputs only: {names:?}");
}

/// The FLAC writer keeps every length exactly, including a last block shorter than flacenc's
/// 64-sample minimum (written verbatim), and rejects what FLAC cannot hold.
#[test]
fn flac_lengths() {
    let dir = tempfile::tempdir().unwrap();
    for (i, len) in [1usize, 10, 63, 64, 100, 4096, 4097, 4096 * 3 + 10, 4096 * 2 + 63, 8191, 70_000, 4096 * 130 + 5].into_iter().enumerate() {
        // Peaks below full scale (the noise reaches 1.73 x amp), so nothing clips.
        let ch: Vec<Vec<f32>> = (0..2).map(|c| common::noise(len, (i * 2 + c) as u64, 0.25)).collect();
        for bits in [16, 24] {
            let path = dir.path().join(format!("{len}_{bits}.flac"));
            audio_io::write_file(&path, &ch, 44_100, audio_io::Encoding::Flac(bits)).unwrap();
            let a = audio_io::decode(&path).unwrap();
            assert_eq!((a.frames(), a.kind, a.sample_rate), (len, SourceKind::Flac(bits), 44_100));
            assert!(flac_checksum_ok(&path), "STREAMINFO MD5 of {len} samples, {bits} bit");
            let q = (1i32 << (bits - 1)) as f32;
            // Rounding: half an LSB; 16 bits adds TPDF dither of up to one LSB more.
            let tol = if bits == 16 { 1.5 } else { 0.5 };
            for c in 0..2 {
                for (x, y) in a.channels[c].iter().zip(&ch[c]) {
                    assert!((x - y).abs() <= tol / q + 1e-7, "{len} samples, {bits} bit");
                }
            }
        }
    }
    let empty = vec![Vec::<f32>::new()];
    assert!(audio_io::write_file(&dir.path().join("empty.flac"), &empty, 8_000, audio_io::Encoding::Flac(16)).is_err());
    let nine: Vec<Vec<f32>> = vec![vec![0.0; 1000]; 9];
    assert!(audio_io::write_file(&dir.path().join("nine.flac"), &nine, 8_000, audio_io::Encoding::Flac(16)).is_err());
    assert!(!dir.path().join("empty.flac").exists() && !dir.path().join("nine.flac").exists());
    assert!(listing(dir.path()).iter().all(|n| n.ends_with(".flac") && !n.starts_with('.')));
}

/// Decodes a FLAC file with symphonia's verification on: the STREAMINFO MD5 matches the samples.
fn flac_checksum_ok(path: &Path) -> bool {
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::io::MediaSourceStream;
    let mss = MediaSourceStream::new(Box::new(std::fs::File::open(path).unwrap()), Default::default());
    let mut hint = symphonia::core::probe::Hint::new();
    hint.with_extension("flac");
    let probed = symphonia::default::get_probe().format(&hint, mss, &Default::default(), &Default::default()).unwrap();
    let mut reader = probed.format;
    let params = reader.default_track().unwrap().codec_params.clone();
    let mut dec = symphonia::default::get_codecs().make(&params, &DecoderOptions { verify: true }).unwrap();
    while let Ok(p) = reader.next_packet() {
        dec.decode(&p).unwrap();
    }
    dec.finalize().verify_ok == Some(true)
}

/// Directory outputs keep the whole input name (only the last extension changes): dots in
/// names survive, `take.v1` and `take.v2` do not collide, and no unrelated file is overwritten.
#[test]
fn output_names_keep_dots_and_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let x = common::noise(8_000, 5, 0.1);
    let names = ["2024.01.05 meeting.wav", "take.v1.wav", "take.v2.wav"];
    for n in names {
        write_wav(&dir.path().join(n), &[x.clone()], 16_000, 32);
    }
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    // An unrelated file that the old naming (`2024.01.wav`, `take.wav`) would have clobbered.
    std::fs::write(outdir.join("2024.01.wav"), b"keep me").unwrap();
    let inputs: Vec<_> = names.iter().map(|n| dir.path().join(n)).collect();
    let mut c = Command::new(BIN);
    let o = c.args(&inputs).arg("-o").arg(&outdir).arg("--quiet").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&outdir), ["2024.01.05 meeting.wav", "2024.01.wav", "take.v1.wav", "take.v2.wav"]);
    assert_eq!(std::fs::read(outdir.join("2024.01.wav")).unwrap(), b"keep me");
}

#[test]
fn output_extension_must_match_the_written_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_wav(&input, &[common::noise(8_000, 5, 0.1)], 16_000, 16);
    for (out, extra) in [("out.mp3", vec![]), ("out.wav", vec!["--format", "flac"]), ("out.flac", vec!["--format", "wav16"])] {
        let o = Command::new(BIN).args(&extra).arg(&input).arg(dir.path().join(out)).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{out} {extra:?}");
        let e = stderr(&o);
        assert!(e.contains(&format!("{out} ends in")), "{out}: {e}");
        assert!(!dir.path().join(out).exists(), "{out} written anyway");
    }
    let o = run(&[&input, &dir.path().join("OUT.WAV")]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--output removed` is the input minus the denoised output; `--output both` writes the two
/// stems of one render, identical to two separate runs, and they sum to the input.
#[test]
fn removed_noise_stem_and_both_stems_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = noisy_speech(16_000, 2);
    let input = dir.path().join("in.wav");
    write_wav(&input, &noisy, 16_000, 32);
    let den = dir.path().join("den.wav");
    let rem = dir.path().join("rem.wav");
    assert!(run(&[&input, &den]).status.success());
    assert!(run(&[&"--output", &"removed", &input, &rem]).status.success());
    let both = dir.path().join("both.wav");
    let o = run(&[&"--output", &"both", &input, &both]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (d, _) = read_wav(&den);
    let (r, _) = read_wav(&rem);
    assert_eq!(read_wav(&both).0, d, "denoised stem of --output both");
    assert_eq!(read_wav(&dir.path().join("both.removed.wav")).0, r, "removed stem of --output both");
    for ch in 0..2 {
        let err = (0..d[ch].len()).map(|i| (d[ch][i] + r[ch][i] - noisy[ch][i]).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-6, "channel {ch}: denoised + removed differs from the input by {err}");
    }
}

/// The removed-noise stem is input minus denoised, both before the output gain, and the gain
/// applies to each stem: with `--output both --gain 6` each stem is the 0 dB stem times the gain,
/// denoised/g + removed/g is the input (float: to rounding; 16-bit: within one LSB, the stems'
/// dither cancelling), and the removed stem is the noise, not speech (taken after the gain it was
/// input - g x denoised, 65 % of the input's RMS at +6 dB).
#[test]
fn stems_are_taken_before_the_gain_and_sum_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 16_000;
    let clean: Vec<f32> = common::speech(common::SENTENCES, rate).iter().map(|x| x * 0.25).collect();
    let noise = common::at_snr(&clean, &common::pink_noise(clean.len(), 5, 1.0), 10.0);
    let noisy = common::mix(&clean, &noise);
    let g = 10f32.powf(6.0 / 20.0);
    for bits in [32u16, 16] {
        let input = dir.path().join(format!("in{bits}.wav"));
        write_wav(&input, &[noisy.clone()], rate, bits);
        let (x, _) = read_wav(&input);
        let x = &x[0];
        let stems = |gain: &str| {
            let out = dir.path().join(format!("out{bits}_{gain}.wav"));
            let o = run(&[&"--output", &"both", &"--gain", &gain, &input, &out]);
            assert!(o.status.success(), "{}", stderr(&o));
            (read_wav(&out).0.remove(0), read_wav(&out.with_file_name(format!("out{bits}_{gain}.removed.wav"))).0.remove(0))
        };
        let (d, r) = stems("6");
        let (d0, r0) = stems("0");
        // --output removed alone writes the same file (dither included) as the stem of both.
        let alone = dir.path().join(format!("removed{bits}.wav"));
        let o = run(&[&"--output", &"removed", &"--gain", &"6", &input, &alone]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(read_wav(&alone).0[0], r, "{bits} bit: --output removed differs from the removed stem of both");
        let lsb = if bits == 16 { 1.0 / 32768.0 } else { 0.0 };
        // Each stem at +6 dB is its 0 dB self times the gain (16-bit: plus dither and rounding).
        for (a, b, what) in [(&d, &d0, "denoised"), (&r, &r0, "removed")] {
            let err = a.iter().zip(b).map(|(a, b)| (a - g * b).abs()).fold(0.0f32, f32::max);
            assert!(err <= 1e-6 + (1.0 + g) * 1.5 * lsb, "{bits} bit {what} stem: not gain x the 0 dB stem ({err})");
        }
        // The stems sum to the gained input: the two roundings, one LSB at most.
        let err = (0..x.len()).map(|i| (d[i] / g + r[i] / g - x[i]).abs()).fold(0.0f32, f32::max);
        eprintln!("{bits} bit: |denoised/g + removed/g - input| <= {err:e}");
        assert!(err <= 1e-6 + lsb / g, "{bits} bit: stems sum to the input within {err}");
        // What was taken away is the noise, at the noise's level, not the speech.
        let removed: Vec<f32> = r.iter().map(|v| v / g).collect();
        let share = common::rms(&removed) / common::rms(x);
        let noise_share = common::rms(&noise) / common::rms(x);
        eprintln!("{bits} bit: removed stem RMS {:.0} % of the input's (the noise is {:.0} %)", share * 100.0, noise_share * 100.0);
        assert!(share < 1.2 * noise_share, "removed stem {share} of the input, noise {noise_share}");
    }
}

/// Progress moves within a file: the pipeline reports the frames decoded as it goes (the bar
/// follows them against the length the file states), not only when the file is done.
#[test]
fn progress_moves_within_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 16_000;
    let x = common::noise(rate as usize * 20, 4, 0.1);
    let input = dir.path().join("in.wav");
    write_wav(&input, &[x.clone()], rate, 32);
    let mut decoder = audio_io::Decoder::open(&input).unwrap();
    assert_eq!(decoder.stated_frames(), Some(x.len() as u64), "the length the file states");
    let out = dir.path().join("out.wav");
    let pending = audio_io::PendingFile::create(&out).unwrap();
    let mut w = pending.writer(1, rate, audio_io::Encoding::WavFloat32).unwrap();
    let mut seen = Vec::new();
    let seconds = crn_cli::cli::denoise_stream(common::model(), &mut decoder, Settings::default(), Some(&mut w as &mut dyn crn_cli::cli::Sink), None, &mut |f| {
        seen.push(f)
    })
    .unwrap();
    pending.finish(w, false).unwrap();
    assert_eq!(seconds, 20.0);
    assert!(seen.len() >= 20, "{} progress updates in 20 s of audio", seen.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress only moves forward");
    assert_eq!(seen.last(), Some(&(x.len() as u64)));
    assert_eq!(read_wav(&out).0[0].len(), x.len());
}

/// `--output both` writes both stems or neither: if one cannot be put in place (here a file
/// appears under its name while the stems are written), the other is not left behind either,
/// and the file that appeared is untouched.
#[test]
fn stems_are_committed_together() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("out.wav");
    let b = dir.path().join("out.removed.wav");
    let x = vec![common::noise(4_000, 3, 0.1)];
    let piece: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let mut files = Vec::new();
    for p in [&a, &b] {
        let pending = audio_io::PendingFile::create(p).unwrap();
        let mut w = pending.writer(1, 16_000, audio_io::Encoding::WavFloat32).unwrap();
        w.write(&piece).unwrap();
        files.push((pending, w));
    }
    std::fs::write(&b, b"appeared meanwhile").unwrap();
    let r = audio_io::commit(files, false);
    assert!(matches!(r, Err(audio_io::FinishError::Exists(_))), "{r:?}");
    assert!(!a.exists(), "the first stem was left without the second");
    assert_eq!(std::fs::read(&b).unwrap(), b"appeared meanwhile");
    assert_eq!(listing(dir.path()), ["out.removed.wav"], "no temporary files");
}

/// Integer outputs that clip say so, with how many samples, one warning per file (also with
/// --quiet); float outputs keep the peaks and say nothing, nor does output that does not clip.
#[test]
fn clipping_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 16_000;
    let (_, noisy) = noisy_speech(rate, 1);
    let input = dir.path().join("loud.wav");
    write_wav(&input, &noisy, rate, 16);
    let float_out = dir.path().join("float.wav");
    let o = run(&[&"--gain", &"24", &"--format", &"wav32", &input, &float_out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("clipped"), "float does not clip: {}", stderr(&o));
    let over = read_wav(&float_out).0[0].iter().filter(|x| x.abs() >= 1.0).count();
    assert!(over > 100, "the test signal should clip at +24 dB ({over})");
    for (format, name) in [("wav16", "out16.wav"), ("wav24", "out24.wav"), ("flac", "out.flac")] {
        let out = dir.path().join(name);
        let o = run(&[&"--quiet", &"--gain", &"24", &"--format", &format, &input, &out]);
        assert!(o.status.success(), "{}", stderr(&o));
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("clipped")).collect();
        assert_eq!(lines.len(), 1, "one warning: {err}");
        assert!(lines[0].starts_with("crn-denoise: warning: ") && lines[0].contains(name), "{err}");
        let n: usize = lines[0].split_whitespace().find_map(|w| w.parse().ok()).expect("a count");
        // Dither moves samples within an LSB of full scale either way.
        assert!(n.abs_diff(over) <= over / 50 + 5, "{format}: {n} clipped, {over} over full scale in float");
    }
    let o = run(&[&input, &dir.path().join("quiet.wav")]);
    assert!(o.status.success() && !stderr(&o).contains("clipped"), "{}", stderr(&o));
}

/// A RIFF file of `chunks` (id, body) after `RIFF....WAVE`, with pad bytes as RIFF wants.
fn riff_file(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut f = b"RIFF\0\0\0\0WAVE".to_vec();
    for (id, body) in chunks {
        f.extend_from_slice(*id);
        f.extend_from_slice(&(body.len() as u32).to_le_bytes());
        f.extend_from_slice(body);
        if body.len() % 2 == 1 {
            f.push(0);
        }
    }
    let n = (f.len() - 8) as u32;
    f[4..8].copy_from_slice(&n.to_le_bytes());
    f
}

/// Broadcast WAV and the usual tags survive WAV to WAV: the `bext`, `iXML` and `LIST`-`INFO`
/// chunks of the input are copied into every WAV output (both stems) as they are; other chunks
/// are not, and FLAC output is still written (without them, as --help says).
#[test]
fn wav_metadata_is_copied_through() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.wav");
    write_wav(&plain, &[common::noise(16_000, 8, 0.1)], 16_000, 16);
    let bytes = std::fs::read(&plain).unwrap();
    let fmt = bytes[20..36].to_vec();
    let data = bytes[44..].to_vec();
    let mut bext = b"Interview, take 3".to_vec();
    bext.resize(602, 0);
    bext.extend_from_slice(b"A=PCM,F=48000,W=24,M=mono\r\n"); // coding history, odd total length
    let ixml = b"<?xml version=\"1.0\"?><BWFXML><PROJECT>doc</PROJECT></BWFXML>".to_vec();
    let mut info = b"INFO".to_vec();
    info.extend_from_slice(b"INAM\x06\0\0\0Take3\0");
    let cue = vec![0u8; 4];
    let input = dir.path().join("take.wav");
    std::fs::write(
        &input,
        riff_file(&[(b"fmt ", fmt), (b"bext", bext.clone()), (b"iXML", ixml.clone()), (b"cue ", cue), (b"data", data), (b"LIST", info.clone())]),
    )
    .unwrap();
    let out = dir.path().join("out.wav");
    let o = run(&[&"--output", &"both", &input, &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    for path in [out.clone(), dir.path().join("out.removed.wav")] {
        let bytes = std::fs::read(&path).unwrap();
        let chunks = audio_io::riff::chunks(&mut std::io::Cursor::new(&bytes)).unwrap().unwrap();
        let body = |id: &[u8; 4]| chunks.iter().find(|c| &c.id == id).map(|c| bytes[c.offset as usize..(c.offset + c.len) as usize].to_vec());
        assert_eq!(body(b"bext"), Some(bext.clone()), "{}", path.display());
        assert_eq!(body(b"iXML"), Some(ixml.clone()));
        assert_eq!(body(b"LIST"), Some(info.clone()));
        assert_eq!(body(b"cue "), None);
        // (Not hound: it does not skip the pad byte after an odd-sized chunk, as RIFF has it.)
        assert_eq!(audio_io::decode(&path).unwrap().frames(), 16_000, "decodes");
    }
    let o = run(&[&input, &dir.path().join("out.flac")]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Outputs get 0666 less the umask, like any new file.
#[test]
fn output_permissions_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_wav(&input, &[common::noise(8_000, 5, 0.1)], 16_000, 32);
    for (umask, want) in [("077", 0o600), ("022", 0o644), ("002", 0o664)] {
        let out = dir.path().join(format!("out{umask}.wav"));
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" \"$1\" \"$2\""))
            .arg(BIN)
            .arg(&input)
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "umask {umask}: mode {mode:o}");
    }
}

/// Ctrl-C while a file is being processed: the run stops with status 130 and leaves neither
/// a `.part` file nor a partial output behind.
#[test]
fn ctrl_c_removes_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.wav");
    // Two minutes: long enough that the signal arrives while the file is in progress.
    write_wav(&input, &[common::noise(16_000 * 120, 5, 0.1)], 16_000, 32);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut child = Command::new(BIN).arg(&input).arg("-o").arg(&out).arg("--quiet").spawn().unwrap();
    let t = std::time::Instant::now();
    while listing(&out).is_empty() && t.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(!listing(&out).is_empty(), "no temporary file appeared");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    assert!(listing(&out).is_empty(), "left behind: {:?}", listing(&out));
}

/// 16-bit output is dithered: a tone below half an LSB survives as signal plus noise instead
/// of being rounded away to silence (undithered rounding gives all zeros).
#[test]
fn sixteen_bit_output_is_dithered() {
    let dir = tempfile::tempdir().unwrap();
    let n = 48_000;
    // -100 dBFS, a third of an LSB.
    let tone: Vec<f32> = (0..n).map(|i| 1e-5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin()).collect();
    let path = dir.path().join("tone.wav");
    audio_io::write_file(&path, &[tone.clone()], 48_000, audio_io::Encoding::WavPcm16).unwrap();
    let (y, _) = read_wav(&path);
    assert!(y[0].iter().any(|&v| v != 0.0), "sub-LSB tone rounded to silence");
    let dot: f64 = y[0].iter().zip(&tone).map(|(a, b)| *a as f64 * *b as f64).sum();
    let tt: f64 = tone.iter().map(|b| (*b as f64).powi(2)).sum();
    // The tone is still there on average: the dithered output projects onto it with gain ~1.
    let gain = dot / tt;
    assert!((0.7..1.3).contains(&gain), "tone gain through 16-bit output {gain}");
}

/// A copied release binary with no runtime beside it must not find one on the build
/// machine's source checkout: shipped lookup is next to the binary and `$CRN_ORT_LIB` only.
#[test]
fn shipped_binary_does_not_probe_the_checkout_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("crn-denoise");
    std::fs::copy(BIN, &bin).unwrap();
    let input = dir.path().join("in.wav");
    write_wav(&input, &[common::noise(8_000, 5, 0.1)], 16_000, 32);
    let o = Command::new(&bin)
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CRN_ORT_LIB")
        .arg(&input)
        .arg(dir.path().join("out.wav"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
}

/// Files are streamed, not held: six minutes of 48 kHz stereo (138 MB as f32, about three
/// times that when the CLI held the input, the output and the encoder's copy) denoised to
/// both stems as FLAC stays within a fixed budget, and every sample comes out.
#[test]
fn long_files_stream_in_bounded_memory() {
    const RATE: u32 = 48_000;
    const FRAMES: usize = 6 * 60 * RATE as usize;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.wav");
    {
        let spec = hound::WavSpec { channels: 2, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(&input, spec).unwrap();
        let noise = common::noise(RATE as usize, 3, 0.05);
        for i in 0..FRAMES {
            let tone = 0.2 * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / RATE as f32).sin();
            for ch in 0..2 {
                let x = tone + noise[(i + ch * 777) % noise.len()];
                w.write_sample((x * 32767.0) as i16).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    let out = dir.path().join("long.flac");
    let mut child =
        Command::new(BIN).args(["--quiet", "--output", "both", "--format", "flac"]).arg(&input).arg(&out).spawn().unwrap();
    // The CLI's own high-water mark (VmHWM belongs to the address space exec gave it; rusage's
    // maxrss would also count this test process, whose pages the child had before exec).
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()) {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let peak_mib = peak_kib as f64 / 1024.0;
    assert!(peak_mib > 1.0, "VmHWM was never read");
    assert!(peak_mib < 120.0, "peak resident set {peak_mib:.0} MiB for a 6-minute stereo file");
    for stem in [out.clone(), dir.path().join("long.removed.flac")] {
        let mut d = audio_io::Decoder::open(&stem).unwrap();
        let mut buf = vec![Vec::new(); 2];
        let mut n = 0;
        while d.read(&mut buf).unwrap() {
            n += buf[0].len();
            buf.iter_mut().for_each(Vec::clear);
        }
        assert_eq!(n, FRAMES, "{}", stem.display());
    }
}

/// Rates outside 8-192 kHz are refused per file, with nothing written; the limits themselves pass.
#[test]
fn rates_outside_the_engine_range_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, ok) in [(4_000u32, false), (8_000, true), (192_000, true), (384_000, false)] {
        let input = dir.path().join(format!("in{rate}.wav"));
        let out = dir.path().join(format!("out{rate}.wav"));
        write_wav(&input, &[vec![0.0; rate as usize / 10]], rate, 32);
        let o = run(&[&"-q", &input, &out]);
        assert_eq!(o.status.success(), ok, "{rate} Hz: {}", stderr(&o));
        assert_eq!(out.exists(), ok, "{rate} Hz");
        if !ok {
            assert!(stderr(&o).contains(&format!("sample rate {rate} Hz is not supported")), "{}", stderr(&o));
        }
    }
}
