//! Inflation for the file extractors (`pdf`, `docx`): they take an `Inflate` so they stay pure
//! Rust and host-tested, while the worker inflates with the runtime's native
//! `DecompressionStream` (`src/js/inflate.js`) instead of carrying an inflate crate in the wasm.

/// Which deflate wrapping the bytes have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// Bare deflate (ZIP entries).
    Raw,
    /// zlib header and checksum (PDF `FlateDecode`).
    Zlib,
}

/// Most bytes one inflation may yield (a small deflate stream can inflate a thousandfold).
pub const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Inflates deflate data.
#[allow(async_fn_in_trait)]
pub trait Inflate {
    /// The inflated bytes (at most `max` of them), or why there are none. Data cut short may
    /// yield what inflated before the cut.
    async fn inflate(&self, data: &[u8], wrapping: Wrapping, max: usize)
        -> Result<Vec<u8>, String>;
}

#[cfg(target_arch = "wasm32")]
mod native {
    use wasm_bindgen::prelude::*;

    use super::{Inflate, Wrapping};

    #[wasm_bindgen(module = "/src/js/inflate.js")]
    extern "C" {
        /// Resolves to the inflated `Uint8Array` (see `src/js/inflate.js`).
        fn inflate(view: &[u8], format: &str, max_bytes: f64) -> js_sys::Promise;
    }

    /// The runtime's `DecompressionStream`.
    pub struct NativeInflate;

    impl Inflate for NativeInflate {
        async fn inflate(
            &self,
            data: &[u8],
            wrapping: Wrapping,
            max: usize,
        ) -> Result<Vec<u8>, String> {
            let format = match wrapping {
                Wrapping::Raw => "deflate-raw",
                Wrapping::Zlib => "deflate",
            };
            let pending = inflate(data, format, max as f64);
            match worker::wasm_bindgen_futures::JsFuture::from(pending).await {
                Ok(bytes) => Ok(js_sys::Uint8Array::new(&bytes).to_vec()),
                Err(e) => Err(js_sys::Error::from(e)
                    .message()
                    .as_string()
                    .unwrap_or_else(|| "the data does not inflate".into())),
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use native::NativeInflate;

/// Inflation by `miniz_oxide`, for host tests.
#[cfg(test)]
pub struct TestInflate;

#[cfg(test)]
impl Inflate for TestInflate {
    async fn inflate(
        &self,
        data: &[u8],
        wrapping: Wrapping,
        max: usize,
    ) -> Result<Vec<u8>, String> {
        let out = match wrapping {
            Wrapping::Raw => miniz_oxide::inflate::decompress_to_vec_with_limit(data, max),
            Wrapping::Zlib => miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, max),
        };
        match out {
            Ok(bytes) => Ok(bytes),
            Err(e)
                if !e.output.is_empty()
                    && e.status != miniz_oxide::inflate::TINFLStatus::HasMoreOutput =>
            {
                Ok(e.output)
            }
            Err(e) => Err(format!("the data does not inflate ({:?})", e.status)),
        }
    }
}
