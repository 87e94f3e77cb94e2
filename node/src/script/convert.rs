//! Values between RESP and Lua, as Redis 7.0's script_lua.c converts them: a command's reply
//! becomes a Lua value for `redis.call`, and a script's return value becomes the reply.

use autocache_proto::resp::ReplyBuf;
use mlua::{Lua, Table, Value};

/// Deeper than this, a returned table is cut with an error (Redis runs out of Lua stack).
const MAX_DEPTH: usize = 1000;

/// A table `{field = value}`.
pub fn single_field(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, value)?;
    Ok(Value::Table(t))
}

/// `{err = text}`: how a failed call reads in Lua.
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    single_field(lua, "err", text)
}

/// Parses the one reply in `buf` (RESP2, or RESP3 after `redis.setresp(3)`) into a Lua value;
/// `false` when it is an error reply.
pub fn reply_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<(bool, Value)> {
    let mut p = Parser { buf, pos: 0 };
    let ok = buf.first() != Some(&b'-');
    Ok((ok, p.value(lua)?))
}

struct Parser<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl Parser<'_> {
    fn line(&mut self) -> mlua::Result<&[u8]> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
        self.pos += end + 2;
        Ok(&rest[..end])
    }

    fn int(&mut self) -> mlua::Result<i64> {
        let l = self.line()?;
        autocache_proto::resp::parse_i64(l).ok_or_else(|| mlua::Error::runtime("bad reply"))
    }

    fn bytes(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
        self.pos += n + 2;
        Ok(s)
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let tag = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
        self.pos += 1;
        Ok(match tag {
            b'+' => {
                let l = lua.create_string(self.line()?)?;
                single_field(lua, "ok", l)?
            }
            b'-' => {
                let l = lua.create_string(self.line()?)?;
                single_field(lua, "err", l)?
            }
            b':' => Value::Integer(self.int()?),
            b'$' => match self.int()? {
                n if n < 0 => Value::Boolean(false),
                n => Value::String(lua.create_string(self.bytes(n as usize)?)?),
            },
            b'*' | b'>' => match self.int()? {
                n if n < 0 => Value::Boolean(false),
                n => {
                    let t = lua.create_table_with_capacity(n as usize, 0)?;
                    for i in 1..=n {
                        t.raw_set(i, self.value(lua)?)?;
                    }
                    Value::Table(t)
                }
            },
            b'%' => {
                let n = self.int()?;
                let t = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua)?;
                    let v = self.value(lua)?;
                    t.raw_set(k, v)?;
                }
                single_field(lua, "map", t)?
            }
            b'~' => {
                let n = self.int()?;
                let t = lua.create_table()?;
                for _ in 0..n {
                    t.raw_set(self.value(lua)?, true)?;
                }
                single_field(lua, "set", t)?
            }
            b',' => {
                let l = String::from_utf8_lossy(self.line()?).to_string();
                let d = match l.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    s => s.parse().unwrap_or(f64::NAN),
                };
                single_field(lua, "double", d)?
            }
            b'_' => {
                self.line()?;
                Value::Nil
            }
            b'#' => Value::Boolean(self.line()? == b"t"),
            b'(' => {
                let l = lua.create_string(self.line()?)?;
                single_field(lua, "big_number", l)?
            }
            b'=' => {
                let n = self.int()? as usize;
                let s = self.bytes(n)?;
                let t = lua.create_table()?;
                t.raw_set("format", lua.create_string(&s[..3.min(s.len())])?)?;
                t.raw_set("string", lua.create_string(s.get(4..).unwrap_or_default())?)?;
                single_field(lua, "verbatim_string", t)?
            }
            _ => return Err(mlua::Error::runtime("unexpected reply type")),
        })
    }
}

/// Writes a script's return value as the reply. `resp` is the script's RESP version
/// (`redis.setresp`): booleans are RESP3 booleans only under 3.
pub fn lua_to_reply(out: &mut ReplyBuf, v: &Value, resp: u8) {
    write(out, v, resp, 0)
}

fn write(out: &mut ReplyBuf, v: &Value, resp: u8, depth: usize) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) if resp == 3 => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(to_long_long(*n)),
        Value::Table(_) if depth >= MAX_DEPTH => out.error("ERR reached lua stack limit"),
        Value::Table(t) => table(out, t, resp, depth),
        _ => out.null(),
    }
}

/// C's `(long long)` of a double on x86-64: truncation, and the "integer indefinite" value
/// for NaN and out-of-range numbers.
fn to_long_long(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn table(out: &mut ReplyBuf, t: &Table, resp: u8, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return error_text(out, &e.as_bytes());
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        let s = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        return out.simple(&s);
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return out.double(d);
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return out.double(d as f64);
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let s = s.as_bytes();
        if out.resp3() {
            out.raw(b"(");
            out.raw(&s);
            out.raw(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(out, k, resp, depth + 1);
            write(out, v, resp, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(keys.len());
        for k in &keys {
            write(out, k, resp, depth + 1);
        }
        return;
    }
    // An array: elements 1, 2, … up to the first nil.
    let mut n = 0;
    while !matches!(t.raw_get::<Value>(n + 1), Ok(Value::Nil) | Err(_)) {
        n += 1;
    }
    out.array(n);
    for i in 1..=n {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        write(out, &v, resp, depth + 1);
    }
}

/// An error reply of the text in `{err = …}`, as is: its first word is the code.
fn error_text(out: &mut ReplyBuf, text: &[u8]) {
    out.error(&String::from_utf8_lossy(text))
}
