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
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    // Only JSON punctuation and serde_json's output of UTF-8 strings were written.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// Appends `text` as a JSON string: serde_json's escaping, what `Value::String` prints.
fn write_string(text: &str, out: &mut Vec<u8>) {
    // Writing into a `Vec` cannot fail, and a `str` always serialises.
    serde_json::to_writer(&mut *out, text).expect("a string serialises into a Vec");
}

/// Appends the canonical form of `value` to `out`, in place: no clone of the value and no
/// string per key (every write and `audit verify` hash through here; the golden values of the
/// tests below pin the output byte for byte).
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(text) => write_string(text, out),
        // Numbers, booleans and null: serde_json's compact form is canonical.
        other => serde_json::to_writer(&mut *out, other).expect("a scalar serialises into a Vec"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Appends `,"text"`: a further string element of a canonical array.
fn element_str(text: &str, out: &mut Vec<u8>) {
    out.push(b',');
    write_string(text, out);
}

/// Appends `,n`: a further integer element of a canonical array.
fn element_int(number: i64, out: &mut Vec<u8>) {
    out.push(b',');
    out.extend_from_slice(number.to_string().as_bytes());
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
    event_hash_with(previous_hash, event, &mut Vec::new())
}

/// [`event_hash`], writing the canonical text into `buffer` (cleared first), so that a caller
/// hashing many events reuses one allocation.
pub fn event_hash_with(
    previous_hash: &str,
    event: EventFields<'_>,
    buffer: &mut Vec<u8>,
) -> String {
    // The canonical array `["caseledger-event-v1", previous_hash, aggregate_type, aggregate_id,
    // sequence, event_type, event_version, payload, metadata]`, written element by element.
    buffer.clear();
    buffer.push(b'[');
    write_string("caseledger-event-v1", buffer);
    element_str(previous_hash, buffer);
    element_str(event.aggregate_type, buffer);
    element_str(event.aggregate_id, buffer);
    element_int(event.sequence, buffer);
    element_str(event.event_type, buffer);
    element_str(event.event_version, buffer);
    buffer.push(b',');
    write_canonical(event.payload, buffer);
    buffer.push(b',');
    write_canonical(event.metadata, buffer);
    buffer.push(b']');
    sha256_hex(buffer)
}

/// One step of the global chain over the feed.
pub fn chain_hash(previous_chain_hash: &str, position: i64, event_hash: &str) -> String {
    // The canonical array `["caseledger-chain-v1", previous_chain_hash, position, event_hash]`.
    let mut buffer = Vec::with_capacity(192);
    buffer.push(b'[');
    write_string("caseledger-chain-v1", &mut buffer);
    element_str(previous_chain_hash, &mut buffer);
    element_int(position, &mut buffer);
    element_str(event_hash, &mut buffer);
    buffer.push(b']');
    sha256_hex(&buffer)
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
    sha256_hex(canonical_json(&tuple).as_bytes())
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

    #[test]
    fn event_and_chain_hashes_are_the_sha256_of_the_canonical_arrays() {
        // The hashes are written element by element; they must equal the SHA-256 of the
        // canonical JSON of the arrays the module documentation defines, for any content.
        let payload = serde_json::json!({
            "z": [1, -7, 9_007_199_254_740_993_i64, true, null, {"b": "\u{0}\t\u{1f}", "a": []}],
            "é": "企业 \"引号\" \\ /",
            "A": {},
        });
        let metadata = serde_json::json!({"actor_sub": "d-1", "actor_roles": ["dispatcher"]});
        let fields = EventFields {
            aggregate_type: "EnterpriseCase",
            aggregate_id: "c-\"1\"",
            sequence: 42,
            event_type: "CaseClosed",
            event_version: "1.0",
            payload: &payload,
            metadata: &metadata,
        };
        let tuple = serde_json::json!([
            "caseledger-event-v1",
            GENESIS,
            "EnterpriseCase",
            "c-\"1\"",
            42,
            "CaseClosed",
            "1.0",
            payload,
            metadata
        ]);
        let expected = sha256_hex(canonical_json(&tuple).as_bytes());
        assert_eq!(event_hash(GENESIS, fields), expected);
        let mut buffer = b"left over".to_vec();
        assert_eq!(event_hash_with(GENESIS, fields, &mut buffer), expected);
        let chain = serde_json::json!(["caseledger-chain-v1", GENESIS, -3, expected]);
        assert_eq!(
            chain_hash(GENESIS, -3, &expected),
            sha256_hex(canonical_json(&chain).as_bytes())
        );
    }
}
