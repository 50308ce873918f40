//! The client's one error type.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// What a call to the API server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused the request; `status` is its Kubernetes
    /// `Status` (reason, code, field causes).
    #[error("{}", status.message.as_deref().unwrap_or("API error"))]
    Api {
        /// The Kubernetes `Status` the server answered with.
        status: Box<Status>,
    },
    /// The request did not reach the server or the answer did not come
    /// back (connection refused, reset, deadline).
    #[error("transport: {0}")]
    Transport(String),
    /// An object did not serialize, or the server's answer did not parse.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// The Kubernetes reason (`NotFound`, `Conflict`, `AlreadyExists`,
    /// `Expired`, `Invalid`...), if the server gave one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Api { status } => status.reason.as_deref(),
            _ => None,
        }
    }

    /// The HTTP code of the server's `Status`, if it answered.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Api { status } => status.code,
            _ => None,
        }
    }

    /// 404: the object or its namespace does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// 409 Conflict: the resourceVersion given is no longer current.
    pub fn is_conflict(&self) -> bool {
        self.reason() == Some("Conflict")
    }

    /// 409 AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        self.reason() == Some("AlreadyExists")
    }

    /// 410 Gone / Expired: the resourceVersion asked for was compacted;
    /// a watcher must list again.
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }

    /// Worth retrying as is: the server was unreachable or overloaded.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) => true,
            Error::Api { status } => matches!(status.code, Some(429 | 500 | 503 | 504)),
            Error::Json(_) => false,
        }
    }

    /// The gRPC status as this client's error: the Kubernetes `Status`
    /// travels in the details; a status without one is a transport failure.
    pub(crate) fn from_grpc(s: tonic::Status) -> Self {
        if let Ok(status) = serde_json::from_slice::<Status>(s.details()) {
            if status.code.is_some() || status.reason.is_some() {
                return Error::Api {
                    status: Box::new(status),
                };
            }
        }
        match s.code() {
            tonic::Code::InvalidArgument
            | tonic::Code::NotFound
            | tonic::Code::AlreadyExists
            | tonic::Code::Aborted
            | tonic::Code::OutOfRange
            | tonic::Code::Unimplemented => Error::Api {
                status: Box::new(Status {
                    code: Some(http_code(s.code())),
                    message: Some(s.message().to_string()),
                    reason: Some(reason(s.code()).to_string()),
                    status: Some("Failure".to_string()),
                    ..Status::default()
                }),
            },
            _ => Error::Transport(format!("{}: {}", s.code(), s.message())),
        }
    }
}

/// Treats NotFound as done: what a delete or a patch of an object that is
/// already gone means to a controller.
pub fn not_found_ok<T>(r: Result<T, Error>) -> Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The HTTP code a gRPC code stands for in `berth.api.v1`.
fn http_code(code: tonic::Code) -> i32 {
    match code {
        tonic::Code::InvalidArgument => 400,
        tonic::Code::NotFound => 404,
        tonic::Code::AlreadyExists | tonic::Code::Aborted => 409,
        tonic::Code::OutOfRange => 410,
        tonic::Code::Unimplemented => 405,
        _ => 500,
    }
}

fn reason(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::InvalidArgument => "BadRequest",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::Aborted => "Conflict",
        tonic::Code::OutOfRange => "Expired",
        tonic::Code::Unimplemented => "MethodNotAllowed",
        _ => "InternalError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_in_details_is_kept() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404}"#;
        let e = Error::from_grpc(tonic::Status::with_details(
            tonic::Code::NotFound,
            "pods \"x\" not found",
            body.to_vec().into(),
        ));
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "pods \"x\" not found");
        assert!(!e.is_transient());
    }

    #[test]
    fn unavailable_is_a_transient_transport_failure() {
        let e = Error::from_grpc(tonic::Status::unavailable("connection refused"));
        assert!(matches!(e, Error::Transport(_)));
        assert!(e.is_transient());
        assert_eq!(e.reason(), None);
    }

    #[test]
    fn conflict_without_details_keeps_its_reason() {
        let e = Error::from_grpc(tonic::Status::aborted("modified"));
        assert!(e.is_conflict());
        assert_eq!(e.code(), Some(409));
    }
}
