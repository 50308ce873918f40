//! Authentication by bearer token, as kube-apiserver's
//! `--token-auth-file`: a CSV file of `token,user,uid,"group1,group2"`
//! lines, and an `Authorization: Bearer <token>` header on each request.
//!
//! A request without a known token gets 401 `Unauthorized` (a `Status`,
//! or gRPC's UNAUTHENTICATED on the gRPC service), except the health and
//! version endpoints, which Kubernetes lets anyone read.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Who a request is from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

/// Why a token file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: &'static str },
}

/// The tokens the server accepts.
#[derive(Clone, Default)]
pub struct TokenAuthenticator {
    tokens: HashMap<String, UserInfo>,
}

impl std::fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        write!(f, "TokenAuthenticator({} tokens)", self.tokens.len())
    }
}

impl TokenAuthenticator {
    /// Parses a token file. Each line has at least a token, a user name
    /// and a uid; a fourth column lists groups, quoted when there are
    /// several. Blank lines are skipped.
    pub fn from_csv(text: &str) -> Result<Self, TokenFileError> {
        let mut tokens = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason| TokenFileError::Line {
                line: i + 1,
                reason,
            };
            let mut columns = line.splitn(4, ',');
            let token = columns.next().unwrap_or_default().trim();
            let name = columns.next().unwrap_or_default().trim();
            let uid = columns.next().unwrap_or_default().trim();
            if token.is_empty() || name.is_empty() || uid.is_empty() {
                return Err(bad("need at least token,user,uid"));
            }
            let groups = columns
                .next()
                .map(|g| {
                    g.trim()
                        .trim_matches('"')
                        .split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if tokens.contains_key(token) {
                return Err(bad("a token appears twice"));
            }
            tokens.insert(
                token.to_string(),
                UserInfo {
                    name: name.to_string(),
                    uid: uid.to_string(),
                    groups,
                },
            );
        }
        Ok(TokenAuthenticator { tokens })
    }

    /// Accepts `token` as `user` too (a process's own components).
    pub fn insert(&mut self, token: &str, user: UserInfo) {
        self.tokens.insert(token.to_string(), user);
    }

    /// The user an `Authorization` header names, if its token is known.
    pub fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<&UserInfo> {
        let value = authorization?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.tokens.get(token.trim())
    }
}

/// Paths anyone may read, as Kubernetes' `system:public-info-viewer`
/// role allows.
fn public(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// The axum middleware: passes authenticated requests on with their
/// [`UserInfo`] in the extensions, refuses the others.
pub async fn middleware(
    State(authenticator): State<Arc<TokenAuthenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = authenticator
        .authenticate(request.headers().get(header::AUTHORIZATION))
        .cloned();
    match user {
        Some(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        None if public(request.uri().path()) => next.run(request).await,
        None => unauthorized(request.uri().path()),
    }
}

fn unauthorized(path: &str) -> Response {
    if path.starts_with("/berth.api.v1.") {
        // gRPC carries its status in headers of an HTTP 200 answer.
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/grpc"),
                (
                    header::HeaderName::from_static("grpc-status"),
                    "16", // UNAUTHENTICATED
                ),
                (
                    header::HeaderName::from_static("grpc-message"),
                    "Unauthorized",
                ),
            ],
        )
            .into_response();
    }
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401
    });
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        status.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "t1,admin,1,\"system:masters,devs\"\n\nt2,system:node:n1,2,system:nodes\nt3,bob,3\n";

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    #[test]
    fn a_token_file_names_users_and_groups() {
        let auth = TokenAuthenticator::from_csv(FILE).unwrap();
        let admin = auth.authenticate(Some(&header("Bearer t1"))).unwrap();
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.groups, ["system:masters", "devs"]);
        let node = auth.authenticate(Some(&header("bearer t2"))).unwrap();
        assert_eq!(node.groups, ["system:nodes"]);
        assert!(auth
            .authenticate(Some(&header("Bearer t3")))
            .unwrap()
            .groups
            .is_empty());
    }

    #[test]
    fn unknown_missing_and_other_schemes_are_refused() {
        let auth = TokenAuthenticator::from_csv(FILE).unwrap();
        assert!(auth.authenticate(None).is_none());
        assert!(auth.authenticate(Some(&header("Bearer nope"))).is_none());
        assert!(auth.authenticate(Some(&header("Basic t1"))).is_none());
        assert!(auth.authenticate(Some(&header("t1"))).is_none());
    }

    #[test]
    fn bad_token_files_name_the_line() {
        let err = TokenAuthenticator::from_csv("t1,admin,1\nt2,bob\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: need at least token,user,uid");
        let err = TokenAuthenticator::from_csv("t1,a,1\nt1,b,2\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: a token appears twice");
    }

    #[test]
    fn health_and_version_are_public() {
        assert!(public("/livez"));
        assert!(public("/readyz/ping"));
        assert!(public("/version"));
        assert!(!public("/api/v1/pods"));
        assert!(!public("/versions"));
    }
}
