//! A JSON reader that keeps the byte span of every value.
//!
//! JSON gets its own small reader rather than going through the YAML parser: its error
//! messages speak JSON ("expected `,` or `}`"), it accepts exactly RFC 8259 (plus a leading
//! byte-order mark, which some module files carry), and it is several times faster on the
//! large Synthea library. Duplicate keys are kept; `parse` warns about them.

use super::{Entry, MAX_DEPTH, Node, Value};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::{FileId, Span};

/// Parses one JSON document. Returns `None` after reporting a syntax error.
pub fn parse_json(text: &str, file: FileId, diags: &mut Diagnostics) -> Option<Node> {
    let mut reader = Reader { bytes: text.as_bytes(), text, pos: 0, file };
    if text.starts_with('\u{feff}') {
        reader.pos = 3;
    }
    let result = reader.value(0).and_then(|node| {
        reader.skip_ws();
        if reader.pos < reader.bytes.len() {
            Err(reader.error_here("unexpected text after the end of the JSON document", "expected end of file"))
        } else {
            Ok(node)
        }
    });
    match result {
        Ok(node) => Some(node),
        Err(d) => {
            diags.push(*d);
            None
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    file: FileId,
}

type Result<T> = std::result::Result<T, Box<Diagnostic>>;

impl Reader<'_> {
    fn span(&self, start: usize) -> Span {
        Span::new(self.file, start..self.pos)
    }

    fn error_here(&self, message: &str, label: &str) -> Box<Diagnostic> {
        let end = (self.pos + self.char_len_at(self.pos)).min(self.bytes.len());
        Box::new(
            Diagnostic::new(Kind::Syntax, Span::new(self.file, self.pos..end), format!("invalid JSON: {message}"))
                .label(label),
        )
    }

    fn char_len_at(&self, pos: usize) -> usize {
        self.text.get(pos..).and_then(|s| s.chars().next()).map_or(0, char::len_utf8)
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Node> {
        self.skip_ws();
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Err(self.error_here("the document ends where a value was expected", "expected a value"));
        };
        if depth > MAX_DEPTH && matches!(b, b'{' | b'[') {
            return Err(Box::new(
                Diagnostic::new(
                    Kind::TooDeep,
                    Span::new(self.file, start..start + 1),
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                )
                .label("too deeply nested")
                .help("modules never need this much nesting; check for a generated or corrupted file"),
            ));
        }
        let value = match b {
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b'"' => Value::Str(self.string()?),
            b't' => self.literal("true", Value::Bool(true))?,
            b'f' => self.literal("false", Value::Bool(false))?,
            b'n' => self.literal("null", Value::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return Err(self.error_here("expected a value", "expected a value here")),
        };
        Ok(Node { value, span: self.span(start) })
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error_here("expected a value", "not a JSON value (strings need double quotes)"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value> {
        self.pos += 1;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Map(entries));
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            if self.peek() != Some(b'"') {
                let label = if self.peek() == Some(b'}') { "trailing comma before `}`" } else { "expected a \"key\"" };
                return Err(self.error_here("expected a string key", label));
            }
            let key = self.string()?;
            let key_span = self.span(key_start);
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error_here("expected `:` after an object key", "expected `:`"));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            entries.push(Entry { key, key_span, value });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(entries));
                }
                None => {
                    return Err(self.error_here("the document ends inside an object", "expected `}`"));
                }
                _ => {
                    return Err(self.error_here("expected `,` or `}` after an object member", "expected `,` or `}`"));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Seq(items));
        }
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                return Err(self.error_here("trailing comma in a list", "expected a value before `]`"));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Seq(items));
                }
                None => {
                    return Err(self.error_here("the document ends inside a list", "expected `]`"));
                }
                _ => {
                    return Err(self.error_here("expected `,` or `]` after a list item", "expected `,` or `]`"));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(esc) = self.peek() else { break };
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            out.push(c);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error_here("unknown escape sequence in a string", "unknown escape"));
                        }
                    }
                }
                Some(_) => {
                    return Err(self.error_here("control character inside a string", "escape it (e.g. `\\n`)"));
                }
                None => break,
            }
        }
        Err(Box::new(
            Diagnostic::new(Kind::Syntax, Span::new(self.file, open..open + 1), "invalid JSON: unterminated string")
                .label("this string is never closed"),
        ))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4).and_then(|d| std::str::from_utf8(d).ok());
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error_here("`\\u` must be followed by four hex digits", "bad unicode escape")),
        }
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) && self.bytes[self.pos..].starts_with(b"\\u") {
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            } else {
                0xFFFD
            }
        } else {
            first
        };
        Ok(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |r: &mut Self| {
            let s = r.pos;
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.pos += 1;
            }
            r.pos - s
        };
        if digits(self) == 0 {
            return Err(self.error_here("expected digits", "expected a digit"));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error_here("expected digits after the decimal point", "expected a digit"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error_here("expected digits in the exponent", "expected a digit"));
            }
        }
        let raw = &self.text[start..self.pos];
        if !is_float && let Ok(i) = raw.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        Ok(Value::Float(raw.parse::<f64>().unwrap_or(f64::NAN)))
    }
}
