//! Errors as Kubernetes reports them: a `Status` object with a reason and an
//! HTTP code.

use serde_json::{json, Value};

/// An API error, mapped onto Kubernetes' `Status` reasons.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404 NotFound.
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        /// The resource's group-qualified plural (`pods`, `deployments.apps`).
        kind: String,
        name: String,
    },
    /// 409 AlreadyExists.
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: String, name: String },
    /// 409 Conflict: a stale resourceVersion.
    #[error("Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")]
    Conflict { kind: String, name: String },
    /// 409 Conflict with its own message (a pod already bound).
    #[error("{0}")]
    ConflictMessage(String),
    /// 400 BadRequest.
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid, with the offending field paths.
    #[error("{kind} \"{name}\" is invalid: {}", causes_text(.causes))]
    Invalid {
        kind: String,
        name: String,
        /// (field path, message) pairs.
        causes: Vec<(String, String)>,
    },
    /// 403 Forbidden (a namespace being deleted, a system namespace).
    #[error("{0}")]
    Forbidden(String),
    /// 405 MethodNotAllowed.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// 410 Gone: a resourceVersion older than the store keeps.
    #[error("too old resource version: {0}")]
    Gone(String),
    /// 413 RequestEntityTooLarge.
    #[error("the request is too large")]
    TooLarge,
    /// 415 UnsupportedMediaType.
    #[error("the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")]
    UnsupportedMediaType,
    /// 503/500: the store failed or is unreachable.
    #[error("{0}")]
    Store(String),
    /// 504 Timeout.
    #[error("{0}")]
    Timeout(String),
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ConflictMessage(_) => 409,
            ApiError::BadRequest(_) => 400,
            ApiError::Invalid { .. } => 422,
            ApiError::Forbidden(_) => 403,
            ApiError::MethodNotAllowed => 405,
            ApiError::Gone(_) => 410,
            ApiError::TooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Store(_) => 500,
            ApiError::Timeout(_) => 504,
        }
    }

    /// Kubernetes' `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ConflictMessage(_) => "Conflict",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::Gone(_) => "Expired",
            ApiError::TooLarge => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType => "UnsupportedMediaType",
            ApiError::Store(_) => "InternalError",
            ApiError::Timeout(_) => "Timeout",
        }
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut details = serde_json::Map::new();
        match self {
            ApiError::NotFound { kind, name }
            | ApiError::AlreadyExists { kind, name }
            | ApiError::Conflict { kind, name } => {
                let (resource, group) = kind.split_once('.').unwrap_or((kind, ""));
                details.insert("name".into(), json!(name));
                details.insert("group".into(), json!(group));
                details.insert("kind".into(), json!(resource));
            }
            ApiError::Invalid { kind, name, causes } => {
                let (resource, group) = kind.split_once('.').unwrap_or((kind, ""));
                details.insert("name".into(), json!(name));
                details.insert("group".into(), json!(group));
                details.insert("kind".into(), json!(resource));
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|(field, message)| {
                        json!({"reason": "FieldValueInvalid", "message": message, "field": field})
                    })
                    .collect();
                details.insert("causes".into(), Value::Array(causes));
            }
            _ => {}
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// One cause as `field: message`; several in brackets, as Kubernetes
/// prints an aggregate.
fn causes_text(causes: &[(String, String)]) -> String {
    let texts: Vec<String> = causes
        .iter()
        .map(|(f, m)| {
            if f.is_empty() {
                m.clone()
            } else {
                format!("{f}: {m}")
            }
        })
        .collect();
    if texts.len() == 1 {
        texts.concat()
    } else {
        format!("[{}]", texts.join(", "))
    }
}

/// Results of the API server.
pub type Result<T> = std::result::Result<T, ApiError>;
