//! The protobuf wire format: keys, varints, fixed-width numbers and
//! length-delimited bytes. Every read is bounds-checked; offsets in errors
//! count from the start of the request body.

use super::ProtobufError;

/// One field value as it appears on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Wire<'a> {
    Varint(u64),
    /// An eight-byte number; no table has one, so only its presence counts.
    Fixed64,
    /// The bytes and the body offset of their first byte.
    Bytes(&'a [u8], usize),
    /// A four-byte number, likewise.
    Fixed32,
}

impl Wire<'_> {
    /// The wire type number, for error messages.
    pub fn wire_type(&self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64 => 1,
            Wire::Bytes(..) => 2,
            Wire::Fixed32 => 5,
        }
    }
}

/// Reads the fields of one message in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Body offset of `buf[0]`.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Body offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn malformed(&self, at: usize, reason: &'static str) -> ProtobufError {
        ProtobufError::Malformed {
            offset: self.base.saturating_add(at),
            reason,
        }
    }

    /// The next field number and value, or `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, ProtobufError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let start = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(self.malformed(start, "invalid field number"));
        }
        let number =
            u32::try_from(number).map_err(|_| self.malformed(start, "invalid field number"))?;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed64
            }
            2 => {
                let len_at = self.pos;
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| self.malformed(len_at, "length does not fit in memory"))?;
                let at = self.offset();
                Wire::Bytes(self.take(len)?, at)
            }
            3 | 4 => return Err(self.malformed(start, "groups are not supported")),
            5 => {
                self.take(4)?;
                Wire::Fixed32
            }
            _ => return Err(self.malformed(start, "invalid wire type")),
        };
        Ok(Some((number, value)))
    }

    /// A base-128 varint of at most ten bytes.
    pub fn varint(&mut self) -> Result<u64, ProtobufError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.malformed(start, "truncated varint"));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(self.malformed(start, "varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed(start, "varint longer than ten bytes"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        let start = self.pos;
        let end = start
            .checked_add(len)
            .ok_or_else(|| self.malformed(start, "length overflows"))?;
        let bytes = self
            .buf
            .get(start..end)
            .ok_or_else(|| self.malformed(start, "truncated field"))?;
        self.pos = end;
        Ok(bytes)
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}
