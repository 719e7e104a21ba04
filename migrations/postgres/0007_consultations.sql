-- Projection `experts`: the expert advisory pool, one row per expert (the profile and status in
-- the document). A draw never reads this view: it folds the Expert streams from the log, so a
-- lagging or edited view cannot change a panel (docs/DECISIONS.md, "Expert consultations").
CREATE TABLE expert_view
(
    expert_id text PRIMARY KEY,
    status    text   NOT NULL,
    version   bigint NOT NULL,
    document  text   NOT NULL
);
CREATE INDEX expert_view_by_status ON expert_view (status, expert_id);

-- Projection `consultations`: one row per consultation request. The document holds the request's
-- state without opinion texts; `list_order` is the feed position of its submission. The adoption
-- counts feed the adoption rate per requesting department.
CREATE TABLE consultation_view
(
    consultation_id text PRIMARY KEY,
    list_order      bigint NOT NULL UNIQUE,
    requesting_unit text   NOT NULL,
    status          text   NOT NULL,
    version         bigint NOT NULL,
    recommendations bigint NOT NULL,
    adopted         bigint NOT NULL,
    partly          bigint NOT NULL,
    not_adopted     bigint NOT NULL,
    document        text   NOT NULL
);
CREATE INDEX consultation_view_by_unit ON consultation_view (requesting_unit, list_order);

-- ... its seats (rewritten on every change of the request): who may see it, an expert's workload ...
CREATE TABLE consultation_seats
(
    consultation_id text NOT NULL,
    expert_id       text NOT NULL,
    state           text NOT NULL,
    PRIMARY KEY (consultation_id, expert_id)
);
CREATE INDEX consultation_seats_by_expert ON consultation_seats (expert_id);

-- ... and every opinion version (private until the conclusion; the API records each read).
CREATE TABLE consultation_opinions
(
    consultation_id text   NOT NULL,
    expert_id       text   NOT NULL,
    version         bigint NOT NULL,
    document        text   NOT NULL,
    PRIMARY KEY (consultation_id, expert_id, version)
);
