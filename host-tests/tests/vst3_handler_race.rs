//! The host replaces and clears the component handler (`setComponentHandler`) on one thread
//! while restart requests run on the framework's background thread: what a host does when it
//! tears an instance down (it clears the handler first) just after the latency changed.
//!
//! Regression test for patch 4 in vendor/nice-plug: the background thread held the handler
//! cell borrowed for the whole of the host's `restartComponent`, so a `setComponentHandler`
//! landing meanwhile panicked in `borrow_mut()` inside an `extern "C"` call and aborted the host:
//! this test binary dies instead of passing. The handler here takes a little time in
//! `restartComponent`, as a host that re-reads latency and parameters there does.
//!
//! Needs the bundle (`cargo xtask bundle crn_denoise --release`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::vst3::Instance;
use vst3::Steinberg::Vst::{IComponentHandler, IComponentHandlerTrait, IComponentTrait, IEditControllerTrait, ParamID, ParamValue};
use vst3::Steinberg::{kResultOk, tresult};
use vst3::{Class, ComWrapper};

struct Handler {
    restarts: AtomicUsize,
}

impl Class for Handler {
    type Interfaces = (IComponentHandler,);
}

impl IComponentHandlerTrait for Handler {
    unsafe fn beginEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn performEdit(&self, _id: ParamID, _value: ParamValue) -> tresult {
        kResultOk
    }

    unsafe fn endEdit(&self, _id: ParamID) -> tresult {
        kResultOk
    }

    unsafe fn restartComponent(&self, _flags: i32) -> tresult {
        self.restarts.fetch_add(1, Ordering::SeqCst);
        thread::sleep(Duration::from_micros(300));
        kResultOk
    }
}

#[test]
fn component_handler_replaced_while_restarts_run() {
    // Created here, so this is the instance's main thread and the other threads' requests go
    // to the background thread.
    let mut instance = Instance::new();
    instance.activate();
    let instance = Arc::new(instance);
    let handler = ComWrapper::new(Handler { restarts: AtomicUsize::new(0) });
    let handler_ptr = handler.to_com_ptr::<IComponentHandler>().unwrap();
    let raw = handler_ptr.as_ptr() as usize;
    unsafe { assert_eq!(instance.controller.setComponentHandler(raw as *mut _), kResultOk) };
    let latency = instance.param_id("Latency");
    let stop = Arc::new(AtomicBool::new(false));

    // The user switching the latency mode: each re-activation reports a new latency, which
    // queues a "latency changed" restart.
    let switcher = {
        let (instance, stop) = (instance.clone(), stop.clone());
        thread::spawn(move || {
            let mut live = false;
            while !stop.load(Ordering::SeqCst) {
                live = !live;
                unsafe {
                    assert_eq!(instance.component.setActive(0), kResultOk);
                    instance.set(latency, if live { 1.0 } else { 0.0 });
                    assert_eq!(instance.component.setActive(1), kResultOk);
                }
            }
        })
    };
    // The host's thread setting and clearing the handler meanwhile.
    let swapper = {
        let (instance, stop) = (instance.clone(), stop.clone());
        thread::spawn(move || {
            let mut swaps = 0usize;
            while !stop.load(Ordering::SeqCst) {
                unsafe {
                    assert_eq!(instance.controller.setComponentHandler(std::ptr::null_mut()), kResultOk);
                    assert_eq!(instance.controller.setComponentHandler(raw as *mut _), kResultOk);
                }
                swaps += 1;
            }
            swaps
        })
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    switcher.join().unwrap();
    let swaps = swapper.join().unwrap();
    // Let queued restarts drain before the handler goes away.
    thread::sleep(Duration::from_millis(200));
    unsafe { instance.controller.setComponentHandler(std::ptr::null_mut()) };
    let restarts = handler.restarts.load(Ordering::SeqCst);
    assert!(restarts > 10, "only {restarts} restart requests reached the handler: the race was not exercised");
    assert!(swaps > 100, "only {swaps} handler swaps");
    drop(instance);
}
