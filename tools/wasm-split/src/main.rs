//! `parley-wasm-split INPUT.wasm OUT_DIR NAME`: splits a wasm built with
//! `-C link-args=--emit-relocs` at its `#[lazy]` split points. Writes into OUT_DIR the main
//! module `NAME_split.wasm` (for wasm-bindgen, with `--keep-lld-exports`), one wasm per
//! split module and shared chunk, the loader `__wasm_split.______________________.js` that
//! imports `./NAME.js`, and `__wasm_split_manifest.json` (each split point's files, which
//! the server preloads on pages that use them). These are the names `cargo leptos build
//! --split` gives, which `leptos::HydrationScripts` reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        eprintln!("usage: parley-wasm-split INPUT.wasm OUT_DIR NAME");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(out_dir), name) {
        Ok(count) => {
            eprintln!("wasm-split: {count} split modules");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasm-split: {err}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, out_dir: &Path, name: &str) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|err| format!("cannot read {}: {err}", input.display()))?;
    std::fs::create_dir_all(out_dir).map_err(|err| format!("cannot create {}: {err}", out_dir.display()))?;
    let main_out: PathBuf = out_dir.join(format!("{name}_split.wasm"));
    let main_module = format!("./{name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = out_dir;
    options.main_out_path = &main_out;
    options.main_module = &main_module;
    options.link_name = "./__wasm_split.______________________.js";
    let split = wasm_split_cli_support::transform(options).map_err(|err| format!("{err:#}"))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map).map_err(|err| err.to_string())?;
    let path = out_dir.join("__wasm_split_manifest.json");
    std::fs::write(&path, manifest).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(split.split_modules.len())
}
