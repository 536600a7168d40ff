//! A JavaScript function as a gateway's per-request credential provider: called on the
//! event loop through a thread-safe function; it may return the value or a Promise of it.

use napi::bindgen_prelude::{Either, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use sipp::{Secret, ValueProvider};
use std::sync::Arc;

/// `() => string | Promise<string>`, callable from any thread.
pub(crate) type ValueFn = ThreadsafeFunction<(), Either<String, Promise<String>>, (), napi::Status, false, true>;

pub(crate) fn from_function(f: ValueFn) -> ValueProvider {
    let f = Arc::new(f);
    ValueProvider::new(move || {
        let f = Arc::clone(&f);
        async move {
            let returned = f.call_async(()).await.map_err(|e| format!("the value provider failed: {}", e.reason))?;
            let value = match returned {
                Either::A(value) => value,
                Either::B(promise) => promise.await.map_err(|e| format!("the value provider failed: {}", e.reason))?,
            };
            Ok(Secret::from(value))
        }
    })
}
