-- Projection `rewards`: reward programs and nominations (评选表彰 / 重奖), each as the domain folds
-- it. The nomination document holds private data (the nominee's ID number and phone, objection
-- filers, individual scores); the API decides who reads which field. The reward decision audit
-- never reads these tables: it recomputes from the events.
CREATE TABLE reward_program_view
(
    program_id text PRIMARY KEY,
    list_order bigint NOT NULL UNIQUE,
    status     text   NOT NULL,
    version    bigint NOT NULL,
    document   text   NOT NULL
);

CREATE TABLE reward_nomination_view
(
    nomination_id text PRIMARY KEY,
    list_order    bigint NOT NULL UNIQUE,
    program_id    text,
    status        text   NOT NULL,
    version       bigint NOT NULL,
    document      text   NOT NULL
);
CREATE INDEX reward_nomination_view_by_program ON reward_nomination_view (program_id, list_order);
