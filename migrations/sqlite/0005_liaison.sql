-- Projection `subjects`: every registered enterprise, institute, university and talent. The
-- document holds the private contact data too; the API decides who sees it.
CREATE TABLE subject_view
(
    subject_id text PRIMARY KEY,
    list_order integer NOT NULL UNIQUE,
    kind       text   NOT NULL,
    name       text   NOT NULL,
    version    integer NOT NULL,
    document   text   NOT NULL
) STRICT;
CREATE INDEX subject_view_by_kind ON subject_view (kind, list_order);

-- Projection `portfolios`: one row per liaison portfolio (leader or department) ...
CREATE TABLE portfolio_view
(
    portfolio_id text PRIMARY KEY,
    owner_kind   text   NOT NULL,
    owner_id     text   NOT NULL,
    owner_name   text   NOT NULL,
    version      integer NOT NULL,
    document     text   NOT NULL
) STRICT;
CREATE INDEX portfolio_view_by_owner_kind ON portfolio_view (owner_kind, portfolio_id);

-- ... its current assignments (rewritten on every change of the portfolio) ...
-- Dates are calendar days in China Standard Time, stored as 'YYYY-MM-DD' text on both backends
-- so that one query text serves both and text order is date order.
CREATE TABLE portfolio_subjects
(
    portfolio_id text NOT NULL,
    subject_id   text NOT NULL,
    obligation   text NOT NULL,
    assigned_on  text NOT NULL,
    PRIMARY KEY (portfolio_id, subject_id)
) STRICT;
-- Database::leaders_of_subject: which portfolios hold a subject.
CREATE INDEX portfolio_subjects_by_subject ON portfolio_subjects (subject_id);

-- ... and its visits, with the cases raised from each in the document.
CREATE TABLE portfolio_visits
(
    visit_id     text PRIMARY KEY,
    portfolio_id text NOT NULL,
    subject_id   text NOT NULL,
    visited_on   text NOT NULL,
    document     text NOT NULL
) STRICT;
-- The latest visit of a subject on or before a date (overdue computation).
CREATE INDEX portfolio_visits_by_subject ON portfolio_visits (portfolio_id, subject_id, visited_on);
