//! A minimal VST3 host over the raw COM interfaces (`vst3` crate), for what pedalboard cannot
//! reach: the edit controller itself (`setParamNormalized` while active but not processing) and
//! the editor view, from several threads at once.
//!
//! It loads `target/bundled/crn_denoise.vst3` the way a Linux host does: `dlopen` the inner
//! `.so`, `ModuleEntry`, `GetPluginFactory`, then one component per instance (this plugin's
//! component is also its controller and audio processor).

#![allow(dead_code)]

use std::ffi::{c_void, CStr};
use std::path::PathBuf;
use std::ptr;
use std::sync::{Mutex, OnceLock};

use vst3::Steinberg::Vst::ParameterInfo_::ParameterFlags_::kIsBypass;
use vst3::Steinberg::Vst::{
    IAudioProcessor, IAudioProcessorTrait, IComponent, IComponentTrait, IEditController,
    IEditControllerTrait, ParameterInfo, ProcessSetup,
};
use vst3::Steinberg::{
    kResultOk, IBStream, IBStreamTrait, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait,
    PClassInfo, TUID,
};
use vst3::{Class, ComPtr, ComWrapper, Interface};

/// `target/bundled`, or `CRN_BUNDLE_DIR` (to run these checks on another build, e.g. one made
/// without the framework patches, to see them fail).
pub fn bundle_so() -> PathBuf {
    std::env::var_os("CRN_BUNDLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundled"))
        .join("crn_denoise.vst3/Contents/x86_64-linux/crn_denoise.so")
}

/// The loaded module and its audio-effect class. Loaded once per process and never unloaded,
/// as hosts do while any instance may still exist.
pub struct Module {
    factory: ComPtr<IPluginFactory>,
    class_id: TUID,
}

// SAFETY: the factory is documented as callable from any thread; `TUID` is plain bytes.
unsafe impl Send for Module {}
unsafe impl Sync for Module {}

pub fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = bundle_so();
        assert!(
            path.exists(),
            "{} is missing: run `cargo xtask bundle crn_denoise --release` first",
            path.display()
        );
        // SAFETY: loading the plugin runs its code; it is the plugin under test.
        let lib = unsafe { libloading::Library::new(&path) }
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        unsafe {
            if let Ok(entry) =
                lib.get::<unsafe extern "C" fn(*mut c_void) -> bool>(b"ModuleEntry\0")
            {
                assert!(entry(ptr::null_mut()), "ModuleEntry failed");
            }
            let get_factory = lib
                .get::<unsafe extern "system" fn() -> *mut IPluginFactory>(b"GetPluginFactory\0")
                .expect("GetPluginFactory");
            let factory = ComPtr::from_raw(get_factory()).expect("null factory");
            let mut class_id = None;
            for i in 0..factory.countClasses() {
                let mut info: PClassInfo = std::mem::zeroed();
                assert_eq!(factory.getClassInfo(i, &mut info), kResultOk);
                let category = CStr::from_ptr(info.category.as_ptr()).to_string_lossy();
                if category == "Audio Module Class" {
                    class_id = Some(info.cid);
                }
            }
            Module { factory, class_id: class_id.expect("no audio module class") }
        }
    })
}

/// One plugin instance: the component, with its controller and processor interfaces.
pub struct Instance {
    pub component: ComPtr<IComponent>,
    pub controller: ComPtr<IEditController>,
    pub processor: ComPtr<IAudioProcessor>,
    active: bool,
    processing: bool,
}

// SAFETY: VST3 objects are free-threaded COM objects; which thread may call what is the
// caller's (the test's) business, as it is a host's.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

impl Instance {
    pub fn new() -> Self {
        let m = module();
        unsafe {
            let mut obj: *mut c_void = ptr::null_mut();
            let iid = IComponent::IID;
            let result = m.factory.createInstance(
                m.class_id.as_ptr(),
                iid.as_ptr() as *const _,
                &mut obj,
            );
            assert_eq!(result, kResultOk, "createInstance");
            let component = ComPtr::from_raw(obj as *mut IComponent).expect("null component");
            assert_eq!(component.initialize(ptr::null_mut()), kResultOk);
            let controller = component.cast::<IEditController>().expect("IEditController");
            let processor = component.cast::<IAudioProcessor>().expect("IAudioProcessor");
            Instance { component, controller, processor, active: false, processing: false }
        }
    }

    /// `setupProcessing` (real time, 32-bit, 48 kHz, blocks up to 512) and `setActive(true)`.
    pub fn activate(&mut self) {
        unsafe {
            let mut setup = ProcessSetup {
                processMode: 0,        // kRealtime
                symbolicSampleSize: 0, // kSample32
                maxSamplesPerBlock: 512,
                sampleRate: 48_000.0,
            };
            assert_eq!(self.processor.setupProcessing(&mut setup), kResultOk);
            assert_eq!(self.component.setActive(1), kResultOk);
        }
        self.active = true;
    }

    pub fn set_processing(&mut self, on: bool) {
        unsafe { assert_eq!(self.processor.setProcessing(on as u8), kResultOk) };
        self.processing = on;
    }

    /// (id, title, flags) of every parameter.
    pub fn params(&self) -> Vec<(u32, String, i32)> {
        unsafe {
            (0..self.controller.getParameterCount())
                .map(|i| {
                    let mut info: ParameterInfo = std::mem::zeroed();
                    assert_eq!(self.controller.getParameterInfo(i, &mut info), kResultOk);
                    let len = info.title.iter().position(|&c| c == 0).unwrap_or(128);
                    (info.id, String::from_utf16_lossy(&info.title[..len]), info.flags)
                })
                .collect()
        }
    }

    pub fn param_id(&self, title: &str) -> u32 {
        self.params()
            .into_iter()
            .find(|(_, t, _)| t == title)
            .unwrap_or_else(|| panic!("no parameter {title:?}"))
            .0
    }

    pub fn bypass_id(&self) -> u32 {
        self.params()
            .into_iter()
            .find(|(_, _, flags)| flags & kIsBypass as i32 != 0)
            .expect("no parameter flagged kIsBypass")
            .0
    }

    pub fn set(&self, id: u32, normalized: f64) {
        unsafe { assert_eq!(self.controller.setParamNormalized(id, normalized), kResultOk) };
    }

    pub fn get(&self, id: u32) -> f64 {
        unsafe { self.controller.getParamNormalized(id) }
    }

    /// `IComponent::getState` into memory.
    pub fn save(&self) -> Vec<u8> {
        let stream = MemoryStream::new(Vec::new());
        unsafe {
            let ptr = stream.to_com_ptr::<IBStream>().unwrap();
            assert_eq!(self.component.getState(ptr.as_ptr()), kResultOk, "getState");
        }
        let bytes = stream.data.lock().unwrap().0.clone();
        bytes
    }

    /// What a host does to restore a project: the component's `setState`, then the same bytes
    /// to the controller's `setComponentState`.
    pub fn restore(&self, state: &[u8]) {
        unsafe {
            let stream = MemoryStream::new(state.to_vec());
            let ptr = stream.to_com_ptr::<IBStream>().unwrap();
            assert_eq!(self.component.setState(ptr.as_ptr()), kResultOk, "setState");
            let stream = MemoryStream::new(state.to_vec());
            let ptr = stream.to_com_ptr::<IBStream>().unwrap();
            assert_eq!(self.controller.setComponentState(ptr.as_ptr()), kResultOk);
        }
    }
}

impl Drop for Instance {
    /// The host's teardown order; the last `release` (dropping the pointers) destroys it.
    fn drop(&mut self) {
        unsafe {
            if self.processing {
                self.processor.setProcessing(0);
            }
            if self.active {
                self.component.setActive(0);
            }
            self.component.terminate();
        }
    }
}

/// An `IBStream` over a byte vector, as hosts hand to `getState`/`setState`.
pub struct MemoryStream {
    data: Mutex<(Vec<u8>, usize)>,
}

impl MemoryStream {
    pub fn new(bytes: Vec<u8>) -> ComWrapper<Self> {
        ComWrapper::new(MemoryStream { data: Mutex::new((bytes, 0)) })
    }
}

impl Class for MemoryStream {
    type Interfaces = (IBStream,);
}

impl IBStreamTrait for MemoryStream {
    unsafe fn read(&self, buffer: *mut c_void, num_bytes: i32, num_read: *mut i32) -> i32 {
        let mut guard = self.data.lock().unwrap();
        let (data, pos) = &mut *guard;
        let n = (num_bytes.max(0) as usize).min(data.len() - *pos);
        ptr::copy_nonoverlapping(data[*pos..].as_ptr(), buffer as *mut u8, n);
        *pos += n;
        if !num_read.is_null() {
            *num_read = n as i32;
        }
        kResultOk
    }

    unsafe fn write(&self, buffer: *mut c_void, num_bytes: i32, num_written: *mut i32) -> i32 {
        let mut guard = self.data.lock().unwrap();
        let (data, pos) = &mut *guard;
        let src = std::slice::from_raw_parts(buffer as *const u8, num_bytes.max(0) as usize);
        let end = *pos + src.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[*pos..end].copy_from_slice(src);
        *pos = end;
        if !num_written.is_null() {
            *num_written = src.len() as i32;
        }
        kResultOk
    }

    unsafe fn seek(&self, offset: i64, mode: i32, result: *mut i64) -> i32 {
        let mut guard = self.data.lock().unwrap();
        let (data, pos) = &mut *guard;
        let base = match mode {
            0 => 0,                 // kIBSeekSet
            1 => *pos as i64,       // kIBSeekCur
            _ => data.len() as i64, // kIBSeekEnd
        };
        let new = (base + offset).clamp(0, data.len() as i64);
        *pos = new as usize;
        if !result.is_null() {
            *result = new;
        }
        kResultOk
    }

    unsafe fn tell(&self, out: *mut i64) -> i32 {
        let guard = self.data.lock().unwrap();
        if !out.is_null() {
            *out = guard.1 as i64;
        }
        kResultOk
    }
}
