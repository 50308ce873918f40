//! One client: a sequential loop of random KV and lease operations.

use std::collections::HashMap;
use std::future::Future;

use berth_proto::etcdserverpb::kv_client::KvClient;
use berth_proto::etcdserverpb::lease_client::LeaseClient;
use berth_proto::etcdserverpb::{
    compare, request_op, response_op, CompactionRequest, Compare, DeleteRangeRequest,
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{now, Plan, Recorder};
use crate::cluster::client_url;
use crate::history::{KeyValue, Operation, Outcome, Request, Response};

struct Client {
    id: usize,
    member: usize,
    plan: Plan,
    rng: StdRng,
    kv: KvClient<Channel>,
    leases: LeaseClient<Channel>,
    recorder: Recorder,
    /// Writes issued, for unique values.
    writes: u64,
    /// The last mod_revision this client saw for each key (for CAS).
    seen: HashMap<String, i64>,
    /// Leases this client granted and has not revoked.
    granted: Vec<i64>,
    /// Keys this client put with a lease, by lease.
    leased_keys: Vec<(i64, String)>,
    /// The highest store revision any answer carried.
    revision: i64,
}

/// Runs client `id` against member `id % members` until the plan's stop
/// time, recording every operation.
pub async fn run_client(id: usize, seed: u64, plan: Plan, recorder: Recorder) -> turmoil::Result {
    let member = id % plan.members;
    let channel = crate::net::channel(&client_url(member))?;
    tokio::time::sleep(plan.start).await;
    let mut client = Client {
        id,
        member,
        rng: StdRng::seed_from_u64(seed),
        kv: KvClient::new(channel.clone()),
        leases: LeaseClient::new(channel),
        plan,
        recorder,
        writes: 0,
        seen: HashMap::new(),
        granted: Vec::new(),
        leased_keys: Vec::new(),
        revision: 0,
    };
    while now() < client.plan.stop {
        client.step().await;
        let pause = client.rng.gen_range(0..50);
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    Ok(())
}

impl Client {
    async fn step(&mut self) {
        let roll = self.rng.gen_range(0..100);
        let key = format!("kv/k{}", self.rng.gen_range(0..self.plan.keys));
        match roll {
            0..=24 => {
                let value = self.value();
                self.put(key, value, 0).await;
            }
            25..=44 => self.get(key, false).await,
            45..=54 => self.get(key, true).await,
            55..=62 => self.delete(key).await,
            63..=79 => self.cas(key).await,
            80..=98 => self.lease_step().await,
            _ => self.compact().await,
        }
    }

    fn value(&mut self) -> String {
        self.writes += 1;
        format!("c{}-{}", self.id, self.writes)
    }

    /// Sends one request with the plan's timeout and records it.
    async fn record<T, F>(
        &mut self,
        request: Request,
        call: F,
        answer: impl FnOnce(T) -> Response,
    ) -> Option<Response>
    where
        F: Future<Output = Result<T, Status>>,
    {
        let invoke = now();
        let (complete, outcome) = match tokio::time::timeout(self.plan.timeout, call).await {
            Ok(Ok(resp)) => (Some(now()), Outcome::Ok(answer(resp))),
            Ok(Err(status)) => match definite_failure(&status) {
                true => (Some(now()), Outcome::Failed(status.message().to_string())),
                false => (None, Outcome::Unknown),
            },
            Err(_) => (None, Outcome::Unknown),
        };
        let response = match &outcome {
            Outcome::Ok(r) => Some(r.clone()),
            _ => None,
        };
        if let Some(
            Response::Put { revision }
            | Response::Get { revision, .. }
            | Response::Delete { revision, .. }
            | Response::Cas { revision, .. },
        ) = &response
        {
            self.revision = self.revision.max(*revision);
        }
        self.recorder.op(Operation {
            client: self.id,
            member: self.member,
            invoke,
            complete,
            request,
            outcome,
        });
        response
    }

    async fn put(&mut self, key: String, value: String, lease: i64) {
        let req = PutRequest {
            key: key.clone().into_bytes(),
            value: value.clone().into_bytes(),
            lease,
            ..Default::default()
        };
        let mut kv = self.kv.clone();
        let call = async move { kv.put(req).await.map(|r| r.into_inner()) };
        let request = Request::Put {
            key: key.clone(),
            value,
            lease,
        };
        let answer = |r: berth_proto::etcdserverpb::PutResponse| Response::Put {
            revision: revision(&r.header),
        };
        if let Some(Response::Put { revision }) = self.record(request, call, answer).await {
            self.seen.insert(key, revision);
        }
    }

    async fn get(&mut self, key: String, serializable: bool) {
        let req = RangeRequest {
            key: key.clone().into_bytes(),
            serializable,
            ..Default::default()
        };
        let mut kv = self.kv.clone();
        let call = async move { kv.range(req).await.map(|r| r.into_inner()) };
        let request = Request::Get {
            key: key.clone(),
            serializable,
        };
        let answer = |r: berth_proto::etcdserverpb::RangeResponse| Response::Get {
            revision: revision(&r.header),
            kv: r.kvs.first().map(key_value),
        };
        if let Some(Response::Get { kv: Some(kv), .. }) = self.record(request, call, answer).await {
            self.seen.insert(key, kv.mod_revision);
        }
    }

    async fn delete(&mut self, key: String) {
        let req = DeleteRangeRequest {
            key: key.clone().into_bytes(),
            prev_kv: true,
            ..Default::default()
        };
        let mut kv = self.kv.clone();
        let call = async move { kv.delete_range(req).await.map(|r| r.into_inner()) };
        let answer = |r: berth_proto::etcdserverpb::DeleteRangeResponse| Response::Delete {
            revision: revision(&r.header),
            deleted: r.deleted,
            prev: r.prev_kvs.first().map(key_value),
        };
        self.seen.remove(&key);
        self.record(Request::Delete { key }, call, answer).await;
    }

    /// Compare-and-swap on the key's mod_revision: the one this client last
    /// saw (which may be stale by now), or "absent". Never a made-up
    /// revision: the linearizability checker relies on every expected
    /// revision having been observed.
    async fn cas(&mut self, key: String) {
        let expected = match self.rng.gen_range(0..10) {
            0 => 0,
            _ => self.seen.get(&key).copied().unwrap_or(0),
        };
        let value = self.value();
        let req = TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Mod as i32,
                key: key.clone().into_bytes(),
                target_union: Some(compare::TargetUnion::ModRevision(expected)),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: key.clone().into_bytes(),
                    value: value.clone().into_bytes(),
                    ..Default::default()
                })),
            }],
            failure: vec![RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                })),
            }],
        };
        let mut kv = self.kv.clone();
        let call = async move { kv.txn(req).await.map(|r| r.into_inner()) };
        let answer = |r: berth_proto::etcdserverpb::TxnResponse| {
            let kv = r.responses.iter().find_map(|op| match &op.response {
                Some(response_op::Response::ResponseRange(range)) => {
                    range.kvs.first().map(key_value)
                }
                _ => None,
            });
            Response::Cas {
                revision: revision(&r.header),
                succeeded: r.succeeded,
                kv,
            }
        };
        let request = Request::Cas {
            key: key.clone(),
            expected,
            value,
        };
        match self.record(request, call, answer).await {
            Some(Response::Cas {
                succeeded: true,
                revision,
                ..
            }) => {
                self.seen.insert(key, revision);
            }
            Some(Response::Cas { kv: Some(kv), .. }) => {
                self.seen.insert(key, kv.mod_revision);
            }
            _ => {}
        }
    }

    /// Compacts away all but the last 400 revisions, as a cluster's
    /// periodic compaction would; watchers and historical reads then meet
    /// compacted revisions.
    async fn compact(&mut self) {
        let target = self.revision - 400;
        if target <= 0 {
            return;
        }
        let mut kv = self.kv.clone();
        let call = async move {
            kv.compact(CompactionRequest {
                revision: target,
                physical: false,
            })
            .await
            .map(|r| r.into_inner())
        };
        let answer = |r: berth_proto::etcdserverpb::CompactionResponse| Response::Compact {
            revision: revision(&r.header),
        };
        self.record(Request::Compact { revision: target }, call, answer)
            .await;
    }

    async fn lease_step(&mut self) {
        let Some(&lease) = self.granted.last() else {
            return self.grant().await;
        };
        match self.rng.gen_range(0..20) {
            0..=7 => {
                let key = format!("lease/c{}-{}", self.id, self.writes);
                let value = self.value();
                self.leased_keys.push((lease, key.clone()));
                self.put(key, value, lease).await;
            }
            8..=12 => {
                let i = self.rng.gen_range(0..self.leased_keys.len().max(1));
                if let Some((_, key)) = self.leased_keys.get(i).cloned() {
                    self.get(key, false).await;
                }
            }
            13..=18 => self.keep_alive(lease).await,
            _ => self.revoke(lease).await,
        }
    }

    async fn grant(&mut self) {
        let ttl = self.plan.lease_ttl;
        let mut leases = self.leases.clone();
        let call = async move {
            leases
                .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                .await
                .map(|r| r.into_inner())
        };
        let answer = |r: berth_proto::etcdserverpb::LeaseGrantResponse| Response::LeaseGrant {
            id: r.id,
            ttl: r.ttl,
        };
        if let Some(Response::LeaseGrant { id, .. }) =
            self.record(Request::LeaseGrant { ttl }, call, answer).await
        {
            self.granted.push(id);
        }
    }

    async fn keep_alive(&mut self, id: i64) {
        let mut leases = self.leases.clone();
        let call = async move {
            let requests = futures::stream::iter([LeaseKeepAliveRequest { id }]);
            let mut responses = leases.lease_keep_alive(requests).await?.into_inner();
            match responses.message().await? {
                Some(resp) => Ok(resp),
                None => Err(Status::unavailable("keep-alive stream closed")),
            }
        };
        let answer = |r: berth_proto::etcdserverpb::LeaseKeepAliveResponse| {
            Response::LeaseKeepAlive { ttl: r.ttl }
        };
        if let Some(Response::LeaseKeepAlive { ttl }) = self
            .record(Request::LeaseKeepAlive { id }, call, answer)
            .await
        {
            // TTL 0: the lease is gone; stop using it.
            if ttl <= 0 {
                self.granted.retain(|l| *l != id);
            }
        }
    }

    async fn revoke(&mut self, id: i64) {
        let mut leases = self.leases.clone();
        let call = async move {
            leases
                .lease_revoke(LeaseRevokeRequest { id })
                .await
                .map(|r| r.into_inner())
        };
        let answer = |r: berth_proto::etcdserverpb::LeaseRevokeResponse| Response::LeaseRevoke {
            revision: revision(&r.header),
        };
        self.granted.retain(|l| *l != id);
        self.record(Request::LeaseRevoke { id }, call, answer).await;
    }
}

/// Refusals that mean the request was not applied. Anything else (timeouts,
/// broken connections, `request timed out`, no leader) may have been.
fn definite_failure(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::OutOfRange
            | Code::FailedPrecondition
            | Code::ResourceExhausted
            | Code::PermissionDenied
            | Code::Unauthenticated
    )
}

fn revision(header: &Option<berth_proto::etcdserverpb::ResponseHeader>) -> i64 {
    header.as_ref().map(|h| h.revision).unwrap_or(0)
}

fn key_value(kv: &berth_proto::mvccpb::KeyValue) -> KeyValue {
    KeyValue {
        value: String::from_utf8_lossy(&kv.value).into_owned(),
        mod_revision: kv.mod_revision,
        lease: kv.lease,
    }
}
