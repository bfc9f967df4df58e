//! The bundle's Turtle, written from the same port table as the binary's ports
//! (`crn_live::ports`), so the two never disagree: `manifest.ttl` names the plugins and the
//! binary, `crn_denoise.ttl` describes them.

use std::fmt::Write;

use crn_live::{Port, PortKind, Role, Variant, VARIANTS};

/// The binary inside the bundle.
pub const BINARY: &str = "crn_denoise.so";
pub const PLUGINS_TTL: &str = "crn_denoise.ttl";

/// A plugin's URI. The project has no website (the CLAP id is `org.crn-denoise.crn-denoise`,
/// its URL empty), so the URIs are URNs in its own name rather than web addresses it does not
/// own: `urn:crn-denoise:mono`, `urn:crn-denoise:stereo-live` ...
pub fn uri(v: &Variant) -> String {
    format!("urn:crn-denoise:{}", v.label.trim_start_matches("crn_denoise_").replace('_', "-"))
}

const PREFIXES: &str = "@prefix doap: <http://usefulinc.com/ns/doap#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix lv2: <http://lv2plug.in/ns/lv2core#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix units: <http://lv2plug.in/ns/extensions/units#> .

";

pub fn manifest() -> String {
    let mut s = String::from(PREFIXES);
    for v in VARIANTS {
        let _ = writeln!(s, "<{}>\n    a lv2:Plugin ;\n    lv2:binary <{BINARY}> ;\n    rdfs:seeAlso <{PLUGINS_TTL}> .\n", uri(v));
    }
    s
}

/// A number as Turtle reads it: a decimal with a point (`100.0`), or an integer.
fn number(x: f32, integer: bool) -> String {
    if integer {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

fn port(s: &mut String, index: usize, p: &Port) {
    let dir = if p.is_input() { "lv2:InputPort" } else { "lv2:OutputPort" };
    let kind = if p.is_audio() { "lv2:AudioPort" } else { "lv2:ControlPort" };
    let _ = write!(s, "[\n        a {dir} , {kind} ;\n        lv2:index {index} ;\n        lv2:symbol \"{}\" ;\n        lv2:name \"{}\"", p.symbol, p.name);
    if let PortKind::Control { min, max, default, unit, toggled, integer, labels } = p.kind {
        if p.is_input() {
            let _ = write!(s, " ;\n        lv2:default {}", number(default, integer));
        }
        let _ = write!(s, " ;\n        lv2:minimum {} ;\n        lv2:maximum {}", number(min, integer), number(max, integer));
        if let Some(u) = unit {
            let _ = write!(s, " ;\n        units:unit units:{u}");
        }
        let mut props = Vec::new();
        if toggled {
            props.push("lv2:toggled");
        }
        if integer {
            props.push("lv2:integer");
        }
        if !labels.is_empty() {
            props.push("lv2:enumeration");
        }
        if p.role == Role::Latency {
            // The host reads the delay here and compensates it.
            props.push("lv2:reportsLatency");
            s.push_str(" ;\n        lv2:designation lv2:latency");
        }
        if !props.is_empty() {
            let _ = write!(s, " ;\n        lv2:portProperty {}", props.join(" , "));
        }
        for (i, label) in labels.iter().enumerate() {
            let _ = write!(s, " ;\n        lv2:scalePoint [ rdfs:label \"{label}\" ; rdf:value {} ]", number(min + i as f32, integer));
        }
    }
    s.push_str("\n    ]");
}

pub fn plugins() -> String {
    let mut s = String::from(PREFIXES);
    for v in VARIANTS {
        let _ = write!(
            s,
            "<{}>\n    a lv2:Plugin , lv2:FilterPlugin ;\n    doap:name \"{}\" ;\n    doap:license <https://spdx.org/licenses/MIT> ;\n    \
             doap:maintainer [ foaf:name \"crn-denoise\" ] ;\n    rdfs:comment \"Real-time speech denoiser (convolutional recurrent network), {} ms latency.\" ;\n    \
             lv2:minorVersion 1 ;\n    lv2:microVersion 0 ;\n    lv2:optionalFeature lv2:hardRTCapable ;\n    lv2:port ",
            uri(v),
            v.name,
            v.latency.ms()
        );
        for (i, p) in v.ports().iter().enumerate() {
            if i > 0 {
                s.push_str(" , ");
            }
            port(&mut s, i, p);
        }
        s.push_str(" .\n\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each plugin's ports appear in the Turtle in table order with their symbols, the latency
    /// port carries the designation and reportsLatency, and every plugin is hard-RT capable.
    #[test]
    fn turtle_follows_the_port_table() {
        let ttl = plugins();
        for v in VARIANTS {
            let start = ttl.find(&format!("<{}>", uri(v))).unwrap();
            let block = &ttl[start..start + ttl[start..].find(" .\n\n").unwrap()];
            assert!(block.contains("lv2:optionalFeature lv2:hardRTCapable"));
            let mut at = 0;
            for (i, p) in v.ports().iter().enumerate() {
                let needle = format!("lv2:index {i} ;\n        lv2:symbol \"{}\"", p.symbol);
                let found = block[at..].find(&needle).unwrap_or_else(|| panic!("{} port {i} {}", v.label, p.symbol));
                at += found;
            }
            assert_eq!(block.matches("lv2:reportsLatency").count(), 1);
            assert!(block.contains("lv2:symbol \"latency\" ;\n        lv2:name \"latency\" ;\n        lv2:minimum 0 ;\n        lv2:maximum 8192 ;\n        lv2:designation lv2:latency"));
            assert!(block.contains("lv2:default 30.0"), "attenuation limit default");
        }
        assert_eq!(manifest().matches("lv2:binary <crn_denoise.so>").count(), VARIANTS.len());
    }
}
