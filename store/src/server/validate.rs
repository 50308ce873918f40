//! Request checks made before anything is proposed, as etcd's v3rpc layer
//! makes them: a refused request changes nothing and costs no log entry.

use std::collections::HashSet;

use berth_proto::etcdserverpb::{
    range_request, request_op, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use crate::{Result, StoreError};

/// Checks a Range.
pub fn range(req: &RangeRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if range_request::SortOrder::try_from(req.sort_order).is_err()
        || range_request::SortTarget::try_from(req.sort_target).is_err()
    {
        return Err(StoreError::InvalidSortOption);
    }
    Ok(())
}

/// Checks a Put.
pub fn put(req: &PutRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(StoreError::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(StoreError::LeaseProvided);
    }
    Ok(())
}

/// Checks a DeleteRange.
pub fn delete_range(req: &DeleteRangeRequest) -> Result<()> {
    if req.key.is_empty() {
        return Err(StoreError::EmptyKey);
    }
    Ok(())
}

/// Checks a Txn: operation count per branch, every nested request, and that
/// no branch writes one key twice (etcd's `checkIntervals`).
pub fn txn(req: &TxnRequest, max_ops: usize) -> Result<()> {
    txn_ops(req, max_ops)?;
    for branch in [&req.success, &req.failure] {
        let (dels, puts) = branch_writes(branch)?;
        for key in &puts {
            if dels.iter().any(|(start, end)| in_range(key, start, end)) {
                return Err(StoreError::DuplicateKey);
            }
        }
    }
    Ok(())
}

fn txn_ops(req: &TxnRequest, max_ops: usize) -> Result<()> {
    if req.compare.len() > max_ops || req.success.len() > max_ops || req.failure.len() > max_ops {
        return Err(StoreError::TooManyOps);
    }
    if req.compare.iter().any(|c| c.key.is_empty()) {
        return Err(StoreError::EmptyKey);
    }
    for op in req.success.iter().chain(&req.failure) {
        match &op.request {
            Some(request_op::Request::RequestRange(r)) => range(r)?,
            Some(request_op::Request::RequestPut(r)) => put(r)?,
            Some(request_op::Request::RequestDeleteRange(r)) => delete_range(r)?,
            Some(request_op::Request::RequestTxn(r)) => txn_ops(r, max_ops)?,
            None => {}
        }
    }
    Ok(())
}

type Interval = (Vec<u8>, Vec<u8>);

/// The delete intervals and put keys of one branch, nested txns included: a
/// nested txn's two branches may write the same key (only one runs), but
/// neither may repeat a key of the enclosing branch.
fn branch_writes(ops: &[RequestOp]) -> Result<(Vec<Interval>, HashSet<Vec<u8>>)> {
    let mut dels = Vec::new();
    let mut puts = HashSet::new();
    for op in ops {
        match &op.request {
            Some(request_op::Request::RequestPut(r)) => {
                if !puts.insert(r.key.clone()) {
                    return Err(StoreError::DuplicateKey);
                }
            }
            Some(request_op::Request::RequestDeleteRange(r)) => {
                dels.push((r.key.clone(), r.range_end.clone()));
            }
            Some(request_op::Request::RequestTxn(t)) => {
                let (sdels, sputs) = branch_writes(&t.success)?;
                let (fdels, fputs) = branch_writes(&t.failure)?;
                for key in sputs.iter().chain(&fputs) {
                    if puts.contains(key) {
                        return Err(StoreError::DuplicateKey);
                    }
                }
                puts.extend(sputs);
                puts.extend(fputs);
                dels.extend(sdels);
                dels.extend(fdels);
            }
            Some(request_op::Request::RequestRange(_)) | None => {}
        }
    }
    Ok((dels, puts))
}

/// Whether `key` falls in etcd's range `[start, end)` (empty end: the key
/// alone; `"\0"`: every key from start on).
fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    match end {
        [] => key == start,
        [0] => key >= start,
        _ => key >= start && key < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_op(key: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.into(),
                ..Default::default()
            })),
        }
    }

    fn del_op(key: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: key.into(),
                    range_end: end.into(),
                    ..Default::default()
                },
            )),
        }
    }

    #[test]
    fn empty_key_is_refused() {
        assert_eq!(put(&PutRequest::default()), Err(StoreError::EmptyKey));
        assert_eq!(range(&RangeRequest::default()), Err(StoreError::EmptyKey));
    }

    #[test]
    fn put_with_ignore_value_and_a_value_is_refused() {
        let req = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ignore_value: true,
            ..Default::default()
        };
        assert_eq!(put(&req), Err(StoreError::ValueProvided));
    }

    #[test]
    fn txn_with_more_than_max_ops_is_refused() {
        let req = TxnRequest {
            success: (0..129).map(|i| put_op(&format!("k{i}"))).collect(),
            ..Default::default()
        };
        assert_eq!(txn(&req, 128), Err(StoreError::TooManyOps));
    }

    #[test]
    fn txn_putting_one_key_twice_is_refused() {
        let req = TxnRequest {
            success: vec![put_op("a"), put_op("a")],
            ..Default::default()
        };
        assert_eq!(txn(&req, 128), Err(StoreError::DuplicateKey));
    }

    #[test]
    fn txn_putting_a_key_it_deletes_is_refused() {
        let req = TxnRequest {
            success: vec![del_op("a", "c"), put_op("b")],
            ..Default::default()
        };
        assert_eq!(txn(&req, 128), Err(StoreError::DuplicateKey));
    }

    #[test]
    fn same_key_in_success_and_failure_is_allowed() {
        let req = TxnRequest {
            success: vec![put_op("a")],
            failure: vec![put_op("a")],
            ..Default::default()
        };
        assert_eq!(txn(&req, 128), Ok(()));
    }
}
