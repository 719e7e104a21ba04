//! The hashes of the audit trail, format version 1. A third party can recompute every one of them
//! from an export with the standard library of any language (`scripts/verify-audit-export.py`).
//!
//! Canonical JSON: object keys sorted by their UTF-8 bytes, no white space, strings escaped as
//! JSON requires (`"`, `\`, control characters) and otherwise written as UTF-8; integers in
//! decimal. This is what Python's `json.dumps(v, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` prints for the values caseledger stores (they hold no floating-point
//! numbers).
//!
//! - event hash = SHA-256 of canonical `["caseledger-event-v1", previous_hash, aggregate_type,
//!   aggregate_id, sequence, event_type, event_version, payload, metadata]`, where
//!   `previous_hash` is the event hash of the stream's previous event, or [`GENESIS`] for the
//!   first.
//! - chain hash = SHA-256 of canonical `["caseledger-chain-v1", previous_chain_hash, position,
//!   event_hash]` over the feed in order, starting from [`GENESIS`].
//! - digest hash = SHA-256 of canonical `["caseledger-digest-v1", digest_seq, previous_digest_hash,
//!   up_to_position, event_count, chain_hash, sealed_at]`.
//!
//! Hashes are lowercase hex.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The "previous hash" of the first element of every chain: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Writes `value` as canonical JSON (see the module documentation).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Strings, numbers, booleans and null: serde_json's compact form is canonical.
        other => out.push_str(&other.to_string()),
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The fields of one event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    /// The aggregate type.
    pub aggregate_type: &'a str,
    /// The aggregate id.
    pub aggregate_id: &'a str,
    /// The sequence in the stream.
    pub sequence: i64,
    /// The event type.
    pub event_type: &'a str,
    /// The event type's version.
    pub event_version: &'a str,
    /// The payload.
    pub payload: &'a Value,
    /// The metadata.
    pub metadata: &'a Value,
}

/// The hash of one event, chained to its stream's previous event hash.
pub fn event_hash(previous_hash: &str, event: EventFields<'_>) -> String {
    let tuple = serde_json::json!([
        "caseledger-event-v1",
        previous_hash,
        event.aggregate_type,
        event.aggregate_id,
        event.sequence,
        event.event_type,
        event.event_version,
        event.payload,
        event.metadata,
    ]);
    sha256_hex(&canonical_json(&tuple))
}

/// One step of the global chain over the feed.
pub fn chain_hash(previous_chain_hash: &str, position: i64, event_hash: &str) -> String {
    let tuple = serde_json::json!([
        "caseledger-chain-v1",
        previous_chain_hash,
        position,
        event_hash
    ]);
    sha256_hex(&canonical_json(&tuple))
}

/// The fields of a published digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    /// 1, 2, 3, …
    pub digest_seq: i64,
    /// The previous digest's hash ([`GENESIS`] for the first).
    pub previous_digest_hash: String,
    /// The position of the last event it covers.
    pub up_to_position: i64,
    /// How many events it covers, from the start of the feed.
    pub event_count: i64,
    /// The chain hash after that event.
    pub chain_hash: String,
    /// When it was sealed (RFC 3339, UTC).
    pub sealed_at: String,
    /// The hash of all the fields above.
    pub digest_hash: String,
}

/// The hash of a digest's fields.
pub fn digest_hash(
    digest_seq: i64,
    previous_digest_hash: &str,
    up_to_position: i64,
    event_count: i64,
    chain_hash: &str,
    sealed_at: &str,
) -> String {
    let tuple = serde_json::json!([
        "caseledger-digest-v1",
        digest_seq,
        previous_digest_hash,
        up_to_position,
        event_count,
        chain_hash,
        sealed_at,
    ]);
    sha256_hex(&canonical_json(&tuple))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_recursively_and_keeps_unicode() {
        let value: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[true,null],"c":"企业\n\"x\""}}"#).unwrap();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":"企业\n\"x\"","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn hashes_match_the_independent_python_computation() {
        // Golden values computed with Python's json and hashlib (the recipe in the module
        // documentation). A change here breaks every stored chain and every published digest.
        let payload =
            serde_json::json!({"CaseClosed": {"closed_by": "d-1", "note": "企业\n\"x\""}});
        let metadata = serde_json::json!({"actor_sub": "d-1"});
        let fields = EventFields {
            aggregate_type: "EnterpriseCase",
            aggregate_id: "c-1",
            sequence: 1,
            event_type: "CaseClosed",
            event_version: "1",
            payload: &payload,
            metadata: &metadata,
        };
        let hash = event_hash(GENESIS, fields);
        assert_eq!(
            hash,
            "f3280aad89e305eb122b67e8260be12a5e0deb381e144f61b0038c097166c9db"
        );
        assert_ne!(
            hash,
            event_hash(&hash, fields),
            "the previous hash is covered"
        );
        assert_eq!(
            chain_hash(GENESIS, 7, &hash),
            "1d7c32aee98dadb0fbca01410c52b64b8590ffc40e57ce45a3f3d4ca0779b5f6"
        );
        assert_eq!(
            digest_hash(1, GENESIS, 7, 1, "ab", "2026-11-24T00:00:00.000000Z"),
            "d7752152c04f33146c84a489286b9ae43271b67dd2e8241857dcc42567f9b1c0"
        );
    }
}
