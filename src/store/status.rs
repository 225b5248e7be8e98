//! Firestore's gRPC status codes, as the library's errors.

use crate::error::Error;
use firestore::gcloud_sdk::tonic;

/// A gRPC status code as the library's error. Quota and rate limits
/// (`RESOURCE_EXHAUSTED`) count as unavailable, a transient error: the
/// agent then slows its claims (its claim breaker's capped, jittered
/// backoff) while its heartbeats go on, instead of failing the work or
/// spinning against the limit.
pub fn map_code(code: tonic::Code, msg: &str, endpoint: &str) -> Error {
    use tonic::Code;
    let msg = msg.to_string();
    match code {
        Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => Error::Conflict(msg),
        Code::NotFound => Error::NotFound(msg),
        Code::PermissionDenied | Code::Unauthenticated => Error::PermissionDenied(msg),
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Unknown
        | Code::ResourceExhausted => Error::Unavailable {
            endpoint: endpoint.to_string(),
            detail: format!("{code:?}: {msg}"),
        },
        _ => Error::Firestore(format!("{code:?}: {msg}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_and_outages_are_transient_and_refusals_are_not() {
        let e = |c| map_code(c, "m", "host:1");
        assert!(
            e(tonic::Code::ResourceExhausted).is_transient(),
            "a quota waits it out"
        );
        assert!(e(tonic::Code::Unavailable).is_transient());
        assert!(e(tonic::Code::DeadlineExceeded).is_transient());
        assert!(!e(tonic::Code::PermissionDenied).is_transient());
        assert!(e(tonic::Code::Aborted).is_conflict());
        assert!(matches!(
            e(tonic::Code::InvalidArgument),
            Error::Firestore(_)
        ));
    }
}
