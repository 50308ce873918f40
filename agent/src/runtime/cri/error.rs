//! gRPC statuses of a CRI runtime as [`RuntimeError`]s, in one place.

use tonic::{Code, Status};

use crate::runtime::RuntimeError;

/// The error of a failed CRI call: NotFound and Unavailable keep their
/// meaning (the kubelet treats a missing sandbox or container on stop and
/// remove as done, and an unreachable runtime as a node condition); anything
/// else is a plain failure carrying the runtime's words.
pub fn from_status(call: &str, status: Status) -> RuntimeError {
    let message = status.message();
    match status.code() {
        Code::NotFound => RuntimeError::NotFound(message.to_string()),
        Code::Unavailable => RuntimeError::Unavailable(format!("{call}: {message}")),
        _ => RuntimeError::Failed(format!("{call}: {message}")),
    }
}

/// The error of a failed PullImage. No registry is reachable from these
/// nodes, so any image not already imported cannot be pulled: every refusal
/// is the kubelet's `ErrImagePull`, except an unreachable runtime, which is
/// not a fact about the image.
pub fn from_pull_status(image: &str, status: Status) -> RuntimeError {
    match status.code() {
        Code::Unavailable => from_status("PullImage", status),
        _ => RuntimeError::ImageNotFound {
            image: image.to_string(),
            message: status.message().to_string(),
        },
    }
}

/// The error of a failed CreateContainer: an image the runtime does not have
/// is `ImageNotFound` (containerd answers NotFound, or words its refusal as
/// an unresolvable image), so the kubelet reports `ErrImagePull` rather than
/// a generic `CreateContainerError`.
pub fn from_create_status(image: &str, status: Status) -> RuntimeError {
    let message = status.message();
    let about_image = message.contains("failed to resolve image")
        || message.contains("failed to get image")
        || (status.code() == Code::NotFound && message.contains("image"));
    if about_image {
        return RuntimeError::ImageNotFound {
            image: image.to_string(),
            message: message.to_string(),
        };
    }
    from_status("CreateContainer", status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert!(matches!(
            from_status("StopContainer", Status::not_found("container \"x\" not found")),
            RuntimeError::NotFound(m) if m.contains("\"x\"")
        ));
        assert!(matches!(
            from_status("Version", Status::unavailable("connection refused")),
            RuntimeError::Unavailable(m) if m == "Version: connection refused"
        ));
        assert!(matches!(
            from_status("StartContainer", Status::unknown("runc failed")),
            RuntimeError::Failed(m) if m == "StartContainer: runc failed"
        ));
    }

    #[test]
    fn every_pull_refusal_is_image_not_found_but_unavailable() {
        let err = from_pull_status("nosuch:1", Status::unknown("failed to resolve reference"));
        assert!(matches!(err, RuntimeError::ImageNotFound { image, .. } if image == "nosuch:1"));
        assert!(matches!(
            from_pull_status("nosuch:1", Status::unavailable("gone")),
            RuntimeError::Unavailable(_)
        ));
    }

    #[test]
    fn create_with_a_missing_image_is_image_not_found() {
        let err = from_create_status(
            "nosuch:1",
            Status::not_found("failed to get image \"nosuch:1\": not found"),
        );
        assert!(matches!(err, RuntimeError::ImageNotFound { .. }));
        let err = from_create_status("busybox", Status::not_found("sandbox \"s\" not found"));
        assert!(matches!(err, RuntimeError::NotFound(_)));
    }
}
