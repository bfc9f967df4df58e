//! The model's bound session (`model::Bound`): what the audio path relies on when it hands a
//! frame over and trusts the state to follow.

mod common;

use crn_engine::model::Model;
use crn_engine::stft::MODEL_BINS;

use common::*;

/// `frames` magnitude frames of seeded noise with a speech-like tilt, `channels` per frame.
fn frames(n: usize, channels: usize, seed: u64) -> Vec<Vec<f32>> {
    let x = noise(n * channels * MODEL_BINS, seed, 1.0);
    x.chunks(channels * MODEL_BINS)
        .map(|f| f.iter().enumerate().map(|(i, v)| v.abs() * 10.0 / (1.0 + (i % MODEL_BINS) as f32 / 16.0)).collect())
        .collect()
}

fn run(model: &Model, channels: usize, input: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut bound = model.bind(channels).unwrap();
    input
        .iter()
        .map(|f| {
            let mut est = vec![0.0; channels * MODEL_BINS];
            bound.run(model, f, &mut est).unwrap();
            est
        })
        .collect()
}

#[test]
fn the_state_carries_from_frame_to_frame_through_both_banks() {
    let m = model();
    let one = frames(1, 1, 1);
    // The same frame ten times: each output differs from the one before (the history moved on,
    // through bank 0 -> 1 and 1 -> 0 alike), then settles.
    let outs = run(&m, 1, &vec![one[0].clone(); 10]);
    assert!(outs.iter().all(|o| o.iter().all(|v| v.is_finite() && *v >= 0.0)));
    for t in 1..4 {
        assert_ne!(outs[t], outs[t - 1], "frame {t}: the state did not advance");
    }
    // A fresh binding starts from zeros: its first frame is the first frame above.
    assert_eq!(run(&m, 1, &one)[0], outs[0]);
}

#[test]
fn clear_starts_afresh_whichever_bank_is_current() {
    let m = model();
    let input = frames(7, 1, 2);
    let fresh = run(&m, 1, &input[3..]);
    for before in [2usize, 3] {
        // An even and an odd number of frames before the clear: either bank may be current.
        let mut bound = m.bind(1).unwrap();
        let mut est = vec![0.0; MODEL_BINS];
        for f in &input[..before] {
            bound.run(&m, f, &mut est).unwrap();
        }
        bound.clear();
        for (t, f) in input[3..].iter().enumerate() {
            bound.run(&m, f, &mut est).unwrap();
            assert_eq!(est, fresh[t], "{before} frames before the clear, frame {t} after it");
        }
    }
}

#[test]
fn channels_of_one_batch_keep_their_own_state() {
    let m = model();
    let stereo = frames(12, 2, 3);
    let left: Vec<Vec<f32>> = stereo.iter().map(|f| f[..MODEL_BINS].to_vec()).collect();
    let right: Vec<Vec<f32>> = stereo.iter().map(|f| f[MODEL_BINS..].to_vec()).collect();
    let both = run(&m, 2, &stereo);
    let (l, r) = (run(&m, 1, &left), run(&m, 1, &right));
    for t in 0..stereo.len() {
        for (a, b) in both[t].iter().zip(l[t].iter().chain(&r[t])) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "frame {t}: batch {a} vs alone {b}");
        }
    }
}

#[test]
fn the_contract_is_read_from_the_graph() {
    let m = model();
    let names: Vec<&str> = m.info.states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 14, "{names:?}");
    assert!(m.info.states.iter().all(|s| s.next == format!("new_{}", s.name)));
    let per_channel: usize = m.info.states.iter().map(|s| s.dims.iter().product::<usize>()).sum();
    assert_eq!(per_channel, m.info.state_size);
    for s in &m.info.states {
        assert_eq!(s.shape(2)[s.batch_axis], 2, "{}", s.name);
    }
}

/// An offline render's calls: several frames at once, of changing sizes, the state carried
/// between them and between them and one-frame calls, through both banks. Every estimate equals
/// the one-frame-a-call estimate to float rounding.
#[test]
fn frames_in_one_call_equal_one_frame_at_a_time() {
    let m = model();
    for channels in [1usize, 2] {
        let input = frames(40, channels, 4 + channels as u64);
        let alone = run(&m, channels, &input);
        let mut bound = m.bind(channels).unwrap();
        let mut t = 0;
        for n in [1usize, 7, 2, 1, 17, 12] {
            // [channels, n, 161]: each channel's frames in order.
            let mut mags = vec![0.0; channels * n * MODEL_BINS];
            for (k, f) in input[t..t + n].iter().enumerate() {
                for ch in 0..channels {
                    mags[(ch * n + k) * MODEL_BINS..][..MODEL_BINS].copy_from_slice(&f[ch * MODEL_BINS..][..MODEL_BINS]);
                }
            }
            let mut est = vec![0.0; channels * n * MODEL_BINS];
            bound.run_frames(&m, n, &mags, &mut est).unwrap();
            for k in 0..n {
                for ch in 0..channels {
                    let got = &est[(ch * n + k) * MODEL_BINS..][..MODEL_BINS];
                    let want = &alone[t + k][ch * MODEL_BINS..][..MODEL_BINS];
                    for (a, b) in got.iter().zip(want) {
                        assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{channels} ch, call of {n}, frame {}: {a} vs {b}", t + k);
                    }
                }
            }
            t += n;
        }
        assert_eq!(t, input.len());
    }
}
