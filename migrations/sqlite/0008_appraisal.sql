-- Projection `kpi`: what the KPI formulas (kpi.v1) need to know about each case, folded from its
-- events. Aggregation per department and period happens at read time in the domain
-- (caseledger_domain::kpi::department_kpi), so months, quarters and years are sums of the same
-- facts and a new formula version needs no rebuild. Months are 'YYYY-MM' in China Standard Time.
CREATE TABLE kpi_case_facts
(
    case_id          text PRIMARY KEY,
    dispatched_month text,
    lead_department  text,
    version          integer NOT NULL,
    document         text   NOT NULL
) STRICT;
CREATE INDEX kpi_case_facts_by_month ON kpi_case_facts (dispatched_month);

-- Projection `appraisals`: one row per appraisal campaign (公开评议). The document holds the
-- definition, ballot counts, the computed results and the rectification items; never a rater
-- key nor a raw comment.
CREATE TABLE appraisal_view
(
    campaign_id text PRIMARY KEY,
    list_order  integer NOT NULL UNIQUE,
    status      text   NOT NULL,
    version     integer NOT NULL,
    document    text   NOT NULL
) STRICT;
