//! Instances created, edited and destroyed from several threads at once, each opening and
//! closing its editor, with parameter changes arriving from yet other threads: what pluginval
//! does at strictness 10, where about one run in nine aborted the host while destroying instances.
//!
//! Regression test for two faults in the framework (patched in vendor/nice-plug): the editor
//! notifications for those parameter changes, run on the process-wide background thread,
//! borrowed the editor window while the host's thread was opening or closing it ("already
//! mutably borrowed") and so killed that shared thread; and a task still queued for an instance
//! that had just been destroyed made the thread exit. Either way the last instance's destructor
//! then panicked ("Failed while sending worker thread shutdown request: SendError") inside the
//! host's `release`, which aborts the process: this test binary dies instead of passing.
//!
//! Needs the bundle (`cargo xtask bundle crn_denoise --release`) and an X server: it starts its
//! own Xvfb when `DISPLAY` is not set.

mod common;

use std::ffi::c_void;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::vst3::Instance;
use vst3::Steinberg::Vst::IEditControllerTrait;
use vst3::Steinberg::{kPlatformTypeX11EmbedWindowID, kResultOk, IPlugView, IPlugViewTrait};
use vst3::ComPtr;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, WindowClass};

const THREADS: usize = 3;
const ROUNDS: usize = 4;

/// An Xvfb of our own if there is no display to use. It is not killed: the editor's X
/// connections live until the process exits, and Xlib exits the process when its server goes
/// away under it. Started with `-terminate`, it ends by itself once the last client has gone; the
/// connection held here keeps it up between editors.
struct Xvfb {
    _server: Option<(Child, x11rb::rust_connection::RustConnection)>,
}

impl Xvfb {
    fn ensure() -> Self {
        if std::env::var_os("DISPLAY").is_some() {
            return Xvfb { _server: None };
        }
        for n in (100 + std::process::id() % 400..).take(20) {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .args([&format!(":{n}"), "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-terminate"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("no DISPLAY and cannot start Xvfb (apt-get install xvfb)");
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if let Ok((conn, _)) = x11rb::connect(Some(&format!(":{n}"))) {
                    // Single test in this binary, set before any other thread exists.
                    std::env::set_var("DISPLAY", format!(":{n}"));
                    return Xvfb { _server: Some((child, conn)) };
                }
                thread::sleep(Duration::from_millis(50));
            }
            let mut child = child;
            let _ = child.kill();
        }
        panic!("could not start Xvfb");
    }
}

/// A top-level X11 window to embed the editor in, as a host's plugin window.
struct ParentWindow {
    conn: x11rb::rust_connection::RustConnection,
    id: u32,
}

impl ParentWindow {
    fn new() -> Self {
        let (conn, screen) = x11rb::connect(None).expect("cannot connect to the X server");
        let root = conn.setup().roots[screen].root;
        let id = conn.generate_id().unwrap();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            id,
            root,
            0,
            0,
            800,
            600,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new(),
        )
        .unwrap();
        conn.map_window(id).unwrap();
        conn.flush().unwrap();
        ParentWindow { conn, id }
    }
}

impl Drop for ParentWindow {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.id);
        let _ = self.conn.flush();
    }
}

/// One instance's life on the calling thread (which created it, so it is the instance's main
/// thread, as a host's GUI thread): activate, open the editor while another thread moves the
/// mix through the controller, close it, and destroy the instance right after the last change,
/// with its notifications still queued on the background thread.
fn one_life(round: usize) {
    let mut inst = Instance::new();
    inst.activate();
    // Alternate the two states a stopped host leaves an active plugin in.
    inst.set_processing(round % 2 == 0);
    let mix = inst.param_id("Mix");
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let inst = &inst;
        let stop = &stop;
        s.spawn(move || {
            let mut v = 0.0;
            while !stop.load(Ordering::Relaxed) {
                v = (v + 0.137) % 1.0;
                inst.set(mix, v);
                thread::sleep(Duration::from_micros(200));
            }
        });
        for _ in 0..2 {
            let view = unsafe { inst.controller.createView(c"editor".as_ptr()) };
            let view = unsafe { ComPtr::<IPlugView>::from_raw(view) }.expect("no editor view");
            let parent = ParentWindow::new();
            unsafe {
                assert_eq!(view.isPlatformTypeSupported(kPlatformTypeX11EmbedWindowID), kResultOk);
                assert_eq!(
                    view.attached(parent.id as usize as *mut c_void, kPlatformTypeX11EmbedWindowID),
                    kResultOk,
                    "editor did not open"
                );
            }
            thread::sleep(Duration::from_millis(30));
            unsafe { assert_eq!(view.removed(), kResultOk) };
            drop(view);
            drop(parent);
        }
        stop.store(true, Ordering::Relaxed);
    });
    drop(inst);
}

#[test]
fn instances_created_and_destroyed_from_several_threads_with_the_editor() {
    let _x = Xvfb::ensure();
    // Keep one instance alive throughout, so the shared background thread outlives every round
    // and a round that stranded it shows up in the next rounds' and this one's teardown.
    let anchor = Instance::new();
    let t = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            thread::Builder::new()
                .name(format!("host-{i}"))
                .spawn(move || {
                    for round in 0..ROUNDS {
                        one_life(i + round);
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().expect("a host thread panicked");
    }
    // Creating and destroying after the storm still works: the background thread is alive.
    for round in 0..2 {
        one_life(round);
    }
    drop(anchor);
    eprintln!(
        "{} instances with editors created and destroyed on {THREADS} threads in {:.1} s",
        THREADS * ROUNDS + 2,
        t.elapsed().as_secs_f64()
    );
}
