//! The types openraft is instantiated with: what a log entry carries, what
//! applying it answers, and what a member is.

use std::fmt;

use berth_proto::raft::{InternalRequest, InternalResponse};
use prost::Message;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

openraft::declare_raft_types!(
    /// berth's Raft: etcd commands as entries, members by name and peer URL.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = super::runtime::Runtime,
);

/// A running Raft member of berth's store.
pub type Raft = openraft::Raft<TypeConfig>;

/// A Raft log id with berth's node ids.
pub type LogId = openraft::LogId<u64>;

/// Membership as the state machine and snapshots record it.
pub type StoredMembership = openraft::StoredMembership<u64, Member>;

/// Snapshot metadata with berth's node type.
pub type SnapshotMeta = openraft::SnapshotMeta<u64, Member>;

/// A store member as Raft's membership records it: etcd's member name and
/// the URL its peer service listens on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `--name`.
    pub name: String,
    /// Where its `RaftTransport` service is served (`http://host:2380`).
    pub peer_url: String,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.peer_url)
    }
}

/// One replicated command, the payload of a normal log entry.
///
/// Serialized as the protobuf bytes of [`InternalRequest`], so the log holds
/// the same bytes the wire carries and stays readable whatever serde format
/// wraps it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request(pub InternalRequest);

/// What applying an entry answered, handed back to the proposer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// The command's answer; a deterministic refusal is
    /// `internal_response::Response::Error`.
    pub response: InternalResponse,
    /// The store revision right after the entry was applied.
    pub revision: i64,
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0.encode_to_vec())
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = deserializer.deserialize_byte_buf(BytesVisitor)?;
        InternalRequest::decode(bytes.as_slice())
            .map(Request)
            .map_err(de::Error::custom)
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = ResponseWire {
            response: ProtoBytes(self.response.encode_to_vec()),
            revision: self.revision,
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ResponseWire::deserialize(deserializer)?;
        let response =
            InternalResponse::decode(wire.response.0.as_slice()).map_err(de::Error::custom)?;
        Ok(Response {
            response,
            revision: wire.revision,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct ResponseWire {
    response: ProtoBytes,
    revision: i64,
}

/// Bytes serialized as one byte string rather than a sequence of numbers.
struct ProtoBytes(Vec<u8>);

impl Serialize for ProtoBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProtoBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_byte_buf(BytesVisitor)
            .map(ProtoBytes)
    }
}

/// Accepts a byte string in every shape serde formats produce one: borrowed
/// or owned bytes, or (self-describing formats such as JSON) a sequence.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("protobuf bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{decode, encode};
    use berth_proto::etcdserverpb::{PutRequest, PutResponse, ResponseHeader};
    use berth_proto::raft::{internal_request, internal_response};

    #[test]
    fn request_round_trips_through_bincode_as_protobuf_bytes() {
        let req = Request(InternalRequest {
            request: Some(internal_request::Request::Put(PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            })),
        });
        let bytes = encode(&req).unwrap();
        let proto = req.0.encode_to_vec();
        // u64 length prefix, then exactly the protobuf encoding.
        assert_eq!(bytes.len(), 8 + proto.len());
        assert_eq!(&bytes[8..], proto.as_slice());
        assert_eq!(decode::<Request>(&bytes).unwrap(), req);
    }

    #[test]
    fn response_round_trips_through_bincode() {
        let resp = Response {
            response: InternalResponse {
                response: Some(internal_response::Response::Put(PutResponse {
                    header: Some(ResponseHeader {
                        revision: 7,
                        ..Default::default()
                    }),
                    prev_kv: None,
                })),
                log_index: 3,
            },
            revision: 7,
        };
        assert_eq!(decode::<Response>(&encode(&resp).unwrap()).unwrap(), resp);
    }

    #[test]
    fn garbage_does_not_decode_as_a_request() {
        let bytes = encode(&ProtoBytes(vec![0xff, 0xff, 0xff])).unwrap();
        assert!(decode::<Request>(&bytes).is_err());
    }
}
