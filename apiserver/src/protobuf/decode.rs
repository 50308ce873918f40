//! Walks a message with its table and builds the JSON Kubernetes' Go JSON
//! encoding would produce for the same object.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::schema::{Card, Field, Message, Type};
use super::wire::{Reader, Wire};
use super::{ProtobufError, MAGIC, MAX_DEPTH};

const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";

/// `0001-01-01T00:00:00Z`, Go's zero time, in Unix seconds.
const GO_ZERO_TIME: i64 = -62_135_596_800;
/// `0000-01-01T00:00:00Z` and `9999-12-31T23:59:59Z`: RFC 3339's years.
const RFC3339_SECONDS: std::ops::RangeInclusive<i64> = -62_167_219_200..=253_402_300_799;

/// Which field is being read, for error messages.
#[derive(Clone, Copy)]
struct At {
    message: &'static str,
    field: &'static str,
}

impl At {
    fn wire_type(self, wire: Wire<'_>, expected: &'static str) -> ProtobufError {
        ProtobufError::WireType {
            message: self.message,
            field: self.field,
            found: wire.wire_type(),
            expected,
        }
    }

    fn invalid(self, reason: impl Into<String>) -> ProtobufError {
        ProtobufError::Invalid {
            message: self.message,
            field: self.field,
            reason: reason.into(),
        }
    }

    fn varint(self, wire: Wire<'_>) -> Result<u64, ProtobufError> {
        match wire {
            Wire::Varint(v) => Ok(v),
            other => Err(self.wire_type(other, "varint")),
        }
    }

    fn bytes<'a>(self, wire: Wire<'a>) -> Result<(&'a [u8], usize), ProtobufError> {
        match wire {
            Wire::Bytes(bytes, at) => Ok((bytes, at)),
            other => Err(self.wire_type(other, "length-delimited")),
        }
    }

    fn string(self, wire: Wire<'_>) -> Result<String, ProtobufError> {
        let (bytes, _) = self.bytes(wire)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Utf8 {
            message: self.message,
            field: self.field,
        })
    }
}

/// Decodes `data`, a `msg`, into `out`. A field seen twice is merged as
/// protobuf merges: the last scalar wins, lists grow, messages merge.
pub(super) fn message_into(
    msg: &'static Message,
    data: &[u8],
    base: usize,
    depth: usize,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let mut reader = Reader::new(data, base);
    while let Some((number, wire)) = reader.next_field()? {
        let field = msg.field(number).ok_or(ProtobufError::UnknownField {
            number,
            message: msg.name,
        })?;
        let at = At {
            message: msg.name,
            field: field.json,
        };
        match field.card {
            Card::Keep | Card::OmitEmpty => singular(at, field, wire, depth, out)?,
            Card::Repeated => with_array(out, field.json, |list| {
                repeated(at, field.ty, wire, depth, list)
            })?,
            Card::Map => with_object(out, field.json, |map| {
                map_entry(at, field.ty, wire, depth, map)
            })?,
            Card::Inline => {
                let Type::Msg(inner) = field.ty else {
                    return Err(at.invalid("an inline field must be a message"));
                };
                let (bytes, offset) = at.bytes(wire)?;
                message_into(inner, bytes, offset, depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// Runs `f` on the object under `key` (a new one when absent).
fn with_object<T>(
    out: &mut Map<String, Value>,
    key: &str,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<T, ProtobufError>,
) -> Result<T, ProtobufError> {
    let mut map = match out.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let result = f(&mut map);
    out.insert(key.to_owned(), Value::Object(map));
    result
}

/// Runs `f` on the list under `key` (a new one when absent).
fn with_array<T>(
    out: &mut Map<String, Value>,
    key: &str,
    f: impl FnOnce(&mut Vec<Value>) -> Result<T, ProtobufError>,
) -> Result<T, ProtobufError> {
    let mut list = match out.remove(key) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let result = f(&mut list);
    out.insert(key.to_owned(), Value::Array(list));
    result
}

fn singular(
    at: At,
    field: &Field,
    wire: Wire<'_>,
    depth: usize,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    if let Type::Msg(inner) = field.ty {
        let (bytes, offset) = at.bytes(wire)?;
        return with_object(out, field.json, |map| {
            message_into(inner, bytes, offset, depth + 1, map)
        });
    }
    match element(at, field.ty, wire, depth)? {
        Some(value) if !(field.card == Card::OmitEmpty && is_zero(&value)) => {
            out.insert(field.json.to_owned(), value);
        }
        _ => {
            out.remove(field.json);
        }
    }
    Ok(())
}

/// What Go's `omitempty` leaves out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0) || n.as_f64() == Some(0.0),
        Value::Null => true,
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn repeated(
    at: At,
    ty: Type,
    wire: Wire<'_>,
    depth: usize,
    list: &mut Vec<Value>,
) -> Result<(), ProtobufError> {
    match (ty, wire) {
        // Packed numbers: several varints in one length-delimited field.
        (Type::Bool | Type::I32 | Type::I64, Wire::Bytes(bytes, offset)) => {
            let mut reader = Reader::new(bytes, offset);
            while !reader.is_empty() {
                let v = reader.varint()?;
                if let Some(value) = element(at, ty, Wire::Varint(v), depth)? {
                    list.push(value);
                }
            }
        }
        _ => list.push(element(at, ty, wire, depth)?.unwrap_or(Value::Null)),
    }
    Ok(())
}

/// One `map<string, T>` entry: key is field 1, value field 2.
fn map_entry(
    at: At,
    ty: Type,
    wire: Wire<'_>,
    depth: usize,
    map: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    let (bytes, offset) = at.bytes(wire)?;
    let mut reader = Reader::new(bytes, offset);
    let mut key = String::new();
    let mut value = None;
    while let Some((number, wire)) = reader.next_field()? {
        match number {
            1 => key = at.string(wire)?,
            2 => value = Some(wire),
            _ => {
                return Err(ProtobufError::UnknownMapField {
                    number,
                    message: at.message,
                    field: at.field,
                })
            }
        }
    }
    // An absent value is the type's zero value.
    let value = value.unwrap_or(match ty {
        Type::Bool | Type::I32 | Type::I64 => Wire::Varint(0),
        _ => Wire::Bytes(&[], reader.offset()),
    });
    let value = element(at, ty, value, depth)?.unwrap_or(Value::Null);
    map.insert(key, value);
    Ok(())
}

/// The JSON of one value; `None` where Go's JSON has `null`.
fn element(at: At, ty: Type, wire: Wire<'_>, depth: usize) -> Result<Option<Value>, ProtobufError> {
    let value = match ty {
        Type::Str => Value::String(at.string(wire)?),
        Type::Bytes => {
            let (bytes, _) = at.bytes(wire)?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Type::Bool => Value::Bool(at.varint(wire)? != 0),
        // Go keeps the low 32 bits of an int32's varint.
        Type::I32 => Value::from(at.varint(wire)? as i32),
        Type::I64 => Value::from(at.varint(wire)? as i64),
        Type::Msg(inner) => {
            let (bytes, offset) = at.bytes(wire)?;
            let mut map = Map::new();
            message_into(inner, bytes, offset, depth + 1, &mut map)?;
            Value::Object(map)
        }
        Type::Time => return time(at, wire, false),
        Type::MicroTime => return time(at, wire, true),
        Type::Duration => duration(at, wire)?,
        Type::IntOrString => int_or_string(at, wire)?,
        Type::Quantity => quantity(at, wire)?,
        Type::RawExtension => return embedded(at, wire, depth, RAW_EXTENSION, true),
        Type::FieldsV1 => return embedded(at, wire, depth, FIELDS_V1, false),
    };
    Ok(Some(value))
}

/// Reads a small well-known message: calls `f` with each field number and
/// value, refusing numbers above `max`.
fn sub_fields<'a>(
    at: At,
    wire: Wire<'a>,
    name: &'static str,
    max: u32,
    mut f: impl FnMut(u32, Wire<'a>) -> Result<(), ProtobufError>,
) -> Result<(), ProtobufError> {
    let (bytes, offset) = at.bytes(wire)?;
    let mut reader = Reader::new(bytes, offset);
    while let Some((number, wire)) = reader.next_field()? {
        if number > max {
            return Err(ProtobufError::UnknownField {
                number,
                message: name,
            });
        }
        f(number, wire)?;
    }
    Ok(())
}

/// `meta.v1.Time` (seconds only, as Go keeps it) or `meta.v1.MicroTime`
/// (microseconds); Go's zero time, sent as an empty message, is `null`.
fn time(at: At, wire: Wire<'_>, micro: bool) -> Result<Option<Value>, ProtobufError> {
    let name = if micro { MICRO_TIME } else { TIME };
    let (bytes, _) = at.bytes(wire)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let (mut seconds, mut nanos) = (0i64, 0i32);
    sub_fields(at, wire, name, 2, |number, wire| {
        let inner = At {
            message: name,
            field: if number == 1 { "seconds" } else { "nanos" },
        };
        let v = inner.varint(wire)?;
        if number == 1 {
            seconds = v as i64;
        } else {
            nanos = v as i32;
        }
        Ok(())
    })?;
    let nanos = if micro { nanos - nanos % 1000 } else { 0 };
    // Normalised as Go's time.Unix does, nanoseconds may be negative.
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    if total == i128::from(GO_ZERO_TIME) * 1_000_000_000 {
        return Ok(None);
    }
    let whole = total.div_euclid(1_000_000_000);
    if !RFC3339_SECONDS.contains(&i64::try_from(whole).unwrap_or(i64::MAX)) {
        return Err(at.invalid(format!("time {seconds}s is outside years 0000 to 9999")));
    }
    let timestamp =
        jiff::Timestamp::from_nanosecond(total).map_err(|e| at.invalid(e.to_string()))?;
    let format = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    let text =
        jiff::fmt::strtime::format(format, timestamp).map_err(|e| at.invalid(e.to_string()))?;
    Ok(Some(Value::String(text)))
}

/// `meta.v1.Duration`: nanoseconds, as Go's `time.Duration.String`.
fn duration(at: At, wire: Wire<'_>) -> Result<Value, ProtobufError> {
    let mut nanos = 0i64;
    sub_fields(at, wire, DURATION, 1, |_, wire| {
        let inner = At {
            message: DURATION,
            field: "duration",
        };
        nanos = inner.varint(wire)? as i64;
        Ok(())
    })?;
    Ok(Value::String(go_duration(nanos)))
}

/// Go's `time.Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(super) fn go_duration(nanos: i64) -> String {
    /// `.` and the digits of `frac` with `width` places, trailing zeros
    /// dropped; nothing when `frac` is zero.
    fn fraction(frac: u64, width: usize) -> String {
        if frac == 0 {
            return String::new();
        }
        let digits = format!("{frac:0width$}");
        format!(".{}", digits.trim_end_matches('0'))
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (unit, scale, width) = match u {
            0..1_000 => ("ns", 1, 0),
            1_000..1_000_000 => ("µs", 1_000, 3),
            _ => ("ms", 1_000_000, 6),
        };
        return format!("{sign}{}{}{unit}", u / scale, fraction(u % scale, width));
    }
    let frac = fraction(u % 1_000_000_000, 9);
    let secs = u / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{sign}{s}{frac}s"),
        (0, m) => format!("{sign}{m}m{s}{frac}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}{frac}s"),
    }
}

/// `util.intstr.IntOrString`: type 0 is `intVal`, type 1 `strVal`.
fn int_or_string(at: At, wire: Wire<'_>) -> Result<Value, ProtobufError> {
    let (mut kind, mut int, mut string) = (0u64, 0i32, String::new());
    sub_fields(at, wire, INT_OR_STRING, 3, |number, wire| {
        let inner = At {
            message: INT_OR_STRING,
            field: match number {
                1 => "type",
                2 => "intVal",
                _ => "strVal",
            },
        };
        match number {
            1 => kind = inner.varint(wire)?,
            2 => int = inner.varint(wire)? as i32,
            _ => string = inner.string(wire)?,
        }
        Ok(())
    })?;
    match kind {
        0 => Ok(Value::from(int)),
        1 => Ok(Value::String(string)),
        other => Err(at.invalid(format!("IntOrString has type {other}, not 0 or 1"))),
    }
}

/// `api.resource.Quantity`: its string; an absent string is Go's zero
/// quantity, `"0"`.
fn quantity(at: At, wire: Wire<'_>) -> Result<Value, ProtobufError> {
    let mut text = None;
    sub_fields(at, wire, QUANTITY, 1, |_, wire| {
        let inner = At {
            message: QUANTITY,
            field: "string",
        };
        text = Some(inner.string(wire)?);
        Ok(())
    })?;
    Ok(Value::String(text.unwrap_or_else(|| "0".into())))
}

/// `runtime.RawExtension` or `meta.v1.FieldsV1`: field 1 holds the
/// embedded object's JSON (or, for a raw extension, a nested protobuf
/// body). Nothing embedded is `null`.
fn embedded(
    at: At,
    wire: Wire<'_>,
    depth: usize,
    name: &'static str,
    nested_protobuf: bool,
) -> Result<Option<Value>, ProtobufError> {
    let mut raw: Option<(&[u8], usize)> = None;
    sub_fields(at, wire, name, 1, |_, wire| {
        let inner = At {
            message: name,
            field: "raw",
        };
        raw = Some(inner.bytes(wire)?);
        Ok(())
    })?;
    let Some((raw, offset)) = raw.filter(|(raw, _)| !raw.is_empty()) else {
        return Ok(None);
    };
    if nested_protobuf && raw.starts_with(&MAGIC) {
        return super::decode_at(raw, offset, depth + 1).map(Some);
    }
    serde_json::from_slice(raw)
        .map(Some)
        .map_err(|source| ProtobufError::EmbeddedJson {
            message: at.message,
            field: at.field,
            source,
        })
}
