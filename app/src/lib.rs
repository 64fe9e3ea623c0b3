//! Parley's app: the pages and components the browser and the server share, the server
//! function declarations, shared domain types, and (under `ssr`) the ports that the
//! server's adapters implement.

#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod comparison;
pub mod components;
pub mod conversation;
pub mod dataset;
pub mod domain;
pub mod error;
pub mod feedback;
pub mod filter;
pub mod markdown;
pub mod model;
pub mod pages;
pub mod quality;
pub mod ranking;
pub mod review;
pub mod reward;
pub mod stats;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod ssr;

/// The browser's entry point: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Waits for the modules of the page's lazy route before it takes the page over.
    leptos::mount::hydrate_lazy(app::App);
}
