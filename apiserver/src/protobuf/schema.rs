//! The shape of a message table: which field numbers a message has, the
//! JSON name of each, and how its value turns into JSON.

/// One protobuf message of Kubernetes' `generated.proto` files.
pub struct Message {
    /// The full protobuf name, as used in error messages.
    pub name: &'static str,
    /// The fields, in ascending field number.
    pub fields: &'static [Field],
}

impl Message {
    /// The field with protobuf field number `number`.
    pub fn field(&self, number: u32) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields
            .binary_search_by_key(&number, |f| f.number)
            .ok()
            .and_then(|i| fields.get(i))
    }
}

/// One field of a [`Message`].
pub struct Field {
    pub number: u32,
    /// The key of the field in Kubernetes' JSON encoding.
    pub json: &'static str,
    pub card: Card,
    pub ty: Type,
}

/// Builds a [`Field`]; keeps the tables one line per field.
pub const fn field(number: u32, json: &'static str, card: Card, ty: Type) -> Field {
    Field {
        number,
        json,
        card,
        ty,
    }
}

/// How often a field occurs, and when its value is left out of the JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// Singular and kept whatever its value: a Go pointer (sent only when
    /// set), a field without `omitempty`, or a nested message.
    Keep,
    /// Singular, a non-pointer Go field tagged `omitempty`: an empty
    /// string, empty bytes, zero or false is left out, as Go's JSON does.
    OmitEmpty,
    /// A list; every element is kept.
    Repeated,
    /// A `map<string, T>` (repeated entries with key 1 and value 2).
    Map,
    /// A Go struct embedded with `json:",inline"`: its fields go into the
    /// enclosing JSON object. The type is always [`Type::Msg`].
    Inline,
}

/// The protobuf type of a field and the JSON it becomes.
#[derive(Clone, Copy)]
pub enum Type {
    /// `string`.
    Str,
    /// `bytes`, a standard base64 string in JSON as Go encodes `[]byte`.
    Bytes,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// A nested message, a JSON object.
    Msg(&'static Message),
    /// `meta.v1.Time`: RFC 3339 in whole seconds.
    Time,
    /// `meta.v1.MicroTime`: RFC 3339 with six fractional digits.
    MicroTime,
    /// `meta.v1.Duration`: Go's duration string, such as `1h2m3s`.
    Duration,
    /// `util.intstr.IntOrString`: a JSON number or string.
    IntOrString,
    /// `api.resource.Quantity`: its string.
    Quantity,
    /// `runtime.RawExtension`: the embedded object.
    RawExtension,
    /// `meta.v1.FieldsV1`: the embedded JSON.
    FieldsV1,
}
