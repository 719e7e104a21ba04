#!/usr/bin/env python3
"""Independent re-implementation of the panel draw `caseledger-draw-v1` (docs/DECISIONS.md,
"Expert consultations"), from the specification only, with the Python standard library.

Usage: verify-draw.py < panel_drawn.json
where the input is the payload of a `PanelDrawn` event (as `caseledger audit export` or the
auditor's event listing shows it: {"PanelDrawn": {...}} or the inner object). Prints the
recomputed pool hash, panel, alternates and proof, and exits 1 if any differs from the event.
"""
import hashlib
import json
import sys


def canonical(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def draw(seed_hex, pool, filters, panel_size, alternates):
    pool = sorted(
        (
            {
                "conflicts": sorted(set(e["conflicts"])),
                "disciplines": sorted(set(e["disciplines"])),
                "employer_unit": e["employer_unit"],
                "expert_id": e["expert_id"],
                "subordinate_to": sorted(set(e["subordinate_to"])),
                "version": e["version"],
            }
            for e in pool
        ),
        key=lambda e: e["expert_id"].encode(),
    )
    pool_hash = sha256_hex(canonical(pool))
    requester = filters["requesting_unit"]
    parties = set(filters.get("parties", []))
    excluded = set(filters.get("excluded", []))
    wanted = set(filters["disciplines"])

    def conflicted(e):
        return requester in e["conflicts"] or parties & set(e["conflicts"]) or e["employer_unit"] in parties

    def subordinate(e):
        return e["employer_unit"] == requester or requester in e["subordinate_to"]

    seed = bytes.fromhex(seed_hex)
    eligible = [
        e for e in pool
        if wanted & set(e["disciplines"]) and e["expert_id"] not in excluded and not conflicted(e)
    ]
    eligible.sort(key=lambda e: (hashlib.sha256(seed + e["expert_id"].encode()).digest(), e["expert_id"].encode()))
    cap = panel_size // 2
    panel, subordinates = [], 0
    for e in eligible:
        if len(panel) == panel_size:
            break
        if subordinate(e):
            if subordinates == cap:
                continue
            subordinates += 1
        panel.append(e["expert_id"])
    if len(panel) < panel_size:
        raise SystemExit(f"insufficient pool: {len(panel)} of {panel_size} seats")
    rest = [e["expert_id"] for e in eligible if e["expert_id"] not in panel][:alternates]
    order = [e["expert_id"] for e in eligible]
    proof = sha256_hex(canonical({
        "algorithm": "caseledger-draw-v1",
        "alternates": rest,
        "alternates_requested": alternates,
        "filters": {
            "disciplines": sorted(wanted),
            "excluded": sorted(excluded),
            "parties": sorted(parties),
            "requesting_unit": requester,
        },
        "order": order,
        "panel": panel,
        "panel_size": panel_size,
        "pool_hash": pool_hash,
        "seed": seed_hex,
    }))
    return pool_hash, panel, rest, proof


def main():
    event = json.load(sys.stdin)
    event = event.get("PanelDrawn", event)
    pool_hash, panel, alternates, proof = draw(
        event["seed"], event["pool"], event["filters"], event["panel_size"], event["alternates_requested"]
    )
    print(json.dumps({"pool_hash": pool_hash, "panel": panel, "alternates": alternates, "proof": proof}, indent=2))
    recorded = (
        event["pool_hash"],
        [c["expert_id"] for c in event["panel"]],
        [c["expert_id"] for c in event["alternates"]],
        event["proof"],
    )
    if (pool_hash, panel, alternates, proof) != recorded:
        print("MISMATCH with the recorded draw", file=sys.stderr)
        sys.exit(1)
    print("matches the recorded draw")


if __name__ == "__main__":
    main()
