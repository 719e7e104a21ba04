-- Issue 16: the `kpi` projection keeps, beside each case's facts, what the case adds to each
-- department's KPIs in the month of its first dispatch (caseledger_domain::kpi::KpiTally, one
-- row per case and department, replaced whenever the facts are written). Every kpi.v1 figure is
-- a count or a ratio of two, so a month's, quarter's or year's KPIs are sums of these columns in
-- SQL, instead of parsing every case's facts (a year of all departments took 440-580 ms at
-- 1 M events). Facts written before hold no tallies: the projection rebuilds on the next start.
CREATE TABLE kpi_case_tallies
(
    case_id                    text    NOT NULL,
    department                 text    NOT NULL,
    month                      text    NOT NULL,
    volume                     integer NOT NULL,
    exempted                   integer NOT NULL,
    scored                     integer NOT NULL,
    accepted_on_time           integer NOT NULL,
    responded                  integer NOT NULL,
    on_time                    integer NOT NULL,
    late                       integer NOT NULL,
    ratings                    integer NOT NULL,
    satisfied                  integer NOT NULL,
    resolved                   integer NOT NULL,
    reopened                   integer NOT NULL,
    extensions                 integer NOT NULL,
    appeals                    integer NOT NULL,
    appeals_upheld             integer NOT NULL,
    withdrawals_after_dispatch integer NOT NULL,
    received                   integer NOT NULL,
    returned                   integer NOT NULL,
    PRIMARY KEY (case_id, department)
) STRICT;
CREATE INDEX kpi_case_tallies_by_month ON kpi_case_tallies (month, department);

DELETE FROM kpi_case_facts;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0, last_error = NULL
 WHERE name = 'kpi';
