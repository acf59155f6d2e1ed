//! The serde `Serializer` behind [`super::to_vec`]: writes canonical JSON directly.
//!
//! Objects (structs and maps) are written in arrival order into the output, each entry
//! remembered as a byte range on one shared stack; when an object ends with its keys
//! out of order, its entries are re-emitted sorted (a duplicate key keeps its last
//! value, as `serde_json::Value` does). Numbers and every string that needs escaping
//! are written by serde_json itself, so escaping and number formatting are serde_json's. It must never emit anything that
//! `canonical::write_value(&serde_json::to_value(v))` would not.

use serde::ser::{self, Error as _, Serialize};
use serde_json::Error;

use super::key::KeySer;

/// Output buffer plus the bookkeeping shared by nested objects.
pub(crate) struct State {
    out: Vec<u8>,
    entries: Vec<Entry>,
    scratch: Vec<u8>,
}

impl State {
    pub(crate) fn with_capacity(n: usize) -> State {
        State {
            out: Vec::with_capacity(n),
            entries: Vec::with_capacity(32),
            scratch: Vec::new(),
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// One written object entry: `"key":value` at `out[start..end]`.
struct Entry {
    key: Key,
    start: usize,
    end: usize,
}

enum Key {
    Static(&'static str),
    Owned(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Static(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

/// The serializer: a handle on the shared [`State`].
pub(crate) struct Canon<'a>(pub(crate) &'a mut State);

fn scalar<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    serde_json::to_writer(out, v)
}

/// A JSON string. Text that serde_json would not escape (no `"`, `\\` or control
/// character below U+0020) is copied as is; anything else is left to serde_json.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return scalar(out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

impl<'a> ser::Serializer for Canon<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Obj<'a>;
    type SerializeStruct = Obj<'a>;
    type SerializeStructVariant = Obj<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.0
            .out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        // As `serde_json::Value` holds it: a u64 or an i64, else out of range.
        if let Ok(u) = u64::try_from(v) {
            scalar(&mut self.0.out, &u)
        } else if let Ok(i) = i64::try_from(v) {
            scalar(&mut self.0.out, &i)
        } else {
            Err(Error::custom("number out of range"))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        scalar(&mut self.0.out, &v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(u) => scalar(&mut self.0.out, &u),
            Err(_) => Err(Error::custom("number out of range")),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // `Value` widens an f32 to f64 before writing it.
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            scalar(&mut self.0.out, &v)
        } else {
            self.serialize_unit()
        }
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut b = [0u8; 4];
        string(&mut self.0.out, v.encode_utf8(&mut b))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        string(&mut self.0.out, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let out = &mut self.0.out;
        out.push(b'[');
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            scalar(out, b)?;
        }
        out.push(b']');
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.0.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        open_variant(&mut self.0.out, variant)?;
        v.serialize(Canon(&mut *self.0))?;
        self.0.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Error> {
        self.0.out.push(b'[');
        Ok(Seq::new(self.0, b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Error> {
        open_variant(&mut self.0.out, variant)?;
        self.0.out.push(b'[');
        Ok(Seq::new(self.0, b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Obj<'a>, Error> {
        Ok(Obj::open(self.0, false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Obj<'a>, Error> {
        Ok(Obj::open(self.0, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Obj<'a>, Error> {
        open_variant(&mut self.0.out, variant)?;
        Ok(Obj::open(self.0, true))
    }
}

/// `{"variant":` — an externally tagged enum variant is a one-key object.
fn open_variant(out: &mut Vec<u8>, variant: &str) -> Result<(), Error> {
    out.push(b'{');
    string(out, variant)?;
    out.push(b':');
    Ok(())
}

/// An array being written.
pub(crate) struct Seq<'a> {
    st: &'a mut State,
    first: bool,
    close: &'static [u8],
}

impl<'a> Seq<'a> {
    fn new(st: &'a mut State, close: &'static [u8]) -> Seq<'a> {
        Seq {
            st,
            first: true,
            close,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        if !self.first {
            self.st.out.push(b',');
        }
        self.first = false;
        v.serialize(Canon(&mut *self.st))
    }

    fn close(self) -> Result<(), Error> {
        self.st.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.element(v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.element(v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.element(v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.element(v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// An object (struct or map) being written.
pub(crate) struct Obj<'a> {
    st: &'a mut State,
    /// Where this object's entries start on the shared entry stack.
    base: usize,
    /// Output position just after the opening `{`.
    body: usize,
    pending_key: Option<String>,
    /// A struct variant: one more `}` closes the `{"variant":` wrapper.
    variant: bool,
}

impl<'a> Obj<'a> {
    fn open(st: &'a mut State, variant: bool) -> Obj<'a> {
        st.out.push(b'{');
        Obj {
            base: st.entries.len(),
            body: st.out.len(),
            st,
            pending_key: None,
            variant,
        }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Key, v: &T) -> Result<(), Error> {
        if self.st.entries.len() > self.base {
            self.st.out.push(b',');
        }
        let start = self.st.out.len();
        string(&mut self.st.out, key.as_str())?;
        self.st.out.push(b':');
        v.serialize(Canon(&mut *self.st))?;
        let end = self.st.out.len();
        self.st.entries.push(Entry { key, start, end });
        Ok(())
    }

    fn close(self) -> Result<(), Error> {
        let st = self.st;
        let entries = &mut st.entries[self.base..];
        let sorted = entries
            .windows(2)
            .all(|w| w[0].key.bytes() < w[1].key.bytes());
        if !sorted {
            entries.sort_by(|a, b| a.key.bytes().cmp(b.key.bytes()));
            st.scratch.clear();
            for (i, e) in entries.iter().enumerate() {
                // Equal keys sit together in arrival order: the last one wins.
                if entries
                    .get(i + 1)
                    .is_some_and(|n| n.key.bytes() == e.key.bytes())
                {
                    continue;
                }
                if !st.scratch.is_empty() {
                    st.scratch.push(b',');
                }
                st.scratch.extend_from_slice(&st.out[e.start..e.end]);
            }
            st.out.truncate(self.body);
            st.out.extend_from_slice(&st.scratch);
        }
        st.entries.truncate(self.base);
        st.out.push(b'}');
        if self.variant {
            st.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeMap for Obj<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending_key = Some(key.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| Error::custom("map value without a key"))?;
        self.entry(Key::Owned(key), v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStruct for Obj<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.entry(Key::Static(key), v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Obj<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.entry(Key::Static(key), v)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}
