//! The browser's entry point. The wasm exports the app's `hydrate` (a `#[wasm_bindgen]`
//! function, so it is exported from whichever cdylib links the app crate) and its lazy
//! routes' split points; this crate only makes that cdylib.
#[cfg(feature = "hydrate")]
pub use app::hydrate;
