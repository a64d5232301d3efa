//! A small JSON writer: one object per line inside an array, written field by
//! field into any `fmt::Write`.

use core::fmt::{self, Write};

use super::trim_nuls;

/// The escaped body of a JSON string (no quotes): `"` `\` and control characters
/// escaped, everything else (UTF-8 included) as is.
pub fn json_escape(w: &mut impl Write, s: &str) -> fmt::Result {
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 || c == '\u{7f}' => "",
            _ => continue,
        };
        w.write_str(&s[plain..i])?;
        if esc.is_empty() {
            write!(w, "\\u{:04x}", c as u32)?;
        } else {
            w.write_str(esc)?;
        }
        plain = i + c.len_utf8();
    }
    w.write_str(&s[plain..])
}

/// `s` as a JSON string literal, quotes included.
pub fn json_str(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    json_escape(w, s)?;
    w.write_char('"')
}

/// Bytes that should be text (a command line, a comm) as a JSON string: NUL
/// separators become spaces (trailing ones dropped), invalid UTF-8 becomes U+FFFD.
pub fn json_bytes(w: &mut impl Write, b: &[u8]) -> fmt::Result {
    w.write_char('"')?;
    json_escape_bytes(w, trim_nuls(b))?;
    w.write_char('"')
}

pub(crate) fn json_escape_bytes(w: &mut impl Write, b: &[u8]) -> fmt::Result {
    for chunk in b.utf8_chunks() {
        for (i, part) in chunk.valid().split('\0').enumerate() {
            if i > 0 {
                w.write_char(' ')?;
            }
            json_escape(w, part)?;
        }
        if !chunk.invalid().is_empty() {
            w.write_char('\u{fffd}')?;
        }
    }
    Ok(())
}

/// A JSON object written field by field, on one line.
pub struct JsonObject<'w, W: Write> {
    w: &'w mut W,
    first: bool,
}

impl<'w, W: Write> JsonObject<'w, W> {
    pub fn begin(w: &'w mut W) -> Result<Self, fmt::Error> {
        w.write_char('{')?;
        Ok(JsonObject { w, first: true })
    }

    /// Write the key; the caller writes the value right after.
    pub fn key(&mut self, key: &str) -> Result<&mut W, fmt::Error> {
        if !core::mem::replace(&mut self.first, false) {
            self.w.write_char(',')?;
        }
        json_str(self.w, key)?;
        self.w.write_char(':')?;
        Ok(self.w)
    }

    pub fn str(&mut self, key: &str, v: &str) -> fmt::Result {
        json_str(self.key(key)?, v)
    }

    pub fn bytes(&mut self, key: &str, v: &[u8]) -> fmt::Result {
        json_bytes(self.key(key)?, v)
    }

    pub fn uint(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{v}")
    }

    pub fn int(&mut self, key: &str, v: i64) -> fmt::Result {
        write!(self.key(key)?, "{v}")
    }

    /// Hundredths as a decimal number: 1234 → `12.34`.
    pub fn cents(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{}.{:02}", v / 100, v % 100)
    }

    /// Tenths as a decimal number: 7 → `0.7`.
    pub fn tenths(&mut self, key: &str, v: u64) -> fmt::Result {
        write!(self.key(key)?, "{}.{}", v / 10, v % 10)
    }

    /// Close the object (the line ends with the array's next `item` or `close`).
    pub fn end(self) -> fmt::Result {
        self.w.write_char('}')
    }
}

/// The frame of a JSON array with one element per line: `open`, then `item` before
/// each element, then `close`.
#[derive(Debug, Default)]
pub struct JsonArray {
    started: bool,
}

impl JsonArray {
    pub fn open(w: &mut impl Write) -> Result<Self, fmt::Error> {
        w.write_char('[')?;
        Ok(JsonArray { started: false })
    }

    pub fn item(&mut self, w: &mut impl Write) -> fmt::Result {
        w.write_str(if core::mem::replace(&mut self.started, true) { ",\n" } else { "\n" })
    }

    pub fn close(self, w: &mut impl Write) -> fmt::Result {
        w.write_str(if self.started { "\n]\n" } else { "]\n" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::monitor::report::testing::s;

    #[test]
    fn json_escaping() {
        assert_eq!(s(|w| json_str(w, "a\"b\\c\nd\te\r\u{1}\u{7f}é€")), "\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u007fé€\"");
        assert_eq!(s(|w| json_str(w, "")), "\"\"");
        assert_eq!(s(|w| json_bytes(w, b"sleep\x0030\x00\x00")), "\"sleep 30\"");
        assert_eq!(s(|w| json_bytes(w, b"a\xffb\"")), "\"a\u{fffd}b\\\"\"");
        let mut out = String::new();
        let mut arr = JsonArray::open(&mut out).unwrap();
        for i in 0..2 {
            arr.item(&mut out).unwrap();
            let mut o = JsonObject::begin(&mut out).unwrap();
            o.uint("n", i).unwrap();
            o.int("neg", -1).unwrap();
            o.tenths("t", 7).unwrap();
            o.end().unwrap();
        }
        arr.close(&mut out).unwrap();
        assert_eq!(out, "[\n{\"n\":0,\"neg\":-1,\"t\":0.7},\n{\"n\":1,\"neg\":-1,\"t\":0.7}\n]\n");
        let mut empty = String::new();
        JsonArray::open(&mut empty).unwrap().close(&mut empty).unwrap();
        assert_eq!(empty, "[]\n");
    }
}
