#!/usr/bin/env python3
"""Verify a caseledger audit export without caseledger (format caseledger-audit-export v1).

    python3 scripts/verify-audit-export.py EXPORT.ndjson
    python3 scripts/verify-audit-export.py EXPORT.csv

Exit status 0 when every check passes, 1 naming the first failure, 2 when the file is unreadable.
Only the Python standard library is used, so the recipe is easy to port (docs/AUDIT.md).

Checks:
  * every event's hash, recomputed from its previous_hash and its own fields;
  * stream linkage: an event whose predecessor is in the export must name that predecessor's
    hash; in a complete export every stream starts at sequence 1 and has no gap;
  * the global chain across consecutive chained events (from the genesis in a complete export);
  * digests (NDJSON only): each digest's hash, its link to the previous digest, and its chain
    value and count at the sealed event when that event is in the export.
"""

import csv
import hashlib
import json
import sys

GENESIS = "0" * 64


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(previous, event):
    return sha256(canonical([
        "caseledger-event-v1", previous, event["aggregate_type"], event["aggregate_id"],
        event["sequence"], event["event_type"], event["event_version"],
        event["payload"], event["metadata"],
    ]))


def chain_hash(previous, position, hash_):
    return sha256(canonical(["caseledger-chain-v1", previous, position, hash_]))


def digest_hash(d):
    return sha256(canonical([
        "caseledger-digest-v1", d["digest_seq"], d["previous_digest_hash"], d["up_to_position"],
        d["event_count"], d["chain_hash"], d["sealed_at"],
    ]))


def read_ndjson(path):
    header, events, digests = None, [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            kind = record.get("kind")
            if kind == "header":
                header = record
            elif kind == "event":
                events.append(record)
            elif kind == "digest":
                digests.append(record)
            else:
                raise ValueError(f"line {number}: unknown kind {kind!r}")
    if header is None or header.get("format") != "caseledger-audit-export" or header.get("version") != 1:
        raise ValueError("not a caseledger-audit-export version 1 file")
    return header.get("complete", False), events, digests


def unguard(text):
    """Undo the CSV formula-injection guard: a text cell that started with =, +, -, @, a tab or a
    carriage return was written with a ' in front (no exported value starts with ' itself)."""
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return text[1:]
    return text


def read_csv(path):
    events = []
    with open(path, encoding="utf-8", newline="") as f:
        for raw in csv.DictReader(f):
            row = {key: unguard(value) for key, value in raw.items()}
            optional = lambda key: row[key] if row[key] != "" else None
            events.append({
                "position": int(row["position"]),
                "transaction_id": int(row["transaction_id"]),
                "aggregate_type": row["aggregate_type"],
                "aggregate_id": row["aggregate_id"],
                "sequence": int(row["sequence"]),
                "event_type": row["event_type"],
                "event_version": row["event_version"],
                "payload": json.loads(row["payload"]),
                "metadata": json.loads(row["metadata"]),
                "recorded_at": row["recorded_at"],
                "previous_hash": optional("previous_hash"),
                "event_hash": optional("event_hash"),
                "chain_hash": optional("chain_hash"),
                "chain_count": int(row["chain_count"]) if row["chain_count"] else None,
            })
    # A CSV export carries no header: treat it as partial (no completeness claims).
    return False, events, []


def verify(complete, events, digests):
    streams = {}
    chain = (GENESIS, 0) if complete else None
    chain_at = {}
    for e in events:
        where = f"event at position {e['position']} ({e['aggregate_type']} {e['aggregate_id']} #{e['sequence']})"
        if e["previous_hash"] is None or e["event_hash"] is None:
            return f"{where} has no hash"
        if event_hash(e["previous_hash"], e) != e["event_hash"]:
            return f"{where} was modified: its hash does not match its content"
        key = (e["aggregate_type"], e["aggregate_id"])
        if key in streams:
            last_sequence, last_hash = streams[key]
            if e["sequence"] <= last_sequence:
                return f"{where} is out of order"
            if e["sequence"] == last_sequence + 1 and e["previous_hash"] != last_hash:
                return f"{where} does not link to its predecessor"
            if complete and e["sequence"] != last_sequence + 1:
                return f"{where}: event #{last_sequence + 1} of the stream is missing"
        elif complete and e["sequence"] != 1:
            return f"{where}: the stream's first events are missing"
        streams[key] = (e["sequence"], e["event_hash"])
        if e["chain_hash"] is not None:
            if chain is not None and e["chain_count"] == chain[1] + 1:
                if chain_hash(chain[0], e["position"], e["event_hash"]) != e["chain_hash"]:
                    return f"the global chain breaks at {where}"
            elif complete:
                return f"the global chain skips before {where}"
            chain = (e["chain_hash"], e["chain_count"])
            chain_at[e["position"]] = chain
    previous = GENESIS
    for d in digests:
        if d["previous_digest_hash"] != previous:
            return f"digest {d['digest_seq']} does not link to the previous digest"
        if digest_hash(d) != d["digest_hash"]:
            return f"digest {d['digest_seq']}: its hash does not match its fields"
        sealed = chain_at.get(d["up_to_position"])
        if sealed is not None and sealed != (d["chain_hash"], d["event_count"]):
            return f"digest {d['digest_seq']} does not match the chain at position {d['up_to_position']}"
        if sealed is None and complete:
            return f"digest {d['digest_seq']}: the event at position {d['up_to_position']} is missing"
        previous = d["digest_hash"]
    return None


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: verify-audit-export.py EXPORT.ndjson|EXPORT.csv", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        complete, events, digests = read_csv(path) if path.endswith(".csv") else read_ndjson(path)
    except (OSError, ValueError, KeyError) as error:
        print(f"unreadable export: {error}", file=sys.stderr)
        return 2
    failure = verify(complete, events, digests)
    if failure:
        print(f"BROKEN: {failure}")
        return 1
    kind = "complete" if complete else "partial"
    print(f"ok: {len(events)} events and {len(digests)} digests verified ({kind} export)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
