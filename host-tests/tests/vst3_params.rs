//! Parameter changes a host makes through the VST3 edit controller while the plugin is not
//! being given audio must reach the plugin, so the state a host saves is the one it shows.
//!
//! Regression test for the framework's VST3 wrapper dropping `setParamNormalized` while
//! processing was switched on (pluginval: "Mix not restored on setStateInformation"; the SDK
//! validator: "The bypass parameter was not correctly set"). Patched in vendor/nice-plug.
//!
//! Needs the bundle: `cargo xtask bundle crn_denoise --release`.

mod common;

use common::vst3::Instance;

/// Sets Mix, Attenuation Limit and Bypass through the controller in the given state, never
/// calling `process`, then checks what the controller reports, what `getState` saved, and what a
/// fresh instance restores from it.
fn check(active: bool, processing: bool) {
    let what = format!("active {active}, processing {processing}");
    let mut a = Instance::new();
    if active {
        a.activate();
    }
    if processing {
        a.set_processing(true);
    }
    let mix = a.param_id("Mix");
    let limit = a.param_id("Attenuation Limit");
    let bypass = a.bypass_id();
    // Away from every default (mix 100 %, limit 30 dB, bypass off).
    let wanted = [(mix, 0.25), (limit, 0.8), (bypass, 1.0)];
    for (id, v) in wanted {
        a.set(id, v);
    }
    for (id, v) in wanted {
        assert!((a.get(id) - v).abs() < 1e-6, "{what}: controller reads {} for {id}, set {v}", a.get(id));
    }
    let state = a.save();
    drop(a);

    // A second instance in the same state as the first, as a host reopening the project.
    let mut b = Instance::new();
    if active {
        b.activate();
    }
    if processing {
        b.set_processing(true);
    }
    for (id, _) in wanted {
        assert!((b.get(id) - wanted.iter().find(|w| w.0 == id).unwrap().1).abs() > 1e-3);
    }
    b.restore(&state);
    for (id, v) in wanted {
        assert!(
            (b.get(id) - v).abs() < 1e-6,
            "{what}: restored {} for parameter {id}, saved after setting {v}",
            b.get(id)
        );
    }
}

#[test]
fn controller_changes_while_inactive_are_saved() {
    check(false, false);
}

#[test]
fn controller_changes_while_active_not_processing_are_saved() {
    check(true, false);
}

/// The case the framework dropped: processing switched on, but no process call arrives (a
/// stopped transport, a validator), so the change never comes back through process.
#[test]
fn controller_changes_while_processing_without_audio_are_saved() {
    check(true, true);
}
