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
    Ok(count)
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
