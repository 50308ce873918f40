//! The three patch types of `PATCH`: JSON patch (RFC 6902), JSON merge
//! patch (RFC 7386) and Kubernetes' strategic merge patch.

mod strategic;

use serde_json::Value;

use crate::error::{ApiError, Result};
use crate::registry::Resource;

pub use strategic::{list_strategy, strategic_merge, ListStrategy};

/// A parsed patch body.
#[derive(Debug)]
pub enum Patch {
    /// `application/json-patch+json`.
    Json(json_patch::Patch),
    /// `application/merge-patch+json`.
    Merge(Value),
    /// `application/strategic-merge-patch+json`.
    Strategic(Value),
}

impl Patch {
    /// Parses `body` as the patch type `content_type` names.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Patch> {
        let parse_error = |e: serde_json::Error| {
            ApiError::BadRequest(format!("the patch is not valid JSON: {e}"))
        };
        let object = |body: &[u8]| -> Result<Value> {
            let value: Value = serde_json::from_slice(body).map_err(parse_error)?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(ApiError::BadRequest(
                    "the patch must be a JSON object".into(),
                ))
            }
        };
        match content_type {
            "application/json-patch+json" => Ok(Patch::Json(
                serde_json::from_slice(body).map_err(parse_error)?,
            )),
            "application/merge-patch+json" => Ok(Patch::Merge(object(body)?)),
            "application/strategic-merge-patch+json" => Ok(Patch::Strategic(object(body)?)),
            _ => Err(ApiError::UnsupportedMediaType),
        }
    }

    /// The patched object, or why the patch does not apply.
    pub fn apply(
        &self,
        resource: &Resource,
        existing: &Value,
    ) -> std::result::Result<Value, String> {
        self.apply_as(resource.kind, existing)
    }

    /// Patches `existing`, an object of `kind` (which picks the strategic
    /// merge keys; a Scale for `.../scale`).
    pub fn apply_as(&self, kind: &str, existing: &Value) -> std::result::Result<Value, String> {
        let mut patched = existing.clone();
        match self {
            Patch::Json(patch) => {
                json_patch::patch(&mut patched, patch).map_err(|e| e.to_string())?;
            }
            Patch::Merge(patch) => json_patch::merge(&mut patched, patch),
            Patch::Strategic(patch) => {
                patched = strategic_merge(kind, existing, patch)?;
            }
        }
        Ok(patched)
    }

    /// Whether the patch itself sets `metadata.resourceVersion`, which makes
    /// it conditional on that version.
    pub fn names_resource_version(&self) -> bool {
        match self {
            Patch::Json(patch) => patch
                .0
                .iter()
                .any(|op| *op.path() == *"/metadata/resourceVersion"),
            Patch::Merge(patch) | Patch::Strategic(patch) => patch
                .pointer("/metadata/resourceVersion")
                .is_some_and(|rv| !rv.is_null()),
        }
    }
}
