//! Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant
//! whitespace, strings and numbers written exactly as serde_json writes them.
//!
//! [`to_vec`] serializes straight to the canonical bytes (no intermediate
//! `serde_json::Value`); its output is defined as, and tested to be, byte-identical to
//! [`write_value`] applied to `serde_json::to_value`, the reference it replaced. Written
//! by hand (not `serde_json::to_vec`) so that the bytes never depend on whether some
//! other crate in the build enables serde_json's `preserve_order`. This module must
//! never change the bytes it produces for a value: every stored hash depends on them.

mod key;
mod ser;

use serde::Serialize;
use serde_json::Value;

/// The canonical JSON of `v`.
pub(crate) fn to_vec<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut state = ser::State::with_capacity(768);
    v.serialize(ser::Canon(&mut state))?;
    Ok(state.into_bytes())
}

/// The reference definition: canonical JSON of a `Value` (kept to test [`to_vec`]).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            serde_json::to_writer(&mut *out, v)
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
            Ok(())
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
