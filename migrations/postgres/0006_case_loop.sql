-- Issue 4: the whole case loop. The cases projection now also keeps each case's timers and its
-- earliest open deadline, its public case number and the hash of the enterprise's verifier code.
ALTER TABLE case_view ADD COLUMN next_due_ms bigint;
ALTER TABLE case_view ADD COLUMN case_number text;
ALTER TABLE case_view ADD COLUMN verifier_sha256 text;
CREATE INDEX case_view_by_next_due ON case_view (next_due_ms);
CREATE INDEX case_view_by_case_number ON case_view (case_number);

-- Timers still to fire (deadline warnings at 50% and 80%, breaches), derived from the case's
-- events by the domain's own rules. The timer runner fires those due; firing removes the row.
CREATE TABLE case_timers
(
    case_id    text    NOT NULL,
    deadline   text    NOT NULL,
    threshold  text    NOT NULL,
    cycle      bigint  NOT NULL,
    fire_at_ms bigint  NOT NULL,
    PRIMARY KEY (case_id, deadline, threshold)
);
CREATE INDEX case_timers_due ON case_timers (fire_at_ms);

-- The view gained fields that older rows lack: rebuild it from the log on the next start.
DELETE FROM case_view;
DELETE FROM case_departments;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0, last_error = NULL
 WHERE name = 'cases';
