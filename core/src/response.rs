//! The AdmissionReview response, serialised from borrowed typed structs straight into the
//! body: no `serde_json::Value` tree per request.
//!
//! The bytes are exactly what the earlier `json!` trees produced. Without serde_json's
//! `preserve_order` feature a `Value` object is a `BTreeMap`, so its keys came out sorted;
//! every struct here therefore declares its fields in byte order of their JSON names
//! (`patch` before `patchType`). `tests.rs` compares both for every response shape.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::display::Base64Display;
use serde::{Serialize, Serializer};

use crate::admission::patch;
use crate::admission::{API_VERSION, AdmissionError};
use crate::text::escape_controls;
use crate::verdict::Decision;

#[derive(Serialize)]
struct Review<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: Response<'a>,
}

#[derive(Serialize)]
struct Response<'a> {
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<Base64<'a>>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    uid: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Status {
    code: u16,
    message: String,
    reason: &'static str,
    status: &'static str,
}

/// Bytes written as standard base64 text, without an intermediate `String`.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let engine = &base64::engine::general_purpose::STANDARD;
        serializer.collect_str(&Base64Display::new(self.0, engine))
    }
}

/// The AdmissionReview response for a decision.
pub fn respond(uid: &str, decision: &Decision) -> Vec<u8> {
    match decision {
        Decision::Allow {
            patch,
            warnings,
            annotate,
            ..
        } => {
            let document = (!patch.is_empty() || annotate.is_some())
                .then(|| patch::document(patch, annotate.as_ref()));
            write(Response {
                allowed: true,
                patch: document.as_deref().map(Base64),
                patch_type: document.as_ref().map(|_| "JSONPatch"),
                status: None,
                uid,
                warnings,
            })
        }
        Decision::Deny { reasons } => {
            let lines: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
            let message = lines.join("\n");
            write(refusal(uid, 403, "Forbidden", message))
        }
    }
}

/// The AdmissionReview response refusing a request that could not be evaluated.
pub fn respond_invalid(uid: &str, error: &AdmissionError) -> Vec<u8> {
    let message = escape_controls(&error.to_string()).into_owned();
    write(refusal(uid, 400, "BadRequest", message))
}

fn refusal<'a>(uid: &'a str, code: u16, reason: &'static str, message: String) -> Response<'a> {
    Response {
        allowed: false,
        patch: None,
        patch_type: None,
        status: Some(Status {
            code,
            message,
            reason,
            status: "Failure",
        }),
        uid,
        warnings: &[],
    }
}

fn write(response: Response<'_>) -> Vec<u8> {
    let review = Review {
        api_version: API_VERSION,
        kind: "AdmissionReview",
        response,
    };
    // `to_vec`, not `to_writer` into a pre-sized buffer: the writer API needs `std::io`, and
    // the core builds without `std`. Writing strings, booleans and integers cannot fail; an
    // empty body would be refused by the API server (fail closed), never read as an admission.
    serde_json::to_vec(&review).unwrap_or_default()
}
