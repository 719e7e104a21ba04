-- The auditor's event listing filtered by who acted (`GET /api/v1/audit/events?actor=`) read the
-- whole log in position order and filtered every row's metadata: 485 ms for a rare actor over a
-- million events (issue 16, `scripts/bench --scale`). This index finds an actor's events in
-- position order directly. The expression is the listing's, character for character.
CREATE INDEX events_by_actor ON events (json_extract(metadata, '$.actor_sub'), position);
