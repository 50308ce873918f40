//! The one place object writes reach the store: plain guarded writes, and
//! for Services the ClusterIP and NodePort claims that go with them.

use serde_json::Value;

use super::Api;
use crate::allocator::{self, Claims};
use crate::error::{ApiError, Result};
use crate::object;
use crate::registry::Resource;
use crate::storage::{Outcome, Write};

/// How many fresh picks a write tries when a picked address or port turns
/// out to be taken.
const PICKS: usize = 16;

/// Writes `new` (or deletes, when `None`) over `existing` (`None` on
/// create; else the stored object and its mod revision). Returns the
/// write's revision, or `None` when the object exists (create) or moved on
/// (update, delete). `new` is completed with what was allocated for it.
pub async fn commit(
    api: &Api,
    resource: &Resource,
    key: &[u8],
    existing: Option<(&Value, i64)>,
    mut new: Option<&mut Value>,
) -> Result<Option<i64>> {
    let claims_of = resource.kind == "Service";
    let pristine = new.as_deref().cloned();
    for _ in 0..PICKS {
        if let (Some(value), Some(original)) = (new.as_deref_mut(), &pristine) {
            *value = original.clone();
        }
        let claims = if claims_of {
            allocator::service(
                existing.map(|(v, _)| v),
                new.as_deref_mut(),
                &mut rand::thread_rng(),
            )
            .map_err(|(field, message)| invalid(resource, key, field, message))?
        } else {
            Claims::default()
        };
        let write = match (existing, new.as_deref()) {
            (None, Some(v)) => Write::Create(object::encode(v)?),
            (Some((_, rev)), Some(v)) => Write::Update(object::encode(v)?, rev),
            (Some((_, rev)), None) => Write::Delete(rev),
            (None, None) => return Ok(None),
        };
        match api.storage.write(key, write, &claims, key).await? {
            Outcome::Done(revision) => return Ok(Some(revision)),
            Outcome::ObjectChanged => return Ok(None),
            Outcome::ClaimTaken => {
                // Refuse what the client asked for if that is what is held;
                // otherwise a pick collided: pick again.
                for (asked, (field, message)) in &claims.asked {
                    if api.storage.get(asked).await?.is_some() {
                        return Err(invalid(resource, key, field.clone(), message.clone()));
                    }
                }
            }
        }
    }
    Err(ApiError::Store(
        "could not allocate: the service IP or node port range may be full".into(),
    ))
}

fn invalid(resource: &Resource, key: &[u8], field: String, message: String) -> ApiError {
    let key = String::from_utf8_lossy(key);
    ApiError::Invalid {
        kind: resource.kind_qualified(),
        name: key.rsplit('/').next().unwrap_or("").to_string(),
        causes: vec![(field, message)],
    }
}
