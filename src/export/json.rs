//! A small streaming JSON writer for the FHIR exporters.
//!
//! Resources are written straight into a byte buffer (no intermediate value tree), which is
//! what makes FHIR export cheap enough to keep up with the simulation; strings are escaped by
//! `serde_json`. Keys are written in the order the code gives them, so output is deterministic.

use std::io::Write;

/// An object being written.
#[derive(Debug)]
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

/// An array being written.
#[derive(Debug)]
pub struct Arr<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

pub fn string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn number(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            let _ = write!(out, "{}", v as i64);
        } else {
            let _ = write!(out, "{}", (v * 1e6).round() / 1e6);
        }
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Writes one object with `f` filling it.
pub fn object(out: &mut Vec<u8>, f: impl FnOnce(&mut Obj)) {
    out.push(b'{');
    let mut o = Obj { out, first: true };
    f(&mut o);
    o.out.push(b'}');
}

impl Obj<'_> {
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(b':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        string(self.out, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }

    pub fn num(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        number(self.out, v);
        self
    }

    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.key(k);
        object(self.out, f);
        self
    }

    pub fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr)) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        let mut a = Arr { out: self.out, first: true };
        f(&mut a);
        a.out.push(b']');
        self
    }
}

impl Arr<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    pub fn obj(&mut self, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.sep();
        object(self.out, f);
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.sep();
        string(self.out, v);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut out = Vec::new();
        object(&mut out, |o| {
            o.str("a", "quote \" and \\n").num("n", 1.5).int("i", 3).bool("b", true);
            o.arr("list", |a| {
                a.str("x").obj(|o| {
                    o.num("whole", 2.0);
                });
            });
        });
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["a"], "quote \" and \\n");
        assert_eq!(v["list"][1]["whole"], 2);
        assert_eq!(v["n"], 1.5);
    }
}
