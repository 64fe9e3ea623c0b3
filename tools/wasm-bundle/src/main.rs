//! `parley-wasm-bundle INPUT.wasm OUT_DIR NAME`: makes the browser bundle's files from the
//! app's wasm, built with `-C link-args=--emit-relocs`. Writes into OUT_DIR:
//!
//! - `NAME.wasm` and `NAME.js`: the main module (what every page needs) and its bindings,
//!   as `wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle` makes
//!   them (the wasm renamed from `NAME_bg.wasm`, the name Leptos' page loads);
//! - one wasm per `#[lazy]` split point and per chunk that several share, the loader
//!   `__wasm_split.______________________.js` that imports `./NAME.js`, and
//!   `__wasm_split_manifest.json` (each split point's files, which the server preloads on
//!   pages that use them): the names `cargo leptos build --split` gives, which
//!   `leptos::HydrationScripts` reads.
//!
//! Every module it writes is stripped of its custom sections (function names, the producers
//! and target features): the browser reads none of them, and the names were half of each
//! module's bytes. After that, binaryen's `wasm-opt -O1` (the bundle's last step until
//! 2026-12-07) took 3.0% off the modules' brotli bytes (1.0% off the common part's), for
//! 78 CPU-seconds of every build, so the bundle is no longer run through it.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        eprintln!("usage: parley-wasm-bundle INPUT.wasm OUT_DIR NAME");
        return ExitCode::from(2);
    };
    match run(Path::new(input), Path::new(out_dir), name) {
        Ok(count) => {
            eprintln!("wasm-bundle: {count} split modules");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasm-bundle: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Splits, then binds the main module: the number of split modules.
fn run(input: &Path, out_dir: &Path, name: &str) -> Result<usize, String> {
    let count = split(input, out_dir, name)?;
    bind(out_dir, name)?;
    let entries =
        std::fs::read_dir(out_dir).map_err(|err| format!("cannot list {}: {err}", out_dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|err| format!("cannot list {}: {err}", out_dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") {
            let wasm =
                std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            let stripped =
                strip_custom_sections(&wasm).map_err(|err| format!("{}: {err}", path.display()))?;
            std::fs::write(&path, stripped)
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        }
    }
    Ok(count)
}

/// The module without its custom sections (id 0): the others are copied byte for byte, in
/// their order.
fn strip_custom_sections(wasm: &[u8]) -> Result<Vec<u8>, String> {
    const HEADER: usize = 8;
    if wasm.len() < HEADER || &wasm[..4] != b"\0asm" {
        return Err("not a wasm module".into());
    }
    let mut out = wasm[..HEADER].to_vec();
    let mut at = HEADER;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        let (size, payload) =
            uleb128(wasm, at + 1).ok_or_else(|| format!("section at byte {start}: bad size"))?;
        let end = payload
            .checked_add(size)
            .filter(|&end| end <= wasm.len())
            .ok_or_else(|| format!("section at byte {start}: runs past the end"))?;
        if id != 0 {
            out.extend_from_slice(&wasm[start..end]);
        }
        at = end;
    }
    Ok(out)
}

/// An unsigned LEB128 number of at most 32 bits at `at`: the number and the index after it.
fn uleb128(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some((value, at));
        }
    }
    None
}

/// The split's main module, which `bind` reads and removes.
fn split_main(out_dir: &Path, name: &str) -> std::path::PathBuf {
    out_dir.join(format!("{name}_split.wasm"))
}

fn split(input: &Path, out_dir: &Path, name: &str) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|err| format!("cannot read {}: {err}", input.display()))?;
    std::fs::create_dir_all(out_dir).map_err(|err| format!("cannot create {}: {err}", out_dir.display()))?;
    let main_out = split_main(out_dir, name);
    let main_module = format!("./{name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = out_dir;
    options.main_out_path = &main_out;
    options.main_module = &main_module;
    options.link_name = "./__wasm_split.______________________.js";
    let split = wasm_split_cli_support::transform(options).map_err(|err| format!("split: {err:#}"))?;
    // In key order: the splitter's map is a HashMap, whose order changes from run to run,
    // and the bundle's folder is named by a hash of its files.
    let sorted: std::collections::BTreeMap<_, _> = split.prefetch_map.iter().collect();
    let manifest = serde_json::to_string_pretty(&sorted).map_err(|err| err.to_string())?;
    let path = out_dir.join("__wasm_split_manifest.json");
    std::fs::write(&path, manifest).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(split.split_modules.len())
}

/// The bindings of the main module, with wasm-bindgen-cli's settings for the flags above
/// (every other option at the command line's default).
fn bind(out_dir: &Path, name: &str) -> Result<(), String> {
    let main = split_main(out_dir, name);
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen.web(true).map_err(|err| format!("bindgen: {err:#}"))?;
    bindgen
        .input_path(&main)
        .out_name(name)
        .debug(false)
        .demangle(false)
        .keep_lld_exports(true)
        .keep_debug(false)
        .remove_name_section(false)
        .remove_producers_section(false)
        .typescript(false)
        .omit_imports(false)
        .omit_default_module_path(false)
        .split_linked_modules(false);
    bindgen.generate(out_dir).map_err(|err| format!("bindgen: {err:#}"))?;
    let remove = |path: &Path| {
        std::fs::remove_file(path).map_err(|err| format!("cannot remove {}: {err}", path.display()))
    };
    remove(&main)?;
    let (from, to) = (out_dir.join(format!("{name}_bg.wasm")), out_dir.join(format!("{name}.wasm")));
    std::fs::rename(&from, &to)
        .map_err(|err| format!("cannot rename {} to {}: {err}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::strip_custom_sections;

    /// A module with a type section, a custom section named "name" with a two-byte size,
    /// and an export section.
    fn module() -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut custom = vec![4];
        custom.extend_from_slice(b"name");
        custom.extend(std::iter::repeat_n(7, 128));
        wasm.extend_from_slice(&[0, 0x85, 0x01]);
        assert_eq!(custom.len(), 0x85);
        wasm.extend_from_slice(&custom);
        wasm.extend_from_slice(&[7, 1, 0]);
        wasm
    }

    #[test]
    fn only_the_custom_sections_go() {
        let stripped = strip_custom_sections(&module()).unwrap();
        assert_eq!(stripped, b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x07\x01\0");
    }

    #[test]
    fn a_cut_module_is_an_error() {
        let wasm = module();
        let err = strip_custom_sections(&wasm[..wasm.len() - 30]).unwrap_err();
        assert!(err.contains("runs past the end"), "{err}");
        assert!(strip_custom_sections(b"\0asn\x01\0\0\0").is_err());
    }
}
