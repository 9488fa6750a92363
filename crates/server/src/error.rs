//! Errors as clients expect them: OpenAI's `{"error": {"message", "type",
//! "param", "code"}}` on `/v1`, Ollama's `{"error": "..."}` on `/api`.
//! Every refusal goes through here, so no client ever sees axum's plain-text
//! rejections.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::SubmitError;
use serde_json::json;

/// Which API's error body to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    Ollama,
}

impl Flavor {
    /// Ollama clients read `/api/...` answers; everything else speaks OpenAI.
    pub fn for_path(path: &str) -> Flavor {
        if path.starts_with("/api/") {
            Flavor::Ollama
        } else {
            Flavor::OpenAi
        }
    }
}

/// A refused or failed request.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`,
    /// `server_error`...
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds a client should wait before trying again (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// A bad value for one request field, named so clients can point at it.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param.to_string()),
            code: Some("invalid_value"),
            ..ApiError::bad_request(message)
        }
    }

    pub fn model_not_found(model: &str) -> ApiError {
        ApiError {
            param: Some("model".to_string()),
            code: Some("model_not_found"),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("The model `{model}` does not exist: this server serves only its own model"),
            )
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            code: Some("not_found"),
            ..ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError {
            code: Some("invalid_api_key"),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "Missing or incorrect API key: send `Authorization: Bearer KEY`",
            )
        }
    }

    pub fn forbidden_host(host: &str) -> ApiError {
        ApiError {
            code: Some("host_not_allowed"),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!("Host `{host}` is not allowed (start the server with --allowed-host to accept it)"),
            )
        }
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError {
            code: Some("request_too_large"),
            ..ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                format!("The request body exceeds {limit} bytes"),
            )
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The engine's refusals: the client's fault (400) unless the server is
    /// busy or stopping (503, with a hint of when to come back).
    pub fn from_submit(err: &SubmitError) -> ApiError {
        let message = format!("{}{}", capitalize(&err.to_string()), ".");
        match err {
            SubmitError::ContextOverflow { .. } => ApiError {
                param: Some("messages".to_string()),
                code: Some("context_length_exceeded"),
                ..ApiError::bad_request(message)
            },
            SubmitError::EmptyPrompt | SubmitError::BadToken { .. } => ApiError {
                param: Some("prompt".to_string()),
                ..ApiError::bad_request(message)
            },
            SubmitError::QueueFull { .. } => ApiError {
                code: Some("queue_full"),
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
            },
            SubmitError::ShuttingDown => ApiError {
                code: Some("shutting_down"),
                retry_after: Some(5),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
            },
        }
    }

    /// The OpenAI body, also used inside a stream that fails midway.
    pub fn openai_body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }

    pub fn response(&self, flavor: Flavor) -> Response {
        let body = match flavor {
            Flavor::OpenAi => self.openai_body(),
            Flavor::Ollama => json!({ "error": self.message }),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.response(Flavor::OpenAi)
    }
}

/// An [`ApiError`] answered in Ollama's shape.
#[derive(Debug)]
pub struct OllamaError(pub ApiError);

impl From<ApiError> for OllamaError {
    fn from(e: ApiError) -> Self {
        OllamaError(e)
    }
}

impl IntoResponse for OllamaError {
    fn into_response(self) -> Response {
        self.0.response(Flavor::Ollama)
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_names_the_context() {
        let e = ApiError::from_submit(&SubmitError::ContextOverflow {
            prompt: 9000,
            n_ctx: 4096,
        });
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("context"), "{}", e.message);
        assert_eq!(e.code, Some("context_length_exceeded"));
    }

    #[test]
    fn queue_full_asks_to_retry() {
        let e = ApiError::from_submit(&SubmitError::QueueFull { queued: 64 });
        let r = e.response(Flavor::OpenAi);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
