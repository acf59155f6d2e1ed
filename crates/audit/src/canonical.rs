//! Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant
//! whitespace, strings and numbers written exactly as serde_json writes them.
//!
//! Written by hand (not `serde_json::to_vec`) so that the bytes never depend on
//! whether some other crate in the build enables serde_json's `preserve_order`.

use serde_json::Value;

pub(crate) fn write(v: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
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
                write(item, out)?;
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
                write(item, out)?;
            }
            out.push(b'}');
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{ "b": [1, {"z": null, "a": "x\n\"y"}], "a": true }"#)
                .expect("json");
        let mut out = Vec::new();
        write(&v, &mut out).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            r#"{"a":true,"b":[1,{"a":"x\n\"y","z":null}]}"#
        );
    }
}
